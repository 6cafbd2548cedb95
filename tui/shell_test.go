package tui_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func TestPaletteRunsActionByFuzzyName(t *testing.T) {
	m := tuitest.Sample(t, 100, 30)
	m = tuitest.Send(t, m, tuitest.Key(":"))
	p, ok := tuitest.Top(m).(*tui.Palette)
	if !ok {
		t.Fatal(": did not open the palette")
	}
	// Keys are text while the palette is open: "q" must not quit, "2" not
	// switch pages.
	m = tuitest.Type(t, m, "q2")
	if m.Page() != tui.PagePrograms || p.Pattern() != "q2" {
		t.Fatalf("typing in the palette: page %v, pattern %q", m.Page(), p.Pattern())
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0)), tuitest.Code(tea.KeyBackspace, 0))
	m = tuitest.Type(t, m, "godat")
	if m.Page() != tui.PagePrograms {
		t.Fatalf("typing in the palette switched to %v", m.Page())
	}
	if p.Len() != 1 {
		t.Fatalf("pattern %q matches %d actions, want 1 (Go to Datasets)", p.Pattern(), p.Len())
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	if tuitest.Top(m) != nil || m.Page() != tui.PageDatasets {
		t.Fatalf("after enter: %T on top, page %v", tuitest.Top(m), m.Page())
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "EXAMPLES") || !strings.Contains(s, "sentiment") {
		t.Errorf("going to Datasets through the palette did not load them:\n%s", s)
	}
}

func TestPaletteCtrlPAndEscape(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Code('p', tea.ModCtrl))
	if !tuitest.IsTop[*tui.Palette](m) {
		t.Fatal("ctrl+p did not open the palette")
	}
	if !strings.Contains(tuitest.Screen(m), "Commands") {
		t.Errorf("palette not drawn:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if tuitest.Top(m) != nil {
		t.Fatal("esc did not close the palette")
	}
	// q quits again once the palette is closed.
	if _, cmd := m.Update(tuitest.Key("q")); cmd == nil {
		t.Error("q does nothing after the palette closed")
	}
}

func TestPaletteQuitAction(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key(":")), "quit")
	_, cmd := m.Update(tuitest.Code(tea.KeyEnter, 0))
	if cmd == nil {
		t.Fatal("enter on Quit returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatalf("Quit action returned %T", cmd())
	}
}

func TestThemeSwitchFromPalette(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	before := m.Styles().Palette
	orig := m.Options().Styles.Palette
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key(":")), "theme light")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	light, err := themes.Get(themes.Light)
	if err != nil {
		t.Fatal(err)
	}
	if m.Styles().Palette != light || m.Styles().Palette == before {
		t.Fatalf("theme not switched: %+v", m.Styles().Palette)
	}
	if m.Options().Styles.Palette != orig {
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
	if !strings.Contains(tuitest.Screen(m), "theme light") {
		t.Error("no notice after switching themes")
	}
}

func TestKeyPressFromBindingNames(t *testing.T) {
	for name, want := range map[string]string{
		"enter": "enter", "ctrl+s": "ctrl+s", "G": "G", "space": "space", "shift+tab": "shift+tab", ":": ":", "pgdown": "pgdown",
	} {
		if got := tui.KeyPress(name).String(); got != want {
			t.Errorf("tui.KeyPress(%q).String() = %q", name, got)
		}
	}
}

func TestNoticeShownUntilNextKey(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Run(t, m, page.NoticeErr(errors.New("could not save qa: version conflict")))
	if !strings.Contains(tuitest.Screen(m), "could not save qa") {
		t.Fatalf("notice not shown:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	if strings.Contains(tuitest.Screen(m), "could not save qa") {
		t.Fatal("notice still shown after a key")
	}
}

// TestGoldenShell snapshots the shell's own overlays.
func TestGoldenShell(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := tuitest.Sample(t, sz[0], sz[1])
			t.Run("palette", func(t *testing.T) {
				golden.RequireEqual(t, []byte(tuitest.Screen(tuitest.Send(t, base, tuitest.Key(":")))))
			})
			t.Run("palette-filtered", func(t *testing.T) {
				golden.RequireEqual(t, []byte(tuitest.Screen(tuitest.Type(t, tuitest.Send(t, base, tuitest.Key(":")), "theme"))))
			})
		})
	}
}

func TestStatusBarPoolAndCost(t *testing.T) {
	fx := &tuitest.Executions{Month: 12.3456}
	m := tuitest.NewLive(t, 160, 30, fx, &tuitest.Pool{})
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "pool …") || !strings.Contains(s, "month $12.35") {
		t.Errorf("before any pool event the bar should say pool … and the cost:\n%s", tuitest.LastLines(s, 2))
	}
	pool := tuitest.SamplePool()
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: pool, PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()} })
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "pool 3/4 · 1 restarting") {
		t.Errorf("status bar:\n%s", tuitest.LastLines(s, 2))
	}
	ready := *pool
	ready.Pool = append([]app.Worker(nil), pool.Pool...)
	ready.Pool[2].State, ready.Pool[2].PID = "ready", 42000
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: &ready, PoolAt: tuitest.Now} })
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "pool 4/4 ready") {
		t.Errorf("status bar:\n%s", tuitest.LastLines(s, 2))
	}
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: &app.PoolStatus{Engine: "idle"}, PoolAt: tuitest.Now} })
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "pool idle") {
		t.Errorf("status bar:\n%s", tuitest.LastLines(s, 2))
	}
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Conn: &live.Conn{Err: errors.New("EOF"), Retry: time.Second}} })
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "pool owner unreachable") {
		t.Errorf("status bar after the owner went away:\n%s", tuitest.LastLines(s, 2))
	}
	// Back: the cost is fetched again (runs may have ended meanwhile).
	calls := fx.CostCalls
	_ = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Conn: &live.Conn{Up: true, Session: 2}, Pool: &ready, PoolAt: tuitest.Now}
	})
	if fx.CostCalls != calls+1 {
		t.Errorf("reconnecting did not refresh the cost")
	}
}

// TestStatusBarFits80 checks the bar at 80 columns: it fits, and segments
// drop by priority (the workspace path, then the programs count, before
// the pool and the cost).
func TestStatusBarFits80(t *testing.T) {
	fx := &tuitest.Executions{Month: 1234.5}
	m := tuitest.NewLive(t, 80, 24, fx, &tuitest.Pool{})
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: tuitest.SamplePool(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()}
	})
	lines := strings.Split(tuitest.Screen(m), "\n")
	if w := ansi.StringWidth(lines[len(lines)-2]); w != 80 {
		t.Fatalf("bar is %d wide", w)
	}
	bar := tuitest.LastLines(tuitest.Screen(m), 2)
	for _, want := range []string{"pool 3/4 · 1 restarting", "month $1234.50", "lm local-smollm2"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar lacks %q: %q", want, bar)
		}
	}
	if strings.Contains(bar, "workspace") || !strings.Contains(bar, "programs 4") {
		t.Errorf("the workspace path should be the first to go at 80 columns: %q", bar)
	}
	// A long notice pushes out more, never the pool.
	m = tuitest.Update(t, m, page.NoticeMsg{Text: "a fairly long notice about something that happened"})
	lines = strings.Split(tuitest.Screen(m), "\n")
	bar = tuitest.LastLines(tuitest.Screen(m), 2)
	if !strings.Contains(bar, "pool 3/4") || ansi.StringWidth(lines[len(lines)-2]) != 80 {
		t.Errorf("with a notice: %q", bar)
	}
}
