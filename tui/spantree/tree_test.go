package spantree

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// sample is a finished run: program → two module calls, each with an
// adapter and an LM call (the second module's LM call is span 7).
func sample() []model.Span {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	return []model.Span{
		{Seq: 1, ID: "r", Kind: model.SpanModule, Name: "qa", Start: at(0), End: at(120)},
		{Seq: 2, ID: "m1", Parent: "r", Kind: model.SpanModule, Name: "Predict", Module: "answer", Start: at(1), End: at(60)},
		{Seq: 3, ID: "f1", Parent: "m1", Kind: model.SpanAdapter, Name: "format", Module: "answer", Start: at(2), End: at(3)},
		{Seq: 4, ID: "l1", Parent: "m1", Kind: model.SpanLM, Name: "lm", Module: "answer", Start: at(3), End: at(50),
			Messages: []model.Message{{Role: "user", Content: "first"}}},
		{Seq: 5, ID: "p1", Parent: "m1", Kind: model.SpanAdapter, Name: "parse", Module: "answer", Start: at(50), End: at(51)},
		{Seq: 6, ID: "m2", Parent: "r", Kind: model.SpanModule, Name: "Predict", Start: at(61), End: at(119)},
		{Seq: 7, ID: "l2", Parent: "m2", Kind: model.SpanLM, Name: "lm", Module: "check", Start: at(62), End: at(118)},
	}
}

func tree(spans []model.Span, h int) *Tree {
	t := New()
	t.SetHeight(h)
	t.Merge(spans)
	return t
}

// seqs are the seqs of the visible rows, in order.
func seqs(t *Tree) []uint64 {
	var out []uint64
	for pos := range t.Rows() {
		out = append(out, t.Node(t.Row(pos)).Span.Seq)
	}
	return out
}

func selectedSeq(t *Tree) uint64 { return t.Node(t.Selected()).Span.Seq }

func TestMergeBuildsTheTreeInOrder(t *testing.T) {
	tr := tree(sample(), 10)
	if got := seqs(tr); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("rows %v", got)
	}
	if n := tr.Node(3); n.Depth != 2 || n.Parent != 1 {
		t.Errorf("the LM call under m1: depth %d, parent %d", n.Depth, n.Parent)
	}
	if len(tr.Node(0).Children) != 2 {
		t.Errorf("the root has %d children, want its two modules", len(tr.Node(0).Children))
	}
	// A span read again (it ended) replaces the one with its seq.
	again := sample()[3]
	again.Completion = "done"
	tr.Merge([]model.Span{again})
	if tr.Len() != 7 || tr.Node(3).Span.Completion != "done" {
		t.Errorf("after a span came again: %d spans, completion %q", tr.Len(), tr.Node(3).Span.Completion)
	}
	// A span whose parent is unknown is a root.
	tr.Merge([]model.Span{{Seq: 8, ID: "x", Parent: "nowhere"}})
	if got := seqs(tr); got[len(got)-1] != 8 || tr.Node(7).Depth != 0 {
		t.Errorf("an orphan is not a root at the end: %v", got)
	}
	if !tr.Has(4) || tr.Has(99) || !tr.Knows("m2") || tr.Knows("nowhere") || tr.LastSeq() != 8 {
		t.Error("Has, Knows or LastSeq do not follow what was merged")
	}
}

func TestNextAndPreviousCall(t *testing.T) {
	tr := tree(sample(), 10)
	for i, step := range []struct {
		dir  int
		want uint64
	}{{1, 4}, {1, 7}, {1, 7}, {-1, 4}, {-1, 4}} {
		tr.NextCall(step.dir)
		if got := selectedSeq(tr); got != step.want {
			t.Fatalf("step %d: on %d, want %d", i, got, step.want)
		}
	}
	// A folded module's calls are skipped.
	tr.Top()
	tr.Move(1)
	tr.Toggle()
	if got := seqs(tr); !slices.Equal(got, []uint64{1, 2, 6, 7}) {
		t.Fatalf("rows after folding m1: %v", got)
	}
	tr.NextCall(1)
	if got := selectedSeq(tr); got != 7 {
		t.Errorf("next call after folding: on %d, want 7", got)
	}
	// Unfolding keeps the cursor on its span.
	tr.Move(-2)
	tr.Toggle()
	if got := selectedSeq(tr); got != 2 || tr.Rows() != 7 {
		t.Errorf("after unfolding: on %d with %d rows", got, tr.Rows())
	}
}

func TestCursorStaysOnItsSpanAsSpansArrive(t *testing.T) {
	spans := sample()
	tr := tree(spans[:2], 10) // root and m1
	tr.Move(1)
	tr.Merge(spans[2:]) // m1's children come in under it, and m2 after
	if got := selectedSeq(tr); got != 2 {
		t.Errorf("the cursor moved to %d when spans were added", got)
	}
}

func TestWindowFollowsTheCursor(t *testing.T) {
	var spans []model.Span
	spans = append(spans, model.Span{Seq: 1, ID: "1", Kind: model.SpanModule})
	for i := 2; i <= 50; i++ {
		spans = append(spans, model.Span{Seq: uint64(i), ID: fmt.Sprint(i), Parent: "1", Kind: model.SpanLM})
	}
	tr := tree(spans, 10)
	tr.Page(1)
	if tr.Cursor() != 10 || tr.Offset() != 10 {
		t.Errorf("a page down: cursor %d, offset %d", tr.Cursor(), tr.Offset())
	}
	tr.Bottom()
	if tr.Cursor() != 49 || tr.Offset() != 40 {
		t.Errorf("bottom: cursor %d, offset %d", tr.Cursor(), tr.Offset())
	}
	tr.Move(5)
	if tr.Cursor() != 49 {
		t.Errorf("moved past the last row: %d", tr.Cursor())
	}
	tr.Scroll(-35) // the wheel: the window moves, the cursor only as far as it must
	if tr.Offset() != 5 || tr.Cursor() != 14 {
		t.Errorf("after scrolling up: offset %d, cursor %d", tr.Offset(), tr.Cursor())
	}
	tr.SetHeight(20)
	tr.Top()
	if tr.Cursor() != 0 || tr.Offset() != 0 {
		t.Errorf("top: cursor %d, offset %d", tr.Cursor(), tr.Offset())
	}
}

func TestModulesOfSpans(t *testing.T) {
	tr := tree(sample(), 10)
	if got := tr.ModuleNode(3); got != 1 { // the LM call of m1
		t.Errorf("module node of the first LM call: %d, want m1 (1)", got)
	}
	if got := tr.ModuleNode(0); got != -1 {
		t.Errorf("the root belongs to module node %d", got)
	}
	if got := tr.SpanModule(5); got != "check" { // m2 has no module field: its first descendant's
		t.Errorf("module of m2: %q", got)
	}
	if msgs := tr.ModuleMessages("answer"); len(msgs) != 1 || msgs[0].Content != "first" {
		t.Errorf("the first LM call's prompt of answer: %v", msgs)
	}
}

func TestPollAfter(t *testing.T) {
	spans := sample()
	spans[0].End, spans[5].End, spans[6].End = time.Time{}, time.Time{}, time.Time{} // the root, m2 and its call run
	tr := tree(spans, 10)
	if got := tr.PollAfter(false); got != 5 {
		t.Errorf("poll after %d, want just before m2 (5)", got)
	}
	if got := tr.PollAfter(true); got != 0 {
		t.Errorf("with the root: poll after %d, want 0", got)
	}
	done := tree(sample(), 10)
	if got := done.PollAfter(true); got != 7 {
		t.Errorf("all ended: poll after %d, want the last (7)", got)
	}
}
