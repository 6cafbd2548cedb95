package tui_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func TestHelpToggle(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("?"))
	if !tuitest.IsTop[*tui.HelpView](m) || !strings.Contains(tuitest.Screen(m), "go to page") {
		t.Fatalf("? did not show the full help:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("?"))
	if tuitest.IsTop[*tui.HelpView](m) {
		t.Fatal("? did not close the help")
	}
	m = tuitest.Send(t, m, tuitest.Key("?"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if tuitest.IsTop[*tui.HelpView](m) {
		t.Fatal("esc did not close the help")
	}
	// A page's number switches to it, closing the help.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("?")), tuitest.Key("2"))
	if tuitest.IsTop[*tui.HelpView](m) || m.Page() != tui.PageDatasets {
		t.Fatalf("2 with the help open: help %v, page %v", tuitest.IsTop[*tui.HelpView](m), m.Page())
	}
}

// TestTabsFitNarrowScreens: at 80 columns the tabs drop the title and
// their gaps so that all six show, and a click finds each where it is
// drawn; wider, the title comes back.
func TestTabsFitNarrowScreens(t *testing.T) {
	for _, w := range []int{80, 120} {
		m := tuitest.Sample(t, w, 24)
		bar := strings.SplitN(tuitest.Screen(m), "\n", 2)[0]
		if got := strings.Contains(bar, " signet "); got != (w > 80) {
			t.Errorf("width %d: title shown %v: %q", w, got, bar)
		}
		for p := tui.PagePrograms; p <= tui.PageUsers; p++ {
			label := fmt.Sprintf("%d %s", int(p)+1, p)
			x := strings.Index(bar, label)
			if x < 0 {
				t.Fatalf("width %d: no tab %q in %q", w, label, bar)
			}
			if m = tuitest.Deliver(t, m, tea.MouseClickMsg{X: x, Y: 0, Button: tea.MouseLeft}); m.Page() != p {
				t.Errorf("width %d: a click at %d on %q went to %v", w, x, label, m.Page())
			}
		}
	}
}

func TestPageSwitching(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	steps := []struct {
		key  tea.KeyPressMsg
		want tui.Page
	}{
		{tuitest.Code(tea.KeyTab, 0), tui.PageDatasets},
		{tuitest.Code(tea.KeyTab, 0), tui.PageExecutions},
		{tuitest.Code(tea.KeyTab, tea.ModShift), tui.PageDatasets},
		{tuitest.Key("5"), tui.PageWorkers},
		{tuitest.Key("6"), tui.PageUsers},
		{tuitest.Code(tea.KeyTab, 0), tui.PagePrograms}, // wraps
		{tuitest.Code(tea.KeyTab, tea.ModShift), tui.PageUsers},
		{tuitest.Key("4"), tui.PageOptimizations},
		{tuitest.Key("1"), tui.PagePrograms},
	}
	for i, st := range steps {
		m = tuitest.Send(t, m, st.key)
		if m.Page() != st.want {
			t.Fatalf("step %d (%s): page %v, want %v", i, st.key, m.Page(), st.want)
		}
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []tea.KeyPressMsg{tuitest.Key("q"), tuitest.Code('c', tea.ModCtrl)} {
		m := tuitest.Sample(t, 80, 24)
		_, cmd := m.Update(k)
		if cmd == nil || reflect.ValueOf(cmd).Pointer() != reflect.ValueOf(tea.Quit).Pointer() {
			t.Errorf("%s did not return tea.Quit", k)
		}
	}
	// q is text in the filter prompt; ctrl+c still quits.
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("/"))
	_, cmd := m.Update(tuitest.Key("q"))
	if cmd != nil && reflect.ValueOf(cmd).Pointer() == reflect.ValueOf(tea.Quit).Pointer() {
		t.Error("q quit while typing a filter")
	}
	_, cmd = m.Update(tuitest.Code('c', tea.ModCtrl))
	if cmd == nil || reflect.ValueOf(cmd).Pointer() != reflect.ValueOf(tea.Quit).Pointer() {
		t.Error("ctrl+c did not quit while typing a filter")
	}
}

func TestViewFields(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	v := m.View()
	if !v.AltScreen {
		t.Error("not in the alt screen")
	}
	if v.WindowTitle != "signet — /home/ada/signet-workspace" {
		t.Errorf("window title %q", v.WindowTitle)
	}
}

// TestViewSize checks that every screen fills the terminal exactly, at
// sizes from the smallest supported up.
func TestViewSize(t *testing.T) {
	// Below 80x24 the layout is not promised to be pretty, only to fit.
	for _, sz := range [][2]int{{80, 24}, {100, 30}, {160, 48}, {200, 60}, {40, 10}, {12, 4}, {1, 1}} {
		m := tuitest.Sample(t, sz[0], sz[1])
		check := func(what string, m tui.Model) {
			lines := strings.Split(tuitest.Screen(m), "\n")
			if len(lines) != sz[1] {
				t.Errorf("%dx%d %s: %d lines", sz[0], sz[1], what, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != sz[0] {
					t.Errorf("%dx%d %s: line %d is %d cells wide: %q", sz[0], sz[1], what, i, w, l)
				}
			}
		}
		check("programs", m)
		check("filter", tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("/")), "ra"))
		check("detail", tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Code(tea.KeyEnter, 0)))
		check("help", tuitest.Send(t, m, tuitest.Key("?")))
		check("examples", tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("2")), tuitest.Code(tea.KeyEnter, 0)))
		check("datasets filter", tuitest.Type(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("2")), tuitest.Key("/")), "se"))
		for p := 2; p <= 5; p++ {
			check(fmt.Sprintf("page %d", p), tuitest.Send(t, m, tuitest.Key(fmt.Sprint(p))))
		}
	}
}

