package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryOptimize drives `signet opt` and `program export|import` with
// the real binary, real DSPy workers and the test LM: two runs, run as the
// owner, then shown, compared and cancelled as clients of `signet serve`.
func TestBinaryOptimize(t *testing.T) {
	env, ws, _ := ownerEnv(t)
	mustRun := func(args ...string) string {
		t.Helper()
		return mustRun(t, env, args...)
	}
	mustRun("dataset", "import", "examples/qa.jsonl", "--split", "train")

	type optJSON struct {
		ID            string
		State         string
		BaselineScore float64 `json:"baseline_score"`
		BestScore     float64 `json:"best_score"`
		ResultVersion int     `json:"result_version"`
		Trials        int
		Estimate      struct {
			LMCalls int `json:"lm_calls"`
		}
	}
	var boot, labeled optJSON
	out := mustRun("opt", "run", "qa", "--optimizer", "bootstrap", "--train", "qa:train", "--metric", "exact_match",
		"--lm", "fast", "--set", "max_bootstrapped_demos=2", "--json")
	if err := json.Unmarshal([]byte(out), &boot); err != nil {
		t.Fatalf("opt run --json: %v\n%s", err, out)
	}
	// (Scores on the training set the test LM answers from say nothing:
	// TestBinaryOptimizeHeldOut checks improvement on held-out data.)
	if boot.State != "completed" || boot.ResultVersion != 2 || boot.Estimate.LMCalls == 0 {
		t.Fatalf("bootstrap run %+v", boot)
	}
	out = mustRun("opt", "run", "qa", "--optimizer", "labeled", "--version", "1", "--train", "qa", "--lm", "fast", "--set", "k=4", "--json")
	if err := json.Unmarshal([]byte(out), &labeled); err != nil || labeled.State != "completed" {
		t.Fatalf("labeled run: %v %+v", err, labeled)
	}

	// The rest as clients of an owner.
	serve, serveOut := start(t, env, "serve")
	waitOwner(t, ws, false)
	defer stopServe(t, serve, serveOut, ws)

	list := mustRun("opt", "list", "qa")
	for _, want := range []string{boot.ID, labeled.ID, "bootstrap_fewshot", "v1→v2"} {
		if !strings.Contains(list, want) {
			t.Errorf("opt list lacks %q:\n%s", want, list)
		}
	}
	show := mustRun("opt", "show", boot.ID)
	for _, want := range []string{"state       completed", "0 (base)", "(best)", "saved as    qa v2"} {
		if !strings.Contains(show, want) {
			t.Errorf("opt show lacks %q:\n%s", want, show)
		}
	}
	var cmp struct {
		Runs     []struct{ ID string }
		Examples []struct {
			Pass []*bool
			Flip bool
		}
		Flips  int
		Points []struct{ ID string }
	}
	out = mustRun("opt", "compare", labeled.ID, boot.ID, "--json")
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatalf("compare --json: %v\n%s", err, out)
	}
	flips := 0
	for _, e := range cmp.Examples {
		if len(e.Pass) == 2 && e.Pass[0] != nil && e.Pass[1] != nil && *e.Pass[0] != *e.Pass[1] {
			flips++
			if !e.Flip {
				t.Errorf("an example that flips is not flagged: %+v", e)
			}
		}
	}
	if len(cmp.Runs) != 2 || len(cmp.Examples) == 0 || flips == 0 || cmp.Flips != flips || len(cmp.Points) != 2 {
		t.Errorf("comparison: %d runs, %d examples, %d flips (%d flagged), %d points\n%s", len(cmp.Runs), len(cmp.Examples), flips, cmp.Flips, len(cmp.Points), out)
	}
	text := mustRun("opt", "compare", labeled.ID, boot.ID)
	for _, want := range []string{"predictor answer", "demos:", "flip(s)", "score vs cost"} {
		if !strings.Contains(text, want) {
			t.Errorf("compare lacks %q:\n%s", want, text)
		}
	}
	md := mustRun("opt", "compare", labeled.ID, boot.ID, "--markdown")
	for _, want := range []string{"# Comparison of optimization runs", "| optimizer | labeled_fewshot | bootstrap_fewshot |",
		"## Predictor `answer`", fmt.Sprintf("%d flip between runs", flips), "## Score versus cost", "`" + boot.ID + "`"} {
		if !strings.Contains(md, want) {
			t.Errorf("compare --markdown lacks %q:\n%s", want, md)
		}
	}

	// Export the optimized version, import it back as a new version.
	file := filepath.Join(t.TempDir(), "qa.json")
	mustRun("program", "export", "qa@2", "-o", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A one-module program exports what that module's own save() writes.
	var state struct{ Demos []map[string]any }
	if err := json.Unmarshal(raw, &state); err != nil || len(state.Demos) == 0 {
		t.Fatalf("export: %v\n%s", err, raw)
	}
	if out := mustRun("program", "import", "qa", file); !strings.Contains(out, "as qa v4") {
		t.Errorf("import: %s", out)
	}
	// Plain DSPy loads the export into the same module.
	py := strings.TrimPrefix(env[0], "SIGNET_PYTHON=")
	script := `import dspy, sys
p = dspy.Predict("question -> answer"); p.load(sys.argv[1]); print(len(p.demos))`
	if b, err := exec.Command(py, "-c", script, file).CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != itoa(len(state.Demos)) {
		t.Errorf("plain DSPy load: %v\n%s", err, b)
	}

	// Promote the bootstrap run's result (v2) back to the head, through the owner.
	if out := mustRun("opt", "promote", boot.ID); !strings.Contains(out, "qa v5 is now the result of bootstrap_fewshot") {
		t.Errorf("opt promote: %s", out)
	}
	var head struct {
		Version      int    `json:"version"`
		CompiledFrom string `json:"compiled_from"`
	}
	if err := json.Unmarshal([]byte(mustRun("program", "show", "qa", "--format", "json")), &head); err != nil ||
		head.Version != 5 || head.CompiledFrom != boot.ID {
		t.Errorf("head after promote: %+v, %v", head, err)
	}

	// A slow run, detached, then cancelled by a client: it ends cancelled.
	id := strings.TrimSpace(mustRun("opt", "run", "qa", "--optimizer", "random_search", "--train", "qa", "--lm", "slow",
		"--set", "num_candidate_programs=6", "--detach"))
	if out := mustRun("opt", "cancel", id); !strings.Contains(out, "cancelled") {
		t.Errorf("opt cancel: %s", out)
	}
	var after optJSON
	out = mustRun("opt", "show", id, "--json")
	if err := json.Unmarshal([]byte(out), &after); err != nil || after.State != "cancelled" {
		t.Errorf("after cancel: %v %+v", err, after)
	}
}

