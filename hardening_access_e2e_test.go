package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/signet-dspy/signet/api"
)

// Issue 16, items 2 and 6: who may stand in for the owner, and the races
// between owners that come and go.

// TestHardenConcurrentDemoLoadsOnce: demos and inits started at once on a
// fresh workspace all succeed and load one set of demo programs and
// datasets between them.
func TestHardenConcurrentDemoLoadsOnce(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	env := []string{"SIGNET_HOME=" + ws}
	const n = 10
	bin := signetBinary(t)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := "demo"
		if i%3 == 2 {
			cmd = "init"
		}
		wg.Go(func() { results[i] = runAsync(bin, env, cmd) })
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.code != 0 {
			t.Errorf("demo %d: exit %d %v\n%s\n%s", i, r.code, r.err, r.out, r.errOut)
		}
	}

	// What one demo alone loads, in a workspace of its own.
	alone := []string{"SIGNET_HOME=" + filepath.Join(t.TempDir(), "alone")}
	mustRun(t, alone, "demo")
	if got, want := demoContents(t, env), demoContents(t, alone); got != want {
		t.Errorf("after %d concurrent demos:\n%s\nafter one demo:\n%s", n, got, want)
	}
}

// demoContents lists a workspace's programs with their versions and its
// datasets with their example counts.
func demoContents(t *testing.T, env []string) string {
	t.Helper()
	var progs []struct {
		Name    string
		Version int
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "program", "list", "--json")), &progs); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range progs {
		versions := mustRun(t, env, "program", "versions", p.Name)
		fmt.Fprintf(&b, "program %s v%d (%d history lines)\n", p.Name, p.Version, strings.Count(versions, "\n"))
	}
	var sets []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, env, "dataset", "list", "--json")), &sets); err != nil {
		t.Fatal(err)
	}
	for _, d := range sets {
		delete(d, "created_at")
		delete(d, "updated_at")
		line, _ := json.Marshal(d)
		fmt.Fprintf(&b, "dataset %s\n", line)
	}
	return b.String()
}

// TestHardenClientsWhileOwnersComeAndGo: 100 clients, each of which owns
// the workspace for the moment it runs when nobody else does, so owners
// start and hand over all the time: none fails.
func TestHardenClientsWhileOwnersComeAndGo(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	env := []string{"SIGNET_HOME=" + ws}
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	const n = 100
	bin := signetBinary(t)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = runAsync(bin, env, "program", "list") })
	}
	wg.Wait()
	failed := 0
	for i, r := range results {
		if r.err != nil || r.code != 0 || !strings.Contains(r.out, "qa") {
			failed++
			t.Errorf("client %d: exit %d %v\n%s\n%s", i, r.code, r.err, r.out, r.errOut)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d clients failed", failed, n)
	}
	if _, err := os.Lstat(filepath.Join(ws, "signet.sock")); !os.IsNotExist(err) {
		t.Errorf("a socket is left after every owner stopped: %v", err)
	}
}

// impostor is a Python process of another user (nobody) listening on path,
// as a local attacker would where the workspace's socket falls back to the
// shared temp dir: it creates the directory, answers every connection
// with an empty JSON object, and appends what it heard to heard.
const impostor = `
import os, socket, sys
path, heard = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(path), exist_ok=True)
os.chmod(os.path.dirname(path), 0o777)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o666)
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    data = c.recv(1 << 16)
    with open(heard, "ab") as f:
        f.write(data)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    c.close()
`

