package main

import (
	"context"
	"encoding/json"
	"fmt"
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

// reliabilityEnv is a workspace with a one-module program over a dataset of
// n questions, and a config whose profiles are the test LM with a sleep
// (time to kill something mid-run) or a poison input that crashes workers.
func reliabilityEnv(t *testing.T, n int) ([]string, string) {
	t.Helper()
	env := pythonEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(`cache: "off"
profiles:
  slow:
    model: signet/test
    cache: false
    kwargs: {sleep_ms: 100}
  poison:
    model: signet/test
    cache: false
    kwargs: {crash_on: "poison"}
`), 0o600)
	var data strings.Builder
	for i := 0; i < n; i++ {
		q := fmt.Sprintf("What is the name of item %d?", i)
		if i == 7 {
			q = "What is the poison of item 7?"
		}
		fmt.Fprintf(&data, "{\"question\": %q, \"answer\": \"%d\"}\n", q, i)
	}
	dataFile := filepath.Join(dir, "items.jsonl")
	os.WriteFile(dataFile, []byte(data.String()), 0o600)
	env = append(env, "SIGNET_HOME="+filepath.Join(dir, "ws"), "SIGNET_CONFIG="+cfg)
	for _, args := range [][]string{{"init"}, {"program", "create", "-f", "examples/qa.yaml"}, {"dataset", "import", dataFile, "--inputs", "question"}} {
		if out, errOut, code := run(t, env, args...); code != 0 {
			t.Fatalf("signet %v: %d %s %s", args, code, out, errOut)
		}
	}
	return env, filepath.Join(dir, "ws")
}

// waitCompleted follows the events of the workspace's owner (the command
// under test) until n executions have completed: the batch is then under way.
func waitCompleted(t *testing.T, ws string, n int) {
	t.Helper()
	waitOwner(t, ws, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs, err := api.NewClient(api.SocketPath(ws)).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for ev := range evs {
		if ev.Kind == app.EventExecution && ev.Execution.State == model.Completed {
			if done++; done == n {
				return
			}
		}
	}
	t.Fatalf("%d executions completed before the stream ended (%v)", done, ctx.Err())
}

type execJSON struct {
	ID       string
	State    string
	Attempts int
	Error    string
	Created  string `json:"created_at"`
}

func listAll(t testing.TB, env []string) []execJSON {
	t.Helper()
	out, errOut, code := run(t, env, "exec", "list", "--all", "--json")
	if code != 0 {
		t.Fatalf("exec list: %d %s", code, errOut)
	}
	var rows []execJSON
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("exec list --json: %v", err)
	}
	return rows
}

// start runs the binary in the background.
func start(t testing.TB, env []string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(signetBinary(t), args...)
	cmd.Env = append(testEnv(t.TempDir()), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// workerPIDs lists the Python workers the process pid started: its
// children running signet_worker, or, on Linux, the children of its zygote
// (which fork leaves with the zygote's command line).
func workerPIDs(pid int) []int {
	var pids []int
	for _, child := range pgrepChildren(pid, "signet_worker") {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/cmdline")
		if strings.Contains(string(cmdline), "signet_worker.zygote") {
			pids = append(pids, pgrepChildren(child, "signet_worker")...)
		} else {
			pids = append(pids, child)
		}
	}
	return pids
}

// pgrepChildren lists pid's children whose command line matches pattern.
func pgrepChildren(pid int, pattern string) []int {
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid), "-f", pattern).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func TestKillWorkerMidBatchLosesNothing(t *testing.T) {
	env, ws := reliabilityEnv(t, 100)
	cmd, out := start(t, env, "run", "qa", "--dataset", "items", "--lm", "slow", "--workers", "2", "--concurrency", "8")
	waitCompleted(t, ws, 8) // the batch is under way, both workers busy
	pids := workerPIDs(cmd.Process.Pid)
	if len(pids) < 2 {
		cmd.Process.Kill()
		t.Fatalf("workers: %v\n%s", pids, out)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("batch: %v\n%s", err, out)
	}
	rows := listAll(t, env)
	if len(rows) != 100 {
		t.Fatalf("%d executions, want 100", len(rows))
	}
	retried := 0
	for _, r := range rows {
		if r.State != "completed" {
			t.Errorf("execution %s %s: %s", r.ID, r.State, r.Error)
		}
		if r.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("no execution was retried: was the worker killed mid-request?\n%s", out)
	}
	if !strings.Contains(out.String(), "completed  100") {
		t.Errorf("summary: %s", out)
	}
}

func TestKillSignetMidBatchThenResume(t *testing.T) {
	env, ws := reliabilityEnv(t, 1000)
	cmd, out := start(t, env, "run", "qa", "--dataset", "items", "--lm", "slow", "--workers", "2", "--concurrency", "32")
	waitCompleted(t, ws, 300) // about a third of the batch
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	before := listAll(t, env)
	if len(before) != 1000 {
		t.Fatalf("%d executions after the kill, want 1000 (the batch is written before it runs)", len(before))
	}
	done := map[string]execJSON{}
	states := map[string]int{}
	for _, r := range before {
		states[r.State]++
		if r.State == "completed" {
			done[r.ID] = r
		}
	}
	if len(done) == 0 || len(done) == 1000 {
		t.Fatalf("kill was not mid-batch: %v\n%s", states, out)
	}

	o, errOut, code := run(t, env, "exec", "resume", "--workers", "2", "--concurrency", "32")
	if code != 0 {
		t.Fatalf("resume: %d %s %s", code, o, errOut)
	}
	after := listAll(t, env)
	if len(after) != 1000 {
		t.Fatalf("%d executions after resume, want 1000", len(after))
	}
	for _, r := range after {
		switch r.State {
		case "completed":
		case "failed":
			if r.Error == "" {
				t.Errorf("execution %s failed without a reason", r.ID)
			}
		default:
			t.Errorf("execution %s still %s after resume", r.ID, r.State)
		}
		if prev, ok := done[r.ID]; ok && (r.State != "completed" || r.Attempts != prev.Attempts) {
			t.Errorf("completed execution %s ran again: %+v → %+v", r.ID, prev, r)
		}
	}
	t.Logf("before resume %v; %d completed kept as they were", states, len(done))
}

func TestPoisonInputFailsAfterThreeAttempts(t *testing.T) {
	env, _ := reliabilityEnv(t, 20)
	out, errOut, code := run(t, env, "run", "qa", "--dataset", "items", "--lm", "poison", "--workers", "2", "--json")
	if code != 0 {
		t.Fatalf("batch: %d %s %s", code, out, errOut)
	}
	rows := listAll(t, env)
	if len(rows) != 20 {
		t.Fatalf("%d executions, want 20", len(rows))
	}
	failed := 0
	for _, r := range rows {
		if r.State == "failed" {
			failed++
			if r.Attempts != 3 || !strings.Contains(r.Error, "worker_died") {
				t.Errorf("poisoned execution: attempts %d, error %q; want 3 attempts, worker_died", r.Attempts, r.Error)
			}
		} else if r.State != "completed" {
			t.Errorf("execution %s: %s", r.ID, r.State)
		}
	}
	if failed != 1 {
		t.Errorf("%d failed executions, want exactly the poisoned one", failed)
	}
}
