// Package components holds reusable TUI building blocks that render to plain
// strings at a given size. Nothing here talks to the terminal or does I/O:
// the root model decides when to run things (e.g. Filter as a tea.Cmd) and
// where to put the rendered strings.
package components

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sahilm/fuzzy"
)

// FilterRequest is everything Filter needs. It is a value that is safe to
// hand to another goroutine: Names must not be mutated while a Filter runs on
// it (List never mutates a names slice it has handed out; SetRows replaces it).
type FilterRequest struct {
	// Seq identifies the request; it is copied into the result so the caller
	// can discard results of older keystrokes (see List.SetFilterResult).
	Seq uint64
	// Pattern is split on white space into terms; an item matches when every
	// term matches it fuzzily (in any order), like fzf's extended search.
	Pattern string
	// Names are the strings matched against, one per item.
	Names []string
	// Prev, when set, is an earlier complete result over the same Names whose
	// pattern is a prefix of Pattern. Its matches are a superset of the new
	// ones, so only they are searched (typing narrows in O(previous matches)).
	// It is ignored when it does not qualify.
	Prev *FilterResult
}

// Match is one item that matched, with where it matched.
type Match struct {
	// Index of the item in FilterRequest.Names.
	Index int
	// Score, higher is better (sum over the pattern's terms).
	Score int
	// Positions are the byte offsets into Names[Index] of the matched
	// characters (each the start of a rune), ascending and without duplicates.
	Positions []int
}

// FilterResult is the outcome of Filter. The zero value (and any result of an
// empty pattern) means "every item, in original order".
type FilterResult struct {
	Seq     uint64
	Pattern string
	// Total is len(Names) of the request.
	Total int
	// All is true for an empty pattern: every item matches, in order, and
	// Matches is nil (no 100k-entry slice is built for it).
	All bool
	// Matches, best first (ties keep the original order), when !All.
	Matches []Match
	// Err is ctx.Err() when the filter was cancelled; Matches is then
	// incomplete and the result must not be shown.
	Err error
}

// Len is the number of matching items.
func (r *FilterResult) Len() int {
	if r.All {
		return r.Total
	}
	return len(r.Matches)
}

// Index returns the item index (into Names / the rows) of the i-th match.
func (r *FilterResult) Index(i int) int {
	if r.All {
		return i
	}
	return r.Matches[i].Index
}

// Positions returns the matched byte offsets of the i-th match (nil when All).
func (r *FilterResult) Positions(i int) []int {
	if r.All {
		return nil
	}
	return r.Matches[i].Positions
}

// parallelMin is the candidate count under which Filter stays on one goroutine.
const parallelMin = 8192

// cancelCheckEvery is how many items are scanned between checks of ctx.
const cancelCheckEvery = 4096

