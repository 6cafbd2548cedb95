package optimize

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// fakeOptimizer plays the worker's side of the contract: a baseline trial,
// n candidates with rising scores, then a result; with block set it waits
// for the stop after the first candidate and returns the best so far.
type fakeOptimizer struct {
	n       int
	block   bool
	started chan bgReq
	fail    error
}

type bgReq struct{ req bridge.OptimizeRequest }

func (f *fakeOptimizer) Flow(_ context.Context, p *model.Program, _ string) (model.Flow, error) {
	return p.StaticFlow(), nil
}

func (f *fakeOptimizer) Optimize(ctx context.Context, req bridge.OptimizeRequest, on func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error) {
	if f.started != nil {
		f.started <- bgReq{req}
	}
	if f.fail != nil {
		return nil, f.fail
	}
	results := func(pass int) []model.ExampleResult {
		var out []model.ExampleResult
		for i, ex := range req.Val {
			id, _ := model.ParseID(ex.ID)
			p := i < pass
			out = append(out, model.ExampleResult{Example: id, Score: map[bool]float64{true: 1}[p], Pass: p})
		}
		return out
	}
	on(bridge.OptimizeEvent{Progress: &model.OptProgress{Phase: "baseline", Trials: f.n}})
	on(bridge.OptimizeEvent{Trial: &bridge.TrialEvent{N: 0, Score: 0.25, Results: results(1)}})
	res := &bridge.OptimizeResult{BaselineScore: 0.25, Modules: map[string]bridge.ModuleState{"answer": {Predictors: []model.Predictor{{Name: "self"}}}}}
	stopped := ""
	for n := 1; n <= f.n; n++ {
		score := 0.25 + 0.25*float64(n)
		demos := []map[string]any{{"question": "q", "answer": "a"}}
		on(bridge.OptimizeEvent{Trial: &bridge.TrialEvent{N: n, Score: score, Results: results(n + 1),
			Modules: map[string]bridge.ModuleState{"answer": {Predictors: []model.Predictor{{Name: "self", Instructions: "Answer with the capital.", Demos: demos}}}}}})
		on(bridge.OptimizeEvent{Progress: &model.OptProgress{Phase: "trials", Trial: n, Trials: f.n, Score: score, BestScore: score, LMCalls: 10 * n}})
		res.BestScore, res.BestTrial, res.Trials = score, n, n
		res.Modules = map[string]bridge.ModuleState{"answer": {Predictors: []model.Predictor{{Name: "self", Instructions: "Answer with the capital.", Demos: demos}}}}
		if f.block && n == 1 {
			select {
			case <-req.Stop:
				stopped = "cancelled"
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			break
		}
	}
	tb, ts := 0.2, 0.6
	res.TestBaseline, res.TestScore = &tb, &ts
	res.Stopped, res.LMCalls, res.Cost, res.DurationMS = stopped, 42, 0.01, 1234
	return res, nil
}

func submit(t *testing.T, r *Runner, req Request) *model.Optimization {
	t.Helper()
	o, err := r.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var baseReq = Request{Program: "qa", Optimizer: "bootstrap", Train: model.DataRef{Dataset: "caps", Split: model.Train},
	Val: model.DataRef{Dataset: "caps", Split: model.Validation}, Test: model.DataRef{Dataset: "caps", Split: model.Validation},
	Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}}

func TestRunCompletesAndSavesVersion(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	events := newEvents()
	r := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{n: 2}, Publish: events.publish})
	o := submit(t, r, baseReq)
	if o.State != model.Pending || o.Optimizer != "bootstrap_fewshot" || o.Estimate == nil || o.Estimate.Train != 4 || o.Estimate.Val != 4 {
		t.Fatalf("submitted %+v (estimate %+v)", o, o.Estimate)
	}
	done := waitDone(t, r, o.ID, 10*time.Second)
	if done.State != model.Completed || done.ResultVersion != 2 || done.BestTrial != 2 || done.BestScore != 0.75 ||
		done.BaselineScore != 0.25 || *done.TestScore != 0.6 || done.LMCalls != 42 || done.Trials != 3 {
		t.Fatalf("completed %+v", done)
	}
	v, err := st.GetProgramVersion(context.Background(), "qa", 2)
	if err != nil {
		t.Fatal(err)
	}
	if v.CompiledFrom != o.ID.String() || v.Modules[0].Predictors[0].Instructions != "Answer with the capital." || len(v.Modules[0].Predictors[0].Demos) != 1 {
		t.Fatalf("saved version %+v", v)
	}
	trials, err := st.Trials(context.Background(), o.ID)
	if err != nil || len(trials) != 3 || trials[2].Instructions["answer"] != "Answer with the capital." || len(trials[2].Results) != 4 {
		t.Fatalf("trials %v %v", trials, err)
	}
	var states []model.RunState
	progress := 0
	for len(states) < 3 || states[len(states)-1] != model.Completed {
		select {
		case ev := <-events:
			if ev.Progress != nil {
				progress++
			} else if len(states) == 0 || states[len(states)-1] != ev.Optimization.State {
				states = append(states, ev.Optimization.State)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("events: states %v, %d progress", states, progress)
		}
	}
	if states[0] != model.Pending || states[1] != model.Running || progress == 0 {
		t.Fatalf("states %v, %d progress", states, progress)
	}
}

