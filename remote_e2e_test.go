package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestRemoteWorkers is issue 21's check with the real binary: an owner
// with an embedded NATS server and no workers of its own, two `signet
// worker --join` pools; a 200-example batch runs on both; one pool is
// killed with SIGKILL mid-batch: every execution completes once (none
// lost, none run twice into the record), and each records the pool that
// ran it.
func TestRemoteWorkers(t *testing.T) {
	// 100 ms per LM call: the batch lasts long enough to kill a pool in it.
	env, url := queueOwner(t, 200, 100, "", "--workers", "0", "--nats-ack-wait", "2s")
	if _, errOut, code := run(t, env, "serve", "--workers", "0"); code != 2 || !strings.Contains(errOut, "--nats-listen") {
		t.Fatalf("serve --workers 0 without a queue: exit %d, %q", code, errOut)
	}

	a := joinPool(t, env, url, "a")
	joinPool(t, env, url, "b")

	batch := exec.Command(signetBinary(t), "run", "qa", "--dataset", "big")
	batch.Env = append(testEnv(t.TempDir()), env...)
	var batchOut strings.Builder
	batch.Stdout, batch.Stderr = &batchOut, &batchOut
	if err := batch.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill pool a once it has ended some of the batch: it is mid-batch,
	// with jobs in hand (two at once).
	for served := 0; served < 20; {
		st := status(t, env)
		for _, p := range st.Remote {
			if p.Name == "a" {
				served = p.Served
			}
		}
	}
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	if err := batch.Wait(); err != nil {
		t.Fatalf("signet run --dataset: %v\n%s", err, batchOut.String())
	}
	if !strings.Contains(batchOut.String(), "completed  200") {
		t.Fatalf("the batch did not complete 200:\n%s", batchOut.String())
	}

	var rows []struct {
		ID, State, Worker string
		Attempts          int
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "exec", "list", "--all", "--limit", "500", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	pools := map[string]int{}
	for _, r := range rows {
		if r.State != "completed" {
			t.Errorf("execution %s: %s", r.ID, r.State)
		}
		pool, _, _ := strings.Cut(r.Worker, "/")
		pools[pool]++
	}
	if len(rows) != 200 {
		t.Fatalf("%d executions for 200 examples", len(rows))
	}
	if pools["a"] == 0 || pools["b"] == 0 || pools["a"]+pools["b"] != 200 {
		t.Fatalf("executions by pool: %v; want both, 200 in all", pools)
	}
	st := status(t, env)
	if st.NATS == nil || !st.NATS.Embedded || st.NATS.Waiting != 0 {
		t.Fatalf("status: the queue: %+v", st.NATS)
	}
	states := map[string]string{}
	for _, p := range st.Remote {
		states[p.Name] = p.State
	}
	if states["b"] != "ready" || (states["a"] != "lost" && states["a"] != "") {
		t.Fatalf("status: pools %v; want b ready, a lost (or forgotten)", states)
	}
	// Jobs a held when it died went to b after the ack wait; each ran once
	// into the record: its one LM call counted once.
	for _, r := range rows {
		if r.Attempts != 1 {
			t.Errorf("execution %s: %d attempts", r.ID, r.Attempts)
		}
	}
	t.Logf("pools %v, %d job(s) redelivered after pool a died", pools, st.NATS.Redelivered)

	// A custom module's code is shipped with the job: pool b runs in a
	// directory of its own, where no qa_module.py is.
	mustRun(t, env, "program", "create", "-f", "examples/custom/program.yaml")
	out2 := mustRun(t, env, "run", "custom_qa", "--input", "question=What is the capital of France?", "--json")
	var x struct{ State, Worker string }
	if err := json.Unmarshal([]byte(out2), &x); err != nil || x.State != "completed" || !strings.HasPrefix(x.Worker, "b/") {
		t.Fatalf("custom_qa on pool b: %v %s", err, out2)
	}
}

// queueOwner makes a workspace with the qa program and a dataset of n
// questions on the test LM (config's profile "slow" of sleepMS per call
// and extra), and serves it with a NATS queue: serve's args, the queue's URL.
func queueOwner(t *testing.T, n, sleepMS int, extra string, serveArgs ...string) (env []string, url string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("cache: \"off\"\nlm: slow\n%sprofiles:\n  slow: {model: signet/test, cache: false, kwargs: {sleep_ms: %d}}\n", extra, sleepMS)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(pythonEnv(t), "SIGNET_HOME="+filepath.Join(dir, "ws"), "SIGNET_CONFIG="+cfg)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	var ds strings.Builder
	for i := range n {
		fmt.Fprintf(&ds, `{"question": "What is the capital of Country%d?", "answer": "Country%d"}`+"\n", i, i)
	}
	data := filepath.Join(dir, "big.jsonl")
	if err := os.WriteFile(data, []byte(ds.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "dataset", "import", data, "--name", "big")
	out, stderr, wait := startServe(t, env, append(serveArgs, "--nats-listen", "127.0.0.1:0")...)
	for url == "" {
		line, err := out.ReadString('\n')
		if err != nil {
			wait()
			t.Fatalf("signet serve ended before its queue was up (%v); stderr %q", err, stderr.String())
		}
		if rest, ok := strings.CutPrefix(line, "job queue: embedded NATS server at "); ok {
			url, _, _ = strings.Cut(rest, ": ")
		}
	}
	go io.Copy(io.Discard, out)
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("the queue's URL: %q", url)
	}
	return env, url
}

type statusJSON struct {
	NATS *struct {
		Embedded    bool
		Waiting     int
		Redelivered int
	}
	Remote []struct {
		Name, State string
		Served      int
	}
}

func status(t *testing.T, env []string) statusJSON {
	t.Helper()
	var st statusJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// joinPool starts `signet worker --join URL --name NAME` with one worker
// and waits until it serves; it is stopped when the test ends.
func joinPool(t testing.TB, env []string, url, name string) *exec.Cmd {
	t.Helper()
	p := startPool(t, env, url, name, 2)
	if err := <-p.ready; err != nil {
		t.Fatal(err)
	}
	return p.cmd
}

// poolProc is a `signet worker --join` process; ready says once whether
// it serves (nil) or why not.
type poolProc struct {
	cmd   *exec.Cmd
	ready chan error
}

// startPool starts `signet worker --join URL --name NAME` with one worker
// running capacity jobs at once, without waiting for it (several start at
// once); it is stopped when the test ends.
func startPool(t testing.TB, env []string, url, name string, capacity int) *poolProc {
	t.Helper()
	// In a directory of its own, with none of the owner's files: user code
	// comes with the jobs.
	cmd, out, errb := startSignet(t, env, t.TempDir(), "worker", "--join", url, "--name", name, "--workers", "1", "--capacity", strconv.Itoa(capacity))
	p := &poolProc{cmd: cmd, ready: make(chan error, 1)}
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "pool "+name+": ") {
			// stdout ended or said something else: the process is ending.
			p.ready <- fmt.Errorf("signet worker --name %s said %q (%v); stderr %q", name, line, err, errb.String())
			return
		}
		p.ready <- nil
		io.Copy(io.Discard, out)
	}()
	return p
}

