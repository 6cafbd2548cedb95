package tui_test

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// updateHeld sends msg and keeps its command unrun: a filter still on its
// way when the next key arrives.
func updateHeld(m tui.Model, msg tea.Msg, held *[]tea.Cmd) tui.Model {
	nm, cmd := m.Update(msg)
	if cmd != nil {
		*held = append(*held, cmd)
	}
	return nm.(tui.Model)
}

// A burst of keys then enter, every filter result still on its way: enter
// acts on what was typed (the light theme), not on the list as the last
// result left it (every action, "Programs: …" on top). The late results
// then arrive, stale, and change nothing.
func TestPaletteEnterActsOnWhatWasTypedNotAStaleFilter(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key(":"))
	var held []tea.Cmd
	for _, r := range "theme light" {
		k := tuitest.Key(string(r))
		if r == ' ' {
			k = tuitest.Space()
		}
		m = updateHeld(m, k, &held)
	}
	if p := tuitest.TopAs[*tui.Palette](t, m); p.Pattern() != "theme light" || p.Len() < 10 {
		t.Fatalf("before enter: pattern %q, %d rows shown (want the unfiltered list: no result arrived)", p.Pattern(), p.Len())
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	for _, c := range held { // the late results, for a palette since closed
		m = tuitest.Run(t, m, c)
	}
	light, err := themes.Get(themes.Light)
	if err != nil {
		t.Fatal(err)
	}
	if m.Styles().Palette != light {
		t.Fatalf("enter after typing %q fast did not apply the light theme", "theme light")
	}
	if tuitest.Top(m) != nil || m.Page() != tui.PagePrograms {
		t.Fatalf("after enter: %T on top, page %v", tuitest.Top(m), m.Page())
	}
}

// A result that answers an older pattern arrives after newer keys: the
// list stays as the newest pattern wants it, and enter runs its match.
func TestPaletteStaleResultArrivingLateIsIgnored(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key(":"))
	var first []tea.Cmd
	m = updateHeld(m, tuitest.Key("g"), &first)
	m = tuitest.Type(t, m, "odat") // "godat": Go to Datasets; its filters run
	for _, c := range first {      // "g"'s result, late
		m = tuitest.Run(t, m, c)
	}
	if p := tuitest.TopAs[*tui.Palette](t, m); p.Len() != 1 {
		t.Fatalf("a stale result replaced the list: %d rows for %q", p.Len(), p.Pattern())
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	if m.Page() != tui.PageDatasets {
		t.Fatalf("enter went to %v, want Datasets", m.Page())
	}
}
