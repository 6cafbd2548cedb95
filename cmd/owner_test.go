package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/internal/testenv"
)

// own makes this test the owner of ws, as a second process would find it:
// commands run with Execute then find the owner on the socket and use its
// service as clients, in this same process (so -race sees both sides).
func own(t *testing.T, ws string) *owner.Owner {
	t.Helper()
	o, err := owner.Open(context.Background(), owner.Options{Dir: ws, Command: "test", DefaultWorkers: 1})
	if err != nil {
		t.Fatalf("owning %s: %v", ws, err)
	}
	t.Cleanup(func() { o.Close(context.Background(), false) })
	return o
}

func TestClientGetsTheOwnersOutput(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))
	type res struct {
		out, errOut string
		code        int
	}
	cases := [][]string{
		{"program", "list", "--json"},
		{"program", "show", "nope"},
		{"program", "show", "qa"},
		{"dataset", "import", filepath.Join("..", "examples", "nope.jsonl")}, // relative, missing: named as typed
		{"exec", "list", "--state", "bogus"},
		{"program", "versions"}, // usage error, caught before anything runs
	}
	alone := map[int]res{}
	for i, args := range cases {
		out, errOut, code := signet(t, ws, args...)
		alone[i] = res{out, errOut, code}
	}
	o := own(t, ws)
	for i, args := range cases {
		out, errOut, code := signet(t, ws, args...)
		if got := (res{out, errOut, code}); got != alone[i] {
			t.Errorf("signet %v through the owner: %+v\nalone: %+v", args, got, alone[i])
		}
	}
	if alone[3].code != 1 || !strings.Contains(alone[3].errOut, "open ../examples/nope.jsonl: no such file") {
		t.Errorf("missing relative file: %+v", alone[3])
	}

	// Relative paths resolve against the client's directory (this test's).
	out := mustSignet(t, ws, "dataset", "import", examplePath("qa.jsonl"), "--inputs", "question")
	if !strings.Contains(out, "imported ../examples/qa.jsonl into dataset qa") {
		t.Errorf("import through the owner: %q", out)
	}
	export := filepath.Join(t.TempDir(), "out.jsonl")
	rel, err := filepath.Rel(mustGetwd(t), export)
	if err != nil {
		t.Fatal(err)
	}
	mustSignet(t, ws, "dataset", "export", "qa", "-o", rel)
	if b, err := os.ReadFile(export); err != nil || bytes.Count(b, []byte("\n")) != 32 {
		t.Errorf("export through the owner: %v", err)
	}

	// stdin goes with the command line.
	yaml := strings.Replace(mustSignet(t, ws, "program", "show", "qa"), "name: qa\n", "name: qa_stdin\n", 1)
	var outb, errb bytes.Buffer
	code := Execute(context.Background(), []string{"--workspace", ws, "program", "create", "-f", "-"}, strings.NewReader(yaml), &outb, &errb)
	if code != 0 || !strings.Contains(outb.String(), "created program qa_stdin") {
		t.Errorf("create from stdin: exit %d %q %q", code, outb.String(), errb.String())
	}

	// edit runs the editor here and saves through the API.
	editor := writeFile(t, t.TempDir(), "ed.sh", "#!/bin/sh\nsed -i 's/a few words at most/one word only/' \"$1\"\n")
	os.Chmod(editor, 0o755)
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", editor)
	if out := mustSignet(t, ws, "program", "edit", "qa"); !strings.Contains(out, "saved qa version 2") {
		t.Errorf("edit through the owner: %q", out)
	}
	if diff := mustSignet(t, ws, "program", "diff", "qa"); !strings.Contains(diff, "one word only") {
		t.Errorf("diff after edit: %s", diff)
	}

	// The status command finds this owner.
	var st statusJSON
	if err := json.Unmarshal([]byte(mustSignet(t, ws, "status", "--json")), &st); err != nil || !st.Running || st.PID != os.Getpid() || st.Command != "test" || st.Engine != "idle" {
		t.Errorf("status: %+v %v", st, err)
	}
	_ = o
}

