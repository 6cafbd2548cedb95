package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// signetBinary builds the real binary once for the end-to-end tests.
func signetBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signet-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "signet")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building signet: %v", buildErr)
	}
	return binPath
}

// testEnv is the minimal environment the binary runs with in tests: no
// background owners (a test about them passes SIGNET_NO_DAEMON=0 in its
// env, which comes later and wins), so that no test leaves a process behind,
// and no local LM server started ahead of a call (SIGNET_NO_WARM=0 for the
// test of that), which most tests never make.
func testEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SIGNET_NO_DAEMON=1", "SIGNET_NO_WARM=1"}
}

// run runs the binary with env added to a minimal environment.
func run(t testing.TB, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(signetBinary(t), args...)
	cmd.Env = append(testEnv(t.TempDir()), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running signet %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t testing.TB, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, env, args...)
	if code != 0 {
		t.Fatalf("signet %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
	return out
}

// TestBinaryFirstSteps is the check, with the real binary and the
// workspace chosen by XDG_DATA_HOME as on a fresh machine.
func TestBinaryFirstSteps(t *testing.T) {
	data := t.TempDir()
	env := []string{"XDG_DATA_HOME=" + data}
	steps := [][]string{
		{"init"},
		{"dataset", "import", "examples/qa.jsonl", "--split", "train"},
		{"program", "create", "-f", "examples/qa.yaml"},
	}
	for _, s := range steps {
		if out, errOut, code := run(t, env, s...); code != 0 {
			t.Fatalf("signet %v: exit %d\n%s%s", s, code, out, errOut)
		}
	}
	out, errOut, code := run(t, env, "program", "list", "--json")
	if code != 0 {
		t.Fatalf("program list: exit %d: %s", code, errOut)
	}
	var progs []struct {
		Name    string
		Version int
	}
	if err := json.Unmarshal([]byte(out), &progs); err != nil || len(progs) != 1 || progs[0].Name != "qa" || progs[0].Version != 1 {
		t.Fatalf("program list --json = %q (%v)", out, err)
	}
	if _, err := os.Stat(filepath.Join(data, "signet", "db")); err != nil {
		t.Errorf("workspace not under XDG_DATA_HOME: %v", err)
	}
	// Badger logs to the workspace log file, never to the terminal.
	if strings.Contains(errOut, "badger") {
		t.Errorf("badger wrote to stderr: %q", errOut)
	}

	// SIGNET_HOME overrides XDG_DATA_HOME; a missing workspace is an error.
	_, errOut, code = run(t, append(env, "SIGNET_HOME="+filepath.Join(data, "other")), "program", "list")
	if code != 1 || !strings.Contains(errOut, "other does not exist") {
		t.Errorf("missing SIGNET_HOME workspace: exit %d, %q", code, errOut)
	}
	// Bad usage exits 2.
	if _, _, code := run(t, env, "program", "show"); code != 2 {
		t.Errorf("missing argument: exit %d, want 2", code)
	}
}

// pythonEnv is the interpreter for tests that run real workers: make test
// sets SIGNET_PYTHON (and SIGNET_REQUIRE_PYTHON, which turns a skip into a
// failure so CI cannot pass without running them).
func pythonEnv(t testing.TB) []string {
	t.Helper()
	py := os.Getenv("SIGNET_PYTHON")
	if py == "" {
		if os.Getenv("SIGNET_REQUIRE_PYTHON") != "" {
			t.Fatal("SIGNET_PYTHON is not set but SIGNET_REQUIRE_PYTHON is: run `make test`")
		}
		t.Skip("no SIGNET_PYTHON: `make test` sets it after `signet setup`")
	}
	return []string{"SIGNET_PYTHON=" + py, "XDG_CACHE_HOME=" + os.Getenv("XDG_CACHE_HOME")}
}

// TestBinaryRun runs a demo program and a custom user module through real
// DSPy workers with the deterministic test LM.
func TestBinaryRun(t *testing.T) {
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	if out, errOut, code := run(t, env, "demo"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	out, errOut, code := run(t, env, "run", "qa", "--lm", "test", "--input", "question=What is the capital of France?")
	if code != 0 {
		t.Fatalf("run qa: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"qa v1 on test: completed", "answer: ", "module ", "lm ", "signet/test", "LM calls"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}

	if out, errOut, code := run(t, env, "program", "create", "-f", "examples/custom/program.yaml"); code != 0 {
		t.Fatalf("create custom: %d %s %s", code, out, errOut)
	}
	out, errOut, code = run(t, env, "run", "custom_qa", "--json", "--lm", "test", "--input", "question=Who wrote Hamlet?")
	if code != 0 {
		t.Fatalf("run custom_qa: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		State   string
		Outputs map[string]any
		Usage   map[string]struct{ Calls int }
		Spans   []struct {
			Kind, Name, Parent, ID string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	if _, ok := res.Outputs["answer"]; !ok || res.State != "completed" {
		t.Errorf("custom module: state %s, outputs %+v", res.State, res.Outputs)
	}
	if res.Usage["signet/test"].Calls != 2 {
		t.Errorf("custom module (draft + shorten) made %+v LM calls, want 2", res.Usage)
	}
	lmSpans := 0
	for _, s := range res.Spans {
		if s.Kind == "lm" {
			lmSpans++
			if s.Parent == "" {
				t.Errorf("lm span %s has no parent", s.ID)
			}
		}
	}
	if lmSpans != 2 {
		t.Errorf("%d lm spans, want 2: %+v", lmSpans, res.Spans)
	}
}

// TestBinaryLocalLM is the local-LM check: no key, no network, a demo
// program on SmolLM2 through the supervised llama.cpp server returns parsed
// outputs with token counts, and `lm test local` works.
func TestBinaryLocalLM(t *testing.T) {
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	if out, errOut, code := run(t, env, "demo"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	review := "review=I love this blender, it crushes ice in seconds."
	out, errOut, code := run(t, env, "run", "sentiment", "--json", "--input", review)
	if code != 0 {
		t.Fatalf("run sentiment on local: exit %d\n%s\n%s", code, out, errOut)
	}
	type result struct {
		ID      string
		LM      string
		State   string
		Outputs map[string]any
		Usage   map[string]struct {
			Calls            int
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
		Cost        float64
		CostUnknown bool `json:"cost_unknown"`
		CacheHit    bool `json:"cache_hit"`
	}
	var res result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	// The review is one of the program's demos: the model repeats its label.
	if label, _ := res.Outputs["sentiment"].(string); label != "positive" {
		t.Errorf("sentiment %q, want the demo's positive (outputs %v)", label, res.Outputs)
	}
	if res.LM != "local" || len(res.Usage) != 1 || res.CostUnknown || res.Cost != 0 {
		t.Errorf("lm %q, usage %+v, cost %v unknown %v", res.LM, res.Usage, res.Cost, res.CostUnknown)
	}
	for m, u := range res.Usage {
		if u.PromptTokens == 0 || u.CompletionTokens == 0 || !strings.HasPrefix(m, "openai/") {
			t.Errorf("usage of %s: %+v", m, u)
		}
	}

	// The execution is stored: its trace shows the module and the LM call with tokens.
	trace, errOut, code := run(t, env, "trace", res.ID)
	if code != 0 || !strings.Contains(trace, "module ") || !strings.Contains(trace, "lm ") || !strings.Contains(trace, " tok") {
		t.Errorf("trace %s: exit %d\n%s\n%s", res.ID, code, trace, errOut)
	}
	// The same run again, within the cache TTL: a new execution, from the cache, at no cost.
	out, errOut, code = run(t, env, "run", "sentiment", "--json", "--input", review)
	var again result
	if err := json.Unmarshal([]byte(out), &again); err != nil || code != 0 {
		t.Fatalf("second run: %v %d %s", err, code, errOut)
	}
	if !again.CacheHit || again.ID == res.ID || again.Cost != 0 || again.Outputs["sentiment"] != res.Outputs["sentiment"] {
		t.Errorf("second run: %+v (first %+v)", again, res)
	}

	out, errOut, code = run(t, env, "lm", "test", "local")
	if code != 0 || !strings.Contains(out, "local (openai/") || !strings.Contains(out, "tokens in") {
		t.Errorf("lm test local: exit %d\n%s\n%s", code, out, errOut)
	}

	// A hosted profile without its key fails before any work, naming the variable.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte("profiles:\n  openai:\n    model: openai/gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\n"), 0o600)
	_, errOut, code = run(t, append(env, "SIGNET_CONFIG="+cfg), "lm", "test", "openai")
	if code != 1 || !strings.Contains(errOut, "OPENAI_API_KEY") {
		t.Errorf("openai without key: exit %d, %q", code, errOut)
	}
}