// Filter ranks Names against Pattern. It is pure (no I/O, no shared state) so
// it can run as a tea.Cmd off the Update loop; it spreads large inputs over
// GOMAXPROCS goroutines and stops early, with Err set, when ctx is done.
func Filter(ctx context.Context, req FilterRequest) FilterResult {
	res := FilterResult{Seq: req.Seq, Pattern: req.Pattern, Total: len(req.Names)}
	terms := strings.Fields(req.Pattern)
	if len(terms) == 0 {
		res.All = true
		return res
	}

	// Candidates: every item, or the previous result's matches when that
	// result is a valid superset.
	var cands []int // nil means 0..n-1
	n := len(req.Names)
	if p := req.Prev; p != nil && !p.All && p.Err == nil && p.Total == len(req.Names) &&
		strings.TrimSpace(p.Pattern) != "" && strings.HasPrefix(req.Pattern, p.Pattern) {
		cands = make([]int, len(p.Matches))
		for i, m := range p.Matches {
			cands[i] = m.Index
		}
		// Keep the original order so ties rank the same as a cold filter.
		slices.Sort(cands)
		n = len(cands)
	}

	workers := 1
	if n >= parallelMin {
		workers = min(runtime.GOMAXPROCS(0), n/(parallelMin/2))
	}
	parts := make([][]Match, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Go(func() {
			parts[w], errs[w] = filterRange(ctx, terms, req.Names, cands, lo, hi)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			res.Err = err
			return res
		}
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	res.Matches = make([]Match, 0, total)
	for _, p := range parts {
		res.Matches = append(res.Matches, p...)
	}
	slices.SortFunc(res.Matches, func(a, b Match) int {
		if a.Score != b.Score {
			return b.Score - a.Score
		}
		return a.Index - b.Index
	})
	return res
}

// filterRange matches items lo..hi (positions in cands, or item indexes when
// cands is nil) against every term, narrowing term by term.
func filterRange(ctx context.Context, terms []string, names []string, cands []int, lo, hi int) ([]Match, error) {
	var ids []int // nil: the item range lo..hi
	if cands != nil {
		ids = cands[lo:hi]
	}
	var out []Match
	for t, term := range terms {
		if t > 0 && len(ids) == 0 {
			return nil, nil
		}
		ms, kept, err := matchTerm(ctx, term, names, ids, lo, hi)
		if err != nil {
			return nil, err
		}
		next := make([]Match, len(ms))
		for i, m := range ms {
			id := kept[m.Index]
			if t == 0 {
				next[i] = Match{Index: id, Score: m.Score, Positions: m.MatchedIndexes}
				continue
			}
			// out and kept are both in ascending id order: find id in out.
			p := out[searchMatch(out, id)]
			next[i] = Match{Index: id, Score: p.Score + m.Score, Positions: mergePositions(p.Positions, m.MatchedIndexes)}
		}
		out = next
		ids = make([]int, len(out))
		for i, m := range out {
			ids[i] = m.Index
		}
	}
	return out, nil
}

// searchMatch finds id in ms, which is sorted by Index.
func searchMatch(ms []Match, id int) int {
	lo, hi := 0, len(ms)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if ms[h].Index < id {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// matchTerm runs sahilm/fuzzy for term over names[ids...] (ids ascending), or
// over names[lo:hi] when ids is nil.
// Names that cannot match (the term is not a case-insensitive subsequence)
// are skipped by a cheap byte scan first; kept maps the library's indexes back
// to item ids.
func matchTerm(ctx context.Context, term string, names []string, ids []int, lo, hi int) (ms fuzzy.Matches, kept []int, err error) {
	lower, ascii := asciiLower(term)
	kept = make([]int, 0, 256)
	cancelled := false
	n := hi - lo
	if ids != nil {
		n = len(ids)
	}
	ms = fuzzy.FindFromIterNoSort(term, func(yield func(string) bool) {
		for k := range n {
			id := lo + k
			if ids != nil {
				id = ids[k]
			}
			if k%cancelCheckEvery == cancelCheckEvery-1 && ctx.Err() != nil {
				cancelled = true
				return
			}
			name := names[id]
			if ascii && !maybeSubsequence(lower, name) {
				continue
			}
			kept = append(kept, id)
			if !yield(name) {
				return
			}
		}
	})
	if cancelled {
		return nil, nil, ctx.Err()
	}
	return ms, kept, nil
}

// asciiLower lower-cases an ASCII term; ok is false for other terms.
func asciiLower(term string) (lower []byte, ok bool) {
	lower = make([]byte, len(term))
	for i := 0; i < len(term); i++ {
		c := term[i]
		if c >= utf8.RuneSelf {
			return nil, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return lower, true
}

// maybeSubsequence reports false only when the ASCII term (lower-cased) is
// certainly not a case-insensitive subsequence of name: the condition for
// sahilm/fuzzy to match. A non-ASCII name is left to the library, since some
// non-ASCII runes fold to ASCII letters (e.g. the Kelvin sign).
func maybeSubsequence(lower []byte, name string) bool {
	k := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			return true
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == lower[k] {
			k++
			if k == len(lower) {
				return true
			}
		}
	}
	return false
}

// mergePositions merges two ascending offset lists without duplicates.
func mergePositions(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v int
		switch {
		case j >= len(b) || (i < len(a) && a[i] < b[j]):
			v = a[i]
			i++
		case i >= len(a) || b[j] < a[i]:
			v = b[j]
			j++
		default:
			v = a[i]
			i++
			j++
		}
		out = append(out, v)
	}
	return out
}
