package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBinaryTypedInputs is the typed-inputs check of issue 14 with the real
// binary and workers: a dspy.History given on the command line as JSON
// reaches the user's module as a History (the test LM answers from the
// earlier turn), and the pydantic model DSPy parses comes back as JSON,
// stored in the execution and shown as JSON by `exec show`.
func TestBinaryTypedInputs(t *testing.T) {
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	if out, errOut, code := run(t, env, "init"); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	if out, errOut, code := run(t, env, "program", "create", "-f", "examples/typed/program.yaml"); code != 0 {
		t.Fatalf("program create: %d %s %s", code, out, errOut)
	}
	history := `history=[{"question": "Tell me about Paris.", "place": {"city": "Paris", "population": 2100000, "tags": ["capital", "river"]}}]`
	out, errOut, code := run(t, env, "run", "places", "--json", "--lm", "test", "--input", "question=Tell me about Paris.", "--input", history)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		ID      string
		State   string
		Outputs map[string]any
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	paris := map[string]any{"city": "Paris", "population": 2100000.0, "tags": []any{"capital", "river"}}
	if res.State != "completed" || !reflect.DeepEqual(res.Outputs["place"], paris) {
		t.Fatalf("run: state %s, outputs %#v", res.State, res.Outputs)
	}

	out, errOut, code = run(t, env, "exec", "show", res.ID, "--json")
	var stored struct{ Outputs map[string]any }
	if code != 0 || json.Unmarshal([]byte(out), &stored) != nil || !reflect.DeepEqual(stored.Outputs["place"], paris) {
		t.Fatalf("exec show --json: exit %d, %s %s", code, out, errOut)
	}
	out, _, code = run(t, env, "exec", "show", res.ID)
	if want := `place: {"city":"Paris","population":2100000,"tags":["capital","river"]}`; code != 0 || !strings.Contains(out, want) {
		t.Errorf("exec show lacks %s:\n%s", want, out)
	}

	// A history that is not a list of turns is bad input, named.
	_, errOut, code = run(t, env, "run", "places", "--lm", "test", "--input", "question=Hi", "--input", `history=["hello"]`)
	if code == 0 || !strings.Contains(errOut, "bad_input") || !strings.Contains(errOut, "module describe must be History") {
		t.Errorf("bad history: exit %d, %s", code, errOut)
	}
}
