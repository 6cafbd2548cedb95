package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/page"
)

type fakeEvaluations struct {
	mu        sync.Mutex
	evals     []*model.Evaluation
	results   map[model.ID][]*model.EvalResult
	started   []EvaluationRequest
	cancelled []model.ID
}

func (f *fakeEvaluations) ListEvaluations(_ context.Context, program string) ([]*model.Evaluation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Evaluation
	for _, v := range f.evals {
		if v.Program == program {
			c := *v
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fakeEvaluations) Evaluation(_ context.Context, id model.ID) (*model.Evaluation, []*model.EvalResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.evals {
		if v.ID == id {
			c := *v
			return &c, f.results[id], nil
		}
	}
	return nil, nil, fmt.Errorf("evaluation %s: not found", id)
}

func (f *fakeEvaluations) StartEvaluation(_ context.Context, req EvaluationRequest) (*model.Evaluation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Data == "nope" {
		return nil, fmt.Errorf(`dataset nope: not found`)
	}
	f.started = append(f.started, req)
	v := &model.Evaluation{ID: fixedID(900 + len(f.started)), Program: req.Program, Version: req.Version,
		Data: model.DataRef{Dataset: req.Data}, Metric: model.Metric{Name: req.Metric, Kind: model.MetricBuiltin}, State: model.Pending, Total: 4}
	f.evals = append([]*model.Evaluation{v}, f.evals...)
	return v, nil
}

func (f *fakeEvaluations) CancelEvaluation(_ context.Context, id model.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	return nil
}

func sampleEvaluations() *fakeEvaluations {
	start := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	labels := model.Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}
	exact := model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}
	done := &model.Evaluation{ID: fixedID(11), Program: "qa", Version: 2, Data: model.DataRef{Dataset: "caps", Split: model.Validation},
		Metric: exact, Labels: labels, State: model.Completed, Total: 4, N: 4, Failures: 1, Sum: 2, Score: 0.5, Cost: 0.0042,
		Usage: map[string]model.Usage{"m": {Calls: 4, PromptTokens: 400, CompletionTokens: 40}}, StartedAt: start, FinishedAt: start.Add(time.Minute)}
	running := &model.Evaluation{ID: fixedID(12), Program: "qa", Version: 3, Data: model.DataRef{Dataset: "caps", Split: model.Validation},
		Metric: exact, Labels: labels, State: model.Running, Total: 40, N: 10, Sum: 7, Score: 0.7, Cost: 0.001, StartedAt: start.Add(time.Hour)}
	other := &model.Evaluation{ID: fixedID(13), Program: "summarize", Version: 1, Data: model.DataRef{Dataset: "docs"}, Metric: exact, State: model.Completed}
	res := func(i int, country, got, want string, score float64) *model.EvalResult {
		return &model.EvalResult{Evaluation: done.ID, Index: i, Example: fixedID(200 + i), Execution: fixedID(300 + i), State: model.Completed,
			Inputs: map[string]any{"question": "What is the capital of " + country + "?"}, Outputs: map[string]any{"answer": got},
			Expected: map[string]any{"answer": want}, Score: score, Cost: 0.001}
	}
	failed := &model.EvalResult{Evaluation: done.ID, Index: 2, Example: fixedID(202), Execution: fixedID(302), State: model.Failed,
		Inputs: map[string]any{"question": "What is the capital of Atlantis?"}, Expected: map[string]any{"answer": "Poseidonis"},
		ErrorCode: "lm_unavailable", Error: "after 3 attempts: provider outage", Cost: 0.0012}
	return &fakeEvaluations{
		evals: []*model.Evaluation{running, done, other},
		results: map[model.ID][]*model.EvalResult{
			done.ID: {res(0, "France", "Paris", "Paris", 1), res(1, "Japan", "Japan", "Tokyo", 0), failed, res(3, "Peru", "Lima", "Lima", 1)},
		},
	}
}

// newEvalModel is the workbench over f; its clock sets no timers: the
// tests deliver the poll's ticks.
func newEvalModel(t *testing.T, w, h int, f *fakeEvaluations) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}, Datasets: sampleDatasets(), Evaluations: f},
		Options{Workspace: "/home/ada/signet-workspace", LMProfile: "local", Styles: themes.New(p),
			Clock: &page.Clock{Now: time.Now, Location: time.UTC}})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return run(t, m, m.Init())
}

// evalScreenOf is the evaluations screen on the stack.
func evalScreenOf(t *testing.T, m Model) *evalScreen {
	t.Helper()
	for _, e := range m.stack.Entries() {
		if es, ok := e.Dialog.(*evalScreen); ok {
			return es
		}
	}
	t.Fatalf("no evaluations screen (top: %T)", top(m))
	return nil
}

