package tui_test

import (
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// editingExample is the workbench with the qa dataset's first example open
// in its form, "zzz" typed into its question.
func editingExample(t *testing.T) (tui.Model, *tuitest.Datasets) {
	t.Helper()
	fake := tuitest.SampleDatasets()
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: fake}, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Enter())
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("i")), "zzz")
	if !strings.Contains(tuitest.Screen(m), "zzzWhat is the capital") {
		t.Fatalf("not editing the example:\n%s", tuitest.Screen(m))
	}
	return m, fake
}

// quits reports whether cmd quits the workbench.
func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// sendHeld sends k and returns its command unrun (a quit must not be run
// by tuitest.Run).
func sendHeld(m tui.Model, k tea.KeyPressMsg) (tui.Model, tea.Cmd) {
	nm, cmd := m.Update(k)
	return nm.(tui.Model), cmd
}

func TestCtrlCWithAnEditorOpenAsksFirst(t *testing.T) {
	m, fake := editingExample(t)
	form := tuitest.Top(m)
	m, cmd := sendHeld(m, tuitest.Ctrl('c'))
	if quits(cmd) {
		t.Fatal("ctrl+c quit with an unsaved example")
	}
	m = tuitest.Run(t, m, cmd)
	if !tuitest.IsTop[*dialog.Confirm](m) || !strings.Contains(tuitest.Screen(m), "Unsaved changes in example") {
		t.Fatalf("ctrl+c did not ask:\n%s", tuitest.Screen(m))
	}
	// keep editing: back in the form, the text intact.
	m = tuitest.Send(t, m, tuitest.Esc())
	if tuitest.Top(m) != form || !strings.Contains(tuitest.Screen(m), "zzzWhat is the capital") {
		t.Fatalf("keep editing did not go back to the form as it was:\n%s", tuitest.Screen(m))
	}
	// discard: quits, nothing stored.
	m = tuitest.Send(t, m, tuitest.Ctrl('c'))
	if _, cmd = sendHeld(m, tuitest.Key("d")); !quits(cmd) {
		t.Fatal("discard did not quit")
	}
	if strings.Contains(fake.Mem["qa"][0].Data["question"].(string), "zzz") {
		t.Fatal("discard stored the edit")
	}
	// ctrl+c twice: a way out without answering.
	m = tuitest.Send(t, m, tuitest.Ctrl('c'))
	if _, cmd = sendHeld(m, tuitest.Ctrl('c')); !quits(cmd) {
		t.Fatal("ctrl+c over the question did not quit")
	}
}

// save: the example is stored, then the workbench quits.
func TestQuitSavesFirstWhenAsked(t *testing.T) {
	m, fake := editingExample(t)
	m = tuitest.Send(t, m, tuitest.Ctrl('c'))
	m, cmd := sendHeld(m, tuitest.Key("s"))
	if m, quit := tuitest.RunToQuit(t, m, cmd); !quit {
		t.Fatalf("save did not go on to quit:\n%s", tuitest.Screen(m))
	}
	if got := fake.Mem["qa"][0].Data["question"]; got != "zzzWhat is the capital of France?" {
		t.Fatalf("stored question %q", got)
	}
}

// A save that fails does not quit: the form stays, saying why.
func TestQuitStaysWhenTheSaveFails(t *testing.T) {
	m, fake := editingExample(t)
	fake.WriteErr = errors.New("disk full")
	m = tuitest.Send(t, m, tuitest.Ctrl('c'))
	m, cmd := sendHeld(m, tuitest.Key("s"))
	m, quit := tuitest.RunToQuit(t, m, cmd)
	if quit {
		t.Fatal("quit after a failed save")
	}
	s := tuitest.Screen(m)
	if !strings.Contains(s, "zzzWhat is the capital") || !strings.Contains(s, "disk full") || !strings.Contains(s, "not saved") {
		t.Fatalf("after a failed save the form is not there saying why:\n%s", s)
	}
}

// q quits at once when nothing is unsaved.
func TestQuitWithNothingUnsaved(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	if _, cmd := sendHeld(m, tuitest.Key("q")); !quits(cmd) {
		t.Fatal("q did not quit")
	}
	if _, cmd := sendHeld(m, tuitest.Ctrl('c')); !quits(cmd) {
		t.Fatal("ctrl+c did not quit")
	}
}

// With an editor open the tabs do not switch pages (a click on one is
// not the editor's), and the editor keeps its text.
func TestTabClickWithAnEditorOpenKeepsIt(t *testing.T) {
	m, _ := editingExample(t)
	form := tuitest.Top(m)
	m = tuitest.Deliver(t, m, tea.MouseClickMsg{X: 5, Y: 0, Button: tea.MouseLeft}) // "1 Programs", at 80 columns the first tab
	if m.Page() != tui.PageDatasets || tuitest.Top(m) != form || !strings.Contains(tuitest.Screen(m), "zzzWhat is the capital") {
		t.Fatalf("a click on a tab over the editor: page %v, top %T\n%s", m.Page(), tuitest.Top(m), tuitest.Screen(m))
	}
	// Without one, the same click switches.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("d"))
	if m = tuitest.Deliver(t, m, tea.MouseClickMsg{X: 5, Y: 0, Button: tea.MouseLeft}); m.Page() != tui.PagePrograms {
		t.Fatalf("a click on the Programs tab went to %v", m.Page())
	}
}
