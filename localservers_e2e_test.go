package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestLocalServersServeABatchWithOneKilled: with `local: {servers: 2}` a
// serving owner warms two llama.cpp servers of the local model; a batch on
// it completes every execution, each in its first attempt, while one server
// is killed mid-batch (the workers' endpoint pool fails its calls over to
// the other and ejects it; the owner restarts it); both servers answered
// calls, and `signet status` and `lm status --json` show them.
func TestLocalServersServeABatchWithOneKilled(t *testing.T) {
	ws, dir := t.TempDir(), t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// Unprimed: two priming prompts would only share the 2 cores with the batch.
	if err := os.WriteFile(cfg, []byte("local:\n  servers: 2\nowner:\n  prime_local: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg, "SIGNET_NO_WARM=0")
	mustRun(t, env, "demo")
	const n = 12
	// Two datasets of distinct questions: no cache answers any of them.
	for _, set := range []struct {
		name  string
		first int
	}{{"both", 0}, {"killed", n}} {
		var data strings.Builder
		for i := set.first; i < set.first+n; i++ {
			fmt.Fprintf(&data, `{"question": "What is %d plus %d?", "answer": "%d"}`+"\n", i, i+1, 2*i+1)
		}
		file := filepath.Join(dir, set.name+".jsonl")
		if err := os.WriteFile(file, []byte(data.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, env, "dataset", "import", file, "--name", set.name)
	}

	serve, serveOut := start(t, env, "serve", "--workers", "2")
	st := waitLocalLMsWhere(t, ws, serveOut, func(ls []app.LocalLM) bool {
		return len(ls) == 2 && ls[0].State == "ready" && ls[1].State == "ready"
	})
	if st.LocalLM == nil || *st.LocalLM != st.LocalLMs[0] || st.LocalLMs[0].PID == st.LocalLMs[1].PID {
		t.Fatalf("local_lm is not the first of local_lms: %+v, %+v", st.LocalLM, st.LocalLMs)
	}
	status := mustRun(t, env, "status")
	for i, l := range st.LocalLMs {
		if want := fmt.Sprintf("local LM %d ready, pid %d", i+1, l.PID); !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}

	cl := api.NewClient(api.SocketPath(ws))
	completed := func(out string) {
		t.Helper()
		var sum struct {
			Total  int
			States map[string]int
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Total != n || sum.States["completed"] != n {
			t.Fatalf("batch: %+v %v\n%s\nserve:\n%s", sum, err, out, serveOut)
		}
	}
	endpoints := func() []app.LMEndpoint {
		t.Helper()
		var lm struct{ Endpoints []app.LMEndpoint }
		if err := json.Unmarshal([]byte(mustRun(t, env, "lm", "status", "--json")), &lm); err != nil || len(lm.Endpoints) != 2 {
			t.Fatalf("lm status: %v %+v", err, lm)
		}
		return lm.Endpoints
	}

	// Both up: each worker's calls take turns between the two servers.
	completed(mustRun(t, env, "run", "qa", "--dataset", "both", "--lm", "local", "--json"))
	for i, e := range endpoints() {
		if e.Profile != "local" || e.APIBase != st.LocalLMs[i].URL || e.Calls == 0 || e.Errors != 0 || e.State != "healthy" {
			t.Errorf("endpoint %d after a batch on both servers: %+v (server %+v)", i+1, e, st.LocalLMs[i])
		}
	}

	// One killed mid-batch: the other answers every call.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a failure's bound
	defer cancel()
	evs, err := cl.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch, batchOut := start(t, env, "run", "qa", "--dataset", "killed", "--lm", "local", "--json")
	killed, ended := st.LocalLMs[0].PID, map[model.ID]bool{}
	for ev := range evs {
		if ev.Kind != app.EventExecution || ev.Execution == nil || !ev.Execution.State.Terminal() || ended[ev.Execution.ID] {
			continue
		}
		if len(ended) == 0 {
			// The first execution ended: the rest of the batch runs with one server gone.
			if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		if ended[ev.Execution.ID] = true; len(ended) == n {
			break
		}
	}
	if err := batch.Wait(); err != nil {
		t.Fatalf("the batch: %v\n%s\nserve:\n%s", err, batchOut, serveOut)
	}
	completed(batchOut.String())
	page, err := cl.ListExecutions(context.Background(), app.ExecutionQuery{Program: "qa", Limit: 100})
	if err != nil || len(page.Executions) != 2*n {
		t.Fatalf("executions: %v %d", err, len(page.Executions))
	}
	for _, x := range page.Executions {
		if x.State != model.Completed || x.Attempts != 1 {
			t.Errorf("execution %s: %s in %d attempts (the pool, not a retry of the execution, should fail over)", x.ID, x.State, x.Attempts)
		}
	}

	// The killed server came back on its own; the endpoints show what each served.
	st = waitLocalLMsWhere(t, ws, serveOut, func(ls []app.LocalLM) bool {
		return len(ls) == 2 && ls[0].State == "ready" && ls[0].PID != killed && ls[0].Restarts == 1
	})
	calls := 0
	for _, e := range endpoints() {
		calls += e.Calls
	}
	if calls != 2*n {
		t.Errorf("the endpoints answered %d calls, want %d (one per execution of both batches)", calls, 2*n)
	}
	t.Logf("endpoints after the batch with server 1 killed: %+v", endpoints())
	stopServe(t, serve, serveOut, ws)
	for _, pid := range []int{st.LocalLMs[0].PID, st.LocalLMs[1].PID} {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("the local LM server pid %d outlived its owner", pid)
		}
	}
}

// BenchmarkLocalServers: a batch of distinct questions on the local model
// through `signet serve --workers 2`, with its model on 1 llama.cpp server
// (every core its thread) and on 2 (half the cores each); unprimed, warmed
// before the clock starts. BENCHMARKS.md, "The local model on several servers".
func BenchmarkLocalServers(b *testing.B) {
	const n = 24
	for _, servers := range []int{1, 2} {
		b.Run(fmt.Sprintf("servers=%d", servers), func(b *testing.B) {
			ws, dir := b.TempDir(), b.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			body := fmt.Sprintf("local:\n  servers: %d\nowner:\n  prime_local: false\n", servers)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				b.Fatal(err)
			}
			env := append(pythonEnv(b), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg, "SIGNET_NO_WARM=0")
			mustRun(b, env, "demo")
			for i := range b.N { // distinct questions in every round: DSPy's cache answers none
				var data strings.Builder
				for j := range n {
					fmt.Fprintf(&data, `{"question": "What is %d plus %d?"}`+"\n", i*n+j, 7)
				}
				file := filepath.Join(dir, fmt.Sprintf("round%d.jsonl", i))
				if err := os.WriteFile(file, []byte(data.String()), 0o600); err != nil {
					b.Fatal(err)
				}
				mustRun(b, env, "dataset", "import", file, "--name", fmt.Sprintf("round%d", i))
			}
			serve, out := start(b, env, "serve", "--workers", "2")
			waitLocalLMsWhere(b, ws, out, func(ls []app.LocalLM) bool {
				return len(ls) == servers && !slices.ContainsFunc(ls, func(l app.LocalLM) bool { return l.State != "ready" })
			})
			b.ResetTimer()
			for i := range b.N {
				res := mustRun(b, env, "run", "qa", "--dataset", fmt.Sprintf("round%d", i), "--lm", "local", "--json", "--no-cache")
				var sum struct{ States map[string]int }
				if err := json.Unmarshal([]byte(res), &sum); err != nil || sum.States["completed"] != n {
					b.Fatalf("round %d: not every execution completed: %v\n%s", i, err, res)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "exec/s")
			b.ReportMetric(0, "ns/op")
			serve.Process.Signal(syscall.SIGTERM)
			if err := serve.Wait(); err != nil {
				b.Fatalf("serve: %v\n%s", err, out)
			}
		})
	}
}
