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

// BenchmarkSoak is issue 16's soak: 10,000 executions of qa on the test LM
// (priced like a hosted model) at concurrency 32, a worker killed every
// 500 executions, the owner killed once (at half way) and the batch
// resumed by the next owner, under a workspace cap set to run out before
// the end. It reports executions lost (an execution that never ended) and
// duplicated (a record beyond one per example, or an execution that ended
// completed twice), the owners' RSS growth, and the month's spend against
// the cap. Run it alone: `go test -run '^$' -bench BenchmarkSoak -benchtime 1x .`
func BenchmarkSoak(b *testing.B) {
	n := 10000
	if s := os.Getenv("SIGNET_SOAK_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const killEvery, slots = 500, 32
	env := pythonEnv(b)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(`cache: "off"
profiles:
  priced:
    model: signet/test
    cache: false
    price_in: 3
    price_out: 15
`), 0o600)
	ws := filepath.Join(dir, "ws")
	env = append(env, "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg)
	writeItems := func(name string, count int) string {
		var data strings.Builder
		for i := range count {
			fmt.Fprintf(&data, "{\"question\": \"What is the name of %s item %d?\", \"answer\": \"%d\"}\n", name, i, i)
		}
		p := filepath.Join(dir, name+".jsonl")
		os.WriteFile(p, []byte(data.String()), 0o600)
		return p
	}
	for _, args := range [][]string{{"init"}, {"program", "create", "-f", "examples/qa.yaml"},
		{"dataset", "import", writeItems("calib", 50), "--inputs", "question"},
		{"dataset", "import", writeItems("items", n), "--inputs", "question"}} {
		if out, errOut, code := run(b, env, args...); code != 0 {
			b.Fatalf("signet %v: %d %s %s", args, code, out, errOut)
		}
	}
	// The cap: what 50 executions cost, plus 95% of the batch at that rate.
	if out, errOut, code := run(b, env, "run", "qa", "--dataset", "calib", "--lm", "priced", "--workers", "2"); code != 0 {
		b.Fatalf("calibration: %d %s %s", code, out, errOut)
	}
	calib := monthSpend(b, env)
	perExec := calib / 50
	limit := calib + perExec*float64(n)*0.95
	mustRun(b, env, "cost", "--set-budget", strconv.FormatFloat(limit, 'f', 6, 64))

	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
		completedTwice, workerKills := 0, 0
		completed := map[string]bool{}
		var rss []string
		// follow counts the ends the owner reports, kills a worker every
		// killEvery, and stops at stopAt ends (0: when the stream ends).
		follow := func(owner *exec.Cmd, ended, stopAt int) int {
			waitOwner(b, ws, true)
			evs, err := api.NewClient(api.SocketPath(ws)).Subscribe(ctx)
			if err != nil {
				b.Fatal(err)
			}
			samples := []string{strconv.Itoa(rssKiB(owner.Process.Pid) / 1024)}
			for ev := range evs {
				if ev.Kind != app.EventExecution || !ev.Execution.State.Terminal() {
					continue
				}
				id := ev.Execution.ID.String()
				if completed[id] && ev.Execution.State == model.Completed {
					completedTwice++
				}
				completed[id] = completed[id] || ev.Execution.State == model.Completed
				ended++
				if ended%killEvery == 0 {
					samples = append(samples, strconv.Itoa(rssKiB(owner.Process.Pid)/1024))
					if pids := workerPIDs(owner.Process.Pid); len(pids) > 0 {
						syscall.Kill(pids[0], syscall.SIGKILL)
						workerKills++
					}
				}
				if stopAt > 0 && ended >= stopAt {
					break
				}
			}
			rss = append(rss, strings.Join(samples, " "))
			return ended
		}
		t0 := time.Now()
		first, out1 := start(b, env, "run", "qa", "--dataset", "items", "--lm", "priced", "--workers", "2", "--concurrency", strconv.Itoa(slots))
		ended := follow(first, 0, n/2)
		first.Process.Signal(syscall.SIGKILL)
		first.Wait()
		ended = 0
		for _, r := range listAll(b, env) {
			if r.State == "completed" || r.State == "failed" || r.State == "cancelled" {
				ended++
			}
		}
		ended -= 50 // the calibration's
		second, out2 := start(b, env, "exec", "resume", "--workers", "2", "--concurrency", strconv.Itoa(slots))
		follow(second, ended, 0)
		if err := second.Wait(); err != nil {
			b.Logf("resume: %v (executions refused by the cap fail the batch)\n%s", err, tail(out2.String(), 400))
		}
		elapsed := time.Since(t0)
		cancel()

		rows := listAll(b, env)
		lost, failedOther, refused := 0, 0, 0
		states := map[string]int{}
		for _, r := range rows {
			states[r.State]++
			switch {
			case r.State != "completed" && r.State != "failed":
				lost++
			case r.State == "failed" && strings.Contains(strings.ToLower(r.Error), "budget"):
				refused++
			case r.State == "failed":
				failedOther++
			}
		}
		duplicated := max(0, len(rows)-(n+50)) + completedTwice
		spent := monthSpend(b, env)
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(duplicated), "duplicated")
		b.ReportMetric(float64(refused), "refused-by-cap")
		b.ReportMetric(float64(failedOther), "failed-other")
		b.ReportMetric(spent, "spent-usd")
		b.ReportMetric(limit, "cap-usd")
		b.ReportMetric((spent-limit)/perExec, "overshoot-executions")
		b.ReportMetric(float64(workerKills), "worker-kills")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "exec/s")
		b.Logf("states %v; owners' RSS MiB (at the start, then every %d ends) %q; spent $%.6f of $%.6f ($%.6f per execution)",
			states, killEvery, rss, spent, limit, perExec)
		if lost > 0 || duplicated > 0 {
			b.Errorf("lost %d, duplicated %d\nfirst owner:\n%s", lost, duplicated, tail(out1.String(), 2000))
		}
	}
}

// monthSpend is the workspace's spend this month, from `signet cost --json`.
func monthSpend(b *testing.B, env []string) float64 {
	b.Helper()
	var rep struct{ Total float64 }
	if err := json.Unmarshal([]byte(mustRun(b, env, "cost", "--json")), &rep); err != nil {
		b.Fatal(err)
	}
	return rep.Total
}

// rssKiB is a process's resident set (VmRSS), 0 when unknown.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
