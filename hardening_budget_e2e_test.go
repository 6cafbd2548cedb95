package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBudgetHoldsWith32InFlight is issue 16's budget hole: a $5 monthly cap
// with 32 executions in flight must end at most one LM call's cost per slot
// above the cap. The program makes eight LM calls per run on long prompts, so
// a run costs far more than the estimate made before its first run (a
// typical prompt per call): a gate that reserves per run admits all 32 and
// lets all of their calls through. Each call must reserve before it
// starts.
func TestBudgetHoldsWith32InFlight(t *testing.T) {
	const (
		capUSD = 5.0
		slots  = 32
	)
	env := pythonEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// The test LM counts words as tokens: a call here is about 1,500 prompt
	// tokens at $200 per million, $0.30.
	if err := os.WriteFile(cfg, []byte(`cache: "off"
profiles:
  priced:
    model: signet/test
    cache: false
    price_in: 200
    price_out: 200
    max_tokens: 50
    kwargs: {sleep_ms: 100}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Eight LM calls per run, each on the long question.
	steps := "name: steps\nmodules:\n"
	for i := range 8 {
		steps += fmt.Sprintf("  - {name: step%d, type: predict, signature: \"question -> answer%d\"}\n", i, i)
	}
	prog := filepath.Join(dir, "steps.yaml")
	if err := os.WriteFile(prog, []byte(steps), 0o600); err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("background notes ", 750)
	var data strings.Builder
	for i := range 64 {
		fmt.Fprintf(&data, "{\"question\": %q}\n", filler+fmt.Sprintf("What is the capital of Country%d?", i))
	}
	dataFile := filepath.Join(dir, "items.jsonl")
	if err := os.WriteFile(dataFile, []byte(data.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "SIGNET_HOME="+filepath.Join(dir, "ws"), "SIGNET_CONFIG="+cfg)
	for _, args := range [][]string{{"init"}, {"program", "create", "-f", prog},
		{"dataset", "import", dataFile, "--inputs", "question"}, {"cost", "--set-budget", "5"}} {
		if out, errOut, code := run(t, env, args...); code != 0 {
			t.Fatalf("signet %v: %d %s %s", args, code, out, errOut)
		}
	}
	out, errOut, _ := run(t, env, "run", "steps", "--dataset", "items", "--lm", "priced", "--workers", "4", "--concurrency", "32")
	t.Logf("run: %s %s", out, errOut)

	var rows []struct {
		ID    string
		State string
		Cost  float64
		Error string // "code: message"
	}
	listed := mustRun(t, env, "exec", "list", "--all", "--json")
	if err := json.Unmarshal([]byte(listed), &rows); err != nil {
		t.Fatalf("exec list --json: %v\n%s", err, listed)
	}
	// The dearest LM call any run made: the bound is one of them per slot.
	var maxCall, sum float64
	completed, refused := 0, 0
	for _, r := range rows {
		sum += r.Cost
		switch {
		case r.State == "completed":
			completed++
		case strings.HasPrefix(r.Error, "budget: ") && strings.Contains(r.Error, "monthly cap"):
			refused++
		default:
			t.Errorf("execution %s: %s %s", r.ID, r.State, r.Error)
		}
		if r.Cost == 0 {
			continue
		}
		var spans []struct {
			Kind string
			Cost float64
		}
		if err := json.Unmarshal([]byte(mustRun(t, env, "trace", r.ID, "--json")), &spans); err != nil {
			t.Fatal(err)
		}
		for _, s := range spans {
			if s.Kind == "lm" {
				maxCall = max(maxCall, s.Cost)
			}
		}
	}
	var rep struct{ Total float64 }
	costOut := mustRun(t, env, "cost", "--json")
	if err := json.Unmarshal([]byte(costOut), &rep); err != nil {
		t.Fatalf("cost --json: %v\n%s", err, costOut)
	}
	table := mustRun(t, env, "cost")
	t.Logf("cap $%.2f, %d in flight: %d completed, %d refused, spent $%.4f (one call at most $%.4f)\n%s",
		capUSD, slots, completed, refused, rep.Total, maxCall, table)
	// Runs refused midway are expected here: the estimate before a first
	// run is far below what these runs cost, so more start than the cap
	// can finish.
	if maxCall <= 0 || refused == 0 || completed+refused != 64 {
		t.Fatalf("%d completed, %d refused, dearest call $%.4f: the cap did not bind", completed, refused, maxCall)
	}
	if d := rep.Total - sum; d > 1e-6 || d < -1e-6 {
		t.Errorf("cost reports $%.6f, the executions sum to $%.6f", rep.Total, sum)
	}
	if rep.Total > capUSD+slots*maxCall {
		t.Fatalf("spent $%.4f of a $%.2f cap: more than one call ($%.4f) per slot over", rep.Total, capUSD, maxCall)
	}
	if rep.Total > capUSD && !strings.Contains(table, "over") {
		t.Errorf("spent $%.4f of $%.2f, and `signet cost` does not say it is over:\n%s", rep.Total, capUSD, table)
	}
}
