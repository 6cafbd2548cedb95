package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// capsJSONL has an id column beside the question and its label; the test
// LM answers a capital question with the country's name, so two rows match
// and one does not.
const capsJSONL = `{"id": 1, "question": "What is the capital of France?", "answer": "France", "source": "atlas"}
{"id": 2, "question": "What is the capital of Japan?", "answer": "Tokyo", "source": "atlas"}
{"id": 3, "question": "What is the capital of Peru?", "answer": "Peru", "source": "web"}
`

func evalWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "dataset", "import", writeFile(t, t.TempDir(), "caps.jsonl", capsJSONL), "--name", "caps", "--split", "validation")
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))
	return ws
}

// TestBatchSummaryLabels: the summary of `run --dataset` compares the
// program's outputs with the labels model.Labels picks, never the id or
// metadata columns, and says which it ignored.
func TestBatchSummaryLabels(t *testing.T) {
	testenv.Python(t)
	ws := evalWorkspace(t)
	var sum batchSummary
	out := mustSignet(t, ws, "run", "qa", "--dataset", "caps", "--lm", "test", "--json")
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(sum.ExactMatch, map[string]float64{"answer": 2.0 / 3}) {
		t.Errorf("exact match %v, want answer only at 2/3", sum.ExactMatch)
	}
	if !reflect.DeepEqual(sum.Labels.Labels, []string{"answer"}) || !reflect.DeepEqual(sum.Labels.Ignored, []string{"id", "source"}) {
		t.Errorf("labels %+v", sum.Labels)
	}
	// Explicit labels replace the rule; one the dataset lacks is a usage error.
	out = mustSignet(t, ws, "run", "qa", "--dataset", "caps", "--lm", "test", "--labels", "source", "--json")
	sum = batchSummary{}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || !reflect.DeepEqual(sum.ExactMatch, map[string]float64{"source": 0}) {
		t.Errorf("--labels source: %v %v", sum.ExactMatch, err)
	}
	if _, errOut, code := signet(t, ws, "run", "qa", "--dataset", "caps", "--lm", "test", "--labels", "gold"); code != 2 || !strings.Contains(errOut, `"gold" is not a field of dataset caps`) {
		t.Errorf("--labels gold: exit %d, %q", code, errOut)
	}
}

