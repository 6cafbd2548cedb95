package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBinaryFidelity is issue 14's check with the real binary, real DSPy
// workers and the test LM: a two-predictor custom module (no signature in
// its program file) optimized with BootstrapFewShot stores and applies
// demos for both predictors; render shows them; the export loads into the
// user's own class in plain DSPy with the same dump_state(), and so does
// the standalone Python export; a bare dspy.Predict save imports.
func TestBinaryFidelity(t *testing.T) {
	env, _, _ := ownerEnv(t)
	dir := t.TempDir()
	mustRun := func(args ...string) string {
		t.Helper()
		return mustRun(t, env, args...)
	}
	module, err := filepath.Abs("examples/custom/qa_module.py")
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "draft.yaml")
	if err := os.WriteFile(prog, []byte("name: draft\nmodules:\n  - name: qa\n    type: custom\n    source: "+module+":DraftThenAnswer\n    config: {style: one short phrase}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun("program", "create", "-f", prog)
	mustRun("dataset", "import", "examples/qa.jsonl", "--split", "train", "--inputs", "question")
	// Every bootstrapped trace is kept: the point is where the demos go, not the score.
	metric := filepath.Join(dir, "metric.py")
	if err := os.WriteFile(metric, []byte("def keep(example, prediction, trace=None):\n    return True\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun("opt", "run", "draft", "--optimizer", "bootstrap", "--train", "qa", "--metric", metric+":keep", "--lm", "fast",
		"--set", "max_bootstrapped_demos=2", "--set", "max_labeled_demos=0", "--json")

	var head struct {
		Version int
		Modules []struct {
			Predictors []struct {
				Name  string
				Demos []map[string]any
			}
		}
	}
	if err := json.Unmarshal([]byte(mustRun("program", "show", "draft", "--json")), &head); err != nil {
		t.Fatal(err)
	}
	preds := head.Modules[0].Predictors
	if head.Version != 2 || len(preds) != 2 || preds[0].Name != "draft.predict" || preds[1].Name != "shorten" ||
		len(preds[0].Demos) == 0 || len(preds[1].Demos) == 0 || preds[1].Demos[0]["augmented"] != true {
		t.Fatalf("after BootstrapFewShot: %+v", head)
	}

	// Render: both predictors, each with its demos in the messages.
	rendered := mustRun("render", "draft", "--lm", "fast", "--input", "question=Where is Madrid?")
	for _, want := range []string{"predictor draft.predict", "predictor shorten", "demo 1",
		preds[1].Demos[0]["answer"].(string), "Rewrite the draft answer as one short phrase"} {
		if !strings.Contains(rendered, want) {
			t.Errorf("render lacks %q:\n%s", want, rendered)
		}
	}

	// Export: the user's own class loads it; dump_state() is what was exported.
	file := filepath.Join(dir, "draft.json")
	pyFile := filepath.Join(dir, "draft_prog.py")
	mustRun("program", "export", "draft", "-o", file)
	mustRun("program", "export", "draft", "--python", "-o", pyFile)
	py := strings.TrimPrefix(env[0], "SIGNET_PYTHON=")
	script := `import importlib.util, json, runpy, sys
spec = importlib.util.spec_from_file_location("qa_module", sys.argv[2])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
saved = json.load(open(sys.argv[1])); saved.pop("metadata")
own = mod.DraftThenAnswer(style="one short phrase"); own.load(sys.argv[1])
standalone = runpy.run_path(sys.argv[3])["program"]
print(json.dumps([own.dump_state() == saved, standalone.dump_state() == saved, len(own.draft.predict.demos), len(own.shorten.demos)]))`
	cmd := exec.Command(py, "-c", script, file, module, pyFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	b, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var got []any
	if err != nil || json.Unmarshal([]byte(lines[len(lines)-1]), &got) != nil ||
		!reflect.DeepEqual(got, []any{true, true, float64(len(preds[0].Demos)), float64(len(preds[1].Demos))}) {
		t.Fatalf("plain DSPy load: %v\n%s", err, b)
	}

	// A bare DSPy save imports as a new program, and into an existing one.
	bare := filepath.Join(dir, "p.json")
	cmd = exec.Command(py, "-c", `import dspy, sys; dspy.Predict("question -> answer").save(sys.argv[1])`, bare)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plain DSPy save: %v\n%s", err, b)
	}
	if out := mustRun("program", "import", "bare", bare); !strings.Contains(out, "as bare v1 (a new program)") {
		t.Errorf("import as a new program: %s", out)
	}
	if out := mustRun("program", "import", "qa", bare); !strings.Contains(out, "as qa v2") {
		t.Errorf("import into qa: %s", out)
	}
	// A pickled program directory is refused without --trust-pickle, saying why.
	pkl := filepath.Join(dir, "saved")
	if err := os.MkdirAll(pkl, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"program.pkl", "metadata.json"} {
		if err := os.WriteFile(filepath.Join(pkl, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := run(t, env, "program", "import", "pickled", pkl); code == 0 || !strings.Contains(errOut, "arbitrary code") ||
		!strings.Contains(errOut, "--trust-pickle") {
		t.Errorf("a pickled program: exit %d, %s", code, errOut)
	}
}
