package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// A cell holding control characters is escaped before the table measures
// it, so its columns still line up (the escaped form is what is printed).
func TestTableAlignsEscapedCells(t *testing.T) {
	var b strings.Builder
	tb := newTable(&b, "question", "answer")
	tb.row("hi \x1b[2J there", "x")
	tb.row("plain question", "y")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%q", b.String())
	}
	if strings.ContainsRune(b.String(), 0x1b) {
		t.Errorf("a raw escape reached the output: %q", b.String())
	}
	col := strings.Index(lines[0], "ANSWER")
	for _, l := range lines[1:] {
		if len(l) <= col || (l[col] != 'x' && l[col] != 'y') {
			t.Errorf("the answer column does not start at %d in %q", col, l)
		}
	}
}

// A retrieval span prints its search, k, passage count and cache counts,
// then each passage with its rank, id and score, its text on one line.
func TestTraceRetrievalSpan(t *testing.T) {
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tr := newTraceTree()
	tr.add(model.Span{Seq: 1, ID: "m", Kind: model.SpanModule, Name: "IndexRetrieve", Module: "search", Start: start, End: start.Add(5 * time.Millisecond)})
	tr.add(model.Span{Seq: 2, ID: "r", Parent: "m", Kind: model.SpanRetrieval, Name: "docs", Module: "search",
		Start: start, End: start.Add(4 * time.Millisecond), Retrieval: &model.Retrieval{
			Index: "docs", Search: "hybrid", Query: "q", K: 2, CacheHits: 1,
			Passages: []model.Passage{{ID: "Paris", Text: "Paris is\nthe capital.", Score: 0.0328}, {ID: "Berlin", Text: "Berlin.", Score: 0.016}},
		}})
	var b strings.Builder
	tr.print(&b)
	want := "module  IndexRetrieve [search]  5ms\n" +
		"  retrieval docs  hybrid k2  2 passages  embedding cache 1 hit, 0 miss  4ms\n" +
		"    #1 Paris  0.033  Paris is the capital.\n" +
		"    #2 Berlin  0.016  Berlin.\n"
	if got := b.String(); got != want {
		t.Fatalf("trace:\n%s\nwant:\n%s", got, want)
	}
}