// TestRemoteAndLocalShareTheQueue: an owner with workers of its own and a
// NATS queue serves it with them as the pool "local", beside a pool that
// joined: one batch runs on both.
func TestRemoteAndLocalShareTheQueue(t *testing.T) {
	env, url := queueOwner(t, 60, 50, "concurrency: 2\n", "--workers", "1")
	joinPool(t, env, url, "remote")
	if o := mustRun(t, env, "run", "qa", "--dataset", "big"); !strings.Contains(o, "completed  60") {
		t.Fatalf("the batch:\n%s", o)
	}
	var rows []struct{ Worker string }
	if err := json.Unmarshal([]byte(mustRun(t, env, "exec", "list", "--all", "--limit", "100", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	pools := map[string]int{}
	for _, r := range rows {
		pool, _, _ := strings.Cut(r.Worker, "/")
		pools[pool]++
	}
	if pools["local"] == 0 || pools["remote"] == 0 || len(rows) != 60 {
		t.Fatalf("executions by pool: %v of %d; want both local and remote", pools, len(rows))
	}
	names := map[string]bool{}
	for _, p := range status(t, env).Remote {
		names[p.Name] = true
	}
	if !names["local"] || !names["remote"] {
		t.Fatalf("status lists pools %v; want local and remote", names)
	}
	if text := mustRun(t, env, "status"); !strings.Contains(text, "pool       remote") || !strings.Contains(text, "pool       local") {
		t.Errorf("signet status lacks the pools:\n%s", text)
	}

	// The workbench's Workers page lists the queue and both pools.
	t.Run("workbench", func(t *testing.T) {
		term := startTUI(t, env, shellQuote(signetBinary(t)))
		term.waitText("Programs", "qa")
		term.keys("5")
		term.waitText("Workers", "queue "+url, "pool local", "pool remote", "ready")
	})
}

// TestRemoteOwnerKilled: the owner is killed with SIGKILL mid-batch while a
// pool serves its queue; a new owner on the same address takes up what the
// first left (the stream emptied, the kernel's recovery queues it again) and
// the pool, which reconnects by itself, runs it: every execution completes
// once.
func TestRemoteOwnerKilled(t *testing.T) {
	env, url := queueOwner(t, 100, 100, "", "--workers", "0", "--nats-ack-wait", "2s")
	var ws string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "SIGNET_HOME="); ok {
			ws = v
		}
	}
	joinPool(t, env, url, "p")
	batch := exec.Command(signetBinary(t), "run", "qa", "--dataset", "big")
	batch.Env = append(testEnv(t.TempDir()), env...)
	if err := batch.Start(); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, ws, 10)
	var st struct{ PID int }
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "--json")), &st); err != nil || st.PID == 0 {
		t.Fatalf("status: %v %+v", err, st)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	batch.Wait() // its owner is gone: it ends with an error

	out, stderr, wait := startServe(t, env, "--workers", "0", "--nats-listen", strings.TrimPrefix(url, "nats://"))
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			wait()
			t.Fatalf("the second owner ended before its queue was up (%v); stderr %q", err, stderr.String())
		}
		if strings.HasPrefix(line, "job queue: ") {
			break
		}
	}
	go io.Copy(io.Discard, out)

	// Every execution completed: those already, and those the stream brings.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs, err := api.NewClient(api.SocketPath(ws)).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	completed := map[string]bool{}
	for _, r := range listAll(t, env) {
		if r.State == "completed" {
			completed[r.ID] = true
		}
	}
	for len(completed) < 100 {
		ev, ok := <-evs
		if !ok {
			break
		}
		if ev.Kind == app.EventExecution && ev.Execution.State == model.Completed {
			completed[ev.Execution.ID.String()] = true
		}
	}
	if len(completed) != 100 {
		t.Fatalf("%d of 100 executions completed (%v)", len(completed), ctx.Err())
	}
	rows := listAll(t, env)
	if len(rows) != 100 {
		t.Fatalf("%d executions for 100 examples", len(rows))
	}
	for _, r := range rows {
		if r.State != "completed" || r.Attempts > 2 {
			t.Errorf("execution %s: %s after %d attempts", r.ID, r.State, r.Attempts)
		}
	}
}