// TestEvalCLI drives `signet eval` with real workers on the test LM: the
// score as DSPy prints it and as JSON (present when 0), labels, list and
// show, the latter as a client of an owner.
func TestEvalCLI(t *testing.T) {
	testenv.Python(t)
	ws := evalWorkspace(t)
	out, errOut, code := signet(t, ws, "eval", "qa", "--dataset", "caps:validation", "--metric", "exact_match", "--lm", "test")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Average Metric: 2 / 3 (66.7%)", "score       0.6667 (66.67%) over 3 of 3 examples, 0 failed",
		"labels      answer (ignored: id, source)", "state       completed"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "metric exact_match") {
		t.Errorf("stderr: %q", errOut)
	}

	// --json: a score of 0 is written, not left out.
	out = mustSignet(t, ws, "eval", "qa@1", "--dataset", "caps", "--metric", "exact_match", "--labels", "source", "--lm", "test", "--json")
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if score, ok := raw["score"]; !ok || score != 0.0 || raw["state"] != "completed" || raw["n"] != 3.0 {
		t.Errorf("eval --json: score %v (present %v), %s", score, ok, out)
	}
	zeroID, _ := raw["id"].(string)

	if _, errOut, code := signet(t, ws, "eval", "qa", "--dataset", "caps", "--metric", "exact_match", "--labels", "gold"); code != 2 || !strings.Contains(errOut, `"gold" is not a field of dataset caps`) {
		t.Errorf("--labels gold: exit %d, %q", code, errOut)
	}
	if _, errOut, code := signet(t, ws, "eval", "qa", "--dataset", "caps", "--metric", "bleu"); code != 2 || !strings.Contains(errOut, "unknown metric") {
		t.Errorf("--metric bleu: exit %d, %q", code, errOut)
	}

	// The rest as a client of an owner.
	own(t, ws)
	list := mustSignet(t, ws, "eval", "list", "qa")
	for _, want := range []string{zeroID, "caps:validation", "exact_match", "66.7%", "0.0%", "3/3"} {
		if !strings.Contains(list, want) {
			t.Errorf("eval list lacks %q:\n%s", want, list)
		}
	}
	show := mustSignet(t, ws, "eval", "show", zeroID)
	for _, want := range []string{"Average Metric: 0 / 3 (0.0%)", "0.000", "- (want atlas)", "trace of an example"} {
		if !strings.Contains(show, want) {
			t.Errorf("eval show lacks %q:\n%s", want, show)
		}
	}
	var detail struct {
		Score   *float64
		Results []struct {
			Score     *float64
			Execution string
			Expected  map[string]any
		}
	}
	if err := json.Unmarshal([]byte(mustSignet(t, ws, "eval", "show", zeroID, "--json")), &detail); err != nil {
		t.Fatal(err)
	}
	if detail.Score == nil || *detail.Score != 0 || len(detail.Results) != 3 {
		t.Fatalf("eval show --json: %+v", detail)
	}
	for _, r := range detail.Results {
		if r.Score == nil || r.Execution == "" || len(r.Expected) != 1 || r.Expected["source"] == nil {
			t.Errorf("result %+v", r)
		}
	}
	// Each example is an execution with its trace.
	if tr := mustSignet(t, ws, "trace", detail.Results[0].Execution); !strings.Contains(tr, "metric exact_match") {
		t.Errorf("trace of an example lacks the metric span:\n%s", tr)
	}
}

// TestTUIEvaluations drives the evaluations screen against a real owner
// through its API, its job kernel and DSPy with the test LM: the form's
// mistakes come back naming the field, in the form, what was typed kept;
// the evaluation it starts ends, and the screen shows its examples.
func TestTUIEvaluations(t *testing.T) {
	testenv.Python(t)
	ws := evalWorkspace(t)
	own(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := api.NewClient(api.SocketPath(ws))
	m := workbench(t, cl, 200, 40)
	m = tuitest.Send(t, m, tuitest.Key("E")) // qa's evaluations, the form over them
	// The form: dataset, metric, labels, lm.
	for _, c := range []struct {
		set  map[int]string
		want string
	}{
		{map[int]string{0: "caps:holdout", 3: "test"}, `dataset: caps:holdout: unknown split "holdout"`},
		{map[int]string{0: "caps", 1: "bleu"}, `unknown metric "bleu"`},
		{map[int]string{1: "exact_match", 2: "gold"}, `"gold" is not a field`},
	} {
		m = fill(t, m, 4, c.set)
		m = tuitest.Send(t, m, tuitest.Ctrl('s'))
		mustShow(t, m, fmt.Sprintf("the form with %v", c.set), "Evaluate qa v1", c.want)
	}
	// Its end arrives on the owner's event stream.
	evs := subscribed(t, ctx, cl)
	m = fill(t, m, 4, map[int]string{0: "caps:validation", 2: "answer"})
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	mustShow(t, m, "the start", "evaluating qa v1 on caps:validation")
	ended := endedOf(t, ctx, evs, app.EventEvaluation, 1)
	m = tuitest.Send(t, m, tuitest.Enter()) // its examples, read afresh
	mustShow(t, m, "the results", "Average Metric: 2 / 3 (66.7%)", format.RunID(ended[0]))
	v, err := cl.Evaluation(ctx, ended[0])
	if err != nil || v.State != model.Completed || v.N != 3 || len(v.Results) != 3 || v.Results[0].Score != 1 || v.Results[1].Score != 0 {
		t.Fatalf("evaluation %+v, %v", v, err)
	}
}
