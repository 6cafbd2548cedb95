package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// stagedOptimizer streams trials 0..n (0 the baseline) and then, with
// hang, stays in the call until it is abandoned; otherwise it returns the
// best, its last trial.
type stagedOptimizer struct {
	n       int
	hang    bool
	mu      sync.Mutex
	reqs    []bridge.OptimizeRequest
	trialed chan int // each trial's number, as sent
}

func (s *stagedOptimizer) Optimize(ctx context.Context, req bridge.OptimizeRequest, on func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	mods := func(n int) map[string]bridge.ModuleState {
		return map[string]bridge.ModuleState{"answer": {Predictors: []model.Predictor{{Name: "self", Instructions: fmt.Sprintf("Candidate %d.", n)}}}}
	}
	for n := 0; n <= s.n; n++ {
		on(bridge.OptimizeEvent{Trial: &bridge.TrialEvent{N: n, Score: 0.1 * float64(n+1), Modules: mods(n)}})
		on(bridge.OptimizeEvent{Progress: &model.OptProgress{Phase: "trials", LMCalls: 10 * (n + 1), Cost: 0.001 * float64(n+1)}})
		if s.trialed != nil {
			s.trialed <- n
		}
	}
	if s.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &bridge.OptimizeResult{BaselineScore: 0.1, BestScore: 0.1 * float64(s.n+1), BestTrial: s.n, Trials: s.n,
		Modules: mods(s.n), LMCalls: 10 * (s.n + 1), Cost: 0.001 * float64(s.n+1)}, nil
}

