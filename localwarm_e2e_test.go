package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestServeWarmsLocalLM: with the local model as the default profile, a
// serving owner starts the model's server with its workers, before any run
// asks for it, so the first call does not wait for the model to load; that
// call then uses the same server, and stopping the owner stops it.
func TestServeWarmsLocalLM(t *testing.T) {
	ws := t.TempDir()
	env := append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"), "SIGNET_NO_WARM=0")
	mustRun(t, env, "demo")
	cmd, out := start(t, env, "serve", "--workers", "1")
	st := waitLocalLM(t, ws, out)
	if st.LocalLM.PID == 0 || st.LocalLM.URL == "" || st.LM != "local" {
		t.Fatalf("warmed local LM: %+v (default profile %q)", st.LocalLM, st.LM)
	}
	warmed := st.LocalLM.PID

	res, errOut, code := run(t, env, "run", "sentiment", "--json", "--input", "review=I love this blender.")
	if code != 0 {
		t.Fatalf("run on the warmed local LM: exit %d\n%s\n%s", code, res, errOut)
	}
	var x struct{ State, LM string }
	if err := json.Unmarshal([]byte(res), &x); err != nil || x.State != "completed" || x.LM != "local" {
		t.Fatalf("run: %v %+v\n%s", err, x, res)
	}
	after, err := api.NewClient(api.SocketPath(ws)).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.LocalLM == nil || after.LocalLM.PID != warmed || after.LocalLM.Restarts != 0 {
		t.Fatalf("the run did not use the warmed server (pid %d): %+v", warmed, after.LocalLM)
	}
	stopServe(t, cmd, out, ws)
	if err := syscall.Kill(warmed, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the local LM server (pid %d) outlived its owner: %v", warmed, err)
	}
}

// TestServePrimesLocalLM: once the warmed server serves, the owner primes it
// with the first prompt of the program most likely to run next (a fresh
// workspace: the demo's qa), so that the first run's prompt is mostly taken
// from llama.cpp's prefix cache: the server's own count of the tokens it
// reused says so. Priming is no execution, and a restarted server is
// primed again, with the program of the newest run on the local model.
func TestServePrimesLocalLM(t *testing.T) {
	ws := t.TempDir()
	env := append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"), "SIGNET_NO_WARM=0")
	mustRun(t, env, "demo")
	cmd, out := start(t, env, "serve", "--workers", "1")
	st := waitLocalLM(t, ws, out)
	if st.LocalLM.Primed != "qa v1" {
		t.Fatalf("the local LM is ready but not primed with qa v1: %+v\n%s", st.LocalLM, out)
	}
	first := st.LocalLM.PID

	res, errOut, code := run(t, env, "run", "qa", "--lm", "local", "--json", "--input", "question=What is the capital of Peru?")
	if code != 0 {
		t.Fatalf("run on the primed local LM: exit %d\n%s\n%s", code, res, errOut)
	}
	var x model.Execution
	if err := json.Unmarshal([]byte(res), &x); err != nil || x.State != model.Completed || len(x.Usage) != 1 {
		t.Fatalf("run: %v %+v\n%s", err, x, res)
	}
	cl := api.NewClient(api.SocketPath(ws))
	page, err := cl.ListExecutions(context.Background(), app.ExecutionQuery{})
	if err != nil || len(page.Executions) != 1 {
		t.Fatalf("executions after priming and one run: %v %+v", err, page)
	}

	// A restarted server (its process killed) is primed again; waiting for
	// it also waits for the first process's output to be in the log.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	again := waitLocalLMWhere(t, ws, out, func(l *app.LocalLM) bool { return l.Restarts == 1 && l.State == "ready" })
	if again.LocalLM.Primed != "qa v1" || again.LocalLM.PID == first {
		t.Fatalf("the restarted local LM: %+v", again.LocalLM)
	}
	stopServe(t, cmd, out, ws)

	log, err := os.ReadFile(filepath.Join(ws, "signet.log"))
	if err != nil {
		t.Fatal(err)
	}
	prompts := promptCounts(string(log), first)
	if len(prompts) != 2 {
		t.Fatalf("pid %d: want the prompt counts of the priming and of the run, got %v\n%s", first, prompts, log)
	}
	if prompts[0][0] != 0 {
		t.Errorf("the priming reused %d tokens of an earlier prompt: there was none", prompts[0][0])
	}
	var usage model.Usage
	for _, u := range x.Usage {
		usage = u
	}
	reused, evaluated := prompts[1][0], prompts[1][1]
	if reused+evaluated != usage.PromptTokens || reused <= evaluated {
		t.Errorf("the first run's prompt (%d tokens): %d reused from the priming, %d evaluated; want most of it reused",
			usage.PromptTokens, reused, evaluated)
	}
	for _, pid := range []int{first, again.LocalLM.PID} {
		if !strings.Contains(string(log), fmt.Sprintf("locallm pid %d: primed with the first prompt of qa v1 (", pid)) {
			t.Errorf("no priming of pid %d in the log:\n%s", pid, log)
		}
	}
}

// promptCounts are the server pid's "signet: prompt:" lines in the log, in
// order: the tokens reused from the previous prompt and those evaluated.
func promptCounts(log string, pid int) [][2]int {
	re := regexp.MustCompile(`locallm pid ` + strconv.Itoa(pid) + `: signet: prompt: (\d+) tokens reused, (\d+) evaluated`)
	var out [][2]int
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		r, _ := strconv.Atoi(m[1])
		e, _ := strconv.Atoi(m[2])
		out = append(out, [2]int{r, e})
	}
	return out
}

// waitLocalLM waits on the owner's event stream until its local LM server
// is ready (a pool event carries its state as it changes); a priming
// server is ready once primed.
func waitLocalLM(t *testing.T, ws string, out interface{ String() string }) *app.Status {
	t.Helper()
	return waitLocalLMWhere(t, ws, out, func(l *app.LocalLM) bool { return l.State == "ready" })
}

// waitLocalLMWhere waits on the owner's event stream until its (first)
// local LM server's state satisfies ok.
func waitLocalLMWhere(t *testing.T, ws string, out interface{ String() string }, ok func(*app.LocalLM) bool) *app.Status {
	t.Helper()
	return waitLocalLMsWhere(t, ws, out, func(ls []app.LocalLM) bool { return len(ls) > 0 && ok(&ls[0]) })
}

// waitLocalLMsWhere waits on the owner's event stream (a pool event
// carries the local LM servers' states as they change) until they satisfy
// ok; a server that failed to start fails the test.
func waitLocalLMsWhere(t testing.TB, ws string, out interface{ String() string }, ok func([]app.LocalLM) bool) *app.Status {
	t.Helper()
	waitOwner(t, ws, false)
	cl := api.NewClient(api.SocketPath(ws))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a failure's bound
	defer cancel()
	evs, err := cl.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range evs {
		if ev.Kind != app.EventPool {
			continue
		}
		if ok(ev.Pool.LocalLMs) {
			st, err := cl.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		for i, l := range ev.Pool.LocalLMs {
			if l.State == "failed" {
				t.Fatalf("local LM server %d failed to start: %+v\n%s", i+1, l, out)
			}
		}
	}
	t.Fatalf("no local LM as waited for within 2 minutes (%v)\n%s", ctx.Err(), out)
	return nil
}
