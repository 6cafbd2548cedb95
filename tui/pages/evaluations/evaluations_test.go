package evaluations_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/pages/evaluations"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// newEvalModel is the workbench over f; its clock sets no timers: the
// tests deliver the poll's ticks.
func newEvalModel(t *testing.T, w, h int, f *tuitest.Evaluations) tui.Model {
	t.Helper()
	return tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: tuitest.SampleDatasets(), Evaluations: f},
		w, h, tuitest.WithLM("local"))
}

// evalScreenOf is the evaluations screen on the stack.
func evalScreenOf(t *testing.T, m tui.Model) *evaluations.Screen {
	t.Helper()
	for _, d := range m.Dialogs() {
		if es, ok := d.(*evaluations.Screen); ok {
			return es
		}
	}
	t.Fatalf("no evaluations screen (top: %T)", tuitest.Top(m))
	return nil
}

// TestEvaluateFromPrograms: E on a program opens the form, prefilled
// from its last evaluation; ctrl+s starts one, which the list then shows.
func TestEvaluateFromPrograms(t *testing.T) {
	f := tuitest.SampleEvaluations()
	m := tuitest.Send(t, newEvalModel(t, 120, 40, f), tuitest.Key("E"))
	es := evalScreenOf(t, m)
	form, ok := tuitest.Top(m).(*evaluations.Form)
	if !ok || es.ProgramName() != "qa" || !tuitest.Typing(m) {
		t.Fatalf("E opened %T over the evaluations of %s", tuitest.Top(m), es.ProgramName())
	}
	if got := form.Value("dataset"); got != "caps:validation" {
		t.Errorf("dataset prefilled with %q, want the last evaluation's", got)
	}
	// Typed keys are text while the form has the keyboard: q does not quit.
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	m = tuitest.Type(t, m, ",q") // after "answer", the last evaluation's labels
	if got := form.Value("labels"); got != "answer,q" {
		t.Fatalf("labels %q", got)
	}
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Started) != 1 {
		t.Fatalf("started %v", f.Started)
	}
	// The request as `signet eval` makes it: the metric as spelled, a
	// custom metric's file relative to this process's directory.
	cwd, _ := os.Getwd()
	want := app.EvaluateRequest{Program: "qa", Version: 3, Data: model.DataRef{Dataset: "caps", Split: model.Validation},
		Metric: model.Metric{Name: "exact_match", Kind: app.MetricSpelled}, Labels: []string{"answer", "q"}, BaseDir: cwd}
	if !reflect.DeepEqual(f.Started[0], want) {
		t.Errorf("request %+v, want %+v", f.Started[0], want)
	}
	if tuitest.Top(m) != es || !es.InList() || len(es.Evals()) != 3 || es.SelectedEval().ID != tuitest.FixedID(901) {
		t.Fatalf("after start: %T on top, %d evaluations, selected %v", tuitest.Top(m), len(es.Evals()), es.SelectedEval())
	}
	if !strings.Contains(tuitest.Screen(m), "evaluating qa v3 on caps:validation") {
		t.Errorf("no notice:\n%s", tuitest.Screen(m))
	}
	// A dataset that does not parse is refused in the form, naming the field.
	m = tuitest.Send(t, m, tuitest.Key("n"))
	form = tuitest.TopAs[*evaluations.Form](t, m)
	form.SetValue(0, "caps:holdout")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if tuitest.Top(m) != form || len(f.Started) != 1 || !strings.HasPrefix(form.Err(), "dataset: caps:holdout: ") {
		t.Errorf("a bad split: %T on top, %d started, error %q", tuitest.Top(m), len(f.Started), form.Err())
	}
	// A refused request keeps the form, with the service's error.
	form.SetValue(0, "nope")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if tuitest.Top(m) != form || !strings.Contains(form.Err(), "dataset nope") {
		t.Errorf("a refused start: %T on top, error %q", tuitest.Top(m), form.Err())
	}
	// esc on what was typed: asked first; d discards it: the list; esc
	// again: the Programs page.
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if !strings.Contains(tuitest.Screen(m), "Unsaved changes in the evaluation of qa") {
		t.Fatalf("esc on a changed form did not ask:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("d"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if tuitest.Top(m) != nil || m.Page() != tui.PagePrograms {
		t.Errorf("esc twice left %T on page %v", tuitest.Top(m), m.Page())
	}
}

