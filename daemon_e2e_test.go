//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// daemonEnv is a workspace with the qa program, the test LM as "fast", and
// background owners on (testEnv turns them off for every other test). Its
// cleanup stops whatever owner is left and kills it if that fails, so no
// test leaves a process behind.
func daemonEnv(t testing.TB, configExtra string) (env []string, ws string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := "cache: \"off\"\nprofiles:\n  fast:\n    model: signet/test\n    cache: false\n" + configExtra
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ws = filepath.Join(dir, "ws")
	env = append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg, "SIGNET_NO_DAEMON=0")
	stopOwnerAtCleanup(t, env, ws)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	return env, ws
}

// stopOwnerAtCleanup stops the workspace's owner when the test ends, and
// kills it if that fails.
func stopOwnerAtCleanup(t testing.TB, env []string, ws string) {
	t.Cleanup(func() {
		info, err := api.ReadOwner(ws)
		if err != nil {
			return
		}
		run(t, env, "stop")
		if api.Alive(info.PID) {
			syscall.Kill(info.PID, syscall.SIGKILL)
		}
	})
}

// TestDaemonInterruptCancelsBatch: ctrl-c on a batch whose owner runs in
// the background cancels the executions that have not ended (the owner
// would otherwise go on spending on them) and keeps those that did.
func TestDaemonInterruptCancelsBatch(t *testing.T) {
	env, ws := reliabilityEnv(t, 40)
	env = append(env, "SIGNET_NO_DAEMON=0")
	stopOwnerAtCleanup(t, env, ws)
	cmd, out := start(t, env, "run", "qa", "--dataset", "items", "--lm", "slow")
	waitCompleted(t, ws, 2)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("an interrupted batch exited 0:\n%s", out)
	}
	if !strings.Contains(out.String(), "interrupted: cancelled") {
		t.Errorf("the command does not say what it cancelled:\n%s", out)
	}
	if st := ownerNow(t, env); !st.Running || !st.Background {
		t.Fatalf("the batch did not run in a background owner: %+v", st)
	}
	states := map[string]int{}
	for _, r := range listAll(t, env) {
		states[r.State]++
	}
	if states["pending"]+states["running"] > 0 || states["cancelled"] == 0 || states["completed"] < 2 {
		t.Errorf("after ctrl-c the batch's executions are %v: want none pending or running, some cancelled, the completed kept", states)
	}
}

// TestDaemonInterruptCancelsRun: ctrl-c on a one-off `signet run` whose
// owner runs in the background cancels that run: the owner would otherwise
// go on with it (and pay its LM calls) for a caller that has left.
func TestDaemonInterruptCancelsRun(t *testing.T) {
	env, ws := daemonEnv(t, "  stuck:\n    model: signet/test\n    cache: false\n    kwargs: {sleep_ms: 600000}\n")
	runQA(t, env, "What is the capital of France?") // leaves the background owner
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	evs, err := api.NewClient(api.SocketPath(ws)).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := start(t, env, "run", "qa", "--lm", "stuck", "--input", "question=Will it ever end?")
	var id model.ID
	for ev := range evs {
		if ev.Kind == app.EventExecution && ev.Execution.State == model.Running && ev.Execution.LM == "stuck" {
			id = ev.Execution.ID
			break
		}
	}
	if id.IsZero() {
		t.Fatalf("the run never started: %v\n%s", ctx.Err(), out)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("an interrupted run exited 0:\n%s", out)
	}
	if !strings.Contains(out.String(), "interrupted: the run is cancelled") {
		t.Errorf("the command does not say it cancelled the run:\n%s", out)
	}
	for ev := range evs {
		if ev.Kind == app.EventExecution && ev.Execution.ID == id && ev.Execution.State.Terminal() {
			if ev.Execution.State != model.Cancelled {
				t.Fatalf("the interrupted run ended %s, want cancelled", ev.Execution.State)
			}
			if st := ownerNow(t, env); !st.Running || !st.Background {
				t.Fatalf("the run was not served by a background owner: %+v", st)
			}
			return
		}
	}
	t.Fatalf("the interrupted run %s did not end: %v", id, ctx.Err())
}