// TestOptimizationResumesAfterAStop: a kernel stops while a run is in its
// worker call with three trials stored. The run is written back to pending
// (that attempt cut short, not counted), its trials kept; as if the owner
// had been killed, the test then leaves it running, as a crash would. The
// next kernel resumes it as its next attempt: the new trials are numbered
// after the stored ones (the new attempt's baseline is not stored twice),
// what both attempts spent adds up, and the best program becomes a version.
func TestOptimizationResumesAfterAStop(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	first := &stagedOptimizer{n: 2, hang: true, trialed: make(chan int, 10)}
	k1 := optKernel(t, Options{Store: st, Dir: t.TempDir()}, first)
	o := submit(t, k1, baseReq)
	for n := 0; n < 3; n++ {
		<-first.trialed
	}
	if err := k1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := st.GetOptimization(ctx, o.ID)
	if err != nil || left.State != model.Pending || left.Attempts != 0 || left.Trials != 3 || left.ErrorCode != CodeInterrupted {
		t.Fatalf("after the stop: %+v %v", left, err)
	}
	// What a kill -9 leaves: the run still running, on its first attempt.
	must(left.Move(model.Running, k1.now()))
	if err := st.PutOptimization(ctx, left); err != nil {
		t.Fatal(err)
	}

	second := &stagedOptimizer{n: 1}
	k2 := newKernel(t, Options{Store: st, Pool: &fakePool{}, OptPool: optPool(second), LMs: optLMs, DefaultLM: "test", Dir: t.TempDir()})
	rec, err := k2.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Optimizations != (Counts{Retried: 1}) {
		t.Fatalf("recovered %+v", rec)
	}
	done := waitOpt(t, k2, o.ID)
	trials, err := st.Trials(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ns []int
	for _, tr := range trials {
		ns = append(ns, tr.N)
	}
	if !slices.Equal(ns, []int{0, 1, 2, 3}) || trials[0].Score != 0.1 || trials[3].Instructions["answer"] != "Candidate 1." {
		t.Fatalf("trials %v: want the first attempt's 0, 1, 2 and the second's candidate as 3", ns)
	}
	if done.State != model.Completed || done.Attempts != 2 || done.Trials != 4 || done.BestTrial != 3 || done.ResultVersion != 2 ||
		done.LMCalls != 30+20 || done.Cost != 0.003+0.002 || !done.CostUnknown {
		t.Fatalf("resumed run %+v", done)
	}
	if v, err := st.GetProgramVersion(ctx, "qa", 2); err != nil || v.Modules[0].Predictors[0].Instructions != "Candidate 1." {
		t.Fatalf("result version %+v %v", v, err)
	}
}

// recordingOptimizer wraps the real worker: for each call it notes the
// GEPA log directory it was given, whether GEPA's saved state was there
// when the call began, and how many LM calls the call made.
type recordingOptimizer struct {
	pool     *bridge.Pool
	mu       sync.Mutex
	logDirs  []string
	hadState []bool
	calls    []int
}

func (r *recordingOptimizer) Optimize(ctx context.Context, req bridge.OptimizeRequest, on func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error) {
	dir, _ := req.Settings["log_dir"].(string)
	_, err := os.Stat(filepath.Join(dir, "gepa_state.bin"))
	r.mu.Lock()
	r.logDirs = append(r.logDirs, dir)
	r.hadState = append(r.hadState, dir != "" && err == nil)
	r.mu.Unlock()
	res, err := r.pool.Optimize(ctx, req, on)
	if res != nil {
		r.mu.Lock()
		r.calls = append(r.calls, res.LMCalls)
		r.mu.Unlock()
	}
	return res, err
}

// hemisphere is the worker tests' data set (bridge/worker/tests/
// test_optimize.py): the test LM answers "north" for the base
// instructions, and 7 labels of 10 are "south", so GEPA's proposals matter.
var hemisphere = [][2]string{
	{"Australia", "south"}, {"Canada", "north"}, {"Chile", "south"}, {"Zambia", "south"}, {"Argentina", "south"},
	{"Japan", "north"}, {"Peru", "south"}, {"Bolivia", "south"}, {"Angola", "south"}, {"Egypt", "north"},
}

// TestGEPAResumesFromItsLogDir runs GEPA through real DSPy with a budget of
// 200 metric calls, and stops the kernel (then kills its worker, and leaves
// the run running, as a crash would) once about half of them are made. The
// next kernel resumes the run from GEPA's saved state: its call gets the
// same log directory, GEPA's state is there, and it makes fewer LM calls
// than the 200 metric calls a run from the start needs at least, since
// GEPA counts the calls made before the crash. The trials stored before are
// kept, the new ones numbered after them, and the log directory is removed
// once the run ends.
func TestGEPAResumesFromItsLogDir(t *testing.T) {
	ctx := context.Background()
	hemi := &model.Program{Name: "hemi", Modules: []model.Module{{Name: "answer", Type: model.Predict,
		Signature: "question -> answer: Literal['north', 'south']", Instructions: "Say north or South."}}}
	st := openStore(t, "", hemi)
	var exs []*model.Example
	for i, c := range hemisphere {
		ex := map[string]any{"question": "Which hemisphere holds " + c[0] + "?", "answer": c[1]}
		exs = append(exs, &model.Example{Split: model.Train, Data: ex})
		if i < 6 {
			exs = append(exs, &model.Example{Split: model.Validation, Data: ex})
		}
	}
	importExamples(t, st, "hemi", exs)
	dir := t.TempDir()
	lms := testLMs{"test": {Model: "signet/test", Kwargs: map[string]any{"sleep_ms": 10}}}
	const budget = 200
	req := OptRequest{Program: "hemi", Optimizer: "gepa", Settings: map[string]any{"max_metric_calls": budget},
		Train: model.DataRef{Dataset: "hemi", Split: model.Train}, Val: model.DataRef{Dataset: "hemi", Split: model.Validation},
		Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}, Threads: 2}

	pool1 := startPool(t, 1, 2)
	rec := &recordingOptimizer{pool: pool1}
	k1 := optKernel(t, Options{Store: st, Dir: dir, LMs: lms}, rec)
	events, stop := k1.Subscribe(4096)
	o := submit(t, k1, req)
	next(t, events, "half of GEPA's budget spent", func(ev Event) bool {
		return ev.Kind == EventOptimization && ev.Progress != nil && ev.Progress.LMCalls >= budget/2
	})
	stop()
	if err := k1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pool1.Close(ctx); err != nil { // the old owner's worker dies with it
		t.Fatal(err)
	}
	left, err := st.GetOptimization(ctx, o.ID)
	if err != nil || left.State != model.Pending {
		t.Fatalf("after the stop: %+v %v", left, err)
	}
	must(left.Move(model.Running, k1.now()))
	if err := st.PutOptimization(ctx, left); err != nil {
		t.Fatal(err)
	}
	before, err := st.Trials(ctx, o.ID)
	if err != nil || len(before) < 2 {
		t.Fatalf("%d trials stored before the crash (%v)", len(before), err)
	}

	rec.pool = startPool(t, 1, 2)
	k2 := newKernel(t, Options{Store: st, Pool: &fakePool{}, OptPool: optPool(rec), LMs: lms, DefaultLM: "test", Dir: dir})
	if _, err := k2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := waitOpt(t, k2, o.ID)
	if done.State != model.Completed || done.Attempts != 2 {
		t.Fatalf("resumed run %+v", done)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := filepath.Join(dir, "optimizations", o.ID.String(), "gepa")
	if len(rec.logDirs) != 2 || rec.logDirs[0] != want || rec.logDirs[1] != want || rec.hadState[0] || !rec.hadState[1] {
		t.Fatalf("log dirs %v (GEPA's state there: %v), want %s twice, with state the second time", rec.logDirs, rec.hadState, want)
	}
	t.Logf("GEPA stopped after %d trials; the resumed attempt made %d LM calls", len(before), rec.calls[0])
	if len(rec.calls) != 1 || rec.calls[0] >= budget {
		t.Fatalf("the resumed attempt made %v LM calls: GEPA started over", rec.calls)
	}
	after, err := st.Trials(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range before {
		if after[i].N != tr.N || after[i].Score != tr.Score {
			t.Fatalf("trial %d changed: %+v, was %+v", tr.N, after[i], tr)
		}
	}
	if len(after) <= len(before) || after[len(before)].N != before[len(before)-1].N+1 {
		t.Fatalf("trials before %d, after %d: the new ones do not follow", len(before), len(after))
	}
	if _, err := os.Stat(filepath.Join(dir, "optimizations", o.ID.String())); !os.IsNotExist(err) {
		t.Fatalf("the run's directory is left: %v", err)
	}
}