// TestEvaluationResultsAndTrace: enter on an evaluation shows its
// examples; enter on one opens its execution's trace, and esc comes back.
func TestEvaluationResultsAndTrace(t *testing.T) {
	f := tuitest.SampleEvaluations()
	m := tuitest.Send(t, newEvalModel(t, 120, 40, f), tuitest.Key("E"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0)) // the list
	m = tuitest.Send(t, m, tuitest.Key("j"))               // the finished one
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	es := evalScreenOf(t, m)
	if !es.InResults() || es.Results() != 4 {
		t.Fatalf("results shown %v, %d results", es.InResults(), es.Results())
	}
	sc := tuitest.Screen(m)
	for _, want := range []string{"Average Metric: 2 / 4 (50.0%)", "Japan (Tokyo)", "0.000", "lm_unavailable: after 3 attempts",
		"inputs    question=What is the capital of France?", "expected  answer=Paris"} {
		if !strings.Contains(sc, want) {
			t.Errorf("results lack %q:\n%s", want, sc)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	nm, _ := m.Update(tuitest.Code(tea.KeyEnter, 0))
	m = nm.(tui.Model)
	title := strings.Split(tuitest.Screen(m), "\n")[1]
	if below := m.Dialogs(); !strings.HasPrefix(title, "Trace") || !strings.Contains(title, tuitest.FixedID(301).String()) || len(below) != 2 || below[0] != es {
		t.Fatalf("enter on an example opened %q over %d dialogs", title, len(below)-1)
	}
	nm, _ = m.Update(tuitest.Code(tea.KeyEscape, 0))
	if back := tuitest.Top(nm.(tui.Model)); back != es {
		t.Errorf("esc from the trace went to %T", back)
	}
}

func TestEvaluationCancelAndPalette(t *testing.T) {
	f := tuitest.SampleEvaluations()
	m := newEvalModel(t, 120, 40, f)
	m = tuitest.Send(t, m, tuitest.Key(":"))
	if !strings.Contains(tuitest.Screen(m), "Programs: evaluate program") {
		t.Errorf("the palette has no evaluate action:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	m = tuitest.Send(t, m, tuitest.Key("E"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	m = tuitest.Send(t, m, tuitest.Key("x")) // the running one is selected first
	if len(f.Cancelled) != 1 || f.Cancelled[0] != tuitest.FixedID(12) {
		t.Errorf("cancelled %v", f.Cancelled)
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Key("x")) // a finished one: nothing to cancel
	if len(f.Cancelled) != 1 {
		t.Errorf("cancelled a finished evaluation: %v", f.Cancelled)
	}
	// A tick reloads while one runs; the list follows the service.
	f.Mu.Lock()
	f.List[0].N, f.List[0].State = 40, model.Completed
	f.Mu.Unlock()
	es := evalScreenOf(t, m)
	m = tuitest.Run(t, m, func() tea.Msg { return es.Tick() }) // to whoever has the keyboard: the list
	if es := evalScreenOf(t, m); es.Evals()[0].State != model.Completed || es.Active() {
		t.Errorf("after the tick: %+v, active %v", es.Evals()[0], es.Active())
	}
}

func TestEvaluationsGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			// The screen is shared by the models that follow: each is drawn as it comes.
			m := tuitest.Send(t, newEvalModel(t, sz[0], sz[1], tuitest.SampleEvaluations()), tuitest.Key("E"))
			screens := map[string]string{"form": tuitest.Screen(m)}
			m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
			screens["list"] = tuitest.Screen(m)
			m = tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Code(tea.KeyEnter, 0)), tuitest.Key("j"))
			screens["results"] = tuitest.Screen(m)
			for _, name := range []string{"form", "list", "results"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screens[name]))
				})
			}
		})
	}
}
