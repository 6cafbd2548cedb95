package datasets_test

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/pages/datasets"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func dsets(m tui.Model) *datasets.Page { return m.PageView(tui.PageDatasets).(*datasets.Page) }

// The open examples table: its dataset, its rows loaded, whether every
// page or one is loading.
func tableDS(m tui.Model) *model.Dataset { ds, _, _, _ := dsets(m).Table(); return ds }
func tableRows(m tui.Model) int          { _, n, _, _ := dsets(m).Table(); return n }
func tableDone(m tui.Model) bool         { _, _, done, _ := dsets(m).Table(); return done }
func tableLoading(m tui.Model) bool      { _, _, _, l := dsets(m).Table(); return l }

func selectedDataset(m tui.Model) string {
	if d := dsets(m).Selected(); d != nil {
		return d.Name
	}
	return ""
}

func TestDatasetsLoadOnFirstVisit(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := tui.New(tui.Deps{Programs: tuitest.Programs{}, Datasets: fake}, tui.Options{})
	m = tuitest.Run(t, m, m.Init())
	if dsets(m).Loaded() {
		t.Fatal("datasets loaded before the page was visited")
	}
	nm, cmd := m.Update(tuitest.Key("2"))
	m = nm.(tui.Model)
	if cmd == nil || dsets(m).Loaded() {
		t.Fatal("visiting Datasets did not return a load command (or loaded inside Update)")
	}
	if !strings.Contains(tuitest.Screen(m), "Loading datasets") {
		t.Errorf("no loading message:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Run(t, m, cmd)
	s := tuitest.Screen(m)
	for _, want := range []string{"big", "qa", "sentiment", "100000", "80000", "question", "question, answer"} {
		if !strings.Contains(s, want) {
			t.Errorf("dataset list lacks %q:\n%s", want, s)
		}
	}
	// Coming back does not reload.
	m = tuitest.Send(t, m, tuitest.Key("1"))
	if _, cmd := m.Update(tuitest.Key("2")); cmd != nil {
		t.Error("a second visit reloads the datasets")
	}
}

func TestDatasetsErrors(t *testing.T) {
	m := tui.New(tui.Deps{Datasets: &tuitest.Datasets{Err: fmt.Errorf("store closed")}}, tui.Options{})
	m = tuitest.Send(t, m, tuitest.Key("2"))
	if s := tuitest.Screen(m); !strings.Contains(s, "Could not load datasets: store closed") {
		t.Errorf("error not shown:\n%s", s)
	}
	m = tui.New(tui.Deps{}, tui.Options{})
	m = tuitest.Send(t, m, tuitest.Key("2"))
	if s := tuitest.Screen(m); !strings.Contains(s, "no dataset repository") {
		t.Errorf("missing repository not reported:\n%s", s)
	}
}

func TestDatasetsNavigationAndFilter(t *testing.T) {
	m := tuitest.Send(t, tuitest.Sample(t, 80, 24), tuitest.Key("2"))
	for i, st := range []struct {
		key  tea.KeyPressMsg
		want string
	}{
		{tuitest.Key("j"), "qa"},
		{tuitest.Code(tea.KeyDown, 0), "sentiment"},
		{tuitest.Key("k"), "qa"},
		{tuitest.Key("g"), "big"},
		{tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}, "sentiment"},
	} {
		m = tuitest.Send(t, m, st.key)
		if got := selectedDataset(m); got != st.want {
			t.Fatalf("step %d (%s): selected %q, want %q", i, st.key, got, st.want)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("/"))
	if !dsets(m).Typing() {
		t.Fatal("/ did not open the filter prompt")
	}
	m = tuitest.Type(t, m, "qa") // q is text here, not quit
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	if dsets(m).List().Len() != 1 || selectedDataset(m) != "qa" {
		t.Fatalf("after /qa: %d rows, selected %q", dsets(m).List().Len(), selectedDataset(m))
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if dsets(m).List().Len() != 3 {
		t.Fatalf("esc did not clear the filter: %d rows", dsets(m).List().Len())
	}
}

func TestExamplesOpenClose(t *testing.T) {
	m := tuitest.Send(t, tuitest.Sample(t, 80, 24), tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	nm, cmd := m.Update(tuitest.Code(tea.KeyEnter, 0))
	m = nm.(tui.Model)
	if tableDS(m) == nil || tableDS(m).Name != "qa" {
		t.Fatal("enter did not open qa")
	}
	if cmd == nil || tableRows(m) != 0 {
		t.Fatal("examples were not fetched by a command")
	}
	m = tuitest.Run(t, m, cmd)
	s := tuitest.Screen(m)
	for _, want := range []string{"5 examples", "train 3", "val 1", "test 1", "inputs question", "SPLIT", "QUESTION", "ANSWER",
		"What is the capital of France?", "Paris", "validation"} {
		if !strings.Contains(s, want) {
			t.Errorf("examples table lacks %q:\n%s", want, s)
		}
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if tableDS(m) != nil || selectedDataset(m) != "qa" {
		t.Fatalf("esc did not go back to the list at qa (selected %q)", selectedDataset(m))
	}
}

func TestExamplesPaging(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := tui.New(tui.Deps{Programs: tuitest.Programs{}, Datasets: fake}, tui.Options{})
	m = tuitest.Update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0)) // big
	if got := tableRows(m); got != datasets.ExamplesPageSize {
		t.Fatalf("first page: %d rows, want %d", got, datasets.ExamplesPageSize)
	}
	calls := fake.CallCount()
	// Moving within the page does not fetch.
	for i := 0; i < datasets.ExamplesPageSize-datasets.ExamplesPrefetch-1; i++ {
		nm, cmd := m.Update(tuitest.Key("j"))
		m = nm.(tui.Model)
		if cmd != nil {
			t.Fatalf("fetched at row %d, far from the end", dsets(m).TableList().Cursor())
		}
	}
	// Near the end, the next page is fetched by a command.
	nm, cmd := m.Update(tuitest.Key("j"))
	m = nm.(tui.Model)
	if cmd == nil {
		t.Fatal("no fetch near the end of the loaded rows")
	}
	if !tableLoading(m) {
		t.Error("not marked loading")
	}
	// While it is in flight, more moves do not fetch again.
	if _, again := m.Update(tuitest.Key("j")); again != nil {
		t.Error("a second fetch while one is in flight")
	}
	m = tuitest.Run(t, m, cmd)
	if got := tableRows(m); got != 2*datasets.ExamplesPageSize {
		t.Fatalf("after paging: %d rows", got)
	}
	if fake.CallCount() != calls+1 {
		t.Fatalf("%d fetches, want 1", fake.CallCount()-calls)
	}
	if !strings.Contains(tuitest.Screen(m), "example 150") {
		t.Errorf("cursor row not on screen:\n%s", tuitest.Screen(m))
	}
	// Page through the whole dataset with G: each G reaches the loaded end
	// and fetches one more page; it never loads everything at once.
	G := tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}
	for range 3 {
		before := tableRows(m)
		m = tuitest.Send(t, m, G)
		if tableRows(m) != before+datasets.ExamplesPageSize {
			t.Fatalf("G loaded %d rows, want one page", tableRows(m)-before)
		}
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "example 799") || !strings.Contains(s, "of 1,000") {
		t.Errorf("end of loaded rows not shown:\n%s", s)
	}
}

func TestExamplesPagingReachesEnd(t *testing.T) {
	fake := tuitest.SampleDatasets()
	fake.List[0].Counts = map[model.Split]int{model.Train: 450}
	m := tui.New(tui.Deps{Datasets: fake}, tui.Options{})
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	G := tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}
	for range 5 {
		m = tuitest.Send(t, m, G)
	}
	if got := tableRows(m); got != 450 || !tableDone(m) {
		t.Fatalf("%d rows, done %v", got, tableDone(m))
	}
	if _, cmd := m.Update(G); cmd != nil {
		t.Error("fetch after the last page")
	}
}

func TestExamplesStalePageDiscarded(t *testing.T) {
	m := tuitest.Send(t, tuitest.Sample(t, 80, 24), tuitest.Key("2"))
	// Open big, leave before its first page arrives, open qa.
	nm, bigCmd := m.Update(tuitest.Code(tea.KeyEnter, 0))
	m = nm.(tui.Model)
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	nm, qaCmd := m.Update(tuitest.Code(tea.KeyEnter, 0))
	m = nm.(tui.Model)
	m = tuitest.Update(t, m, qaCmd())
	m = tuitest.Update(t, m, bigCmd()) // arrives late
	if got := tableRows(m); got != 5 {
		t.Fatalf("a stale page was added to qa: %d rows", got)
	}
	if s := tuitest.Screen(m); strings.Contains(s, "example 0") {
		t.Errorf("big's examples shown in qa:\n%s", s)
	}
}

func TestExamplesCell(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"a\n  b", "a b"},
		{3, "3"},
		{true, "true"},
		{[]any{"x", 1.5}, `["x",1.5]`},
	} {
		if got := datasets.Cell(c.in); got != c.want {
			t.Errorf("datasets.Cell(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestExamplesPageThrough100k pages through all of a 100k-example dataset,
// one page per fetch.
func TestExamplesPageThrough100k(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := tui.New(tui.Deps{Datasets: fake}, tui.Options{})
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	G := tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}
	for i := 0; !tableDone(m); i++ {
		if i > 100000/datasets.ExamplesPageSize {
			t.Fatal("too many fetches")
		}
		m = tuitest.Send(t, m, G)
	}
	if got := tableRows(m); got != 100000 {
		t.Fatalf("%d rows", got)
	}
	if got := fake.CallCount(); got != 100000/datasets.ExamplesPageSize {
		t.Fatalf("%d fetches, want %d", got, 100000/datasets.ExamplesPageSize)
	}
	m = tuitest.Send(t, m, G)
	if s := tuitest.Screen(m); !strings.Contains(s, "example 99999") {
		t.Errorf("last example not shown:\n%s", s)
	}
}

func TestMouseWheelScrollsList(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0)) // the first dataset's examples
	if tableDS(m) == nil {
		t.Fatal("examples not open")
	}
	off := dsets(m).TableList().Offset()
	m = tuitest.Deliver(t, m, (tea.MouseWheelMsg{X: 3, Y: 5, Button: tea.MouseWheelDown}))
	if got := dsets(m).TableList().Offset(); got != off+components.WheelLines {
		t.Fatalf("wheel down: offset %d -> %d, want +%d", off, got, components.WheelLines)
	}
	m = tuitest.Deliver(t, m, (tea.MouseWheelMsg{X: 3, Y: 5, Button: tea.MouseWheelUp}))
	if got := dsets(m).TableList().Offset(); got != off {
		t.Fatalf("wheel up: offset %d, want %d", got, off)
	}
}
