package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// TestEvalExecutionIsScored runs examples of an evaluation through real
// workers: the worker scores each in the request that ran it, the score
// lands on the stored execution, the cache never answers one, a judge's
// calls are charged to it, and a metric that raises fails it.
func TestEvalExecutionIsScored(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	cp := &countingPool{Executor: startPool(t, 1, 0)}
	lms := testLM(nil)
	lms["judge"] = bridge.LMSpec{Model: "signet/test", PriceIn: 100, PriceOut: 100}
	k, _ := startKernel(t, Options{Store: st, Pool: cp, LMs: lms})
	exact := model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}
	run := func(inputs map[string]any, ev *model.ExecEval) *model.Execution {
		t.Helper()
		x, err := k.Submit(ctx, Request{Program: "qa", Inputs: inputs, Eval: ev})
		if err != nil {
			t.Fatal(err)
		}
		return waitAll(t, k, []*model.Execution{x})[0]
	}
	plain := run(question(5), nil) // "Country5", and now in the cache
	if plain.State != model.Completed || plain.Eval != nil {
		t.Fatalf("plain run %+v", plain)
	}
	calls := cp.calls.Load()
	for _, tc := range []struct {
		label string
		want  float64
	}{{"country5", 1}, {"Paris", 0}} {
		x := run(question(5), &model.ExecEval{Evaluation: model.NewID(), Example: model.NewID(), Metric: exact,
			Labels: map[string]any{"answer": tc.label}})
		if x.State != model.Completed || x.CacheHit || x.Eval == nil || x.Eval.Score == nil || *x.Eval.Score != tc.want {
			t.Fatalf("label %q: %+v (eval %+v)", tc.label, x, x.Eval)
		}
		stored, err := st.GetExecution(ctx, x.ID)
		if err != nil || stored.Eval == nil || stored.Eval.Score == nil || *stored.Eval.Score != tc.want || stored.Eval.Labels["answer"] != tc.label {
			t.Fatalf("stored %+v %v", stored.Eval, err)
		}
	}
	if got := cp.calls.Load() - calls; got != 2 {
		t.Errorf("%d pool calls for two scored examples, want 2 (the cache never answers one)", got)
	}

	judged := run(question(1), &model.ExecEval{Metric: model.Metric{Name: "judge", Kind: model.MetricJudge,
		Signature: "question, answer, prediction -> correct: bool", LM: "judge"}, Labels: map[string]any{"answer": "x"}})
	if judged.State != model.Completed || *judged.Eval.Score != 1 || judged.Usage["signet/test"].Calls != 2 || judged.Cost <= 0 {
		t.Errorf("judged example: %+v", judged)
	}
	if _, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1), Eval: &model.ExecEval{
		Metric: model.Metric{Name: "judge", Kind: model.MetricJudge, Signature: "a -> b: bool", LM: "nope"}}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown judge profile: %v", err)
	}

	src := filepath.Join(t.TempDir(), "m.py")
	if err := os.WriteFile(src, []byte("def broken(example, pred):\n    return example.gold\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := run(question(2), &model.ExecEval{Metric: model.Metric{Name: "broken", Kind: model.MetricCustom, Source: src + ":broken"},
		Labels: map[string]any{"answer": "x"}})
	if failed.State != model.Failed || failed.ErrorCode != "user_code" || failed.Attempts != 1 || failed.Eval.Score != nil ||
		!strings.Contains(failed.Error, "the custom metric raised AttributeError") {
		t.Errorf("a metric that raises: %+v", failed)
	}
}
