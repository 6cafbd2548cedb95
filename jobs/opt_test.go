package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/store"
)

// optLMs are the optimization tests' profiles.
var optLMs = testLMs{"test": {Model: "signet/test"}, "slow": {Model: "signet/test", Kwargs: map[string]any{"sleep_ms": 150}},
	"priced": {Model: "signet/test", PriceIn: 10, PriceOut: 30}}

// capitals are questions whose right answer the test LM gets only from a
// demo with the same question: unaided it answers the country's name.
var capitals = [][2]string{
	{"France", "Paris"}, {"Japan", "Tokyo"}, {"Italy", "Rome"}, {"Spain", "Madrid"}, {"Peru", "Lima"},
	{"Egypt", "Cairo"}, {"Kenya", "Nairobi"}, {"Chile", "Santiago"}, {"Cuba", "Havana"}, {"Iran", "Tehran"},
	{"Mali", "Bamako"}, {"Nepal", "Kathmandu"},
}

// seedCapitals imports dataset "caps": train holds the first nTrain
// questions; validation repeats the first nOverlap of them (which demos
// can answer) and then new ones.
func seedCapitals(t testing.TB, st *store.Store, nTrain, nOverlap, nVal int) {
	t.Helper()
	var exs []*model.Example
	add := func(i int, sp model.Split) {
		c := capitals[i%len(capitals)]
		q := fmt.Sprintf("What is the capital of %s?", c[0])
		if i >= len(capitals) {
			q = fmt.Sprintf("What is the capital city number %d of %s?", i, c[0])
		}
		exs = append(exs, &model.Example{Split: sp, Data: map[string]any{"question": q, "answer": c[1]}})
	}
	for i := range nTrain {
		add(i, model.Train)
	}
	for i := range nOverlap {
		add(i, model.Validation)
	}
	for i := range nVal - nOverlap {
		add(nTrain+i, model.Validation)
	}
	importExamples(t, st, "caps", exs)
}

// optKernel starts a kernel whose optimization worker is opt (a fake, or
// real workers), its main pool a fake unless o says otherwise.
func optKernel(t testing.TB, o Options, opt Optimizer) *Kernel {
	t.Helper()
	if o.Pool == nil {
		o.Pool = &fakePool{}
	}
	if o.LMs == nil {
		o.LMs = optLMs
	}
	if o.DefaultLM == "" {
		o.DefaultLM = "test"
	}
	o.OptPool = optPool(opt)
	k, _ := startKernel(t, o)
	return k
}

func waitOpt(t testing.TB, k *Kernel, id model.ID) *model.Optimization {
	t.Helper()
	return waitDone(t, k.WaitOptimization, id)
}

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

func submit(t *testing.T, k *Kernel, req OptRequest) *model.Optimization {
	t.Helper()
	o, err := k.Optimize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var baseReq = OptRequest{Program: "qa", Optimizer: "bootstrap", Train: model.DataRef{Dataset: "caps", Split: model.Train},
	Val: model.DataRef{Dataset: "caps", Split: model.Validation}, Test: model.DataRef{Dataset: "caps", Split: model.Validation},
	Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}}

func TestRunCompletesAndSavesVersion(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	k := optKernel(t, Options{Store: st}, &fakeOptimizer{n: 2})
	events, stop := k.Subscribe(1000)
	defer stop()
	o := submit(t, k, baseReq)
	if o.State != model.Pending || o.Optimizer != "bootstrap_fewshot" || o.Estimate == nil || o.Estimate.Train != 4 || o.Estimate.Val != 4 {
		t.Fatalf("submitted %+v (estimate %+v)", o, o.Estimate)
	}
	done := waitOpt(t, k, o.ID)
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
		ev := next(t, events, "the run's events", func(ev Event) bool { return ev.Kind == EventOptimization })
		if ev.Progress != nil {
			progress++
		} else if len(states) == 0 || states[len(states)-1] != ev.Optimization.State {
			states = append(states, ev.Optimization.State)
		}
	}
	if states[0] != model.Pending || states[1] != model.Running || progress == 0 {
		t.Fatalf("states %v, %d progress", states, progress)
	}
}

