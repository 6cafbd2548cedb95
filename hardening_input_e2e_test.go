package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
)

// limitsEnv is a fresh workspace (not created) and a config with small
// limits: 1 KiB lines, program files, inputs and span payloads.
func limitsEnv(t *testing.T, extra ...string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(`cache: "off"
limits:
  import_line: 1KiB
  program_file: 1KiB
  input: 1KiB
  span_payload: 1KiB
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return append([]string{"SIGNET_HOME=" + filepath.Join(dir, "ws"), "SIGNET_CONFIG=" + cfg}, extra...), dir
}

// TestHardenImportLineLimit: a dataset file with a line over the limit
// fails at that line, naming file:line and the limit, and imports nothing.
func TestHardenImportLineLimit(t *testing.T) {
	env, dir := limitsEnv(t)
	mustRun(t, env, "init")
	file := filepath.Join(dir, "big.jsonl")
	body := `{"question": "a", "answer": "b"}` + "\n\n" + `{"question": "` + strings.Repeat("x", 4096) + `", "answer": "c"}` + "\n"
	os.WriteFile(file, []byte(body), 0o600)
	_, errOut, code := run(t, env, "dataset", "import", file, "--inputs", "question")
	if code != 1 || !strings.Contains(errOut, "big.jsonl:3: line is longer than the limit of 1KiB (limits: import_line in config.yaml)") {
		t.Fatalf("import of a long line: exit %d, %q", code, errOut)
	}
	if out := mustRun(t, env, "dataset", "list", "--json"); strings.Contains(out, "big") {
		t.Errorf("a failed import left a dataset: %s", out)
	}
}

// TestHardenProgramFileLimit: a program file over the limit is refused,
// naming the file and the limit; stdin too.
func TestHardenProgramFileLimit(t *testing.T) {
	env, dir := limitsEnv(t)
	mustRun(t, env, "init")
	file := filepath.Join(dir, "big.yaml")
	body := "name: big\ndescription: " + strings.Repeat("x", 2048) + "\nmodules:\n  - {name: answer, type: predict, signature: question -> answer}\n"
	os.WriteFile(file, []byte(body), 0o600)
	_, errOut, code := run(t, env, "program", "create", "-f", file)
	if code != 1 || !strings.Contains(errOut, "big.yaml: the file is larger than the limit of 1KiB for a program file (limits: program_file in config.yaml)") {
		t.Fatalf("create from a big file: exit %d, %q", code, errOut)
	}
	if out := mustRun(t, env, "program", "list"); strings.Contains(out, "big") {
		t.Errorf("the program was created: %s", out)
	}
}

// TestHardenRunInputLimit: an input over the limit is refused before the
// run, naming the input and the limit.
func TestHardenRunInputLimit(t *testing.T) {
	env, _ := limitsEnv(t)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	_, errOut, code := run(t, env, "run", "qa", "--lm", "test", "--input", "question="+strings.Repeat("q", 2000))
	if code != 1 || !strings.Contains(errOut, `(input "question": 2002 bytes) is larger than the limit of 1KiB (limits: input in config.yaml)`) {
		t.Fatalf("run with a big input: exit %d, %q", code, errOut)
	}
	if out := mustRun(t, env, "exec", "list", "--json"); strings.Contains(out, `"qa"`) {
		t.Errorf("an execution was made: %s", out)
	}
}

// TestHardenSpanPayload: real workers cut a span's payload over the limit
// with a marker; the run's own output is whole.
func TestHardenSpanPayload(t *testing.T) {
	env, _ := limitsEnv(t, pythonEnv(t)...)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	question := "What is the capital of France? " + strings.Repeat("Answer briefly please. ", 60) // under the input limit, over the span limit with the prompt around it
	question = question[:1000]
	out := mustRun(t, env, "run", "qa", "--json", "--lm", "test", "--input", "question="+question)
	var x struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &x); err != nil || x.ID == "" {
		t.Fatalf("run --json: %v %s", err, out)
	}
	var spans []struct {
		Kind     string `json:"kind"`
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "trace", x.ID, "--json")), &spans); err != nil {
		t.Fatal(err)
	}
	cut := 0
	for _, s := range spans {
		for _, m := range s.Messages {
			if strings.Contains(m.Content, "…[truncated ") {
				cut++
			}
			if len(m.Content) > 1024+len("…[truncated 12345678 bytes]") {
				t.Errorf("a %s message of %d bytes was kept", m.Role, len(m.Content))
			}
		}
	}
	if cut == 0 {
		t.Fatalf("no prompt was cut with a marker: %+v", spans)
	}
}

// TestHardenEscapes: terminal controls in data reach the terminal escaped,
// through a listing, a JSON document and an error quoting what the user typed.
func TestHardenEscapes(t *testing.T) {
	env, dir := limitsEnv(t)
	mustRun(t, env, "init")
	file := filepath.Join(dir, "evil.jsonl")
	os.WriteFile(file, []byte(`{"question": "title \u001b]0;pwned\u0007", "answer": "clear \u001b[2J csi \u009b2J"}`+"\n"), 0o600)
	mustRun(t, env, "dataset", "import", file, "--inputs", "question")
	for _, args := range [][]string{{"dataset", "show", "evil"}, {"dataset", "show", "evil", "--json"}} {
		out := mustRun(t, env, args...)
		if strings.ContainsAny(out, "\x1b\x07\u009b") {
			t.Errorf("signet %v printed raw controls: %q", args, out)
		}
		for _, want := range []string{`\x1b]0;pwned\x07`, `\x1b[2J`} {
			if args[len(args)-1] == "--json" {
				want = strings.ReplaceAll(strings.ReplaceAll(want, `\x1b`, `\u001b`), `\x07`, `\u0007`)
			}
			if !strings.Contains(out, want) {
				t.Errorf("signet %v: want %q in %q", args, want, out)
			}
		}
	}
	_, errOut, code := run(t, env, "dataset", "import", file, "--name", "again", "--inputs", "\x1b[2Jquestion")
	if code == 0 || strings.Contains(errOut, "\x1b") || !strings.Contains(errOut, `\x1b[2Jquestion`) {
		t.Errorf("an error quoting a typed value: exit %d, %q", code, errOut)
	}
}

// TestHardenFlagRanges: numeric flags out of range are usage errors naming
// the flag and the range, before anything runs.
func TestHardenFlagRanges(t *testing.T) {
	env, _ := limitsEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"program", "show", "qa", "--version", "0"}, "--version 0 is out of range (at least 1; versions start at 1; leave --version out for the newest)"},
		{[]string{"run", "qa", "--version", "-1", "--input", "question=q"}, "--version -1 is out of range"},
		{[]string{"exec", "list", "--limit", "-5"}, "--limit -5 is out of range (at least 0; 0 = all)"},
		{[]string{"dataset", "show", "qa", "--limit", "-5"}, "--limit -5 is out of range"},
		{[]string{"serve", "--workers", "10000"}, "--workers 10000 is out of range (0 to "},
		{[]string{"eval", "qa", "--threads", "0"}, "--threads 0 is out of range (1 to 64)"},
		{[]string{"serve", "--concurrency", "0"}, "--concurrency 0 is out of range (1 to 1024)"},
		{[]string{"opt", "run", "qa", "--budget", "-1"}, "--budget -1 is out of range (at least 0; USD; 0 = none)"},
		{[]string{"opt", "run", "qa", "--seed", "-1"}, "--seed -1 is out of range"},
		{[]string{"cost", "--set-budget", "-2"}, "--set-budget -2 is out of range"},
	} {
		_, errOut, code := run(t, env, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("signet %v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestHardenAPIDecoding: the owner's API refuses unknown fields, numbers
// out of range and oversized bodies with 400, naming the field or limit.
func TestHardenAPIDecoding(t *testing.T) {
	env, dir := limitsEnv(t, pythonEnv(t)...)
	ws := filepath.Join(dir, "ws")
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	serve, serveOut := start(t, env, "serve")
	waitOwner(t, ws, false)
	defer stopServe(t, serve, serveOut, ws)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", api.SocketPath(ws))
	}}}
	for _, c := range []struct {
		method, path string
		body         io.Reader
		field, want  string
	}{
		{"POST", "/v1/executions", strings.NewReader(`{"program":"qa","inputs":{"question":"q"},"verison":1}`), "", `unknown field "verison"`},
		{"POST", "/v1/executions", strings.NewReader(`{"program":"qa","version":-1,"inputs":{"question":"q"}}`), "version", "version: -1 is out of range (at least 0; 0 = newest)"},
		{"GET", "/v1/programs/qa?version=-1", nil, "version", "version: -1 is out of range (at least 0; 0 = newest)"},
		{"GET", "/v1/executions?limit=-5", nil, "limit", "limit: -5 is out of range"},
		{"PUT", "/v1/budgets", strings.NewReader(`{"usd":-1}`), "usd", "usd: -1 is out of range"},
		{"POST", "/v1/executions", io.MultiReader(strings.NewReader(`{"program":"qa","inputs":{"question":"`),
			strings.NewReader(strings.Repeat("x", 33<<20)), strings.NewReader(`"}}`)), "", "request body: larger than the limit of 32MiB"},
	} {
		req, _ := http.NewRequest(c.method, "http://signet"+c.path, c.body)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		var body api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.Error.Message, c.want) || body.Error.Field != c.field {
			t.Errorf("%s %s: %d %+v; want 400, field %q, %q", c.method, c.path, resp.StatusCode, body.Error, c.field, c.want)
		}
	}
}
