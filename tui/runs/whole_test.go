package runs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/runs"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestFailedTraceOpensOnError: the trace of a failed run opens on its whole
// error and Python traceback, scrollable; y copies both; esc leaves it for
// the trace, o opens it again.
func TestFailedTraceOpensOnError(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithFailedTrace(2)
	m, scr := runnerModel(t, f, 80, 24)
	m = open(t, m, scr.Trace(id))
	tuitest.TopAs[*dialog.Text](t, m)
	x := f.Execs[id]
	// The error is longer than a line: it is wrapped, whole.
	if scr := strings.Join(strings.Fields(tuitest.Screen(m)), " "); !strings.Contains(scr, "none named like this)\"") ||
		!strings.Contains(scr, "Python traceback") {
		t.Fatalf("the error view does not show the whole error:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("G"))
	if !strings.Contains(tuitest.Screen(m), `raise KeyError(f"no entry`) {
		t.Fatalf("scrolled to the end, the traceback's last lines are not shown:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if got := m.Copied(); !strings.Contains(got, x.Error) || !strings.Contains(got, tuitest.FailedTraceback) {
		t.Fatalf("y copied %q", got)
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	tuitest.TopAs[*runs.TraceScreen](t, m)
	m = tuitest.Send(t, m, tuitest.Key("o"))
	tuitest.TopAs[*dialog.Text](t, m)
}

// TestTraceCopiesSpanParts: y on a span asks what to copy, and copies the
// selected LM call's completion, prompt or outputs whole.
func TestTraceCopiesSpanParts(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithQATrace(1)
	m, ts := openTrace(t, f, id, 100, 30)
	m = tuitest.Send(t, m, tuitest.Key("n")) // the first LM call
	sp := selectedSpan(t, ts)
	m = tuitest.Send(t, m, tuitest.Key("y"))
	tuitest.TopAs[*dialog.Confirm](t, m)
	m = tuitest.Send(t, m, tuitest.Key("c"))
	if m.Copied() != sp.Completion {
		t.Fatalf("copied %q, want the completion %q", m.Copied(), sp.Completion)
	}
	m = tuitest.Send(t, m, tuitest.Key("y"))
	m = tuitest.Send(t, m, tuitest.Key("p"))
	if got := m.Copied(); !strings.HasPrefix(got, "[system]\n") || !strings.Contains(got, sp.Messages[3].Content) {
		t.Fatalf("copied %q, want the prompt", got)
	}
	m = tuitest.Send(t, m, tuitest.Key("o")) // the span whole
	if scr := tuitest.Screen(m); !strings.Contains(scr, "completion") || !strings.Contains(scr, "Who wrote Hamlet?") {
		t.Fatalf("o does not open the span whole:\n%s", scr)
	}
}

func TestFailedTraceGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := tuitest.NewRunner()
			id := f.WithFailedTrace(2)
			m, scr := runnerModel(t, f, sz[0], sz[1])
			m = open(t, m, scr.Trace(id))
			golden.RequireEqual(t, []byte(tuitest.Styled(m)))
		})
	}
}

// TestDayAxis: the cost chart's days are labelled each week and on the
// last day, under their bars, also when the days are bucketed.
func TestDayAxis(t *testing.T) {
	for _, c := range []struct {
		n, w int
		want string
	}{
		{25, 60, "1      8      15       25"},
		{30, 60, "1      8      15     22     30"},
		{3, 60, "1 3"},
		{30, 15, "1  8   15 22 30"},
	} {
		if got := runs.DayAxis(c.n, c.w); got != c.want {
			t.Errorf("DayAxis(%d, %d) = %q, want %q", c.n, c.w, got, c.want)
		}
	}
}

// TestRunFormLMProfile: the run form shows the program's LM profile, ctrl+l
// goes through the service's profiles (one whose key is not set says so)
// and back, and the run asks for the one chosen.
func TestRunFormLMProfile(t *testing.T) {
	f := tuitest.NewRunner()
	m, scr := runnerModel(t, f, 100, 30)
	m = open(t, m, scr.RunForm(tuitest.QAProgram()))
	line := func() string { return tuitest.LineWith(tuitest.Screen(m), "LM profile") }
	if !strings.Contains(line(), "‹ test (the program's) ›") || !strings.Contains(line(), "signet/test") {
		t.Fatalf("the form's LM line: %q", line())
	}
	m = tuitest.Send(t, m, tuitest.Ctrl('l'))
	m = tuitest.Send(t, m, tuitest.Ctrl('l'))
	if !strings.Contains(line(), "‹ openai ›") || !strings.Contains(line(), "OPENAI_API_KEY is not set") {
		t.Fatalf("after two ctrl+l: %q", line())
	}
	m = tuitest.Type(t, m, "Who wrote Hamlet?")
	m = tuitest.Send(t, m, tuitest.Enter())
	if len(f.Submits) != 1 || f.Submits[0].LM != "openai" {
		t.Fatalf("submitted %+v, want LM openai", f.Submits)
	}
}

func TestRunFormGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := tuitest.NewRunner()
			m, scr := runnerModel(t, f, sz[0], sz[1])
			m = open(t, m, scr.RunForm(tuitest.QAProgram()))
			m = tuitest.Send(t, m, tuitest.Ctrl('l'))
			m = tuitest.Send(t, m, tuitest.Ctrl('l'))
			golden.RequireEqual(t, []byte(tuitest.Styled(m)))
		})
	}
}

// TestExamplePickerFilter: / filters the example picker by what is typed
// (a burst of keys, then enter), and enter picks the match into the form.
func TestExamplePickerFilter(t *testing.T) {
	f := tuitest.NewRunner()
	m, scr := runnerModel(t, f, 100, 30)
	m = open(t, m, scr.RunForm(tuitest.QAProgram()))
	form := tuitest.TopAs[*runs.RunForm](t, m)
	m = tuitest.Send(t, m, tuitest.Ctrl('e'))
	tuitest.TopAs[*runs.ExamplePicker](t, m)
	if !strings.Contains(tuitest.Screen(m), "capital of France") {
		t.Fatalf("the picker:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("/"))
	m = tuitest.Type(t, m, "hamlet")
	if scr := tuitest.Screen(m); strings.Contains(scr, "capital of France") || !strings.Contains(scr, "Who wrote Hamlet?") {
		t.Fatalf("filtered by hamlet:\n%s", scr)
	}
	m = tuitest.Send(t, m, tuitest.Enter()) // closes the prompt, keeps the filter
	m = tuitest.Send(t, m, tuitest.Enter()) // picks
	if got := form.Input(0); got != "Who wrote Hamlet?" {
		t.Fatalf("the form's question is %q", got)
	}
}