// TestGolden snapshots the screens as plain text (ansi.Strip of the view
// content): the layout is what is compared; colours come from themes, which
// has its own tests. Update with: go test ./tui -update
func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := tuitest.Sample(t, sz[0], sz[1])
			screens := map[string]tui.Model{
				"programs": base,
				"filter":   tuitest.Send(t, tuitest.Type(t, tuitest.Send(t, base, tuitest.Key("/")), "su"), tuitest.Code(tea.KeyEnter, 0)),
				"detail":   tuitest.Send(t, tuitest.Send(t, base, tuitest.Key("j")), tuitest.Code(tea.KeyEnter, 0)),
				"help":     tuitest.Send(t, base, tuitest.Key("?")),
				"datasets": tuitest.Send(t, base, tuitest.Key("2")),
				"examples": tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, base, tuitest.Key("2")), tuitest.Key("j")), tuitest.Code(tea.KeyEnter, 0)),
			}
			for _, name := range []string{"programs", "filter", "detail", "help", "datasets", "examples"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Screen(screens[name])))
				})
			}
		})
	}
}

func TestFilterHighlightsMatches(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("/")), "clas"), tuitest.Code(tea.KeyEnter, 0))
	raw := m.View().Content
	// The cursor row is the only match, so its matched characters are drawn
	// with the theme's MatchSelected style.
	want := m.Styles().MatchSelected.Inline(true).Render("c")
	if want == m.Styles().RowSelected.Inline(true).Render("c") {
		t.Fatal("theme draws matches like the row: the check would pass vacuously")
	}
	if !strings.Contains(raw, want) {
		t.Errorf("matched characters are not highlighted: %q not in %q", want, raw)
	}
}

func TestKeyOverrides(t *testing.T) {
	km, err := keys.New(map[string][]string{"quit": {"x"}, "help": {"h"}})
	if err != nil {
		t.Fatal(err)
	}
	m := tui.New(tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}}, tui.Options{Keys: &km})
	m = tuitest.Run(t, m, m.Init())
	if _, cmd := m.Update(tuitest.Key("q")); cmd != nil {
		t.Error("q still does something after quit was rebound")
	}
	if _, cmd := m.Update(tuitest.Key("x")); cmd == nil || reflect.ValueOf(cmd).Pointer() != reflect.ValueOf(tea.Quit).Pointer() {
		t.Error("x does not quit")
	}
	m = tuitest.Send(t, m, tuitest.Key("h"))
	if !tuitest.IsTop[*tui.HelpView](m) {
		t.Fatal("h does not open help")
	}
	if s := strings.Join(strings.Fields(tuitest.Screen(m)), " "); !strings.Contains(s, "h help") || !strings.Contains(s, "x quit") {
		t.Errorf("help does not show the rebound keys:\n%s", s)
	}
}
