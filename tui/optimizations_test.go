package tui

import (
	"context"
	"fmt"
	"reflect"
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

type fakeOptimizations struct {
	mu        sync.Mutex
	runs      []*model.Optimization
	trials    map[model.ID][]*model.Trial
	programs  map[string]*model.Program // "name@version"
	started   []OptimizationRequest
	cancelled []model.ID
	promoted  []model.ID
	forced    []bool
	lists     int
}

func (f *fakeOptimizations) ListOptimizations(context.Context, string) ([]*model.Optimization, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	out := make([]*model.Optimization, len(f.runs))
	for i, o := range f.runs {
		c := *o
		out[i] = &c
	}
	return out, nil
}

func (f *fakeOptimizations) OptimizationTrials(_ context.Context, id model.ID) ([]*model.Trial, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.trials[id], nil
}

func (f *fakeOptimizations) StartOptimization(_ context.Context, req OptimizationRequest) (*model.Optimization, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Program == "missing" {
		return nil, fmt.Errorf("program %q: not found", req.Program)
	}
	f.started = append(f.started, req)
	o := &model.Optimization{ID: model.NewID(), Program: req.Program, BaseVersion: 1, Optimizer: req.Optimizer, State: model.Pending}
	f.runs = append([]*model.Optimization{o}, f.runs...)
	return o, nil
}

func (f *fakeOptimizations) CancelOptimization(_ context.Context, id model.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	return nil
}

func (f *fakeOptimizations) PromoteOptimization(_ context.Context, run *model.Optimization, force bool) (*model.Program, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if run.Regressed && !force {
		return nil, fmt.Errorf("optimization %s: its result scored below the baseline", run.ID)
	}
	res := run.Candidate
	if res == nil {
		res = f.programs[fmt.Sprintf("%s@%d", run.Program, run.ResultVersion)]
	}
	if res == nil {
		return nil, fmt.Errorf("program %s v%d: not found", run.Program, run.ResultVersion)
	}
	f.promoted = append(f.promoted, run.ID)
	f.forced = append(f.forced, force)
	p := *res
	p.Version = 4
	return &p, nil
}

func (f *fakeOptimizations) CompareOptimizations(_ context.Context, ids []model.ID) (*model.Comparison, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var runs []model.RunForCompare
	for _, id := range ids {
		for _, o := range f.runs {
			if o.ID == id {
				runs = append(runs, model.RunForCompare{Run: o, Trials: f.trials[id],
					Base:   f.programs[fmt.Sprintf("%s@%d", o.Program, o.BaseVersion)],
					Result: f.programs[fmt.Sprintf("%s@%d", o.Program, o.ResultVersion)]})
			}
		}
	}
	return model.CompareRuns(runs), nil
}

// fixedID makes IDs whose short form (the last 8 hex digits) is readable
// and stable across runs, for goldens.
func fixedID(n int) model.ID {
	id, err := model.ParseID(fmt.Sprintf("0190b6c8-0000-7000-8000-0000%08d", n))
	if err != nil {
		panic(err)
	}
	return id
}

func sampleOptimizations() *fakeOptimizations {
	start := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	ex := []model.ID{fixedID(101), fixedID(102), fixedID(103), fixedID(104)}
	res := func(pass ...bool) []model.ExampleResult {
		out := make([]model.ExampleResult, len(pass))
		for i, p := range pass {
			out[i] = model.ExampleResult{Example: ex[i], Pass: p}
		}
		return out
	}
	boot := &model.Optimization{ID: fixedID(1), Program: "qa", BaseVersion: 1, ResultVersion: 2, Optimizer: "bootstrap_fewshot",
		Settings: map[string]any{"max_bootstrapped_demos": 4}, Metric: model.Metric{Name: "exact_match"},
		State: model.Completed, Trials: 3, BaselineScore: 0.25, BestScore: 0.75, BestTrial: 3, LMCalls: 48, Cost: 0.0123,
		StartedAt: start, FinishedAt: start.Add(95 * time.Second)}
	mipro := &model.Optimization{ID: fixedID(2), Program: "qa", BaseVersion: 1, ResultVersion: 3, Optimizer: "mipro_v2",
		Settings: map[string]any{"auto": "light"}, Metric: model.Metric{Name: "exact_match"},
		State: model.Completed, Trials: 2, BaselineScore: 0.25, BestScore: 0.5, BestTrial: 2, LMCalls: 120, Cost: 0.0456,
		StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 4*time.Minute)}
	running := &model.Optimization{ID: fixedID(3), Program: "sentiment", BaseVersion: 2, Optimizer: "gepa",
		Metric: model.Metric{Name: "f1"}, State: model.Running, StartedAt: start.Add(2 * time.Hour),
		Progress: &model.OptProgress{Phase: "trials", Trial: 4, Trials: 10, Score: 0.6, BestScore: 0.7, LMCalls: 80,
			TokensIn: 12000, TokensOut: 900, Cost: 0.02, Elapsed: 42, ETA: 63},
		Estimate: &model.OptEstimate{LMCalls: 240, Cost: ptr(0.03), Train: 20, Val: 10}}
	return &fakeOptimizations{
		runs: []*model.Optimization{running, mipro, boot},
		trials: map[model.ID][]*model.Trial{
			boot.ID: {
				{N: 0, Score: 0.25, Results: res(true, false, false, false)},
				{N: 1, Score: 0.5, Results: res(true, true, false, false)},
				{N: 2, Score: 0.5, Results: res(true, false, true, false)},
				{N: 3, Score: 0.75, Results: res(true, true, true, false)},
			},
			mipro.ID: {
				{N: 0, Score: 0.25, Results: res(true, false, false, false)},
				{N: 1, Score: 0.25, Results: res(false, true, false, false)},
				{N: 2, Score: 0.5, Results: res(false, true, true, false)},
			},
			running.ID: {{N: 0, Score: 0.4}, {N: 1, Score: 0.55}, {N: 2, Score: 0.7}, {N: 3, Score: 0.6}},
		},
		programs: map[string]*model.Program{
			"qa@1": {Name: "qa", Version: 1, Modules: []model.Module{{Name: "answer", Instructions: "Answer the question."}}},
			"qa@2": {Name: "qa", Version: 2, Modules: []model.Module{{Name: "answer", Instructions: "Answer the question.",
				Demos: []map[string]any{{"question": "Capital of France?", "answer": "Paris"}}}}},
			"qa@3": {Name: "qa", Version: 3, Modules: []model.Module{{Name: "answer", Instructions: "Answer in one word."}}},
		},
	}
}

