package runs_test

import (
	"strings"
	"testing"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/runs"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// A run form's inputs are kept per program for the session: closed and
// opened again, the form shows them; another program's form does not.
func TestRunFormInputsKeptPerProgram(t *testing.T) {
	m, scr := runnerModel(t, tuitest.NewRunner(), 100, 30)
	qa := tuitest.QAProgram()
	m = open(t, m, scr.RunForm(qa))
	m = tuitest.Type(t, m, "What is the capital of Peru?")
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Esc()) // leave the field, close
	if tuitest.Top(m) != nil {
		t.Fatalf("esc esc left %T open", tuitest.Top(m))
	}
	m = open(t, m, scr.RunForm(qa))
	if !strings.Contains(tuitest.Screen(m), "What is the capital of Peru?") {
		t.Fatalf("the run form lost its inputs:\n%s", tuitest.Screen(m))
	}
	other := tuitest.QAProgram()
	other.Name = "qa2"
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Esc())
	m = open(t, m, scr.RunForm(other))
	if strings.Contains(tuitest.Screen(m), "Peru") {
		t.Fatalf("another program's form shows qa's inputs:\n%s", tuitest.Screen(m))
	}
}

// Iterations are kept for the session: esc back to the trace, i again, and
// the same iterations and draft are there.
func TestIterationsKeptForTheSession(t *testing.T) {
	f := tuitest.IterateRunner()
	m, it := openIteration(t, f, 120, 36)
	m = tuitest.Send(t, m, tuitest.Key("i"))
	it.SetText("Answer in uppercase.")
	m = tuitest.Send(t, m, tuitest.Esc())
	m = tuitest.Send(t, m, tuitest.Key("r"))
	if len(it.Iterations()) != 2 {
		t.Fatalf("%d iterations after a run", len(it.Iterations()))
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if !tuitest.IsTop[*runs.TraceScreen](m) {
		t.Fatalf("esc went to %T, want the trace", tuitest.Top(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("i"))
	again := tuitest.TopAs[*runs.IterateScreen](t, m)
	if len(again.Iterations()) != 2 || again.Draft().Modules[0].Instructions != "Answer in uppercase." {
		t.Fatalf("coming back: %d iterations, instructions %q", len(again.Iterations()), again.Draft().Modules[0].Instructions)
	}
	if !strings.Contains(tuitest.Screen(m), "FRANCE") {
		t.Errorf("the kept iteration's output is not shown:\n%s", tuitest.Screen(m))
	}
}

// Quitting with an unsaved draft asks; save stores it as the next version,
// then the workbench quits.
func TestIterationQuitAsksAndSaves(t *testing.T) {
	f := tuitest.IterateRunner()
	m, it := openIteration(t, f, 120, 36)
	if it.Dirty() {
		t.Fatal("a fresh iteration is dirty")
	}
	m = tuitest.Send(t, m, tuitest.Key("i"))
	it.SetText("Answer in uppercase.")
	if !it.Dirty() {
		t.Fatal("text being edited is not unsaved")
	}
	m = tuitest.Send(t, m, tuitest.Ctrl('c'))
	if !strings.Contains(tuitest.Screen(m), "Unsaved changes in the iteration on qa, module answer") {
		t.Fatalf("ctrl+c did not ask:\n%s", tuitest.Screen(m))
	}
	nm, cmd := m.Update(tuitest.Key("s"))
	if _, quit := tuitest.RunToQuit(t, nm.(tui.Model), cmd); !quit {
		t.Fatal("save did not go on to quit")
	}
	if len(f.Saved) != 1 || f.Saved[0].Modules[0].Instructions != "Answer in uppercase." {
		t.Fatalf("saved %+v", f.Saved)
	}
}
