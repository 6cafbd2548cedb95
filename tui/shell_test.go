package tui

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/page"
)

func TestPaletteRunsActionByFuzzyName(t *testing.T) {
	m := newTestModel(t, 100, 30)
	m = send(t, m, keyText(":"))
	p, ok := top(m).(*palette)
	if !ok {
		t.Fatal(": did not open the palette")
	}
	// Keys are text while the palette is open: "q" must not quit, "2" not
	// switch pages.
	m = typeText(t, m, "q2")
	if m.page != PagePrograms || p.pattern != "q2" {
		t.Fatalf("typing in the palette: page %v, pattern %q", m.page, p.pattern)
	}
	m = send(t, send(t, m, keyCode(tea.KeyBackspace, 0)), keyCode(tea.KeyBackspace, 0))
	m = typeText(t, m, "godat")
	if m.page != PagePrograms {
		t.Fatalf("typing in the palette switched to %v", m.page)
	}
	if p.list.Len() != 1 {
		t.Fatalf("pattern %q matches %d actions, want 1 (Go to Datasets)", p.pattern, p.list.Len())
	}
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	if top(m) != nil || m.page != PageDatasets {
		t.Fatalf("after enter: %T on top, page %v", top(m), m.page)
	}
	if !m.datasets.loaded {
		t.Error("going to Datasets through the palette did not load them")
	}
}

func TestPaletteCtrlPAndEscape(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyCode('p', tea.ModCtrl))
	if !isTop[*palette](m) {
		t.Fatal("ctrl+p did not open the palette")
	}
	if !strings.Contains(screen(m), "Commands") {
		t.Errorf("palette not drawn:\n%s", screen(m))
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if top(m) != nil {
		t.Fatal("esc did not close the palette")
	}
	// q quits again once the palette is closed.
	if _, cmd := m.Update(keyText("q")); cmd == nil {
		t.Error("q does nothing after the palette closed")
	}
}

func TestPaletteQuitAction(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = typeText(t, send(t, m, keyText(":")), "quit")
	_, cmd := m.Update(keyCode(tea.KeyEnter, 0))
	if cmd == nil {
		t.Fatal("enter on Quit returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatalf("Quit action returned %T", cmd())
	}
}

func TestThemeSwitchFromPalette(t *testing.T) {
	m := newTestModel(t, 80, 24)
	before := m.env.Styles.Palette
	orig := m.opts.Styles.Palette
	m = typeText(t, send(t, m, keyText(":")), "theme light")
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	light, err := themes.Get(themes.Light)
	if err != nil {
		t.Fatal(err)
	}
	if m.env.Styles.Palette != light || m.env.Styles.Palette == before {
		t.Fatalf("theme not switched: %+v", m.env.Styles.Palette)
	}
	if m.opts.Styles.Palette != orig {
		t.Error("switching themes changed the caller's styles")
	}
	// The page's list draws its selected row with the new theme's
	// selection colour.
	var r, g, b int
	if _, err := fmt.Sscanf(light.Selection, "#%02x%02x%02x", &r, &g, &b); err != nil {
		t.Fatal(err)
	}
	if sgr := fmt.Sprintf("48;2;%d;%d;%d", r, g, b); !strings.Contains(m.View().Content, sgr) {
		t.Errorf("selected row not drawn with the light theme's selection %s", light.Selection)
	}
	if !strings.Contains(screen(m), "theme light") {
		t.Error("no notice after switching themes")
	}
}

func TestKeyPressFromBindingNames(t *testing.T) {
	for name, want := range map[string]string{
		"enter": "enter", "ctrl+s": "ctrl+s", "G": "G", "space": "space", "shift+tab": "shift+tab", ":": ":", "pgdown": "pgdown",
	} {
		if got := keyPress(name).String(); got != want {
			t.Errorf("keyPress(%q).String() = %q", name, got)
		}
	}
}

func TestMouseClickTabAndRow(t *testing.T) {
	m := newTestModel(t, 100, 30)
	// Find the Datasets tab's column from the drawn tab bar.
	bar := strings.Split(screen(m), "\n")[0]
	x := strings.Index(bar, "2 Datasets")
	if x < 0 {
		t.Fatalf("no Datasets tab in %q", bar)
	}
	m = deliver(t, m, (tea.MouseClickMsg{X: x + 2, Y: 0, Button: tea.MouseLeft}))
	if m.page != PageDatasets {
		t.Fatalf("click on the Datasets tab: page %v", m.page)
	}
	m = send(t, m, keyText("1"))
	// Row 3 of the list is body line 3 (line 0 of the body is the header),
	// screen line 4 (the tab bar is line 0).
	m = deliver(t, m, (tea.MouseClickMsg{X: 5, Y: 4, Button: tea.MouseLeft}))
	if got := selectedName(m); got != samplePrograms()[2].Name {
		t.Fatalf("click on row 3 selected %q", got)
	}
	// A second click on the same row opens it.
	m = deliver(t, m, (tea.MouseClickMsg{X: 5, Y: 4, Button: tea.MouseLeft}))
	if m.programs.detail == nil || m.programs.detail.Name != samplePrograms()[2].Name {
		t.Fatal("second click did not open the program")
	}
}

func TestMouseWheelScrollsList(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyText("2"))
	m = send(t, m, keyCode(tea.KeyEnter, 0)) // the first dataset's examples
	if m.datasets.ex.ds == nil {
		t.Fatal("examples not open")
	}
	off := m.datasets.ex.list.Offset()
	m = deliver(t, m, (tea.MouseWheelMsg{X: 3, Y: 5, Button: tea.MouseWheelDown}))
	if got := m.datasets.ex.list.Offset(); got != off+components.WheelLines {
		t.Fatalf("wheel down: offset %d -> %d, want +%d", off, got, components.WheelLines)
	}
	m = deliver(t, m, (tea.MouseWheelMsg{X: 3, Y: 5, Button: tea.MouseWheelUp}))
	if got := m.datasets.ex.list.Offset(); got != off {
		t.Fatalf("wheel up: offset %d, want %d", got, off)
	}
}

func TestNoticeShownUntilNextKey(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = run(t, m, page.NoticeErr(errors.New("could not save qa: version conflict")))
	if !strings.Contains(screen(m), "could not save qa") {
		t.Fatalf("notice not shown:\n%s", screen(m))
	}
	m = send(t, m, keyText("j"))
	if strings.Contains(screen(m), "could not save qa") {
		t.Fatal("notice still shown after a key")
	}
}

// TestGoldenShell snapshots the shell's own overlays.
func TestGoldenShell(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := newTestModel(t, sz[0], sz[1])
			t.Run("palette", func(t *testing.T) {
				golden.RequireEqual(t, []byte(screen(send(t, base, keyText(":")))))
			})
			t.Run("palette-filtered", func(t *testing.T) {
				golden.RequireEqual(t, []byte(screen(typeText(t, send(t, base, keyText(":")), "theme"))))
			})
		})
	}
}

// deliver sends one message and runs the commands that follow.
func deliver(t *testing.T, m Model, msg tea.Msg) Model {
	t.Helper()
	nm, cmd := m.Update(msg)
	return run(t, nm.(Model), cmd)
}
