package tui_test

import (
	"strings"
	"testing"

	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestWholeRowOpensCutCells: at a width that cuts the dataset table's
// columns, o opens the selected row with every cell whole; y copies it;
// esc goes back to the page.
func TestWholeRowOpensCutCells(t *testing.T) {
	m := tuitest.Sample(t, 50, 40)
	m = tuitest.Send(t, m, tuitest.Key("2"))
	if strings.Contains(tuitest.Screen(m), "question, answer") {
		t.Fatalf("the fields column is not cut at 50 cells: the test shows nothing\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("j")) // qa
	m = tuitest.Send(t, m, tuitest.Key("o"))
	tuitest.TopAs[*dialog.Text](t, m)
	scr := tuitest.Screen(m)
	for _, want := range []string{"FIELDS", "question, answer", "INPUTS", "qa"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("the row opened whole lacks %q:\n%s", want, scr)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if got := m.Copied(); !strings.Contains(got, "FIELDS:\nquestion, answer") {
		t.Fatalf("y copied %q", got)
	}
	if !strings.Contains(tuitest.Screen(m), "copied") {
		t.Fatal("the status bar does not say what was copied")
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if tuitest.Top(m) != nil {
		t.Fatalf("esc left %T open", tuitest.Top(m))
	}
}

// TestPaletteBoxFits8024: the palette's box is drawn whole at 80x24, its
// bottom border included.
func TestPaletteBoxFits8024(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key(":"))
	scr := tuitest.Screen(m)
	if strings.Count(scr, "╭") != 1 || strings.Count(scr, "╰") != 1 {
		t.Fatalf("the palette's box is cut:\n%s", scr)
	}
}
