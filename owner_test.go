package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

// ownerEnv is a workspace with the qa program and a config of test-LM
// profiles: fast (no delay), slow (100 ms a call) and crawl (10 s, so that
// an owner can be killed while every execution runs).
func ownerEnv(t testing.TB) (env []string, ws, cfg string) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "config.yaml")
	writeOwnerConfig(t, cfg, 10000)
	ws = filepath.Join(dir, "ws")
	env = append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg)
	for _, args := range [][]string{{"init"}, {"program", "create", "-f", "examples/qa.yaml"}} {
		if out, errOut, code := run(t, env, args...); code != 0 {
			t.Fatalf("signet %v: %d %s %s", args, code, out, errOut)
		}
	}
	return env, ws, cfg
}

func writeOwnerConfig(t testing.TB, path string, crawlMS int) {
	t.Helper()
	body := fmt.Sprintf(`cache: "off"
profiles:
  fast:
    model: signet/test
    cache: false
  slow:
    model: signet/test
    cache: false
    kwargs: {sleep_ms: 100}
  crawl:
    model: signet/test
    cache: false
    kwargs: {sleep_ms: %d}
  outage:
    model: signet/test
    cache: false
    price_in: 3
    price_out: 15
    kwargs: {fail_on: BOOM}
`, crawlMS)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// result is one finished run of the binary.
type result struct {
	out, errOut string
	code        int
	err         error
}

// runAsync is run for goroutines: it reports instead of failing the test.
func runAsync(bin string, env []string, args ...string) result {
	cmd := exec.Command(bin, args...)
	home, _ := os.MkdirTemp("", "signet-home")
	defer os.RemoveAll(home)
	cmd.Env = append(testEnv(home), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out: out.String(), errOut: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else {
		r.err = err
	}
	return r
}

// waitOwner polls the socket until an owner answers (with its engine
// running, if engine).
func waitOwner(t testing.TB, ws string, engine bool) *app.Status {
	t.Helper()
	cl := api.NewClient(api.SocketPath(ws))
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := cl.Status(context.Background())
		if err == nil && (!engine || st.Engine == "running") {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no owner answered on %s: %v", api.SocketPath(ws), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopServe sends SIGTERM and wants a clean exit that removes the socket.
func stopServe(t testing.TB, cmd *exec.Cmd, out *strings.Builder, ws string) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "stopped;") {
		t.Errorf("serve did not say it stopped:\n%s", out)
	}
	for _, name := range []string{api.SocketName, api.OwnerName} {
		if _, err := os.Lstat(filepath.Join(ws, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after a clean stop: %v", name, err)
		}
	}
}

// TestOwnerServesClients is the owner with its clients: the socket is
// private, a client prints what the owner would, `status` shows the owner
// (and its absence), and 20 concurrent `signet run` clients all complete.
func TestOwnerServesClients(t *testing.T) {
	env, ws, _ := ownerEnv(t)

	// Without an owner: each command owns the workspace for its lifetime.
	type cmdResult struct {
		out, errOut string
		code        int
	}
	same := [][]string{{"program", "list", "--json"}, {"program", "show", "nope"}, {"exec", "list"}}
	alone := map[string]cmdResult{}
	for _, args := range same {
		out, errOut, code := run(t, env, args...)
		alone[strings.Join(args, " ")] = cmdResult{out, errOut, code}
	}
	if r := alone["program show nope"]; r.code != 1 || !strings.Contains(r.errOut, `program "nope": not found`) {
		t.Fatalf("program show nope without owner: %+v", r)
	}
	out, _, code := run(t, env, "status")
	if code != 0 || !strings.Contains(out, "no owner running") {
		t.Errorf("status without owner: exit %d, %q", code, out)
	}
	out, _, _ = run(t, env, "status", "--json")
	var none struct{ Running bool }
	if json.Unmarshal([]byte(out), &none) != nil || none.Running {
		t.Errorf("status --json without owner: %q", out)
	}

	serve, serveOut := start(t, env, "serve", "--concurrency", "20")
	defer serve.Process.Kill()
	st := waitOwner(t, ws, true)
	if st.PID != serve.Process.Pid || st.Command != "serve" || len(st.Pool) < 2 {
		t.Errorf("owner status: %+v (serve pid %d)", st, serve.Process.Pid)
	}

	// Only this user can reach the owner: srw------- in a drwx------ workspace.
	fi, err := os.Lstat(filepath.Join(ws, api.SocketName))
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, mode %v", err, fi.Mode())
	}
	if di, err := os.Stat(ws); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("workspace dir mode: %v %v", di.Mode(), err)
	}

	// A client prints what the owner would, with the same exit code.
	for _, args := range same {
		out, errOut, code := run(t, env, args...)
		want := alone[strings.Join(args, " ")]
		if got := (cmdResult{out, errOut, code}); got != want {
			t.Errorf("signet %v as a client: %+v\nwithout an owner: %+v", args, got, want)
		}
	}
	out, _, code = run(t, env, "status")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d (signet serve)", serve.Process.Pid)) || !strings.Contains(out, "queue") {
		t.Errorf("status with owner: exit %d\n%s", code, out)
	}

	const clients = 20
	bin := signetBinary(t)
	results := make([]result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			results[i] = runAsync(bin, env, "run", "qa", "--lm", "slow", "--input", fmt.Sprintf("question=What is item %d?", i))
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.code != 0 || !strings.Contains(r.out, "answer: ") || !strings.Contains(r.out, "qa v1 on slow: completed") {
			t.Errorf("client %d: exit %d %v\n%s\n%s", i, r.code, r.err, r.out, r.errOut)
		}
	}
	rows := listAll(t, env)
	completed := 0
	for _, r := range rows {
		if r.State == "completed" {
			completed++
		}
	}
	if len(rows) != clients || completed != clients {
		t.Errorf("%d executions, %d completed; want %d completed", len(rows), completed, clients)
	}
	if st := waitOwner(t, ws, false); st.PID != serve.Process.Pid {
		t.Errorf("the owner changed under its clients: %+v", st)
	}
	stopServe(t, serve, serveOut, ws)
}

