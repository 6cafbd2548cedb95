package runs

import (
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
)

// hostile are terminal controls a value may carry: set the window title,
// clear the screen.
var hostile = []struct{ raw, shown string }{
	{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
	{"\x1b[2J", `\x1b[2J`},
}

// TestSpanDetailEscapesData: every place a span's data reaches the detail
// pane (prompt, completion, outputs, inputs, error, name) shows the
// controls escaped, never the raw bytes.
func TestSpanDetailEscapesData(t *testing.T) {
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	styles := themes.New(p)
	for _, h := range hostile {
		v := "before " + h.raw + " after"
		sp := &model.Span{ID: "1", Kind: model.SpanLM, Name: "lm" + h.raw, Start: time.Unix(1, 0), End: time.Unix(2, 0),
			Messages:   []model.Message{{Role: "user", Content: "prompt " + v}},
			Completion: "completion " + v, Outputs: map[string]any{"answer": "output " + v},
			Inputs: map[string]any{"question": "input " + v}, Error: "error " + v}
		out := strings.Join(spanDetail(styles, sp, 200), "\n")
		if strings.Contains(out, h.raw) {
			t.Errorf("the raw control %q reached the pane:\n%q", h.raw, out)
		}
		for _, where := range []string{"prompt", "completion", "output", "input", "error"} {
			if !strings.Contains(out, where+" before "+h.shown+" after") {
				t.Errorf("%s: want %q shown escaped, got:\n%s", where, h.shown, out)
			}
		}
	}
}

// TestRetrievalDetailEscapesData: a retrieval's query, index and passages
// (ids and texts come from the user's dataset) show controls escaped.
func TestRetrievalDetailEscapesData(t *testing.T) {
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	styles := themes.New(p)
	for _, h := range hostile {
		v := "before " + h.raw + " after"
		sp := &model.Span{ID: "1", Kind: model.SpanRetrieval, Name: "corpus", Start: time.Unix(1, 0), End: time.Unix(2, 0),
			Retrieval: &model.Retrieval{Index: "index " + v, Search: "bm25", K: 1, Query: "query " + v,
				Passages: []model.Passage{{ID: "id " + v, Text: "text " + v, Score: 1}}}}
		out := strings.Join(spanDetail(styles, sp, 200), "\n")
		if strings.Contains(out, h.raw) {
			t.Errorf("the raw control %q reached the pane:\n%q", h.raw, out)
		}
		for _, where := range []string{"index", "query", "id", "text"} {
			if !strings.Contains(out, where+" before "+h.shown+" after") {
				t.Errorf("%s: want %q shown escaped, got:\n%s", where, h.shown, out)
			}
		}
	}
}