// TestEvaluateFromPrograms: E on a program opens the form, prefilled
// from its last evaluation; ctrl+s starts one, which the list then shows.
func TestEvaluateFromPrograms(t *testing.T) {
	f := sampleEvaluations()
	m := send(t, newEvalModel(t, 120, 40, f), keyText("E"))
	es := evalScreenOf(t, m)
	form, ok := top(m).(*evalForm)
	if !ok || es.program.Name != "qa" || !typingNow(m) {
		t.Fatalf("E opened %T over the evaluations of %s", top(m), es.program.Name)
	}
	if got := form.fields.Value("dataset"); got != "caps:validation" {
		t.Errorf("dataset prefilled with %q, want the last evaluation's", got)
	}
	// Typed keys are text while the form has the keyboard: q does not quit.
	m = send(t, m, keyCode(tea.KeyTab, 0))
	m = send(t, m, keyCode(tea.KeyTab, 0))
	m = typeText(t, m, ",q") // after "answer", the last evaluation's labels
	if got := form.fields.Value("labels"); got != "answer,q" {
		t.Fatalf("labels %q", got)
	}
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.started) != 1 {
		t.Fatalf("started %v", f.started)
	}
	want := EvaluationRequest{Program: "qa", Version: 3, Data: "caps:validation", Metric: "exact_match", Labels: "answer,q"}
	if f.started[0] != want {
		t.Errorf("request %+v, want %+v", f.started[0], want)
	}
	if top(m) != es || es.view != evalList || len(es.evals) != 3 || es.selected().ID != fixedID(901) {
		t.Fatalf("after start: %T on top, view %v, %d evaluations, selected %v", top(m), es.view, len(es.evals), es.selected())
	}
	if !strings.Contains(screen(m), "evaluating qa v3 on caps:validation") {
		t.Errorf("no notice:\n%s", screen(m))
	}
	// A refused request keeps the form, with the service's error.
	m = send(t, m, keyText("n"))
	form = topAs[*evalForm](t, m)
	form.fields.Fields[0].Value = "nope"
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if top(m) != form || !strings.Contains(form.fields.Err, "dataset nope") {
		t.Errorf("a refused start: %T on top, error %q", top(m), form.fields.Err)
	}
	// esc: the list; esc again: the Programs page.
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if top(m) != nil || m.page != PagePrograms {
		t.Errorf("esc twice left %T on page %v", top(m), m.page)
	}
}

// TestEvaluationResultsAndTrace: enter on an evaluation shows its
// examples; enter on one opens its execution's trace, and esc comes back.
func TestEvaluationResultsAndTrace(t *testing.T) {
	f := sampleEvaluations()
	m := send(t, newEvalModel(t, 120, 40, f), keyText("E"))
	m = send(t, m, keyCode(tea.KeyEscape, 0)) // the list
	m = send(t, m, keyText("j"))              // the finished one
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	es := evalScreenOf(t, m)
	if es.view != evalResults || len(es.results) != 4 {
		t.Fatalf("view %v, %d results", es.view, len(es.results))
	}
	sc := screen(m)
	for _, want := range []string{"Average Metric: 2 / 4 (50.0%)", "Japan (Tokyo)", "0.000", "lm_unavailable: after 3 attempts",
		"inputs    question=What is the capital of France?", "expected  answer=Paris"} {
		if !strings.Contains(sc, want) {
			t.Errorf("results lack %q:\n%s", want, sc)
		}
	}
	m = send(t, m, keyText("j"))
	nm, _ := m.Update(keyCode(tea.KeyEnter, 0))
	m = nm.(Model)
	tr, ok := top(m).(*traceScreen)
	if below := m.stack.Entries(); !ok || tr.id != fixedID(301) || len(below) != 2 || below[0].Dialog != es {
		t.Fatalf("enter on an example opened %T (id %v) over %d dialogs", top(m), tr, len(below)-1)
	}
	nm, _ = m.Update(keyCode(tea.KeyEscape, 0))
	if back := top(nm.(Model)); back != es {
		t.Errorf("esc from the trace went to %T", back)
	}
}

func TestEvaluationCancelAndPalette(t *testing.T) {
	f := sampleEvaluations()
	m := newEvalModel(t, 120, 40, f)
	m = send(t, m, keyText(":"))
	if !strings.Contains(screen(m), "Programs: evaluate program") {
		t.Errorf("the palette has no evaluate action:\n%s", screen(m))
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	m = send(t, m, keyText("E"))
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	m = send(t, m, keyText("x")) // the running one is selected first
	if len(f.cancelled) != 1 || f.cancelled[0] != fixedID(12) {
		t.Errorf("cancelled %v", f.cancelled)
	}
	m = send(t, m, keyText("j"))
	m = send(t, m, keyText("x")) // a finished one: nothing to cancel
	if len(f.cancelled) != 1 {
		t.Errorf("cancelled a finished evaluation: %v", f.cancelled)
	}
	// A tick reloads while one runs; the list follows the service.
	f.mu.Lock()
	f.evals[0].N, f.evals[0].State = 40, model.Completed
	f.mu.Unlock()
	es := evalScreenOf(t, m)
	m = toTop(t, m, evalTickMsg{tick: es.tickGen})
	if es := evalScreenOf(t, m); es.evals[0].State != model.Completed || es.active() {
		t.Errorf("after the tick: %+v, active %v", es.evals[0], es.active())
	}
}

func TestEvaluationsGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			// The screen is shared by the models that follow: each is drawn as it comes.
			m := send(t, newEvalModel(t, sz[0], sz[1], sampleEvaluations()), keyText("E"))
			screens := map[string]string{"form": screen(m)}
			m = send(t, m, keyCode(tea.KeyEscape, 0))
			screens["list"] = screen(m)
			m = send(t, send(t, send(t, m, keyText("j")), keyCode(tea.KeyEnter, 0)), keyText("j"))
			screens["results"] = screen(m)
			for _, name := range []string{"form", "list", "results"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screens[name]))
				})
			}
		})
	}
}
