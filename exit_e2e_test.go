package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryFailedRunsExitAlikeAndAreCharged: a run that fails exits 1
// with and without --json (the JSON on stdout, the error on stderr), and
// what its LM calls cost is charged: the message says so, and signet cost
// shows it. So does a failed optimization, whatever the output.
func TestBinaryFailedRunsExitAlikeAndAreCharged(t *testing.T) {
	env, _, _ := ownerEnv(t)
	dir := t.TempDir()
	// The second module's prompt holds the word the "outage" profile fails
	// on: every attempt makes one billed call first.
	prog := filepath.Join(dir, "twostep.yaml")
	if err := os.WriteFile(prog, []byte(`name: twostep
modules:
  - name: first
    type: predict
    signature: "question -> answer"
  - name: second
    type: predict
    signature: "answer -> final"
    instructions: Say BOOM.
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, env, "program", "create", "-f", prog); code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	args := []string{"run", "twostep", "--lm", "outage", "--input", "question=What is the capital of France?"}
	out, errOut, code := run(t, env, args...)
	if code != 1 || !strings.Contains(errOut, "failed after 3 attempt(s)") || !strings.Contains(errOut, "its 3 LM calls cost $0.00") {
		t.Errorf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, env, append(args, "--json")...)
	var x struct {
		State string
		Cost  float64
	}
	if err := json.Unmarshal([]byte(out), &x); code != 1 || err != nil || x.State != "failed" || x.Cost <= 0 ||
		!strings.Contains(errOut, "failed after 3 attempt(s)") {
		t.Errorf("run --json: exit %d (%v), %+v\n%s\n%s", code, err, x, out, errOut)
	}
	out, errOut, code = run(t, env, "cost", "--program", "twostep", "--json")
	var c struct {
		Rows []struct {
			Program    string
			Executions int
			Cost       float64
		} `json:"programs"`
	}
	if err := json.Unmarshal([]byte(out), &c); code != 0 || err != nil || len(c.Rows) != 1 || c.Rows[0].Executions != 2 ||
		c.Rows[0].Cost < 2*x.Cost-1e-12 {
		t.Errorf("cost: exit %d (%v)\n%s\n%s", code, err, out, errOut)
	}

	// An optimization whose metric raises fails: exit 1 either way.
	metric := filepath.Join(dir, "bad.py")
	if err := os.WriteFile(metric, []byte("def metric(example, pred, trace=None):\n    raise ValueError('boom')\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, env, "dataset", "import", "examples/qa.jsonl", "--split", "train"); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	opt := []string{"opt", "run", "qa", "--optimizer", "labeled", "--train", "qa", "--lm", "fast", "--metric", metric + ":metric"}
	for _, extra := range [][]string{nil, {"--json"}} {
		out, errOut, code := run(t, env, append(opt, extra...)...)
		if code != 1 || !strings.Contains(errOut, "failed: user_code") {
			t.Errorf("opt run %v: exit %d\n%s\n%s", extra, code, out, errOut)
		}
		if extra != nil {
			var o struct{ State string }
			if err := json.Unmarshal([]byte(out), &o); err != nil || o.State != "failed" {
				t.Errorf("opt run --json: %v %+v\n%s", err, o, out)
			}
		}
	}
}

// TestBinaryProgramFilesArePortable: a custom module's source stays
// relative to its program file; a program written out beside its code runs
// after the directory moved.
func TestBinaryProgramFilesArePortable(t *testing.T) {
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	if out, errOut, code := run(t, env, "init"); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	root := t.TempDir()
	proj := filepath.Join(root, "proj")
	if err := os.Mkdir(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"program.yaml", "qa_module.py"} {
		b, err := os.ReadFile(filepath.Join("examples", "custom", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proj, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, env, "program", "create", "-f", filepath.Join(proj, "program.yaml"))
	mustRun(t, env, "program", "show", "custom_qa", "-o", filepath.Join(proj, "saved.yaml"))
	saved, err := os.ReadFile(filepath.Join(proj, "saved.yaml"))
	if err != nil || !strings.Contains(string(saved), "source: qa_module.py:DraftThenAnswer") || strings.Contains(string(saved), root) {
		t.Fatalf("written out: %v\n%s", err, saved)
	}
	moved := filepath.Join(root, "moved")
	if err := os.Rename(proj, moved); err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(saved), "name: custom_qa", "name: moved_qa", 1)
	if err := os.WriteFile(filepath.Join(moved, "saved.yaml"), []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "program", "create", "-f", filepath.Join(moved, "saved.yaml"))
	out := mustRun(t, env, "run", "moved_qa", "--lm", "test", "--input", "question=Who wrote Hamlet?", "--json")
	var res struct{ State string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != "completed" {
		t.Fatalf("the moved program: %v\n%s", err, out)
	}
}