// newOptModel is the workbench on the Optimizations page over f; its
// clock sets no timers: the tests deliver the poll's ticks.
func newOptModel(t *testing.T, w, h int, f *fakeOptimizations) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}, Datasets: sampleDatasets(), Optimizations: f},
		Options{Workspace: "/home/ada/signet-workspace", LMProfile: "local", Styles: themes.New(p),
			Clock: &page.Clock{Now: time.Now, Location: time.UTC}})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	m = run(t, m, m.Init())
	return send(t, m, keyText("4"))
}

func TestOptimizationsListAndProgress(t *testing.T) {
	f := sampleOptimizations()
	m := newOptModel(t, 120, 40, f)
	if m.page != PageOptimizations || !m.optimizations.loaded || len(m.optimizations.runs) != 3 {
		t.Fatalf("page %v loaded %v runs %d", m.page, m.optimizations.loaded, len(m.optimizations.runs))
	}
	sc := screen(m)
	for _, want := range []string{"sentiment v2", "gepa", "4/10", "trials 4/10", "estimate: at most 240 LM calls, about $0.0300", "best 0.700", "80 LM calls", "~1m03s left", "score per trial"} {
		if !strings.Contains(sc, want) {
			t.Errorf("screen lacks %q:\n%s", want, sc)
		}
	}
	if !m.optimizations.polling {
		t.Error("a running optimization does not schedule a reload")
	}
	// The run finishes; the next tick's reload shows its scores and stops polling.
	f.mu.Lock()
	f.runs[0].State, f.runs[0].Progress, f.runs[0].BaselineScore, f.runs[0].BestScore, f.runs[0].ResultVersion =
		model.Completed, nil, 0.4, 0.7, 3
	f.mu.Unlock()
	m = toPage(t, m, PageOptimizations, optTickMsg{})
	sc = screen(m)
	if !strings.Contains(sc, "0.40→0.70") || !strings.Contains(sc, "saved v3") {
		t.Errorf("finished run not shown:\n%s", sc)
	}
	if m.optimizations.polling {
		t.Error("still polling with every run finished")
	}
}

