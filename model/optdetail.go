package model

import (
	"slices"
	"sort"
)

// FrontEntry is one validation example's Pareto front: the trials that
// reach the best score any trial reached on it (GEPA keeps every such
// candidate; for any optimizer it says which trials solve which examples).
type FrontEntry struct {
	Example ID      `json:"example"`
	Score   float64 `json:"score"`
	Trials  []int   `json:"trials"`
}

// ParetoFront is the front per example of the trials with per-example
// results, in the order of the first such trial's results.
func ParetoFront(ts []*Trial) []FrontEntry {
	ts = byN(ts)
	var order []ID
	front := map[ID]*FrontEntry{}
	for _, t := range ts {
		for _, r := range t.Results {
			e, ok := front[r.Example]
			switch {
			case !ok:
				order = append(order, r.Example)
				front[r.Example] = &FrontEntry{Example: r.Example, Score: r.Score, Trials: []int{t.N}}
			case r.Score > e.Score:
				e.Score, e.Trials = r.Score, []int{t.N}
			case r.Score == e.Score:
				e.Trials = append(e.Trials, t.N)
			}
		}
	}
	out := make([]FrontEntry, len(order))
	for i, id := range order {
		out[i] = *front[id]
	}
	return out
}

// Proposal is an instruction MIPROv2 proposed for a predictor, and the
// trials that used it.
type Proposal struct {
	Predictor string `json:"predictor"`
	Index     int    `json:"index"` // in MIPROv2's list of candidates (0: the program's own)
	Text      string `json:"text"`
	Trials    []int  `json:"trials,omitempty"`
}

// MiproProposals are the proposals a run's trials carry, by predictor
// then index, each with the trials whose instructions were that text.
func MiproProposals(ts []*Trial) []Proposal {
	ts = byN(ts)
	var out []Proposal
	for _, t := range ts {
		if len(t.Proposals) == 0 {
			continue
		}
		preds := make([]string, 0, len(t.Proposals))
		for p := range t.Proposals {
			preds = append(preds, p)
		}
		sort.Strings(preds)
		for _, p := range preds {
			for i, text := range t.Proposals[p] {
				out = append(out, Proposal{Predictor: p, Index: i, Text: text})
			}
		}
	}
	for i := range out {
		for _, t := range ts {
			if text, ok := t.Instructions[out[i].Predictor]; ok && text == out[i].Text {
				out[i].Trials = append(out[i].Trials, t.N)
			}
		}
	}
	return out
}

func byN(ts []*Trial) []*Trial {
	ts = slices.Clone(ts)
	slices.SortStableFunc(ts, func(a, b *Trial) int { return a.N - b.N })
	return ts
}