// TestHardenForeignSocketDirRefused: with a long workspace path the socket
// lives in $TMPDIR/signet-<uid>/; another user who made that directory
// first and listens there gets not a byte from Signet, which says why.
func TestHardenForeignSocketDirRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("running the impostor as another user needs root")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3 for the impostor")
	}
	ws := filepath.Join(t.TempDir(), strings.Repeat("w", 90))
	mustRun(t, []string{"SIGNET_HOME=" + ws, "TMPDIR=" + t.TempDir()}, "init")

	// A shared temp dir like /tmp (sticky, open to all), before Signet
	// made its directory there.
	tmp, err := os.MkdirTemp("", "signet-shared-tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o1777)
	env := []string{"SIGNET_HOME=" + ws, "TMPDIR=" + tmp}
	t.Setenv("TMPDIR", tmp) // where this process, as signet, looks for the socket
	sock := api.SocketPath(ws)
	heard := filepath.Join(tmp, "heard")
	cmd := exec.Command(py, "-c", impostor, sock, heard)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("impostor: %q", line)
	}

	want := fmt.Sprintf("socket directory %s is owned by uid 65534, not you (0)", filepath.Dir(sock))
	for _, args := range [][]string{{"program", "create", "-f", "examples/qa.yaml"}, {"status"}} {
		stdout, stderr, code := run(t, env, args...)
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("signet %v with an impostor's socket directory: exit %d\n%s%s\nwant it to say %q", args, code, stdout, stderr, want)
		}
	}
	if b, err := os.ReadFile(heard); err == nil || len(b) > 0 {
		t.Errorf("the impostor heard %d bytes:\n%s", len(b), b)
	}
	// The owner's side refuses the directory too: with the impostor gone,
	// nobody answers, and the next command would own the workspace.
	cmd.Process.Kill()
	cmd.Wait()
	if stdout, stderr, code := run(t, env, "program", "list"); code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("owning the workspace over an impostor's socket directory: exit %d\n%s%s\nwant it to say %q", code, stdout, stderr, want)
	}
}

// TestHardenOwnerSurvivesHangupAndClosedPipes: an owner whose terminal
// hangs up (SIGHUP) and whose stdout and stderr readers have gone (SIGPIPE
// on its next write) keeps serving, and stops cleanly when asked.
func TestHardenOwnerSurvivesHangupAndClosedPipes(t *testing.T) {
	env, ws, _ := ownerEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	serve := exec.Command(signetBinary(t), "serve", "--workers", "1")
	serve.Env = append(testEnv(t.TempDir()), env...)
	serve.Stdout, serve.Stderr = w, w
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer serve.Process.Kill()
	if line, err := bufio.NewReader(r).ReadString('\n'); err != nil || !strings.Contains(line, "serving workspace") {
		t.Fatalf("serve said %q (%v)", line, err)
	}
	r.Close() // as `signet serve | head -1` does

	serve.Process.Signal(syscall.SIGHUP)
	var st struct{ PID int }
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "--json")), &st); err != nil || st.PID != serve.Process.Pid {
		t.Errorf("after SIGHUP the owner is pid %d (%v), want serve's %d", st.PID, err, serve.Process.Pid)
	}
	if out := mustRun(t, env, "program", "list"); !strings.Contains(out, "qa") {
		t.Errorf("program list through the owner: %q", out)
	}
	// Its last words go to a closed pipe.
	serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Errorf("serve after SIGHUP, closed pipes and SIGTERM: %v, want a clean exit", err)
	}
	for _, name := range []string{api.SocketName, api.OwnerName} {
		if _, err := os.Lstat(filepath.Join(ws, name)); !os.IsNotExist(err) {
			t.Errorf("%s left after the owner stopped: %v", name, err)
		}
	}
}

// TestHardenStaleFallbackSocketTakenOver: an owner killed with -9 leaves
// its socket in the fallback directory; the next command becomes the owner
// in its place, and the socket goes with it.
func TestHardenStaleFallbackSocketTakenOver(t *testing.T) {
	env := pythonEnv(t)
	ws := filepath.Join(t.TempDir(), strings.Repeat("w", 90))
	tmp := t.TempDir()
	env = append(env, "SIGNET_HOME="+ws, "TMPDIR="+tmp)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	serve, out := start(t, env, "serve", "--workers", "1")
	t.Setenv("TMPDIR", tmp) // where this process, as signet, looks for the socket
	sock := api.SocketPath(ws)
	if st := waitOwner(t, ws, false); st.PID != serve.Process.Pid {
		t.Fatalf("owner %d, want serve %d\n%s", st.PID, serve.Process.Pid, out)
	}
	serve.Process.Kill()
	serve.Wait()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("kill -9 left no socket to clean up: %v", err)
	}
	if got := mustRun(t, env, "program", "list"); !strings.Contains(got, "qa") {
		t.Errorf("program list after the owner was killed: %q", got)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the stale socket is still there after the next owner stopped: %v", err)
	}
	if got := mustRun(t, env, "status"); !strings.Contains(got, "no owner running") {
		t.Errorf("status: %q", got)
	}
}
