package components

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func matchIndexes(r FilterResult) []int {
	out := make([]int, r.Len())
	for i := range out {
		out[i] = r.Index(i)
	}
	return out
}

func TestFilter(t *testing.T) {
	names := []string{
		"sentiment-v3-prod", // 0
		"qa_program_12345",  // 1
		"xqa-program",       // 2
		"quality_assurance", // 3
		"summarize_docs",    // 4
		"café_ünicode",      // 5
	}
	tests := []struct {
		name      string
		pattern   string
		wantAll   bool
		want      []int   // item indexes, best first
		wantPos   [][]int // positions of the first len(wantPos) matches
		wantEmpty bool
	}{
		{name: "empty pattern keeps everything in order", pattern: "", wantAll: true, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "blank pattern is empty", pattern: "  \t", wantAll: true, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "no match", pattern: "zzz", wantEmpty: true},
		{
			name: "ranked by sahilm/fuzzy score", pattern: "qa",
			// quality_assurance: first-char bonus and the "a" right after a
			// separator; qa_program_12345: first char + adjacent, but more
			// unmatched characters; xqa-program: a leading miss.
			want:    []int{3, 1, 2},
			wantPos: [][]int{{0, 8}, {0, 1}, {1, 2}},
		},
		{
			name: "terms are ANDed, positions merged", pattern: "qa 12",
			want:    []int{1},
			wantPos: [][]int{{0, 1, 11, 12}},
		},
		{
			name: "term order does not matter", pattern: "12 qa",
			want:    []int{1},
			wantPos: [][]int{{0, 1, 11, 12}},
		},
		{
			name: "case-insensitive", pattern: "SUM",
			want:    []int{4},
			wantPos: [][]int{{0, 1, 2}},
		},
		{
			name: "positions are byte offsets of runes", pattern: "ün",
			want:    []int{5},
			wantPos: [][]int{{6, 8}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Filter(context.Background(), FilterRequest{Seq: 7, Pattern: tt.pattern, Names: names})
			if res.Seq != 7 || res.Total != len(names) || res.Pattern != tt.pattern || res.Err != nil {
				t.Fatalf("header: %+v", res)
			}
			if res.All != tt.wantAll {
				t.Fatalf("All = %v, want %v", res.All, tt.wantAll)
			}
			got := matchIndexes(res)
			if tt.wantEmpty {
				if len(got) != 0 {
					t.Fatalf("got %v, want no match", got)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			for i, wp := range tt.wantPos {
				if p := res.Positions(i); !slices.Equal(p, wp) {
					t.Errorf("positions[%d] (%q) = %v, want %v", i, names[res.Index(i)], p, wp)
				}
			}
		})
	}
}

func TestFilterNarrowingMatchesColdFilter(t *testing.T) {
	names := benchNames(30000) // large enough to run in parallel
	ctx := context.Background()
	var prev *FilterResult
	for _, pat := range prefixes("qa pr 12") {
		cold := Filter(ctx, FilterRequest{Pattern: pat, Names: names})
		warm := Filter(ctx, FilterRequest{Pattern: pat, Names: names, Prev: prev})
		if !slices.EqualFunc(cold.Matches, warm.Matches, func(a, b Match) bool {
			return a.Index == b.Index && a.Score == b.Score && slices.Equal(a.Positions, b.Positions)
		}) {
			t.Fatalf("pattern %q: narrowed result (%d) differs from cold (%d)", pat, warm.Len(), cold.Len())
		}
		if cold.Len() == 0 && pat == "q" {
			t.Fatal("benchmark names should match q")
		}
		prev = &warm
	}
	// A previous result whose pattern is not a prefix is ignored.
	a := Filter(ctx, FilterRequest{Pattern: "sent", Names: names})
	b := Filter(ctx, FilterRequest{Pattern: "qa", Names: names, Prev: &a})
	c := Filter(ctx, FilterRequest{Pattern: "qa", Names: names})
	if b.Len() != c.Len() {
		t.Fatalf("unrelated Prev changed the result: %d vs %d", b.Len(), c.Len())
	}
}

func TestFilterCancelled(t *testing.T) {
	names := benchNames(50000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Filter(ctx, FilterRequest{Seq: 3, Pattern: "qa", Names: names})
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", res.Err)
	}
	if res.Seq != 3 {
		t.Fatalf("Seq = %d", res.Seq)
	}
}

func prefixes(s string) []string {
	var out []string
	for i := 1; i <= len(s); i++ {
		out = append(out, s[:i])
	}
	return out
}

// benchNames makes n realistic, deterministic program names.
func benchNames(n int) []string {
	kinds := []string{"qa_program_%05d", "sentiment-v%d-%s", "rag_pipeline_%s_%d", "classify-intent-%d",
		"summarize_%s_v%d", "extract_entities_%s_%d", "chain-of-thought-%s-%d", "react_agent_%d_%s"}
	words := []string{"prod", "staging", "eval", "legal", "support", "finance", "medical", "news", "tweets",
		"reviews", "tickets", "emails", "contracts", "papers", "faq", "wiki"}
	out := make([]string, n)
	x := uint32(2463534242)
	rnd := func() int { // xorshift: stable across Go versions
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		return int(x >> 1)
	}
	for i := range out {
		w := words[rnd()%len(words)]
		switch k := kinds[i%len(kinds)]; k {
		case "qa_program_%05d", "classify-intent-%d":
			out[i] = fmt.Sprintf(k, rnd()%100000)
		case "sentiment-v%d-%s", "react_agent_%d_%s":
			out[i] = fmt.Sprintf(k, rnd()%12, w)
		default:
			out[i] = fmt.Sprintf(k, w, rnd()%1000)
		}
	}
	return out
}