// TestBinaryOptimizeHeldOut: an optimization improves the score on a
// validation split it never trained on. The test LM picks the first option
// of a Literal that the instructions name; "Say north or South." answers
// north, and COPRO's proposal from it ("South", its last capitalised word)
// answers south, which most of the held-out questions want.
func TestBinaryOptimizeHeldOut(t *testing.T) {
	env, _, _ := ownerEnv(t)
	dir := t.TempDir()
	mustRun := func(args ...string) string {
		t.Helper()
		return mustRun(t, env, args...)
	}
	prog := filepath.Join(dir, "hemi.yaml")
	os.WriteFile(prog, []byte("name: hemi\nmodules:\n  - name: answer\n    type: predict\n"+
		"    signature: \"question -> answer: Literal['north', 'south']\"\n    instructions: Say north or South.\n"), 0o644)
	mustRun("program", "create", "-f", prog)
	var train, val strings.Builder
	for i, c := range []struct{ place, side string }{
		{"Australia", "south"}, {"Canada", "north"}, {"Chile", "south"}, {"Zambia", "south"}, {"Argentina", "south"}, {"Japan", "north"},
	} {
		fmt.Fprintf(&train, "{\"id\": %d, \"question\": \"Which hemisphere holds %s?\", \"answer\": %q}\n", i, c.place, c.side)
	}
	for i, c := range []struct{ place, side string }{
		{"Peru", "south"}, {"Bolivia", "south"}, {"Angola", "south"}, {"Egypt", "north"}, {"Namibia", "south"}, {"Uruguay", "south"},
	} {
		fmt.Fprintf(&val, "{\"id\": %d, \"question\": \"Which hemisphere holds %s?\", \"answer\": %q}\n", 10+i, c.place, c.side)
	}
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(train.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "val.jsonl"), []byte(val.String()), 0o644)
	mustRun("dataset", "import", filepath.Join(dir, "train.jsonl"), "--name", "hemi", "--split", "train", "--inputs", "question")
	mustRun("dataset", "import", filepath.Join(dir, "val.jsonl"), "--name", "hemi", "--split", "validation", "--inputs", "question")
	var o struct {
		State         string
		BaselineScore float64 `json:"baseline_score"`
		BestScore     float64 `json:"best_score"`
		ResultVersion int     `json:"result_version"`
	}
	out := mustRun("opt", "run", "hemi", "--optimizer", "copro", "--train", "hemi:train", "--val", "hemi:validation",
		"--metric", "exact_match", "--lm", "fast", "--set", "breadth=2", "--set", "depth=1", "--json")
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("opt run --json: %v\n%s", err, out)
	}
	// The id column is not a label (model.Labels): only answer is compared.
	if o.State != "completed" || o.BaselineScore != 1.0/6 || o.BestScore != 5.0/6 || o.ResultVersion != 2 {
		t.Fatalf("held-out validation: %+v", o)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestBinaryRegressionIsNotTheHead: a run whose result scores below its
// baseline on validation (training labels the test LM copies from demos,
// validation labels it gets right unaided) keeps the result as a candidate;
// `opt run` and `opt show` (--json too) say so with both scores, zero
// included; promote refuses without --force, and with it the candidate
// becomes the head. Each command is its own process: the candidate survives
// a restart.
func TestBinaryRegressionIsNotTheHead(t *testing.T) {
	env, _, _ := ownerEnv(t)
	dir := t.TempDir()
	var train, val strings.Builder
	for _, c := range [][2]string{{"France", "Paris"}, {"Japan", "Tokyo"}, {"Italy", "Rome"}, {"Peru", "Lima"}} {
		q := "What is the capital of " + c[0] + "?"
		fmt.Fprintf(&train, "{\"question\": %q, \"answer\": %q}\n", q, c[1])
		fmt.Fprintf(&val, "{\"question\": %q, \"answer\": %q}\n", q, c[0])
	}
	for split, body := range map[string]string{"train": train.String(), "validation": val.String()} {
		file := filepath.Join(dir, split+".jsonl")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := run(t, env, "dataset", "import", file, "--name", "mislead", "--split", split); code != 0 {
			t.Fatalf("import %s: %d %s %s", split, code, out, errOut)
		}
	}
	out, errOut, code := run(t, env, "opt", "run", "qa", "--optimizer", "labeled", "--train", "mislead:train",
		"--val", "mislead:validation", "--set", "k=4", "--lm", "fast", "--json")
	if code != 0 {
		t.Fatalf("opt run: exit %d\n%s\n%s", code, out, errOut)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("opt run --json: %v\n%s", err, out)
	}
	id, _ := raw["id"].(string)
	if raw["state"] != "completed" || raw["baseline_score"] != 1.0 || raw["best_score"] != 0.0 || raw["regressed"] != true ||
		raw["result_version"] != nil || raw["candidate"] == nil {
		t.Fatalf("a regressing run (both scores, the zero one included):\n%s", out)
	}
	head := func() (v int, from string) {
		t.Helper()
		out, errOut, code := run(t, env, "program", "show", "qa", "--format", "json")
		var p struct {
			Version      int    `json:"version"`
			CompiledFrom string `json:"compiled_from"`
		}
		if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil {
			t.Fatalf("program show: %d %v %s", code, err, errOut)
		}
		return p.Version, p.CompiledFrom
	}
	if v, _ := head(); v != 1 {
		t.Fatalf("the regressing run's result became the head (v%d)", v)
	}
	show, errOut, code := run(t, env, "opt", "show", id)
	for _, want := range []string{"validation  1.000 → 0.000", "regressed   the result scored 0.000 on validation, below the baseline's 1.000",
		"not saved   kept with the run as a candidate", "signet opt promote " + id + " --force"} {
		if code != 0 || !strings.Contains(show, want) {
			t.Errorf("opt show (exit %d) lacks %q:\n%s%s", code, want, show, errOut)
		}
	}
	out, errOut, code = run(t, env, "opt", "promote", id)
	if code != 1 || !strings.Contains(errOut, "below the baseline") || !strings.Contains(errOut, "--force") {
		t.Errorf("promote without --force: exit %d\n%s%s", code, out, errOut)
	}
	if v, _ := head(); v != 1 {
		t.Fatalf("a refused promote moved the head to v%d", v)
	}
	out, errOut, code = run(t, env, "opt", "promote", id, "--force")
	if code != 0 || !strings.Contains(out, "qa v2 is now the result of labeled_fewshot run "+id) {
		t.Errorf("promote --force: exit %d\n%s%s", code, out, errOut)
	}
	if v, from := head(); v != 2 || from != id {
		t.Errorf("head after promote --force: v%d compiled from %q", v, from)
	}
}