func TestOptimizationsStartFromForm(t *testing.T) {
	f := sampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = send(t, m, keyText("j")) // qa's MIPROv2 run: the form starts from its program and datasets
	m = send(t, m, keyText("n"))
	if !isTop[*optRunForm](m) || !typingNow(m) {
		t.Fatal("n did not open the form")
	}
	// q is text in the form, not quit.
	nm, cmd := m.Update(keyText("q"))
	if cmd != nil {
		t.Fatal("q in the form returned a command")
	}
	m = send(t, nm.(Model), keyCode(tea.KeyBackspace, 0))
	m = send(t, m, keyCode(tea.KeyTab, 0))   // optimizer
	m = send(t, m, keyCode(tea.KeyRight, 0)) // labeled
	m = send(t, m, keyCode(tea.KeyLeft, 0))  // bootstrap
	m = send(t, m, keyCode(tea.KeyLeft, 0))  // gepa (wraps)
	m = send(t, m, keyCode(tea.KeyTab, 0))   // auto
	m = send(t, m, keyCode(tea.KeyTab, 0))   // train: empty, the run had none
	m = typeText(t, m, "qa:train")
	m = send(t, m, keyCode(tea.KeyTab, 0)) // val
	m = typeText(t, m, "qa:val")
	m = send(t, m, keyCode(tea.KeyTab, 0)) // metric
	m = send(t, m, keyCode(tea.KeyRight, 0))
	m = send(t, m, keyCode(tea.KeyTab, 0)) // settings
	m = typeText(t, m, "max_labeled_demos")
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.started) != 0 || !strings.Contains(screen(m), `settings: "max_labeled_demos" is not key=value`) {
		t.Fatalf("a bad setting was not refused inline:\n%s", screen(m))
	}
	m = typeText(t, m, "=2")
	m = send(t, m, keyCode(tea.KeyTab, 0)) // budget
	m = typeText(t, m, "abc")
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.started) != 0 || !strings.Contains(screen(m), `budget: "abc" is not an amount`) {
		t.Fatalf("a bad budget was not refused inline:\n%s", screen(m))
	}
	for range 3 {
		m = send(t, m, keyCode(tea.KeyBackspace, 0))
	}
	m = typeText(t, m, "0.50")
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.started) != 1 {
		t.Fatalf("started %d runs", len(f.started))
	}
	want := OptimizationRequest{Program: "qa", Optimizer: "gepa", Train: "qa:train", Val: "qa:val", Metric: "answer_exact_match", Budget: 0.5,
		Settings: []string{"max_labeled_demos=2"}}
	if !reflect.DeepEqual(f.started[0], want) {
		t.Fatalf("request %+v, want %+v", f.started[0], want)
	}
	if top(m) != nil || len(m.optimizations.runs) != 4 || !strings.Contains(screen(m), "started gepa on qa") {
		t.Fatalf("after start: %T on top, %d runs\n%s", top(m), len(m.optimizations.runs), screen(m))
	}
}

func TestOptimizationsFormErrorFromService(t *testing.T) {
	f := sampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = send(t, m, keyText("n"))
	for range 20 {
		m = send(t, m, keyCode(tea.KeyBackspace, 0))
	}
	m = typeText(t, m, "missing")
	m = send(t, m, keyCode(tea.KeyTab, 0))
	m = send(t, m, keyCode(tea.KeyTab, 0))
	m = send(t, m, keyCode(tea.KeyTab, 0))
	m = typeText(t, m, "qa")
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if !strings.Contains(screen(m), `optimization not started: program "missing": not found`) {
		t.Fatalf("service error not shown:\n%s", screen(m))
	}
	if !isTop[*optRunForm](m) {
		t.Error("the form closed on an error: what was typed is lost")
	}
}

func TestOptimizationsCancelRunning(t *testing.T) {
	f := sampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = send(t, m, keyText("x"))
	if len(f.cancelled) != 1 || f.cancelled[0] != fixedID(3) {
		t.Fatalf("cancelled %v", f.cancelled)
	}
	m = send(t, m, keyText("j"))
	m = send(t, m, keyText("x")) // a finished run: nothing to cancel
	if len(f.cancelled) != 1 {
		t.Fatalf("cancelled a finished run: %v", f.cancelled)
	}
}

