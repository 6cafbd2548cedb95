package runs_test

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestTraceRetrievalSpan: the retrieval span reads in the tree with its
// index, search and k, and its detail shows the query, each passage with
// its rank, id and score (3 decimals) and the embedding cache's counts.
func TestTraceRetrievalSpan(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithRAGTrace(1)
	m, ts := openTrace(t, f, id, 120, 40)
	for range 2 {
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	if sp := selectedSpan(t, ts); sp.Kind != model.SpanRetrieval {
		t.Fatalf("selected %s %s, want the retrieval span", sp.Kind, sp.Name)
	}
	sc := tuitest.Screen(m)
	detail := detailText(sc)
	row := tuitest.LineWith(sc, "⌕ corpus")
	if !strings.Contains(row, "hybrid k3 11ms") {
		t.Errorf("the tree row: %q\n%s", row, sc)
	}
	for _, want := range []string{
		"index corpus · search hybrid · k 3 · embedder minilm · embedding cache 0 hits / 1 miss",
		"── query", "Who painted the ceiling of the Sistine Chapel?",
		"── passages (3)", "#1 p-017 score 0.033", "#2 p-112 score 0.032", "#3 p-004 score 0.016",
		"Michelangelo painted the Sistine Chapel ceiling between 1508 and 1512.",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail lacks %q:\n%s", want, sc)
		}
	}
	if strings.Contains(detail, "tokens") {
		t.Errorf("an offline embedder's retrieval shows tokens:\n%s", sc)
	}
	// The long passage wraps inside the pane rather than running off it.
	if !strings.Contains(detail, "the best known of which is The Creation of Adam; the Last Judgement") {
		t.Errorf("the long passage is not shown whole, wrapped:\n%s", sc)
	}
}

// TestTraceCostPaneEmbedCache: the cost pane counts the run's embedding
// cache hits and misses.
func TestTraceCostPaneEmbedCache(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithRAGTrace(1)
	m, _ := openTrace(t, f, id, 120, 30)
	m = tuitest.Send(t, m, tuitest.Key("S"))
	if line := tuitest.LineWith(tuitest.Screen(m), "embeddings"); !strings.Contains(line, "embeddings cache 0 hits / 1 miss") {
		t.Errorf("the cost pane: %q\n%s", line, tuitest.Screen(m))
	}
	f2 := tuitest.NewRunner()
	m, _ = openTrace(t, f2, f2.WithQATrace(1), 120, 30)
	if sc := tuitest.Screen(tuitest.Send(t, m, tuitest.Key("S"))); strings.Contains(sc, "embeddings cache") {
		t.Errorf("a run without retrieval counts its embedding cache:\n%s", sc)
	}
}

// detailText is the trace's detail pane (right of the tree) as one line:
// its wrapped lines joined by a space, as they were before wrapping.
func detailText(screen string) string {
	var parts []string
	for _, l := range strings.Split(screen, "\n") {
		if _, r, ok := strings.Cut(l, "│"); ok {
			parts = append(parts, strings.TrimSpace(r))
		}
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// TestTraceRetrievalHostedEmbedder: a hosted embedder's call reads like an
// LM call's: model, tokens and cost, and its cache hit.
func TestTraceRetrievalHostedEmbedder(t *testing.T) {
	f := tuitest.NewRunner()
	id := tuitest.TraceID(2)
	x, spans := tuitest.RAGTrace(id)
	sp := &spans[2]
	sp.Model, sp.Usage, sp.Cost = "openai/text-embedding-3-small", model.Usage{Calls: 1, PromptTokens: 12}, 0.00000024
	sp.Retrieval.Embedder, sp.Retrieval.CacheHits, sp.Retrieval.CacheMisses = "openai-embed", 1, 0
	f.Execs[id], f.Traces[id] = x, spans
	m, _ := openTrace(t, f, id, 160, 40)
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	sc := tuitest.Screen(m)
	want := "openai/text-embedding-3-small · latency 11ms · index corpus · search hybrid · k 3 · embedder openai-embed · " +
		"embedding cache 1 hit / 0 misses · tokens 12 in / 0 out · cost $0.000000"
	if !strings.Contains(detailText(sc), want) {
		t.Errorf("the detail lacks %q:\n%s", want, sc)
	}
}

// TestTraceRetrievalWhole: o opens the retrieval span whole, its query and
// passages every one uncut.
func TestTraceRetrievalWhole(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithRAGTrace(1)
	_, ts := openTrace(t, f, id, 80, 24)
	ts.Tree().SetCursor(2)
	title, secs, ok := ts.Whole()
	if !ok || title != "retrieval corpus" || len(secs) != 1 || secs[0].Heading != "passages" {
		t.Fatalf("whole: %q %+v %v", title, secs, ok)
	}
	if !strings.Contains(secs[0].Body, "#2 p-112 (score 0.032)\nThe Sistine Chapel, in Vatican City") ||
		!strings.Contains(secs[0].Body, "the Last Judgement on the altar wall came more than twenty years later.") {
		t.Errorf("passages whole:\n%s", secs[0].Body)
	}
}

func TestRetrievalSpanGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := tuitest.NewRunner()
			id := f.WithRAGTrace(1)
			m, _ := openTrace(t, f, id, sz[0], sz[1])
			m = tuitest.Send(t, m, tuitest.Key("j"))
			m = tuitest.Send(t, m, tuitest.Key("j"))
			golden.RequireEqual(t, []byte(tuitest.Styled(m)))
			t.Run("scrolled", func(t *testing.T) {
				// The detail scrolls as any span's does: tab, then j.
				d := tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
				for range 6 {
					d = tuitest.Send(t, d, tuitest.Key("j"))
				}
				golden.RequireEqual(t, []byte(tuitest.Styled(d)))
			})
		})
	}
}
