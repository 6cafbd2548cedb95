package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
)

// Two secrets: configKey is the value of a variable a profile names as its
// api_key_env (a profile the runs below never use, so no worker reads it as
// a key); it has no key shape, only the config gives it away. shapeKey is
// in no variable at all: only its shape (OpenAI's sk-proj-...) does.
const (
	configKey = "zq7-Private-Value-91f3c2d8e0aa"
	shapeKey  = "sk-proj-T3stOnlyShapeKey0123456789abcdefXYZ"
)

// leakyModule is a user's module that hands the key to everything it can:
// fd 2 directly, Python's stderr, an exception.
const leakyModule = `import os
import sys

import dspy

SHAPE = "` + shapeKey + `"


class Leaky(dspy.Module):
    def __init__(self):
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question):
        key = os.environ["SIGNET_E2E_PAID_KEY"]
        os.write(2, f"fd2: {key} {SHAPE}\n".encode())
        print(f"stderr: {key} {SHAPE}", file=sys.stderr)
        if "boom" in question:
            raise RuntimeError(f"could not call with key {key} ({SHAPE})")
        return self.answer(question=question)
`

// TestBinarySecretsNeverWritten puts both keys on every path into Signet:
// an input, an LM completion (the test LM echoes the variable), a custom
// module's fd 2 and stderr, an exception, a dataset, an evaluation; it
// reads everything back (CLI output, the API's event stream, exports,
// traces), then scans every file of the workspace (the Badger files byte
// for byte, after the owner closed them) and the owner's log: neither key
// may appear anywhere. DSPy's disk cache is in the workspace, private.
func TestBinarySecretsNeverWritten(t *testing.T) {
	env := pythonEnv(t)
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("config.yaml", `profiles:
  echo:
    model: signet/test
    cache: false
    kwargs: {echo_env: SIGNET_E2E_PAID_KEY}
  cached:
    model: signet/test
  paid:
    model: openai/gpt-4o-mini
    api_key_env: SIGNET_E2E_PAID_KEY
`)
	write("leaky.py", leakyModule)
	leaky := write("leaky.yaml", "name: leaky\nmodules:\n  - name: main\n    type: custom\n    source: leaky.py:Leaky\n    signature: \"question -> answer\"\n")
	data := write("data.jsonl", `{"question": "Is `+configKey+` a key?", "answer": "`+shapeKey+`"}
{"question": "What is the capital of France?", "answer": "Paris"}
`)
	env = append(env, "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg, "SIGNET_E2E_PAID_KEY="+configKey)

	var said strings.Builder // everything the CLI printed
	cli := func(wantOK bool, args ...string) string {
		t.Helper()
		out, errOut, code := run(t, env, args...)
		said.WriteString(out + errOut)
		if (code == 0) != wantOK {
			t.Fatalf("signet %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	cli(true, "init")
	cli(true, "program", "create", "-f", "examples/qa.yaml")
	cli(true, "program", "create", "-f", leaky)
	cli(true, "dataset", "import", data, "--name", "keys", "--inputs", "question")

	// The rest as clients of an owner, whose event stream we read too.
	serve, serveOut := start(t, env, "serve")
	waitOwner(t, ws, false)
	ctx, cancel := context.WithCancel(context.Background())
	evs, err := api.NewClient(api.SocketPath(ws)).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var events strings.Builder
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		for ev := range evs {
			b, _ := json.Marshal(ev)
			events.Write(b)
		}
	}()

	question := "question=What is " + configKey + " or " + shapeKey + "?"
	var x struct {
		ID      string
		State   string
		Outputs map[string]any
	}
	if err := json.Unmarshal([]byte(cli(true, "run", "qa", "--lm", "echo", "--input", question, "--json")), &x); err != nil || x.State != "completed" {
		t.Fatalf("run qa: %v %+v", err, x)
	}
	// The completion did say the key (so the test tests something): it
	// stands redacted in the answer.
	if a, _ := x.Outputs["answer"].(string); !strings.Contains(a, "[redacted]") {
		t.Errorf("the test LM's echo of the key is not in the answer: %+v", x.Outputs)
	}
	cli(true, "run", "qa", "--lm", "echo", "--input", question)
	cli(true, "run", "leaky", "--lm", "echo", "--input", "question=quiet please")
	before := said.Len()
	cli(false, "run", "leaky", "--lm", "echo", "--input", "question=boom "+configKey)
	// The exception's message is kept, the keys in it are not.
	if failed := said.String()[before:]; !strings.Contains(failed, "could not call with key [redacted] ([redacted])") {
		t.Errorf("the failed run does not report the exception, redacted:\n%s", failed)
	}
	cli(true, "run", "qa", "--lm", "cached", "--input", "question=Where is Rome?")
	cli(true, "eval", "qa", "--dataset", "keys", "--metric", "exact_match", "--lm", "echo")
	// doctor runs its own worker, whose answer echoes the key: Go redacts
	// its frames as an owner's pool does (the worker leaves them to Go).
	out, errOut, _ := run(t, env, "doctor", "--lm", "echo")
	said.WriteString(out + errOut)
	if !strings.Contains(out+errOut, "[redacted]") {
		t.Errorf("doctor's LM check does not show the echoed key, redacted:\n%s%s", out, errOut)
	}
	for _, args := range [][]string{
		{"exec", "list", "--all", "--json"}, {"exec", "show", x.ID, "--json"}, {"trace", x.ID, "--json"},
		{"trace", x.ID}, {"eval", "list", "--json"}, {"dataset", "export", "keys"},
		{"dataset", "show", "keys"}, {"program", "export", "qa"}, {"program", "export", "leaky", "--python"},
	} {
		cli(true, args...)
	}
	cancel()
	<-streamed
	stopServe(t, serve, serveOut, ws)

	where := map[string]string{"the CLI's output": said.String(), "the API's event stream": events.String(), "serve's output": serveOut.String()}
	if !strings.Contains(events.String(), "[redacted]") {
		t.Errorf("the event stream carried no redacted value: did the runs reach it?")
	}
	// Every file of the workspace, byte for byte: the Badger tables and
	// value log, the log file, DSPy's cache, whatever else is there.
	files := 0
	err = filepath.WalkDir(ws, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		where[path] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if log := where[filepath.Join(ws, "signet.log")]; !strings.Contains(log, "fd2: [redacted] [redacted]") {
		t.Errorf("the owner's log lacks the custom module's redacted fd 2 line:\n%s", log)
	}
	for what, text := range where {
		for _, key := range []string{configKey, shapeKey} {
			if n := strings.Count(text, key); n > 0 {
				i := strings.Index(text, key)
				t.Errorf("%s holds the key %s %d time(s), e.g. …%q…", what, key, n, text[max(0, i-80):min(len(text), i+len(key)+40)])
			}
		}
	}
	t.Logf("scanned %d files of the workspace, the CLI's output and the event stream", files)
}

// TestBinaryDSPyCacheIsPrivate: DSPy's disk cache (raw prompts and
// completions) lives in the workspace, its directories 0700 and its files
// readable by their owner only.
func TestBinaryDSPyCacheIsPrivate(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("profiles:\n  cached:\n    model: signet/test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	mustRun(t, env, "run", "qa", "--lm", "cached", "--input", "question=What is the capital of Spain?")
	cache := filepath.Join(ws, "dspy-cache")
	files := 0
	var open []string // what others may read
	err := filepath.WalkDir(cache, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() && info.Mode().Perm() != 0o700 || !d.IsDir() && info.Mode().Perm()&0o077 != 0 {
			open = append(open, info.Mode().String()+" "+path)
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("DSPy's cache is not in the workspace: %v", err)
	}
	if files == 0 {
		t.Fatal("DSPy wrote no cache file: the run did not use the disk cache")
	}
	if len(open) > 0 {
		t.Errorf("%d of DSPy's cache files and directories are open to others (want directories 0700, files 0600), e.g.\n%s",
			len(open), strings.Join(open[:min(len(open), 4)], "\n"))
	}
}
