package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// evalLMs: "test" fails its calls on questions about Atlantis (a provider
// outage, retried, then a failed execution); "slow" takes its time.
var evalLMs = testLMs{
	"test":   {Model: "signet/test", Kwargs: map[string]any{"fail_on": "Atlantis"}},
	"slow":   {Model: "signet/test", Kwargs: map[string]any{"sleep_ms": 300, "fail_on": "Atlantis"}},
	"priced": {Model: "signet/test", PriceIn: 10, PriceOut: 30},
}

// rows of dataset "caps": the test LM answers a capital question with the
// country's name, so France and Peru match their label, Japan and Chile do
// not, and Atlantis fails.
var rows = []map[string]any{
	{"id": 1, "question": "What is the capital of France?", "answer": "France", "source": "atlas"},
	{"id": 2, "question": "What is the capital of Japan?", "answer": "Tokyo", "source": "atlas"},
	{"id": 3, "question": "What is the capital of Peru?", "answer": "peru.", "source": "web"},
	{"id": 4, "question": "What is the capital of Atlantis?", "answer": "Poseidonis", "source": "myth"},
	{"id": 5, "question": "What is the capital of Chile?", "answer": "Santiago", "source": "web"},
}

// evalStore is a store with program qa and dataset caps (rows, in the
// validation split).
func evalStore(t testing.TB) *store.Store {
	t.Helper()
	st := openStore(t, "", qa)
	k := 0
	_, err := st.ImportExamples(context.Background(), &model.Dataset{Name: "caps"}, func() (*model.Example, error) {
		if k == len(rows) {
			return nil, io.EOF
		}
		k++
		return &model.Example{Split: model.Validation, Data: rows[k-1]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// evalKernel starts a kernel on real workers for the evaluation tests.
func evalKernel(t testing.TB, st *store.Store) *Kernel {
	t.Helper()
	k, _ := startKernel(t, Options{Store: st, Pool: startPool(t, 1, 4), LMs: evalLMs, DefaultLM: "test", Backoff: time.Millisecond})
	return k
}

func waitEval(t testing.TB, k *Kernel, id model.ID) *model.Evaluation {
	t.Helper()
	return waitDone(t, k.WaitEvaluation, id)
}

// plainDSPy runs the same program, examples, metric and LM in plain DSPy
// with dspy.Evaluate, as a user would in a notebook: a dspy.Predict, every
// column of a row in its dspy.Example, DSPy's own metric or the user's.
const plainDSPy = `
import importlib.util, json, sys
import dspy
from signet_worker import testlm

spec = json.load(sys.stdin)
dspy.configure(lm=testlm.make_lm(fail_on="Atlantis"))
program = dspy.Predict("question -> answer")
devset = [dspy.Example(**row).with_inputs("question") for row in spec["rows"]]
if spec["metric"] == "answer_exact_match":
    metric = dspy.evaluate.answer_exact_match
else:
    path, name = spec["metric"].rsplit(":", 1)
    mod_spec = importlib.util.spec_from_file_location("user_metric", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    metric = getattr(mod, name)
result = dspy.Evaluate(devset=devset, metric=metric, num_threads=2, failure_score=0.0)(program)
print(json.dumps({"score": result.score, "scores": [float(s) for _, _, s in result.results]}))
`

type dspyResult struct {
	Score  float64   `json:"score"` // a percentage, rounded to 2 places
	Scores []float64 `json:"scores"`
}

func runPlainDSPy(t *testing.T, metric string) dspyResult {
	t.Helper()
	in, err := json.Marshal(map[string]any{"rows": rows, "metric": metric})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Python(t), "-c", plainDSPy)
	worker, err := filepath.Abs(filepath.Join("..", "bridge", "worker"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "PYTHONPATH="+worker, "DSPY_CACHEDIR="+t.TempDir())
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("plain DSPy: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res dspyResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("plain DSPy printed %q: %v", out.String(), err)
	}
	return res
}

// TestScoreEqualsPlainDSPy evaluates through real workers on the test LM
// and compares the score, and each example's, with what dspy.Evaluate
// gives for the same program, examples, metric and LM: DSPy's own
// answer_exact_match, and a user's metric file. The example whose LM call
// fails scores failure_score (0) and counts in both.
func TestScoreEqualsPlainDSPy(t *testing.T) {
	st := evalStore(t)
	k := evalKernel(t, st)
	ctx := context.Background()

	src := filepath.Join(t.TempDir(), "metrics.py")
	if err := os.WriteFile(src, []byte("def first_letter(example, pred, trace=None):\n"+
		"    return 0.5 if pred.answer[:1].lower() == example.answer[:1].lower() else 0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range []model.Metric{
		{Name: "answer_exact_match", Kind: model.MetricBuiltin},
		{Name: "first_letter", Kind: model.MetricCustom, Source: src + ":first_letter"},
	} {
		t.Run(m.Name, func(t *testing.T) {
			want := runPlainDSPy(t, map[bool]string{true: m.Name, false: m.Source}[m.Kind == model.MetricBuiltin])
			v, err := k.Evaluate(ctx, EvalRequest{Program: "qa", Data: model.DataRef{Dataset: "caps", Split: model.Validation}, Metric: m, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			v = waitEval(t, k, v.ID)
			if v.State != model.Completed || v.Total != 5 || v.N != 5 || v.Failures != 1 {
				t.Fatalf("evaluation %+v", v)
			}
			t.Logf("signet %.4f, plain DSPy %.2f%% %v", v.Score, want.Score, want.Scores)
			if got := math.Round(100*v.Score*100) / 100; got != want.Score {
				t.Errorf("score %.4f (%.2f%%), plain DSPy %.2f%%", v.Score, got, want.Score)
			}
			results, err := st.EvalResults(ctx, v.ID, 0, 0)
			if err != nil || len(results) != 5 {
				t.Fatalf("%d results, %v", len(results), err)
			}
			for i, res := range results {
				if res.Index != i || res.Score != want.Scores[i] {
					t.Errorf("example %d: score %v, plain DSPy %v", i, res.Score, want.Scores[i])
				}
			}
			// Labels are the program's outputs the dataset has; id and source are not sent.
			if !reflectEqual(v.Labels.Labels, []string{"answer"}) || !reflectEqual(v.Labels.Ignored, []string{"id", "source"}) {
				t.Errorf("labels %+v", v.Labels)
			}
			failed := results[3]
			if failed.State != model.Failed || failed.ErrorCode != "lm_unavailable" || failed.Execution.IsZero() || failed.Score != 0 {
				t.Errorf("the Atlantis example: %+v", failed)
			}
			ok := results[0]
			x, err := st.GetExecution(ctx, ok.Execution)
			if err != nil || x.Batch != v.ID.String() || x.Eval == nil || x.Eval.Evaluation != v.ID || x.Eval.Index != 0 {
				t.Fatalf("the first example's execution: %+v %v", x, err)
			}
			if ok.Inputs["question"] != rows[0]["question"] || ok.Expected["answer"] != "France" || len(ok.Expected) != 1 ||
				ok.Outputs["answer"] != "France" || ok.Example.IsZero() {
				t.Errorf("first result %+v", ok)
			}
			if spans, err := st.Spans(ctx, ok.Execution, 0, 100); err != nil || !hasSpan(spans, "metric "+m.Name) {
				t.Errorf("the trace has no metric span: %v", err)
			}
		})
	}
}

func hasSpan(spans []model.Span, name string) bool {
	for _, s := range spans {
		if s.Name == name {
			return true
		}
	}
	return false
}

func reflectEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestCancelKeepsWhatEnded cancels an evaluation that runs one example at
// a time: the examples that ended are kept and scored, the one running is
// cancelled and not counted, the rest never start.
func TestCancelKeepsWhatEnded(t *testing.T) {
	st := evalStore(t)
	k := evalKernel(t, st)
	ctx := context.Background()
	events, stop := k.Subscribe(256)
	defer stop()
	v, err := k.Evaluate(ctx, EvalRequest{Program: "qa", Data: model.DataRef{Dataset: "caps"}, LM: "slow", Threads: 1,
		Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}})
	if err != nil {
		t.Fatal(err)
	}
	next(t, events, "an example ends", func(ev Event) bool {
		return ev.Kind == EventEvaluation && ev.Evaluation.ID == v.ID && ev.Evaluation.N == 1
	})
	if err := k.Cancel(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	v = waitEval(t, k, v.ID)
	if v.State != model.Cancelled || v.N < 1 || v.N >= v.Total || v.Score != v.Sum/float64(v.N) {
		t.Fatalf("cancelled evaluation %+v", v)
	}
	results, err := st.EvalResults(ctx, v.ID, 0, 0)
	if err != nil || len(results) != v.N {
		t.Fatalf("%d results for %d ended examples: %v", len(results), v.N, err)
	}
	n, err := st.CountExecutions(ctx, store.ExecQuery{Program: "qa"})
	if err != nil || n > v.N+1 {
		t.Errorf("%d executions for %d ended examples: the rest should never have started (%v)", n, v.N, err)
	}
	if err := k.Cancel(ctx, v.ID); err == nil {
		t.Error("cancelling a finished evaluation: no error")
	}
}

// TestRecoveryTakesUpWhereItStopped: the kernel stops (its owner did) in
// the middle of an evaluation whose example is running: that execution is
// written back to pending and the evaluation stays running. The next
// kernel on the store runs that example again, runs the examples that never
// started, keeps the one that had ended, and completes with every example
// counted once.
func TestRecoveryTakesUpWhereItStopped(t *testing.T) {
	st := evalStore(t)
	ctx := context.Background()
	first := evalKernel(t, st)
	events, stop := first.Subscribe(256)
	defer stop()
	v, err := first.Evaluate(ctx, EvalRequest{Program: "qa", Data: model.DataRef{Dataset: "caps"}, LM: "slow", Threads: 1,
		Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}})
	if err != nil {
		t.Fatal(err)
	}
	// Stop once the second example's execution has started.
	for running := 0; running < 2; {
		ev := next(t, events, "the examples start", func(ev Event) bool {
			return ev.Kind == EventExecution && ev.Execution.Eval != nil && ev.Execution.State == model.Running
		})
		if ev.Execution.Eval.Index != running {
			t.Fatalf("example %d started as number %d", ev.Execution.Eval.Index, running+1)
		}
		running++
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetEvaluation(ctx, v.ID); err != nil || got.State != model.Running || got.N != 1 {
		t.Fatalf("left behind: %+v %v", got, err)
	}

	second, rec := startKernel(t, Options{Store: st, Pool: startPool(t, 1, 4), LMs: evalLMs, DefaultLM: "test", Backoff: time.Millisecond})
	if rec.Evaluations != 1 || rec.Executions.Requeued != 1 {
		t.Fatalf("recovered %+v", rec)
	}
	v = waitEval(t, second, v.ID)
	if v.State != model.Completed || v.N != 5 || v.Total != 5 || v.Failures != 1 || v.Score != 0.4 {
		t.Fatalf("after recovery %+v", v)
	}
	results, err := st.EvalResults(ctx, v.ID, 0, 0)
	if err != nil || len(results) != 5 {
		t.Fatalf("%d results, %v", len(results), err)
	}
	n, err := st.CountExecutions(ctx, store.ExecQuery{Program: "qa"})
	if err != nil || n != 5 {
		t.Errorf("%d executions for 5 examples (%v): one ran twice or one never ran", n, err)
	}
}

// TestSubmitChecks: a request that cannot run is refused with an error
// naming what is wrong, and nothing is stored.
func TestSubmitChecks(t *testing.T) {
	st := evalStore(t)
	k := evalKernel(t, st)
	ctx := context.Background()
	exact := model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}
	caps := model.DataRef{Dataset: "caps"}
	for _, tc := range []struct {
		req  EvalRequest
		want string
	}{
		{EvalRequest{Program: "nope", Data: caps, Metric: exact}, "not found"},
		{EvalRequest{Program: "qa", Data: model.DataRef{Dataset: "caps", Split: model.Train}, Metric: exact}, "caps:train has no examples"},
		{EvalRequest{Program: "qa", Data: model.DataRef{Dataset: "nope"}, Metric: exact}, "dataset nope"},
		{EvalRequest{Program: "qa", Data: caps, Metric: exact, Labels: []string{"gold"}}, `"gold" is not a field of dataset caps`},
		{EvalRequest{Program: "qa", Data: caps, Metric: model.Metric{Name: "bleu", Kind: model.MetricBuiltin}}, "metric"},
		{EvalRequest{Program: "qa", Data: caps, Metric: exact, LM: "nope"}, `LM profile "nope"`},
		{EvalRequest{Program: "qa", Data: caps, Metric: model.Metric{Name: "judge", Kind: model.MetricJudge, Signature: "a -> ok: bool", LM: "nope"}}, `"nope"`},
		{EvalRequest{Program: "qa", Data: caps, Metric: exact, Threads: -1}, "threads"},
	} {
		if _, err := k.Evaluate(ctx, tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.req, err, tc.want)
		}
	}
	// A program none of whose outputs is a column: a builtin metric has nothing to compare.
	p := &model.Program{Name: "other", Modules: []model.Module{{Name: "m", Type: model.Predict, Signature: "question -> verdict"}}}
	if _, err := st.CreateProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Evaluate(ctx, EvalRequest{Program: "other", Data: caps, Metric: exact}); err == nil || !strings.Contains(err.Error(), "give --labels") {
		t.Errorf("no labels: %v", err)
	}
	if vs, _, err := st.ListEvaluations(ctx, "", "", 0); err != nil || len(vs) != 0 {
		t.Errorf("refused requests stored %d evaluations (%v)", len(vs), err)
	}
}

// TestCostCountsAsExecutions: an evaluation costs what its executions
// cost, which the program's month rollup already holds (never twice), and
// once the month's cap is reached the next evaluation is refused its
// examples and fails with code budget.
func TestCostCountsAsExecutions(t *testing.T) {
	st := evalStore(t)
	k := evalKernel(t, st)
	ctx := context.Background()
	req := EvalRequest{Program: "qa", Data: model.DataRef{Dataset: "caps"}, LM: "priced", Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}}
	v, err := k.Evaluate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	v = waitEval(t, k, v.ID)
	if v.State != model.Completed || v.Cost <= 0 || v.TotalUsage().Calls != 5 {
		t.Fatalf("evaluation %+v", v)
	}
	rs, err := st.CostRollups(ctx, "qa", time.Now().UTC().Format("2006-01"))
	if err != nil || len(rs) != 1 || math.Abs(rs[0].Cost-v.Cost) > 1e-9 || rs[0].Executions != 5 {
		t.Fatalf("rollups %+v (%v), evaluation cost %v", rs, err, v.Cost)
	}
	if err := st.SetBudget(ctx, "qa", v.Cost/2); err != nil {
		t.Fatal(err)
	}
	over, err := k.Evaluate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	over = waitEval(t, k, over.ID)
	if over.State != model.Failed || over.ErrorCode != CodeBudget || over.N != 0 || !strings.Contains(over.Error, "monthly cap") {
		t.Errorf("over the budget: %+v", over)
	}
}