// ownerNow is `signet status --json`.
func ownerNow(t *testing.T, env []string) statusOut {
	t.Helper()
	var st statusOut
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

type statusOut struct {
	Running    bool
	PID        int
	Command    string
	Background bool
	IdleExit   float64    `json:"idle_exit_s"`
	IdleAt     *time.Time `json:"idle_at"`
}

// waitExit waits for process pid, not this test's child, to end: on a
// pidfd, which becomes readable when it does.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // gone already
	}
	if err != nil {
		t.Fatalf("pidfd of %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int((2 * time.Minute).Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("process %d did not end: %v", pid, err)
		}
		return
	}
}

func runQA(t *testing.T, env []string, q string, extra ...string) (string, string) {
	t.Helper()
	out, errOut, code := run(t, env, append([]string{"run", "qa", "--lm", "fast", "--input", "question=" + q}, extra...)...)
	if code != 0 || !strings.Contains(out, "completed") {
		t.Fatalf("run qa: exit %d\n%s\n%s", code, out, errOut)
	}
	return out, errOut
}

func ownerLogText(t *testing.T, ws string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ws, "logs", "owner.log"))
	if err != nil {
		t.Fatalf("the background owner's log: %v", err)
	}
	return string(b)
}

// TestDaemonRunLeavesOwnerStopEndsIt: a one-off run with no owner leaves a
// background owner that the next run uses; `signet stop` ends it (socket,
// owner file and process gone), and says so; a second stop finds none.
func TestDaemonRunLeavesOwnerStopEndsIt(t *testing.T) {
	env, ws := daemonEnv(t, "")
	if st := ownerNow(t, env); st.Running {
		t.Fatalf("an owner runs before any command: %+v", st)
	}
	_, errOut := runQA(t, env, "What is 2+2?")
	if errOut != "" {
		t.Errorf("the first run said on stderr: %s", errOut)
	}
	first := ownerNow(t, env)
	if !first.Running || !first.Background || first.Command != "serve" || first.IdleExit != 600 || first.IdleAt == nil {
		t.Fatalf("after one run: %+v, want a background serve idling out after 600 s", first)
	}
	runQA(t, env, "What is 3+3?")
	if second := ownerNow(t, env); second.PID != first.PID || !second.Background {
		t.Fatalf("the second run's owner %+v, want the first's (pid %d)", second, first.PID)
	}

	out := mustRun(t, env, "stop")
	if want := "stopped the owner of workspace " + ws + ": pid " + itoa(first.PID) + " (signet serve, background)"; !strings.Contains(out, want) {
		t.Errorf("stop said %q, want %q", out, want)
	}
	if api.Alive(first.PID) {
		t.Errorf("owner %d runs after stop returned", first.PID)
	}
	waitExit(t, first.PID)
	for _, p := range []string{api.SocketPath(ws), filepath.Join(ws, api.OwnerName)} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after stop: %v", p, err)
		}
	}
	if out := mustRun(t, env, "stop"); !strings.Contains(out, "no owner running for workspace "+ws) {
		t.Errorf("stop without an owner said %q", out)
	}
	log := ownerLogText(t, ws)
	for _, want := range []string{"serving workspace " + ws + " in the background", "stopped by a signal; exited"} {
		if !strings.Contains(log, want) {
			t.Errorf("owner.log lacks %q:\n%s", want, log)
		}
	}
}