func TestCancelRunningKeepsBestSoFar(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	f := &fakeOptimizer{n: 5, block: true, started: make(chan bgReq, 1)}
	k := optKernel(t, Options{Store: st}, f)
	events, stop := k.Subscribe(1000)
	defer stop()
	o := submit(t, k, baseReq)
	<-f.started
	// The first candidate is stored before the stop is asked for.
	next(t, events, "a candidate stored", func(ev Event) bool {
		return ev.Kind == EventOptimization && ev.Progress == nil && ev.Optimization.Trials >= 2
	})
	if cur, err := k.Optimization(context.Background(), o.ID); err != nil || cur.Trials != 2 || cur.State != model.Running {
		t.Fatalf("live record %+v %v", cur, err)
	}
	if err := k.Cancel(context.Background(), o.ID); err != nil {
		t.Fatal(err)
	}
	done := waitOpt(t, k, o.ID)
	if done.State != model.Cancelled || done.Stopped != "cancelled" || done.BestTrial != 1 || done.ResultVersion != 2 || done.FinishedAt.IsZero() {
		t.Fatalf("cancelled %+v", done)
	}
	if err := k.Cancel(context.Background(), o.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("second cancel: %v", err)
	}
}

func TestCancelQueued(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	f := &fakeOptimizer{n: 3, block: true, started: make(chan bgReq, 2)}
	k := optKernel(t, Options{Store: st}, f)
	first := submit(t, k, baseReq)
	<-f.started
	second := submit(t, k, baseReq) // waits: one run at a time
	if err := k.Cancel(context.Background(), second.ID); err != nil {
		t.Fatal(err)
	}
	if o := waitOpt(t, k, second.ID); o.State != model.Cancelled || !o.StartedAt.IsZero() {
		t.Fatalf("queued run after cancel: %+v", o)
	}
	if err := k.Cancel(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	waitOpt(t, k, first.ID)
}

func TestWorkerErrorFailsRun(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	k := optKernel(t, Options{Store: st}, &fakeOptimizer{fail: &bridge.Error{Code: "bad_input", Message: "settings.bogus: unknown setting"}})
	o := submit(t, k, baseReq)
	done := waitOpt(t, k, o.ID)
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
			st := openStore(t, "", qa)
			seedCapitals(t, st, 4, 2, 4)
			k := optKernel(t, Options{Store: st}, &dyingOptimizer{err: c.err})
			done := waitOpt(t, k, submit(t, k, baseReq).ID)
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

// TestRecoveryResumesOptimizations: a run an earlier owner left running is
// resumed as its next attempt (not failed), what it spent kept and marked
// unknown beyond its last progress; a pending one is queued again; one
// left running in its last attempt fails "interrupted".
func TestRecoveryResumesOptimizations(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	ctx := context.Background()
	mk := func(attempts int, state model.RunState) *model.Optimization {
		o := &model.Optimization{Program: "qa", BaseVersion: 1, Optimizer: "bootstrap_fewshot", Train: baseReq.Train,
			Val: baseReq.Val, Metric: baseReq.Metric, State: model.Pending}
		for i := range attempts {
			must(o.Move(model.Running, time.Now()))
			if i < attempts-1 || state == model.Pending {
				must(o.Move(model.Pending, time.Now()))
			}
		}
		if err := st.PutOptimization(ctx, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	running := mk(1, model.Running)
	running.Cost, running.LMCalls = 0.5, 7 // its last progress
	if err := st.PutOptimization(ctx, running); err != nil {
		t.Fatal(err)
	}
	last := mk(model.MaxAttempts, model.Running)
	pending := mk(0, model.Pending)
	k := newKernel(t, Options{Store: st, Pool: &fakePool{}, OptPool: optPool(&fakeOptimizer{n: 1}), LMs: optLMs, DefaultLM: "test"})
	rec, err := k.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Optimizations != (Counts{Requeued: 1, Retried: 1, Failed: 1}) {
		t.Fatalf("recovered %+v", rec)
	}
	if got, _ := st.GetOptimization(ctx, last.ID); got.State != model.Failed || got.ErrorCode != CodeInterrupted || !got.CostUnknown {
		t.Fatalf("interrupted in its last attempt: %+v", got)
	}
	o := waitOpt(t, k, running.ID)
	if o.State != model.Completed || o.Attempts != 2 || o.Cost != 0.5+0.01 || o.LMCalls != 7+42 || !o.CostUnknown || o.ResultVersion == 0 {
		t.Fatalf("resumed run %+v", o)
	}
	if o := waitOpt(t, k, pending.ID); o.State != model.Completed || o.Attempts != 1 {
		t.Fatalf("requeued run %+v", o)
	}
}

func TestBudgetRefusesAndCapsTheRun(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	ctx := context.Background()
	k := optKernel(t, Options{Store: st}, &fakeOptimizer{n: 1})
	req := baseReq
	req.LM = "priced"
	o, err := k.PrepareOptimization(ctx, req)
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
	if _, err := k.Optimize(ctx, req); !errors.As(err, &be) || be.Scope != "program" {
		t.Fatalf("over the cap: %v", err)
	}
	if err := st.SetBudget(ctx, "qa", *o.Estimate.Cost*10); err != nil {
		t.Fatal(err)
	}
	req.Budget = 1000
	got, err := k.Optimize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := *o.Estimate.Cost * 10; got.Budget != want {
		t.Fatalf("hard stop %v, want what is left of the cap, %v", got.Budget, want)
	}
	waitOpt(t, k, got.ID)
}

func TestRequestChecks(t *testing.T) {
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	k := optKernel(t, Options{Store: st}, &fakeOptimizer{n: 1})
	for name, edit := range map[string]func(*OptRequest){
		"optimizer":   func(q *OptRequest) { q.Optimizer = "adam" },
		"metric":      func(q *OptRequest) { q.Metric = model.Metric{Name: "bleu", Kind: model.MetricBuiltin} },
		"no train":    func(q *OptRequest) { q.Train = model.DataRef{} },
		"empty split": func(q *OptRequest) { q.Train = model.DataRef{Dataset: "caps", Split: model.Test} },
		"no dataset":  func(q *OptRequest) { q.Val = model.DataRef{Dataset: "nope"} },
		"no program":  func(q *OptRequest) { q.Program = "nope" },
		"lm":          func(q *OptRequest) { q.LM = "nope" },
	} {
		req := baseReq
		edit(&req)
		if _, err := k.Optimize(context.Background(), req); err == nil {
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
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	k := optKernel(t, Options{Store: st}, &fakeOptimizer{n: 1})
	a := waitOpt(t, k, submit(t, k, baseReq).ID)
	k2 := optKernel(t, Options{Store: st}, &fakeOptimizer{n: 3})
	b := waitOpt(t, k2, submit(t, k2, baseReq).ID)
	c, err := optimize.Compare(context.Background(), st, []model.ID{a.ID, b.ID})
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
	st := openStore(t, "", qa)
	n := 0
	_, err := st.ImportExamples(context.Background(), &model.Dataset{Name: "ids"}, func() (*model.Example, error) {
		if n == 3 {
			return nil, io.EOF
		}
		n++
		return &model.Example{Split: model.Train, Data: map[string]any{"id": n, "question": "q", "answer": "a", "source": "web"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan bgReq, 2)
	k := optKernel(t, Options{Store: st}, &fakeOptimizer{n: 1, started: started})
	req := baseReq
	req.Train, req.Val, req.Test = model.DataRef{Dataset: "ids"}, model.DataRef{}, model.DataRef{}
	for _, tc := range []struct {
		labels []string
		want   map[string]any
	}{{nil, map[string]any{"answer": "a"}}, {[]string{"source"}, map[string]any{"source": "web"}}} {
		req.Labels = tc.labels
		o := submit(t, k, req)
		got := (<-started).req
		waitOpt(t, k, o.ID)
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
	if _, err := k.Optimize(context.Background(), req); err == nil || !strings.Contains(err.Error(), `"gold" is not a field of dataset ids`) {
		t.Errorf("a label the dataset lacks: %v", err)
	}
}