// TestStaleSocketIsTakenOver: a socket file nobody listens on (what kill -9
// leaves) does not stop the next command, which becomes the owner.
func TestStaleSocketIsTakenOver(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	ln, err := api.Listen(api.SocketPath(ws), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	api.WriteOwner(ws, api.Owner{PID: 1 << 22, Command: "serve"})
	if out := mustSignet(t, ws, "status"); !strings.Contains(out, "no owner running") || !strings.Contains(out, "left its socket behind") {
		t.Errorf("status with a stale socket: %q", out)
	}
	if out := mustSignet(t, ws, "program", "list"); !strings.Contains(out, "no programs yet") {
		t.Errorf("program list over a stale socket: %q", out)
	}
	for _, name := range []string{api.SocketName, api.OwnerName} {
		if _, err := os.Lstat(filepath.Join(ws, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the taking-over command ended: %v", name, err)
		}
	}
}

func TestServeRefusesWhenOwned(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	own(t, ws)
	_, errOut, code := signet(t, ws, "serve")
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("already has an owner: pid %d (signet test)", os.Getpid())) {
		t.Errorf("serve with an owner: exit %d %q", code, errOut)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestEveryCommandAloneAndAsClient runs every command that uses a
// workspace on two workspaces built alike: on one with no owner running
// (the command is the owner for its lifetime), on the other as a client of
// an owner. Output and exit codes must be the same, once the ids, times and
// paths that differ between any two workspaces are masked.
func TestEveryCommandAloneAndAsClient(t *testing.T) {
	testenv.Python(t)
	cfg := writeFile(t, t.TempDir(), "config.yaml", "cache: \"off\"\nprofiles:\n  test:\n    model: signet/test\n    cache: false\n")
	t.Setenv("SIGNET_CONFIG", cfg)
	data := writeFile(t, t.TempDir(), "qa.jsonl", `{"id": 1, "question": "What is the capital of France?", "answer": "France"}
{"id": 2, "question": "Where is Rome?", "answer": "Rome"}
{"id": 3, "question": "Which city is Lima?", "answer": "Peru"}
`)
	build := func() string {
		ws := t.TempDir()
		mustSignet(t, ws, "init")
		mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))
		mustSignet(t, ws, "dataset", "import", data, "--inputs", "question")
		return ws
	}
	alone, client := build(), build()
	own(t, client)
	// Each step is a command line, given the workspace (some name what an
	// earlier step made there).
	lastExec := func(ws string) string {
		var rows []struct{ ID string }
		if err := json.Unmarshal([]byte(mustSignet(t, ws, "exec", "list", "--json")), &rows); err != nil || len(rows) == 0 {
			t.Fatalf("exec list: %v %d", err, len(rows))
		}
		return rows[0].ID
	}
	steps := []func(ws string) []string{
		func(string) []string { return []string{"program", "list"} },
		func(string) []string { return []string{"program", "show", "qa"} },
		func(string) []string { return []string{"program", "show", "nope"} },
		func(string) []string { return []string{"program", "status", "qa", "testing", "--note", "try it"} },
		func(string) []string { return []string{"program", "versions", "qa"} },
		func(string) []string { return []string{"program", "diff", "qa"} },
		func(string) []string { return []string{"dataset", "list"} },
		func(string) []string { return []string{"dataset", "show", "qa", "--json"} },
		func(string) []string { return []string{"dataset", "stats", "qa"} },
		func(string) []string { return []string{"dataset", "export", "qa", "--format", "csv"} },
		func(string) []string { return []string{"dataset", "import", "nope.jsonl"} },
		func(string) []string { return []string{"index", "qa", "--field", "question"} },
		func(string) []string { return []string{"index", "qa", "--field", "question"} },
		func(string) []string { return []string{"index", "qa", "--field", "nope"} },
		func(string) []string { return []string{"index", "nope", "--field", "question"} },
		func(string) []string { return []string{"indexes"} },
		func(string) []string {
			return []string{"run", "qa", "--lm", "test", "--input", "question=Where is Paris?"}
		},
		func(string) []string { return []string{"run", "qa", "--lm", "test"} },
		func(string) []string { return []string{"run", "qa", "--lm", "test", "--dataset", "qa"} },
		func(string) []string { return []string{"run", "qa", "--lm", "test", "--example", "qa:1"} },
		func(ws string) []string { return []string{"exec", "show", lastExec(ws)} },
		func(ws string) []string { return []string{"trace", lastExec(ws)} },
		func(string) []string { return []string{"exec", "list", "--state", "bogus"} },
		func(string) []string { return []string{"cost", "--month", "all"} },
		func(string) []string { return []string{"render", "qa", "--lm", "test", "--input", "question=Why?"} },
		func(string) []string { return []string{"program", "export", "qa"} },
		func(string) []string {
			return []string{"eval", "qa", "--dataset", "qa", "--metric", "exact_match", "--lm", "test"}
		},
		func(string) []string { return []string{"eval", "list"} },
		func(string) []string {
			return []string{"opt", "run", "qa", "--optimizer", "labeled", "--train", "qa", "--lm", "test", "--set", "k=2"}
		},
		func(string) []string { return []string{"opt", "list"} },
		func(string) []string { return []string{"opt", "run", "qa", "--optimizer", "sgd", "--train", "qa"} },
		func(string) []string { return []string{"program", "delete", "qa", "--yes"} },
		func(string) []string { return []string{"indexes", "delete", "qa", "--yes"} },
		func(string) []string { return []string{"indexes", "--json"} },
	}
	mask := func(s, ws string) string {
		s = strings.ReplaceAll(s, ws, "<ws>")
		for _, re := range maskers {
			s = re.pat.ReplaceAllString(s, re.with)
		}
		return s
	}
	for _, step := range steps {
		args := step(alone)
		aOut, aErr, aCode := signet(t, alone, args...)
		cOut, cErr, cCode := signet(t, client, step(client)...)
		if aCode != cCode || mask(aOut, alone) != mask(cOut, client) || mask(aErr, alone) != mask(cErr, client) {
			t.Errorf("signet %v:\nalone:  exit %d\n%s%s\nclient: exit %d\n%s%s", args, aCode, aOut, aErr, cCode, cOut, cErr)
		}
	}
}

// maskers hide what differs between two workspaces built alike: ids,
// times, durations and timings.
var maskers = []struct {
	pat  *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<id>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "<time>"},
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m)\b`), "<dur>"},
	{regexp.MustCompile(`\b\d+[smhd] ago\b|just now`), "<ago>"},
	{regexp.MustCompile(`\b\d+ passages/s\b`), "<rate>"},
	{regexp.MustCompile(`"(duration_ns|elapsed_ns|latency_ns|duration_ms|created_at|started_at|finished_at|ended_at|start|end)": ?[^,}\n]+`), `"$1": <t>`},
}