// TestDaemonOff: --no-daemon, SIGNET_NO_DAEMON=1 and owner: background:
// false each leave no owner behind, and the run still works.
func TestDaemonOff(t *testing.T) {
	env, ws := daemonEnv(t, "")
	runQA(t, env, "What is 2+2?", "--no-daemon")
	runQA(t, append(env, "SIGNET_NO_DAEMON=1"), "What is 2+2?")
	if st := ownerNow(t, env); st.Running {
		t.Fatalf("an owner runs after --no-daemon and SIGNET_NO_DAEMON=1: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(ws, "logs", "owner.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a background owner was started: %v", err)
	}

	off, _ := daemonEnv(t, "owner:\n  background: false\n")
	runQA(t, off, "What is 2+2?")
	if st := ownerNow(t, off); st.Running {
		t.Fatalf("an owner runs with owner: background: false: %+v", st)
	}
}

// TestDaemonIdleExit: a background owner with owner: idle_exit: 1s exits on
// its own once nothing happens, and says why in its log.
func TestDaemonIdleExit(t *testing.T) {
	env, ws := daemonEnv(t, "owner:\n  idle_exit: 1s\n")
	runQA(t, env, "What is 2+2?")
	st := ownerNow(t, env)
	if !st.Background || st.IdleExit != 1 {
		t.Fatalf("owner %+v, want a background one with a 1 s idle exit", st)
	}
	waitExit(t, st.PID)
	if _, err := os.Lstat(filepath.Join(ws, api.OwnerName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner.json left after the idle exit: %v", err)
	}
	if log := ownerLogText(t, ws); !strings.Contains(log, "idle for 1s; exited") {
		t.Errorf("owner.log does not say it idled out:\n%s", log)
	}
	if st := ownerNow(t, env); st.Running {
		t.Errorf("an owner still answers: %+v", st)
	}
}

// TestDaemonStartFailsFallsBack: a background owner that cannot start (its
// log directory is a file) leaves the command owning the workspace itself,
// as without background owners, and it says why in one line.
func TestDaemonStartFailsFallsBack(t *testing.T) {
	env, ws := daemonEnv(t, "")
	if err := os.WriteFile(filepath.Join(ws, "logs"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut := runQA(t, env, "What is 2+2?")
	if !strings.Contains(out, "answer: ") {
		t.Errorf("run output: %s", out)
	}
	want := "signet: note: no background owner (the background owner's log: mkdir " + filepath.Join(ws, "logs") + ": not a directory); this command owns the workspace itself\n"
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	if st := ownerNow(t, env); st.Running {
		t.Errorf("an owner runs after the fallback: %+v", st)
	}
}

// TestDaemonRaceOneOwner: two runs started at once on a workspace with no
// owner both complete, through one background owner; the other one started
// leaves without serving.
func TestDaemonRaceOneOwner(t *testing.T) {
	env, ws := daemonEnv(t, "")
	bin := signetBinary(t)
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Go(func() {
			results[i] = runAsync(bin, env, "run", "qa", "--lm", "fast", "--input", "question=What is 2+2?")
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.code != 0 || !strings.Contains(r.out, "completed") {
			t.Fatalf("run %d: %v exit %d\n%s\n%s", i, r.err, r.code, r.out, r.errOut)
		}
	}
	st := ownerNow(t, env)
	if !st.Background {
		t.Fatalf("owner after the race: %+v", st)
	}
	if n := strings.Count(ownerLogText(t, ws), "in the background on"); n != 1 {
		t.Errorf("%d background owners served, want 1:\n%s", n, ownerLogText(t, ws))
	}
}

// TestDaemonLogHoldsNoSecrets: a background owner whose program writes the
// key to its worker's stderr and fails with it keeps it out of owner.log
// and the workspace log.
func TestDaemonLogHoldsNoSecrets(t *testing.T) {
	env, ws := daemonEnv(t, "  paid:\n    model: openai/gpt-4o-mini\n    api_key_env: SIGNET_E2E_PAID_KEY\n")
	env = append(env, "SIGNET_E2E_PAID_KEY="+configKey)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "leaky.py"), []byte(leakyModule), 0o600); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "leaky.yaml")
	if err := os.WriteFile(prog, []byte("name: leaky\nmodules:\n  - name: main\n    type: custom\n    source: leaky.py:Leaky\n    signature: \"question -> answer\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "program", "create", "-f", prog)
	mustRun(t, env, "run", "leaky", "--lm", "fast", "--input", "question=hello")
	run(t, env, "run", "leaky", "--lm", "fast", "--input", "question=boom")
	if st := ownerNow(t, env); !st.Background {
		t.Fatalf("the runs had no background owner: %+v", st)
	}
	mustRun(t, env, "stop")
	log := ownerLogText(t, ws)
	wl, err := os.ReadFile(filepath.Join(ws, "signet.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(wl), "fd2: ") {
		t.Errorf("the worker's stderr did not reach signet.log (redacted):\n%s", wl)
	}
	for name, text := range map[string]string{"owner.log": log, "signet.log": string(wl)} {
		for _, secret := range []string{configKey, shapeKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a secret (%s):\n%s", name, secret[:6], text)
			}
		}
	}
}
