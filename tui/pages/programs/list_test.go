package programs_test

// The list and the detail of the Programs page, and the shell's
// commands' results reaching it.

import (
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/pages/programs"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func progs(m tui.Model) *programs.Page { return m.PageView(tui.PagePrograms).(*programs.Page) }

func selectedName(m tui.Model) string {
	if p := progs(m).Selected(); p != nil {
		return p.Name
	}
	return ""
}

func TestInitLoadsPrograms(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	if got := progs(m).List().Total(); got != 4 {
		t.Fatalf("Total = %d, want 4", got)
	}
	if !strings.Contains(tuitest.Screen(m), "rag-support") {
		t.Error("program list not on screen")
	}
}

func TestLoadError(t *testing.T) {
	m := tui.New(tui.Deps{Programs: tuitest.Programs{Err: errors.New("store closed")}}, tui.Options{})
	m = tuitest.Run(t, m, m.Init())
	if s := tuitest.Screen(m); !strings.Contains(s, "Could not load programs: store closed") {
		t.Errorf("error not shown:\n%s", s)
	}
	m = tui.New(tui.Deps{}, tui.Options{})
	m = tuitest.Run(t, m, m.Init())
	if s := tuitest.Screen(m); !strings.Contains(s, "no program repository") {
		t.Errorf("missing repository not reported:\n%s", s)
	}
}

func TestNavigation(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	steps := []struct {
		key  tea.KeyPressMsg
		want string
	}{
		{tuitest.Key("j"), "rag-support"},
		{tuitest.Code(tea.KeyDown, 0), "summarize"},
		{tuitest.Key("k"), "rag-support"},
		{tuitest.Code(tea.KeyUp, 0), "qa"},
		{tuitest.Code(tea.KeyUp, 0), "qa"}, // stays at the top
		{tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}, "classify_intent"},
		{tuitest.Key("g"), "qa"},
		{tuitest.Code(tea.KeyPgDown, 0), "classify_intent"},
		{tuitest.Code(tea.KeyPgUp, 0), "qa"},
	}
	for i, st := range steps {
		m = tuitest.Send(t, m, st.key)
		if got := selectedName(m); got != st.want {
			t.Fatalf("step %d (%s): selected %q, want %q", i, st.key, got, st.want)
		}
	}
}

func TestFilterTyping(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("/"))
	if !progs(m).Typing() {
		t.Fatal("/ did not open the filter prompt")
	}
	// A keystroke returns a filter command; nothing changes until its
	// result arrives.
	nm, cmd := m.Update(tuitest.Key("s"))
	m = nm.(tui.Model)
	if cmd == nil {
		t.Fatal("typing returned no filter command")
	}
	if progs(m).List().Pattern() != "" {
		t.Fatal("the filter ran inside Update")
	}
	msg := cmd()
	pattern, to, ok := programs.FilterResult(msg)
	if !ok || to != (page.Addr{Page: int(tui.PagePrograms)}) {
		t.Fatalf("filter command returned %#v, want a filter result for the Programs page", msg)
	}
	if pattern != "s" {
		t.Fatalf("filter pattern %q", pattern)
	}
	m = tuitest.Update(t, m, msg)
	m = tuitest.Type(t, m, "um")
	if got := progs(m).List().Len(); got != 1 || selectedName(m) != "summarize" {
		t.Fatalf("after /sum: %d matches, selected %q", got, selectedName(m))
	}
	// j is text while typing, not navigation.
	m = tuitest.Type(t, m, "j")
	if progs(m).Pattern != "sumj" {
		t.Fatalf("pattern %q", progs(m).Pattern)
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0))
	// enter leaves the prompt and keeps the filter.
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	if progs(m).Typing() || progs(m).List().Pattern() != "sum" {
		t.Fatalf("after enter: typing=%v pattern=%q", progs(m).Typing(), progs(m).List().Pattern())
	}
	if !strings.Contains(tuitest.Screen(m), " 1/4 ") {
		t.Errorf("status bar does not count the matches:\n%s", tuitest.Screen(m))
	}
	// esc clears it.
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if progs(m).List().Len() != 4 || progs(m).Pattern != "" {
		t.Fatalf("esc did not clear the filter: %d rows, pattern %q", progs(m).List().Len(), progs(m).Pattern)
	}
}

