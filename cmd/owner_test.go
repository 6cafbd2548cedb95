package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app/owner"
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
	ln, err := api.Listen(api.SocketPath(ws))
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