// TestOwnerKilledMidBatch kills the owner with -9 while 20 clients wait on
// their runs: they fail saying so, the next command takes the workspace
// over (the stale socket does not stop it), and after `exec resume` every
// execution is completed or failed with a reason.
func TestOwnerKilledMidBatch(t *testing.T) {
	env, ws, cfg := ownerEnv(t)
	serve, serveOut := start(t, env, "serve", "--concurrency", "20")
	defer serve.Process.Kill()
	waitOwner(t, ws, true)

	const clients = 20
	bin := signetBinary(t)
	results := make([]result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			results[i] = runAsync(bin, env, "run", "qa", "--lm", "crawl", "--input", fmt.Sprintf("question=What is item %d?", i))
		})
	}
	// Killed once every client has submitted its run (so that all of them
	// are waiting on this owner) and some of the runs are under way.
	cl := api.NewClient(api.SocketPath(ws))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := cl.Status(context.Background())
		page, perr := cl.ListExecutions(context.Background(), app.ExecutionQuery{Limit: 100})
		if err == nil && perr == nil && len(page.Executions) == clients && st.Queue.Running > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clients' executions did not start: %+v %v %v", st, err, perr)
		}
	}
	serve.Process.Signal(syscall.SIGKILL)
	serve.Wait()
	wg.Wait()
	for i, r := range results {
		if r.code == 0 || !strings.Contains(r.errOut, "lost the owner") {
			t.Errorf("client %d of a killed owner: exit %d %v\n%s%s", i, r.code, r.err, r.out, r.errOut)
		}
	}
	if _, err := os.Lstat(filepath.Join(ws, api.SocketName)); err != nil {
		t.Fatalf("kill -9 should leave the socket behind: %v\n%s", err, serveOut)
	}
	if out, _, code := run(t, env, "status"); code != 0 || !strings.Contains(out, "no owner running") || !strings.Contains(out, "left its socket behind") {
		t.Errorf("status after kill -9: exit %d\n%s", code, out)
	}

	// The next command takes over: it owns the workspace for its lifetime.
	before := listAll(t, env)
	states := map[string]int{}
	for _, r := range before {
		states[r.State]++
	}
	if len(before) != clients || states["running"] == 0 {
		t.Fatalf("after the kill: %d executions %v, want %d with some left running", len(before), states, clients)
	}
	// Recovery is what is tested here, not patience: the profile answers at once now.
	writeOwnerConfig(t, cfg, 0)
	out, errOut, code := run(t, env, "exec", "resume", "--workers", "2", "--concurrency", "20")
	if code != 0 || !strings.Contains(out, "resumed:") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	after := listAll(t, env)
	if len(after) != clients {
		t.Fatalf("%d executions after resume, want %d", len(after), clients)
	}
	for _, r := range after {
		switch {
		case r.State == "completed":
		case r.State == "failed" && r.Error != "":
		default:
			t.Errorf("execution %s after resume: %s %q", r.ID, r.State, r.Error)
		}
	}
	t.Logf("after the kill %v; resume: %s", states, strings.TrimSpace(out))
}

// TestTwoServesOneOwner starts two owners at once: Badger's lock lets one
// in, the other finds it on the socket and says so.
func TestTwoServesOneOwner(t *testing.T) {
	env, ws, _ := ownerEnv(t)
	a, aOut := start(t, env, "serve")
	b, bOut := start(t, env, "serve")
	defer a.Process.Kill()
	defer b.Process.Kill()
	type exit struct {
		who int
		err error
	}
	exited := make(chan exit, 2)
	go func() { exited <- exit{0, a.Wait()} }()
	go func() { exited <- exit{1, b.Wait()} }()

	var loser exit
	select {
	case loser = <-exited:
	case <-time.After(60 * time.Second):
		t.Fatal("both serves still run after 60s")
	}
	cmds, outs := []*exec.Cmd{a, b}, []*strings.Builder{aOut, bOut}
	winner := cmds[1-loser.who]
	var ee *exec.ExitError
	if !errors.As(loser.err, &ee) || ee.ExitCode() != 1 || !strings.Contains(outs[loser.who].String(), fmt.Sprintf("already has an owner: pid %d", winner.Process.Pid)) {
		t.Errorf("the second serve: %v\n%s", loser.err, outs[loser.who])
	}
	if st := waitOwner(t, ws, true); st.PID != winner.Process.Pid {
		t.Errorf("owner pid %d, want the winner %d", st.PID, winner.Process.Pid)
	}
	winner.Process.Signal(syscall.SIGTERM)
	select {
	case w := <-exited:
		if w.err != nil {
			t.Errorf("winner after SIGTERM: %v\n%s", w.err, outs[w.who])
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the winner did not stop on SIGTERM")
	}
	if _, err := os.Lstat(filepath.Join(ws, api.SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after a clean stop: %v", err)
	}
}