func TestCancelRunningKeepsBestSoFar(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	f := &fakeOptimizer{n: 5, block: true, started: make(chan bgReq, 1)}
	r := startRunner(t, Options{Store: st, Pool: f})
	o := submit(t, r, baseReq)
	<-f.started
	// The first candidate is stored before the stop is asked for.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cur, _ := r.Current(context.Background(), o.ID)
		if cur.Trials >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no trial stored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Cancel(context.Background(), o.ID); err != nil {
		t.Fatal(err)
	}
	done := waitDone(t, r, o.ID, 10*time.Second)
	if done.State != model.Cancelled || done.Stopped != "cancelled" || done.BestTrial != 1 || done.ResultVersion != 2 || done.FinishedAt.IsZero() {
		t.Fatalf("cancelled %+v", done)
	}
	if err := r.Cancel(context.Background(), o.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("second cancel: %v", err)
	}
}

func TestCancelQueued(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	f := &fakeOptimizer{n: 3, block: true, started: make(chan bgReq, 2)}
	r := startRunner(t, Options{Store: st, Pool: f})
	first := submit(t, r, baseReq)
	<-f.started
	second := submit(t, r, baseReq) // waits: one run at a time
	if err := r.Cancel(context.Background(), second.ID); err != nil {
		t.Fatal(err)
	}
	if o := waitDone(t, r, second.ID, 5*time.Second); o.State != model.Cancelled || !o.StartedAt.IsZero() {
		t.Fatalf("queued run after cancel: %+v", o)
	}
	if err := r.Cancel(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, r, first.ID, 5*time.Second)
}

func TestWorkerErrorFailsRun(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	r := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{fail: &bridge.Error{Code: "bad_input", Message: "settings.bogus: unknown setting"}}})
	o := submit(t, r, baseReq)
	done := waitDone(t, r, o.ID, 5*time.Second)
	if done.State != model.Failed || done.ErrorCode != "bad_input" || done.ResultVersion != 0 {
		t.Fatalf("failed run %+v", done)
	}
}

// dyingOptimizer reports progress, then fails with err.
type dyingOptimizer struct {
	fakeOptimizer
	err error
}

func (d dyingOptimizer) Optimize(ctx context.Context, req bridge.OptimizeRequest, on func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error) {
	on(bridge.OptimizeEvent{Progress: &model.OptProgress{Phase: "baseline", LMCalls: 3, Cost: 0.02}})
	return nil, d.err
}

