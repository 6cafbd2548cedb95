package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/store"
)

// recordingPool keeps what the worker streamed, to check the store
// against it.
type recordingPool struct {
	*bridge.Pool
	mu     sync.Mutex
	trials []bridge.TrialEvent
	result *bridge.OptimizeResult
}

func (p *recordingPool) Optimize(ctx context.Context, req bridge.OptimizeRequest, on func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error) {
	res, err := p.Pool.Optimize(ctx, req, func(ev bridge.OptimizeEvent) {
		if ev.Trial != nil {
			p.mu.Lock()
			p.trials = append(p.trials, *ev.Trial)
			p.mu.Unlock()
		}
		on(ev)
	})
	p.mu.Lock()
	p.result = res
	p.mu.Unlock()
	return res, err
}

// TestRealOptimizers runs labeled and bootstrap few-shot through real DSPy
// with the test LM, whose answers come from demos with the same question:
// optimizing really raises the score, the stored trials are the worker's,
// and compare shows the examples the two runs disagree on.
func TestRealOptimizers(t *testing.T) {
	pool := startPool(t, 1, 2)
	st := openStore(t, "", qa)
	seedCapitals(t, st, 6, 4, 8) // val: 4 questions train answers, 4 it does not
	rec := &recordingPool{Pool: pool}
	k := optKernel(t, Options{Store: st, Threads: 4}, rec)
	ctx := context.Background()

	req := baseReq
	req.Optimizer = "labeled"
	req.Settings = map[string]any{"k": 2}
	labeled := waitOpt(t, k, submit(t, k, req).ID)
	if labeled.State != model.Completed {
		t.Fatalf("labeled few-shot: %+v", labeled)
	}

	req.Optimizer = "bootstrap"
	req.Settings = map[string]any{"max_bootstrapped_demos": 4, "max_labeled_demos": 6}
	boot := waitOpt(t, k, submit(t, k, req).ID)
	if boot.State != model.Completed || boot.ResultVersion == 0 {
		t.Fatalf("bootstrap few-shot: %+v", boot)
	}
	if boot.BaselineScore >= 0.5 || boot.BestScore != 0.5 {
		t.Errorf("bootstrap scores %.3f → %.3f, want below 0.5 → 0.5 (demos answer the 4 questions train has)", boot.BaselineScore, boot.BestScore)
	}
	if boot.TestScore == nil || *boot.TestScore != 0.5 || boot.LMCalls == 0 {
		t.Errorf("bootstrap test score %v, %d LM calls", boot.TestScore, boot.LMCalls)
	}
	v, err := st.GetProgramVersion(ctx, "qa", boot.ResultVersion)
	if err != nil {
		t.Fatal(err)
	}
	if v.CompiledFrom != boot.ID.String() || len(v.Modules[0].Predictors) != 1 || len(v.Modules[0].Predictors[0].Demos) == 0 {
		t.Errorf("saved version %+v", v)
	}

	// The stored trials are what DSPy produced, one per candidate.
	trials, err := st.Trials(ctx, boot.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	var streamed []bridge.TrialEvent
	for _, tr := range rec.trials { // the last run's trials follow the labeled run's
		streamed = append(streamed, tr)
		if tr.N == 0 {
			streamed = []bridge.TrialEvent{tr}
		}
	}
	rec.mu.Unlock()
	if len(trials) < len(streamed) || len(streamed) == 0 {
		t.Fatalf("%d trials stored, %d streamed", len(trials), len(streamed))
	}
	for _, s := range streamed {
		i := slices.IndexFunc(trials, func(t *model.Trial) bool { return t.N == s.N })
		if i < 0 || trials[i].Score != s.Score {
			t.Errorf("streamed trial %d (score %v) not stored as such", s.N, s.Score)
		}
	}

	c, err := optimize.Compare(ctx, st, []model.ID{labeled.ID, boot.ID})
	if err != nil {
		t.Fatal(err)
	}
	// k=2 labeled demos answer 2 questions; bootstrap's demos answer 4.
	if labeled.BestScore >= boot.BestScore {
		t.Errorf("labeled %.3f, bootstrap %.3f", labeled.BestScore, boot.BestScore)
	}
	if len(c.Examples) != 8 || c.Flips != int((boot.BestScore-labeled.BestScore)*8+0.5) {
		b, _ := json.MarshalIndent(c, "", " ")
		t.Errorf("comparison: %d examples, %d flips\n%s", len(c.Examples), c.Flips, b)
	}

	// Export gives DSPy's JSON with the demos.
	exported, err := pool.Export(ctx, bridge.ExportRequest{Program: v})
	if err != nil {
		t.Fatal(err)
	}
	var dumped map[string]any
	if err := json.Unmarshal(exported.State, &dumped); err != nil || len(dumped) == 0 {
		t.Fatalf("export: %s %v", exported.State, err)
	}
	imported, err := pool.ImportState(ctx, bridge.ImportRequest{Program: qa, State: exported.State})
	if err != nil {
		t.Fatal(err)
	}
	if got := imported.Program.Modules[0].Predictors; !reflect.DeepEqual(got, v.Modules[0].Predictors) {
		t.Errorf("import of the export: %+v, want %+v", got, v.Modules[0].Predictors)
	}
}

// TestRealCancel stops a slow run mid-way: it ends cancelled with a
// consistent record (its trials stored, the best so far kept).
func TestRealCancel(t *testing.T) {
	pool := startPool(t, 1, 2)
	st := openStore(t, "", qa)
	seedCapitals(t, st, 6, 4, 8)
	k := optKernel(t, Options{Store: st, Threads: 2}, pool)
	events, stop := k.Subscribe(1000)
	defer stop()
	req := baseReq
	req.LM = "slow"
	req.Optimizer = "random_search"
	req.Settings = map[string]any{"num_candidate_programs": 6, "max_bootstrapped_demos": 2, "max_labeled_demos": 2}
	o := submit(t, k, req)
	next(t, events, "two trials", func(ev Event) bool {
		if ev.Kind != EventOptimization || ev.Optimization.ID != o.ID {
			return false
		}
		if ev.Optimization.State.Terminal() {
			t.Fatalf("ended before the cancel: %+v", ev.Optimization)
		}
		return ev.Progress == nil && ev.Optimization.Trials >= 2
	})
	if err := k.Cancel(context.Background(), o.ID); err != nil {
		t.Fatal(err)
	}
	done := waitOpt(t, k, o.ID)
	if done.State != model.Cancelled || done.Stopped != "cancelled" || done.FinishedAt.IsZero() {
		t.Fatalf("after cancel: %+v", done)
	}
	trials, err := st.Trials(context.Background(), o.ID)
	if err != nil || len(trials) < 2 || len(trials) != done.Trials {
		t.Fatalf("%d trials stored (%v), record says %d", len(trials), err, done.Trials)
	}
	if done.BestTrial > 0 && done.ResultVersion == 0 {
		t.Errorf("best trial %d but no version saved", done.BestTrial)
	}
	if err := k.Cancel(context.Background(), o.ID); !errors.Is(err, ErrFinished) {
		t.Errorf("cancel of a finished run: %v", err)
	}
}

// TestRealFailedRunIsCharged: a run whose metric raises once the baseline's
// LM calls are made fails, and is charged those calls; the charge counts in
// the program's month.
func TestRealFailedRunIsCharged(t *testing.T) {
	pool := startPool(t, 1, 2)
	st := openStore(t, "", qa)
	seedCapitals(t, st, 4, 2, 4)
	src := filepath.Join(t.TempDir(), "bad.py")
	if err := os.WriteFile(src, []byte("def metric(example, pred, trace=None):\n    raise ValueError('boom')\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := optKernel(t, Options{Store: st, Threads: 1}, pool)
	req := baseReq
	req.LM = "priced"
	req.Metric = model.Metric{Name: "bad", Kind: model.MetricCustom, Source: src + ":metric"}
	done := waitOpt(t, k, submit(t, k, req).ID)
	if done.State != model.Failed || done.ErrorCode != "user_code" || done.Cost <= 0 || done.LMCalls == 0 || done.CostUnknown {
		t.Fatalf("failed run: %s %s, cost $%v (unknown %v) for %d LM calls", done.State, done.ErrorCode, done.Cost, done.CostUnknown, done.LMCalls)
	}
	rs, err := st.CostRollups(context.Background(), "qa", time.Now().UTC().Format("2006-01"))
	if err != nil || len(rs) != 1 || rs[0].Cost != done.Cost {
		t.Fatalf("rollups %+v (%v), want the run's $%v", rs, err, done.Cost)
	}
}

// seedMisleading imports dataset "mislead": its training labels are the
// capitals, its validation labels the countries the test LM names unaided.
// Demos of the training set (same questions) make it copy the capitals, so
// a labeled few-shot run scores 1 → 0 on validation.
func seedMisleading(t testing.TB, st *store.Store, n int) {
	t.Helper()
	var exs []*model.Example
	for _, c := range capitals[:n] {
		q := fmt.Sprintf("What is the capital of %s?", c[0])
		exs = append(exs, &model.Example{Split: model.Train, Data: map[string]any{"question": q, "answer": c[1]}},
			&model.Example{Split: model.Validation, Data: map[string]any{"question": q, "answer": c[0]}})
	}
	importExamples(t, st, "mislead", exs)
}

// TestRealRegressionIsNotTheHead: a run whose result scores below its
// baseline keeps the result as a candidate; the program's head stays; a
// promote without force refuses, with force the candidate becomes the head.
func TestRealRegressionIsNotTheHead(t *testing.T) {
	ctx := context.Background()
	pool := startPool(t, 1, 2)
	st := openStore(t, "", qa)
	seedMisleading(t, st, 4)
	k := optKernel(t, Options{Store: st, Threads: 2}, pool)
	req := OptRequest{Program: "qa", Optimizer: "labeled", Settings: map[string]any{"k": 4},
		Train: model.DataRef{Dataset: "mislead", Split: model.Train}, Val: model.DataRef{Dataset: "mislead", Split: model.Validation},
		Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}}
	o := waitOpt(t, k, submit(t, k, req).ID)
	if o.State != model.Completed || o.BaselineScore != 1 || o.BestScore != 0 || !o.Regressed || o.ResultVersion != 0 ||
		o.Candidate == nil || len(o.Candidate.Modules[0].Predictors) != 1 || len(o.Candidate.Modules[0].Predictors[0].Demos) != 4 {
		t.Fatalf("regressing run: %+v", o)
	}
	if head, err := st.GetProgram(ctx, "qa"); err != nil || head.Version != 1 {
		t.Fatalf("head after a regressing run: %+v %v", head, err)
	}
	// compare reads the candidate as the run's result.
	c, err := optimize.Compare(ctx, st, []model.ID{o.ID, o.ID})
	if err != nil || !c.Runs[0].Regressed || c.Predictors[0].Runs[0].DemosAfter != 4 {
		t.Fatalf("compare of a regressing run: %+v %v", c, err)
	}
	if _, _, err := optimize.Promote(ctx, st, o.ID, false); !errors.Is(err, optimize.ErrRegressed) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("promote without force: %v", err)
	}
	p, got, err := optimize.Promote(ctx, st, o.ID, true)
	if err != nil || p.Version != 2 || p.CompiledFrom != o.ID.String() || len(p.Modules[0].Predictors[0].Demos) != 4 || got.ResultVersion != 2 {
		t.Fatalf("forced promote: %+v %v", p, err)
	}
	if stored, err := st.GetOptimization(ctx, o.ID); err != nil || stored.ResultVersion != 2 || !stored.Regressed {
		t.Fatalf("record after the forced promote: %+v %v", stored, err)
	}
}