func TestOptimizationsCompare(t *testing.T) {
	f := sampleOptimizations()
	m := newOptModel(t, 120, 60, f)
	m = send(t, m, keyText("C"))
	if top(m) != nil || !strings.Contains(screen(m), "mark two or more") {
		t.Fatal("compare with nothing marked did not explain itself")
	}
	m = send(t, m, keyText("j"))
	m = send(t, m, keyCode(tea.KeySpace, 0)) // mark MIPROv2, cursor moves on
	m = send(t, m, keyCode(tea.KeySpace, 0)) // mark bootstrap
	if len(m.optimizations.marked) != 2 {
		t.Fatalf("marked %d", len(m.optimizations.marked))
	}
	m = send(t, m, keyText("C"))
	cv, ok := top(m).(*compareView)
	if !ok || cv.cmp == nil {
		t.Fatal("C did not compare")
	}
	c := cv.cmp
	// Best trials: MIPROv2 F T T F, bootstrap T T T F: the first example flips.
	if c.Flips != 1 || c.Runs[0].ID != fixedID(2) || c.Runs[1].ID != fixedID(1) {
		t.Fatalf("comparison: %d flips, runs %v %v", c.Flips, c.Runs[0].ID, c.Runs[1].ID)
	}
	sc := screen(m)
	for _, want := range []string{"1 flip between runs", "▶ 00000101", "- Answer the question.", "+ Answer in one word.", "demos 0 → 1", "Score versus cost", "every finished run of qa"} {
		if !strings.Contains(sc, want) {
			t.Errorf("comparison lacks %q:\n%s", want, sc)
		}
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if top(m) != nil {
		t.Fatal("esc did not leave the comparison")
	}
}

func TestGoldenOptimizations(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := newOptModel(t, sz[0], sz[1], sampleOptimizations())
			marked := send(t, send(t, send(t, base, keyText("j")), keyCode(tea.KeySpace, 0)), keyCode(tea.KeySpace, 0))
			screens := map[string]Model{
				"list":     base,
				"finished": send(t, base, keyText("G")),
				"form":     send(t, base, keyText("n")),
				"compare":  send(t, marked, keyText("C")),
			}
			for _, name := range []string{"list", "finished", "form", "compare"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screen(screens[name])))
				})
			}
		})
	}
}

func TestOptimizationsPromote(t *testing.T) {
	f := sampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = send(t, m, keyCode('s', tea.ModCtrl)) // the running run has no result yet
	if len(f.promoted) != 0 || !strings.Contains(screen(m), "no result to promote") {
		t.Fatalf("promoted a run without a result: %v\n%s", f.promoted, screen(m))
	}
	m = send(t, m, keyText("G")) // bootstrap: result v2
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.promoted) != 1 || f.promoted[0] != fixedID(1) {
		t.Fatalf("promoted %v", f.promoted)
	}
	if !strings.Contains(screen(m), "qa v4 is now the result of bootstrap_fewshot run 00000001") {
		t.Fatalf("no notice:\n%s", screen(m))
	}
}

// A result that regressed is shown as such, and promoting it asks first.
func TestOptimizationsPromoteRegressedAsksFirst(t *testing.T) {
	f := sampleOptimizations()
	start := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	f.runs = append(f.runs, &model.Optimization{ID: fixedID(4), Program: "qa", BaseVersion: 1, Optimizer: "labeled_fewshot",
		Metric: model.Metric{Name: "exact_match"}, State: model.Completed, Trials: 1, BaselineScore: 0.636, BestScore: 0,
		BestTrial: 1, Regressed: true, Candidate: f.programs["qa@2"], StartedAt: start, FinishedAt: start.Add(time.Minute)})
	m := newOptModel(t, 110, 30, f)
	m = send(t, m, keyText("G"))
	for _, want := range []string{"regressed: not saved", "Regressed: the result scored 0.000 on validation, below the baseline's 0.636",
		"newest version (ctrl+s promotes it anyway)"} {
		if !strings.Contains(screen(m), want) {
			t.Fatalf("the regressed run does not say %q:\n%s", want, screen(m))
		}
	}
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.promoted) != 0 || !strings.Contains(screen(m), "Promote a result that regressed?") || !strings.Contains(screen(m), "promote anyway") {
		t.Fatalf("no confirmation (promoted %v):\n%s", f.promoted, screen(m))
	}
	m = send(t, m, keyText("n"))
	if len(f.promoted) != 0 || strings.Contains(screen(m), "Promote a result that regressed?") {
		t.Fatalf("n promoted or kept the dialog (promoted %v):\n%s", f.promoted, screen(m))
	}
	m = send(t, m, keyCode('s', tea.ModCtrl))
	m = send(t, m, keyText("y"))
	if len(f.promoted) != 1 || f.promoted[0] != fixedID(4) || !f.forced[0] {
		t.Fatalf("promoted %v (forced %v)", f.promoted, f.forced)
	}
	if !strings.Contains(screen(m), "qa v4 is now the result of labeled_fewshot run 00000004") {
		t.Fatalf("no notice:\n%s", screen(m))
	}
}

func ptr[T any](v T) *T { return &v }
