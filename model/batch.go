package model

import "strings"

// BatchSummary is what a batch of executions (a program run on every
// example of a dataset) came to.
type BatchSummary struct {
	Total     int              `json:"total"`
	States    map[RunState]int `json:"states"`
	CacheHits int              `json:"cache_hits"`
	Usage     Usage            `json:"usage"`
	Cost      float64          `json:"cost"`
	// Matches is, per label, how many completed executions answered the
	// example's label exactly (SameAnswer), of those whose example has it.
	Matches map[string]Match `json:"matches,omitempty"`
}

// Match counts exact answers to one label.
type Match struct {
	Matched int `json:"matched"`
	Of      int `json:"of"`
}

// Rate is Matched over Of, 0 when there is nothing to compare.
func (m Match) Rate() float64 {
	if m.Of == 0 {
		return 0
	}
	return float64(m.Matched) / float64(m.Of)
}

// SummariseBatch sums a batch: execs[i] ran the example whose labels are
// labels[i] (the second part of Labeling.Split). Only completed executions
// are compared with their labels; a failed one counts in States alone.
func SummariseBatch(execs []*Execution, labels []map[string]any) BatchSummary {
	s := BatchSummary{Total: len(execs), States: map[RunState]int{}}
	for i, e := range execs {
		s.States[e.State]++
		if e.CacheHit {
			s.CacheHits++
		}
		s.Usage = s.Usage.Add(e.TotalUsage())
		s.Cost += e.Cost
		if e.State != Completed || i >= len(labels) {
			continue
		}
		for field, want := range labels[i] {
			if s.Matches == nil {
				s.Matches = map[string]Match{}
			}
			m := s.Matches[field]
			m.Of++
			if got, ok := e.Outputs[field]; ok && SameAnswer(got, want) {
				m.Matched++
			}
			s.Matches[field] = m
		}
	}
	return s
}

// SameAnswer compares an output with a label as text, ignoring case,
// spacing and punctuation at the ends (lighter than DSPy's normalize_text,
// which also drops articles and inner punctuation).
func SameAnswer(got, want any) bool {
	return normaliseAnswer(ValueText(got)) == normaliseAnswer(ValueText(want))
}

func normaliseAnswer(s string) string {
	return strings.ToLower(strings.Trim(strings.Join(strings.Fields(s), " "), ".,;:!?\"' "))
}
