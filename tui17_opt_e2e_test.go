package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// resultRow is a row of the per-example results: the example's short ID,
// then pass or FAIL.
var resultRow = regexp.MustCompile(`(?m)^(?:▌| )[0-9a-f]{8} (pass|FAIL) `)

// TestTUIBinaryOptimizationDetail (issue 17 item 3): an optimization of
// the demo qa program on the test LM, started from another terminal while
// the workbench owns the workspace; enter on it opens its trials, the
// candidate per predictor and the per-example results, filterable to the
// failures.
func TestTUIBinaryOptimizationDetail(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	env = append(pythonEnv(t), env...)
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "qa")
	term.keys("4")
	term.waitText("No optimization runs yet")

	out, errOut, code := run(t, env, "opt", "run", "qa", "--optimizer", "bootstrap", "--train", "qa", "--lm", "test",
		"--set", "max_bootstrapped_demos=2", "--set", "max_labeled_demos=2")
	if code != 0 {
		t.Fatalf("signet opt run: exit %d\n%s%s", code, out, errOut)
	}
	// (Runs started elsewhere reach this page on a refresh: the live
	// optimization events are issue 17's item 7.)
	term.keys("C-r")
	term.waitText("bootstrap_fewshot", "completed")
	term.keys("Enter")
	sc := term.waitText("Optimization ", "qa v1 · bootstrap_fewshot · completed", "Trials", "SCORE", "CANDIDATE", "baseline")
	if !strings.Contains(sc, "★1") {
		t.Errorf("the best trial is not marked:\n%s", sc)
	}
	term.keys("Tab")
	term.waitText("Trial #1", "instructions", "demos (")
	term.keys("Tab")
	sc = term.waitText("Trial #1", "pass", "EXAMPLE", "INPUTS", "EXPECTED", "OUTPUT")
	if n := len(resultRow.FindAllString(sc, -1)); n < 2 {
		t.Fatalf("no per-example rows:\n%s", sc)
	}
	term.keys("f")
	sc = term.waitText("failures only (f: all)")
	if rows := resultRow.FindAllStringSubmatch(sc, -1); len(rows) == 0 || slices.ContainsFunc(rows, func(r []string) bool { return r[1] == "pass" }) {
		t.Errorf("failures only shows a passing example, or none:\n%s", sc)
	}
	term.keys("Escape")
	term.waitText("score per trial")
}