// A failed run is charged what it spent: what the worker's error says, else
// the last progress, then marked unknown when the worker died under it.
func TestFailedRunIsChargedWhatItSpent(t *testing.T) {
	spent := map[string]any{"lm_calls": 5, "cost": 0.05, "cost_unknown": false}
	for _, c := range []struct {
		name    string
		err     error
		cost    float64
		calls   int
		unknown bool
	}{
		{"worker error", &bridge.Error{Code: "user_code", Message: "boom", Worker: 1, Detail: map[string]any{"spent": spent}}, 0.05, 5, false},
		{"worker died", &bridge.Error{Code: bridge.CodeWorkerDied, Message: "exited", Worker: 1, PID: 7}, 0.02, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			seedCapitals(t, st, 4, 2, 4)
			r := startRunner(t, Options{Store: st, Pool: &dyingOptimizer{err: c.err}})
			done := waitDone(t, r, submit(t, r, baseReq).ID, 5*time.Second)
			if done.State != model.Failed || done.Cost != c.cost || done.LMCalls != c.calls || done.CostUnknown != c.unknown {
				t.Fatalf("failed run %+v", done)
			}
			rs, err := st.CostRollups(context.Background(), "qa", "")
			if err != nil || len(rs) != 1 || rs[0].Cost != c.cost {
				t.Fatalf("rollups %+v %v", rs, err)
			}
		})
	}
}

func TestRecovery(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	ctx := context.Background()
	running := &model.Optimization{Program: "qa", BaseVersion: 1, Optimizer: "bootstrap_fewshot", Train: baseReq.Train,
		Metric: baseReq.Metric, State: model.Pending}
	if err := running.Move(model.Running, time.Now()); err != nil {
		t.Fatal(err)
	}
	pending := &model.Optimization{Program: "qa", BaseVersion: 1, Optimizer: "bootstrap_fewshot", Train: baseReq.Train,
		Val: baseReq.Val, Metric: baseReq.Metric, State: model.Pending}
	for _, o := range []*model.Optimization{running, pending} {
		if err := st.PutOptimization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	r := New(Options{Store: st, Pool: &fakeOptimizer{n: 1}, LMs: lms, DefaultLM: "test"})
	rec, err := r.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if rec != (Recovered{Requeued: 1, Failed: 1}) {
		t.Fatalf("recovered %+v", rec)
	}
	got, _ := st.GetOptimization(ctx, running.ID)
	if got.State != model.Failed || got.ErrorCode != CodeInterrupted || !got.CostUnknown {
		t.Fatalf("interrupted run %+v", got)
	}
	if o := waitDone(t, r, pending.ID, 5*time.Second); o.State != model.Completed {
		t.Fatalf("requeued run %+v", o)
	}
}

func TestBudgetRefusesAndCapsTheRun(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	ctx := context.Background()
	r := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{n: 1}})
	req := baseReq
	req.LM = "priced"
	o, err := r.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if o.Estimate.Cost == nil || *o.Estimate.Cost <= 0 {
		t.Fatalf("estimate %+v", o.Estimate)
	}
	if err := st.SetBudget(ctx, "qa", *o.Estimate.Cost/2); err != nil {
		t.Fatal(err)
	}
	var be *BudgetError
	if _, err := r.Submit(ctx, req); !errors.As(err, &be) || be.Scope != "program" {
		t.Fatalf("over the cap: %v", err)
	}
	if err := st.SetBudget(ctx, "qa", *o.Estimate.Cost*10); err != nil {
		t.Fatal(err)
	}
	req.Budget = 1000
	got, err := r.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := *o.Estimate.Cost * 10; got.Budget != want {
		t.Fatalf("hard stop %v, want what is left of the cap, %v", got.Budget, want)
	}
	waitDone(t, r, got.ID, 5*time.Second)
}