func TestStaleFilterResultDiscarded(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("/"))
	nm, oldCmd := m.Update(tuitest.Key("q"))
	m = nm.(tui.Model)
	nm, newCmd := m.Update(tuitest.Key("x")) // "qx" matches nothing
	m = nm.(tui.Model)
	m = tuitest.Update(t, m, newCmd())
	m = tuitest.Update(t, m, oldCmd()) // arrives late
	if got := progs(m).List().Pattern(); got != "qx" {
		t.Fatalf("a stale result replaced the newer one: pattern %q", got)
	}
	if progs(m).List().Len() != 0 {
		t.Fatalf("Len = %d, want 0", progs(m).List().Len())
	}
}

func TestDetailOpenClose(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	if progs(m).Detail() == nil || progs(m).Detail().Name != "rag-support" {
		t.Fatal("enter did not open the selected program")
	}
	s := tuitest.Screen(m)
	for _, want := range []string{"retrieve", "draft", "check", "question, passages: list[str] -> reply", "cites the passages"} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	// Keys that would move the list scroll the detail instead.
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if progs(m).Detail() != nil {
		t.Fatal("esc did not close the detail")
	}
	if selectedName(m) != "rag-support" {
		t.Errorf("cursor moved while the detail was open: %q", selectedName(m))
	}
}

func TestDetailScroll(t *testing.T) {
	m := tuitest.Sample(t, 80, 10) // body too small for rag-support's detail
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	total := progs(m).DetailLines()
	h := progs(m).DetailBodyHeight()
	if total <= h {
		t.Fatalf("test needs a detail taller than the pane (%d <= %d)", total, h)
	}
	m = tuitest.Send(t, m, tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"})
	if progs(m).DetailOffset() != total-h {
		t.Fatalf("G: offset %d, want %d", progs(m).DetailOffset(), total-h)
	}
	m = tuitest.Send(t, m, tuitest.Key("j")) // clamped
	if progs(m).DetailOffset() != total-h {
		t.Fatalf("scrolled past the end: %d", progs(m).DetailOffset())
	}
	m = tuitest.Send(t, m, tuitest.Key("g"))
	if progs(m).DetailOffset() != 0 {
		t.Fatalf("g: offset %d", progs(m).DetailOffset())
	}
}

func TestReloadReappliesFilter(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("/")), "sum"), tuitest.Code(tea.KeyEnter, 0))
	m = tuitest.Run(t, m, m.Init()) // programs reloaded
	if progs(m).List().Pattern() != "sum" || progs(m).List().Len() != 1 {
		t.Fatalf("after reload: pattern %q, %d rows", progs(m).List().Pattern(), progs(m).List().Len())
	}
}

func TestMouseClickTabAndRow(t *testing.T) {
	m := tuitest.Sample(t, 100, 30)
	// Find the Datasets tab's column from the drawn tab bar.
	bar := strings.Split(tuitest.Screen(m), "\n")[0]
	x := strings.Index(bar, "2 Datasets")
	if x < 0 {
		t.Fatalf("no Datasets tab in %q", bar)
	}
	m = tuitest.Deliver(t, m, (tea.MouseClickMsg{X: x + 2, Y: 0, Button: tea.MouseLeft}))
	if m.Page() != tui.PageDatasets {
		t.Fatalf("click on the Datasets tab: page %v", m.Page())
	}
	m = tuitest.Send(t, m, tuitest.Key("1"))
	// Row 3 of the list is body line 3 (line 0 of the body is the header),
	// screen line 4 (the tab bar is line 0).
	m = tuitest.Deliver(t, m, (tea.MouseClickMsg{X: 5, Y: 4, Button: tea.MouseLeft}))
	if got := selectedName(m); got != tuitest.SamplePrograms()[2].Name {
		t.Fatalf("click on row 3 selected %q", got)
	}
	// A second click on the same row opens it.
	m = tuitest.Deliver(t, m, (tea.MouseClickMsg{X: 5, Y: 4, Button: tea.MouseLeft}))
	if progs(m).Detail() == nil || progs(m).Detail().Name != tuitest.SamplePrograms()[2].Name {
		t.Fatal("second click did not open the program")
	}
}
