package components

import (
	"context"
	"testing"
	"time"

	"github.com/sahilm/fuzzy"
)

// typed is what the benchmark types, one character per keystroke.
const typed = "qa pr 12"

// BenchmarkFilter100k filters 100k names on every keystroke of typed.
//
//   - cold: every keystroke scans all 100k names (also the first keystroke of
//     the incremental case, and every backspace).
//   - incremental: what List does while typing: each keystroke narrows the
//     previous result.
//   - baseline_sahilm_fuzzy_Find: the library alone, single-threaded, on the
//     same strings (its pattern matches spaces literally, so after "qa " it
//     finds nothing: it is a cost baseline, not the same semantics).
func BenchmarkFilter100k(b *testing.B) {
	names := benchNames(100000)
	keys := prefixes(typed)
	ctx := context.Background()
	report := func(b *testing.B, perKey []time.Duration) {
		var total, worst time.Duration
		for _, d := range perKey {
			total += d
			worst = max(worst, d)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(len(perKey)), "ms/keystroke")
		b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms/keystroke")
	}
	b.Run("cold", func(b *testing.B) {
		var perKey []time.Duration
		for b.Loop() {
			for _, k := range keys {
				t0 := time.Now()
				res := Filter(ctx, FilterRequest{Pattern: k, Names: names})
				perKey = append(perKey, time.Since(t0))
				_ = res
			}
		}
		report(b, perKey)
	})
	b.Run("incremental", func(b *testing.B) {
		var perKey []time.Duration
		for b.Loop() {
			var prev *FilterResult
			for _, k := range keys {
				t0 := time.Now()
				res := Filter(ctx, FilterRequest{Pattern: k, Names: names, Prev: prev})
				perKey = append(perKey, time.Since(t0))
				prev = &res
			}
		}
		report(b, perKey)
	})
	b.Run("baseline_sahilm_fuzzy_Find", func(b *testing.B) {
		var perKey []time.Duration
		for b.Loop() {
			for _, k := range keys {
				t0 := time.Now()
				_ = fuzzy.Find(k, names)
				perKey = append(perKey, time.Since(t0))
			}
		}
		report(b, perKey)
	})
}

// BenchmarkRender200x60 renders a frame of a list at 200x60 with colour
// styles, scrolled to the middle. rows=1k is the baseline: the cost must not
// grow with the number of rows.
func BenchmarkRender200x60(b *testing.B) {
	for _, bc := range []struct {
		name    string
		n       int
		pattern string
	}{
		{"rows=1k", 1000, ""},
		{"rows=100k", 100000, ""},
		{"rows=100k_filtered", 100000, "qa pr 1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := NewList(testCols, 0, DefaultListStyles())
			l.SetRows(programRows(bc.n))
			l.SetHeight(60)
			if bc.pattern != "" {
				l.SetFilterResult(runFilter(&l, bc.pattern))
			}
			l.SetCursor(l.Len() / 2)
			var out string
			for b.Loop() {
				out = l.Render(200, 60)
			}
			if len(out) == 0 {
				b.Fatal("empty frame")
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
		})
	}
}