func TestRequestChecks(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	r := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{n: 1}})
	for name, edit := range map[string]func(*Request){
		"optimizer":   func(q *Request) { q.Optimizer = "adam" },
		"metric":      func(q *Request) { q.Metric = model.Metric{Name: "bleu", Kind: model.MetricBuiltin} },
		"no train":    func(q *Request) { q.Train = model.DataRef{} },
		"empty split": func(q *Request) { q.Train = model.DataRef{Dataset: "caps", Split: model.Test} },
		"no dataset":  func(q *Request) { q.Val = model.DataRef{Dataset: "nope"} },
		"no program":  func(q *Request) { q.Program = "nope" },
		"lm":          func(q *Request) { q.LM = "nope" },
	} {
		req := baseReq
		edit(&req)
		if _, err := r.Submit(context.Background(), req); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEstimateGrowsWithWork(t *testing.T) {
	sz := sizes{train: 20, val: 50, test: 10}
	calls := map[string]int{}
	for _, opt := range model.Optimizers {
		e := estimate(qa, opt, map[string]any{"auto": "light"}, sz, bridge.LMSpec{Free: true})
		if e.LMCalls <= sz.val || e.Cost == nil || *e.Cost != 0 {
			t.Errorf("%s: %+v", opt, e)
		}
		calls[opt] = e.LMCalls
	}
	if calls["labeled_fewshot"] >= calls["bootstrap_fewshot"] || calls["bootstrap_fewshot"] >= calls["bootstrap_random_search"] {
		t.Errorf("calls %v", calls)
	}
	light := estimate(qa, "mipro_v2", map[string]any{"auto": "light"}, sz, bridge.LMSpec{}).LMCalls
	heavy := estimate(qa, "mipro_v2", map[string]any{"auto": "heavy"}, sz, bridge.LMSpec{}).LMCalls
	if heavy <= light {
		t.Errorf("mipro heavy %d ≤ light %d", heavy, light)
	}
	if e := estimate(qa, "gepa", nil, sz, bridge.LMSpec{}); e.Cost != nil {
		t.Errorf("no prices: cost %v", *e.Cost)
	}
}

func TestCompareFlips(t *testing.T) {
	st := openStore(t)
	seedCapitals(t, st, 4, 2, 4)
	r := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{n: 1}})
	a := waitDone(t, r, submit(t, r, baseReq).ID, 5*time.Second)
	r2 := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{n: 3}})
	_ = r2
	b := waitDone(t, r2, submit(t, r2, baseReq).ID, 5*time.Second)
	c, err := Compare(context.Background(), st, []model.ID{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	// Run a's best trial passes the first 2 of 4 validation examples, b's
	// the first 4: examples 3 and 4 flip.
	if len(c.Examples) != 4 || c.Flips != 2 || c.Examples[0].Flip || !c.Examples[2].Flip || !c.Examples[3].Flip {
		t.Fatalf("examples %+v flips %d", c.Examples, c.Flips)
	}
	if len(c.Runs) != 2 || c.Runs[1].After != 1.0 || len(c.Points) != 2 || len(c.Predictors) != 1 || !c.Predictors[0].Runs[0].InstructionsChanged {
		t.Fatalf("comparison %+v", c)
	}
}

// TestExamplesCarryOnlyLabels: the worker gets the program's inputs and
// the labels model.Labels picks, never an id or metadata column.
func TestExamplesCarryOnlyLabels(t *testing.T) {
	st := openStore(t)
	k := 0
	_, err := st.ImportExamples(context.Background(), &model.Dataset{Name: "ids"}, func() (*model.Example, error) {
		if k == 3 {
			return nil, io.EOF
		}
		k++
		return &model.Example{Split: model.Train, Data: map[string]any{"id": k, "question": "q", "answer": "a", "source": "web"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan bgReq, 2)
	r := startRunner(t, Options{Store: st, Pool: &fakeOptimizer{n: 1, started: started}})
	req := baseReq
	req.Train, req.Val, req.Test = model.DataRef{Dataset: "ids"}, model.DataRef{}, model.DataRef{}
	for _, tc := range []struct {
		labels []string
		want   map[string]any
	}{{nil, map[string]any{"answer": "a"}}, {[]string{"source"}, map[string]any{"source": "web"}}} {
		req.Labels = tc.labels
		o := submit(t, r, req)
		got := (<-started).req
		waitDone(t, r, o.ID, 10*time.Second)
		if len(got.Train) != 3 {
			t.Fatalf("%d train examples", len(got.Train))
		}
		for _, ex := range got.Train {
			if !reflect.DeepEqual(ex.Inputs, map[string]any{"question": "q"}) || !reflect.DeepEqual(ex.Outputs, tc.want) {
				t.Errorf("labels %v: example inputs %v, outputs %v; want outputs %v", tc.labels, ex.Inputs, ex.Outputs, tc.want)
			}
		}
	}
	req.Labels = []string{"gold"}
	if _, err := r.Submit(context.Background(), req); err == nil || !strings.Contains(err.Error(), `"gold" is not a field of dataset ids`) {
		t.Errorf("a label the dataset lacks: %v", err)
	}
}
