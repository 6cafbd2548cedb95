package cmd

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/internal/testenv"
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
