package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// BenchmarkRemotePools is issue 21's simulation (docs/scale.md): one owner
// with an embedded NATS server and no workers of its own (`serve
// --workers 0 --nats-listen 127.0.0.1:0 --nats-ack-wait 2s`), N `signet
// worker --join` processes of one Python worker taking 4 jobs at once, and
// a batch of qa on the test LM sleeping 200 ms a call. For each N it
// reports executions/s against the ideal (N × 4 jobs / (0.2 s × the LM
// calls an execution makes, measured)) and against the local pool (the
// same owner without NATS: `serve --workers N --concurrency 4N`, the same
// batch size, measured in the same run), the CPU per execution of the
// owner, the pools' Go processes and the Python workers on each side, how
// busy the machine was (everyone's work: it is shared), and the
// redelivery time: one pool killed with SIGKILL a quarter into a second
// batch, from the kill to the end of the last execution that was running
// then (the killed pool's jobs, run again by another pool after the ack
// wait). Batches last about 8 s (throughput) and 5 s (the kill) at the
// ideal rate, so the whole run takes a few minutes:
//
//	SIGNET_PYTHON=$PY go test -count=1 -run '^$' -bench BenchmarkRemotePools -benchtime 1x -timeout 30m .
//
// SIGNET_BENCH_POOLS=2,4 picks other sizes.
func BenchmarkRemotePools(b *testing.B) {
	const (
		capacity = 4   // jobs at once per pool (one Python worker, 8 threads)
		callS    = 0.2 // the test LM's sleep per call
		ackWait  = 2 * time.Second
		batchS   = 8 // ideal seconds of a throughput batch
		killS    = 5 // ideal seconds of the batch a pool is killed in
	)
	sizes := []int{2, 4, 8}
	if s := os.Getenv("SIGNET_BENCH_POOLS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 {
				b.Fatalf("SIGNET_BENCH_POOLS=%q: want sizes of 2 or more, comma-separated", s)
			}
			sizes = append(sizes, n)
		}
	}
	env := pythonEnv(b)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("cache: \"off\"\nlm: slow\nprofiles:\n  slow: {model: signet/test, cache: false, kwargs: {sleep_ms: 200}}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	w := perfWS{ws: filepath.Join(dir, "ws")}
	w.env = append(env, "SIGNET_HOME="+w.ws, "SIGNET_CONFIG="+cfg)
	mustRun(b, w.env, "init")
	mustRun(b, w.env, "program", "create", "-f", "examples/qa.yaml")
	// Every question is asked once in the whole run: nothing is answered
	// from a cache.
	sizeOf := map[string]int{}
	dataset := func(name string, n int) {
		sizeOf[name] = n
		var data strings.Builder
		for i := range n {
			fmt.Fprintf(&data, "{\"question\": \"What is the capital of %s country %d?\", \"answer\": \"%d\"}\n", name, i, i)
		}
		p := filepath.Join(dir, name+".jsonl")
		if err := os.WriteFile(p, []byte(data.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		mustRun(b, w.env, "dataset", "import", p, "--inputs", "question", "--name", name)
	}
	ideal := func(n int) float64 { return float64(n*capacity) / callS } // executions/s at one call each
	for _, n := range sizes {
		for _, side := range []string{"remote", "local"} {
			dataset(fmt.Sprintf("warm-%s-%d", side, n), 2*n*capacity)
			dataset(fmt.Sprintf("batch-%s-%d", side, n), int(ideal(n)*batchS))
		}
		dataset(fmt.Sprintf("kill-%d", n), int(ideal(n)*killS))
	}

	for _, n := range sizes {
		b.Run(fmt.Sprintf("pools=%d", n), func(b *testing.B) {
			for b.Loop() {
				load := loadAvg()
				// Over NATS: the owner, then the pools, all at once.
				s := serve(b, w, 0, "--workers", "0", "--nats-listen", "127.0.0.1:0", "--nats-ack-wait", ackWait.String())
				st, err := s.cl.Status(context.Background())
				if err != nil || st.NATS == nil {
					s.stop(b)
					b.Fatalf("status of the owner with a queue: %+v (%v)", st, err)
				}
				var pools []*poolProc
				for i := range n {
					pools = append(pools, startPool(b, w.env, st.NATS.URL, fmt.Sprintf("p%d", i+1), capacity))
				}
				for _, p := range pools {
					if err := <-p.ready; err != nil {
						b.Fatal(err)
					}
				}
				waitCapacity(b, s.cl, n*capacity)
				var poolPIDs, poolWorkers []int
				for _, p := range pools {
					poolPIDs = append(poolPIDs, p.cmd.Process.Pid)
					poolWorkers = append(poolWorkers, workerTree(p.cmd.Process.Pid)...)
				}
				warm := fmt.Sprintf("warm-remote-%d", n)
				followBatch(b, s.cl, w.env, warm, sizeOf[warm], nil)
				ds := fmt.Sprintf("batch-remote-%d", n)
				remote := measureBatch(b, s.cl, w.env, ds, sizeOf[ds], s.cmd.Process.Pid, poolPIDs, poolWorkers)

				// A pool killed a quarter into a batch: the executions running then
				// end when the killed pool's jobs have run again elsewhere.
				before, err := s.cl.Status(context.Background())
				if err != nil || before.NATS == nil {
					b.Fatalf("status before the kill: %+v (%v)", before, err)
				}
				victim := pools[0]
				ds = fmt.Sprintf("kill-%d", n)
				kill := followBatch(b, s.cl, w.env, ds, sizeOf[ds], func() {
					victim.cmd.Process.Signal(syscall.SIGKILL)
				})
				victim.cmd.Wait()
				after, err := s.cl.Status(context.Background())
				if err != nil || after.NATS == nil {
					b.Fatalf("status after the kill: %+v (%v)", after, err)
				}
				redelivered := after.NATS.Redelivered - before.NATS.Redelivered
				if redelivered == 0 {
					b.Errorf("pool p1 was killed mid-batch but no job was redelivered")
				}
				if kill.dup > 0 || kill.completed != sizeOf[ds] {
					b.Errorf("the batch a pool was killed in: %d of %d completed, %d completed twice", kill.completed, sizeOf[ds], kill.dup)
				}
				for _, p := range pools {
					p.cmd.Process.Signal(syscall.SIGTERM)
					p.cmd.Wait()
				}
				s.stop(b)

				// The local pool: the same owner, N workers of its own, no NATS.
				s = serve(b, w, n, "--workers", strconv.Itoa(n), "--concurrency", strconv.Itoa(n*capacity))
				warm = fmt.Sprintf("warm-local-%d", n)
				followBatch(b, s.cl, w.env, warm, sizeOf[warm], nil)
				ds = fmt.Sprintf("batch-local-%d", n)
				local := measureBatch(b, s.cl, w.env, ds, sizeOf[ds], s.cmd.Process.Pid, nil, workerTree(s.cmd.Process.Pid))
				s.stop(b)

				idealRate := ideal(n) / remote.callsPerExec
				b.ReportMetric(remote.rate, "exec/s")
				b.ReportMetric(idealRate, "ideal-exec/s")
				b.ReportMetric(remote.rate/idealRate, "of-ideal")
				b.ReportMetric(local.rate, "local-exec/s")
				b.ReportMetric(remote.rate/local.rate, "of-local")
				b.ReportMetric(kill.redelivery.Seconds(), "redelivery-s")
				b.ReportMetric(float64(redelivered), "redelivered")
				b.ReportMetric(remote.ownerMS, "owner-cpu-ms/exec")
				b.ReportMetric(local.ownerMS, "local-owner-cpu-ms/exec")
				b.ReportMetric(remote.poolsMS, "pools-go-cpu-ms/exec")
				b.ReportMetric(remote.workersMS, "workers-cpu-ms/exec")
				b.ReportMetric(local.workersMS, "local-workers-cpu-ms/exec")
				b.ReportMetric(remote.cores, "cores")
				b.ReportMetric(local.cores, "local-cores")
				b.ReportMetric(remote.busy*100, "machine-busy-%")
				b.ReportMetric(local.busy*100, "local-machine-busy-%")
				b.Logf("N=%d (load average %s before): over NATS %.1f exec/s (%d in %v, %.2f LM calls each), ideal %.1f, local pool %.1f exec/s; "+
					"CPU per execution: owner %.2f ms, pools' Go processes %.2f ms, Python workers %.2f ms, %.2f cores in all (local: owner %.2f ms, workers %.2f ms, %.2f cores); "+
					"machine busy %.0f%% of its %d cores (local %.0f%%); "+
					"kill: %d running at the kill, %d redelivered, the last ended %.2f s after the kill (ack wait %v)",
					n, load, remote.rate, remote.completed, remote.wall.Round(time.Millisecond), remote.callsPerExec, idealRate, local.rate,
					remote.ownerMS, remote.poolsMS, remote.workersMS, remote.cores, local.ownerMS, local.workersMS, local.cores, remote.busy*100, runtime.NumCPU(), local.busy*100,
					kill.runningAtKill, redelivered, kill.redelivery.Seconds(), ackWait)
				b.Logf("N=%d: the executions running at the kill ended on %s", n, strings.Join(kill.afterKill, ", "))
			}
		})
	}
}

// waitCapacity waits until the owner counts want jobs at once among the
// pools it hears from (each says its capacity in its heartbeats, the
// first before it pulls).
func waitCapacity(b *testing.B, cl *api.Client, want int) {
	b.Helper()
	deadline := time.Now().Add(time.Minute) // a failure's bound, not a wait
	for {
		st, err := cl.Status(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for _, p := range st.Remote {
			if p.State == "ready" {
				got += p.Capacity
			}
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the owner counts %d jobs at once among its pools, want %d: %+v", got, want, st.Remote)
		}
	}
}

// batch is what followBatch saw of one `signet run qa --dataset`.
type batch struct {
	completed, dup int
	calls          int // LM calls of the completed executions
	wall           time.Duration
	// runningAtKill executions were running when kill was called; the last
	// of them ended redelivery after it.
	runningAtKill int
	redelivery    time.Duration
	afterKill     []string // how each of those ended: "worker seconds-after-the-kill"
}

// followBatch runs `signet run qa --dataset ds` (size examples) as a
// client of the owner and follows its executions on the owner's event
// stream until size have ended and the command has exited. kill, when
// given, is called once a quarter of them have ended.
func followBatch(b *testing.B, cl *api.Client, env []string, ds string, size int, kill func()) batch {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs, err := cl.Subscribe(app.WithoutSpans(ctx))
	if err != nil {
		b.Fatalf("following the owner's events: %v", err)
	}
	t0 := time.Now()
	cmd, out := start(b, env, "run", "qa", "--dataset", ds)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var bt batch
	ended, running := map[model.ID]bool{}, map[model.ID]bool{}
	var atKill map[model.ID]bool
	var killed time.Time
	for exited != nil || len(ended) < size {
		select {
		case err := <-exited:
			bt.wall = time.Since(t0)
			if err != nil {
				b.Fatalf("signet run qa --dataset %s: %v\n%s", ds, err, out)
			}
			exited = nil
		case ev, ok := <-evs:
			if !ok {
				b.Fatalf("the owner's event stream ended during batch %s", ds)
			}
			x := ev.Execution
			if ev.Kind != app.EventExecution || x == nil {
				continue
			}
			if !x.State.Terminal() {
				if x.State == model.Running { // pending ones wait in the kernel, not on a pool
					running[x.ID] = true
				}
				continue
			}
			delete(running, x.ID)
			if ended[x.ID] {
				if x.State == model.Completed {
					bt.dup++
				}
				continue
			}
			ended[x.ID] = true
			if x.State == model.Completed {
				bt.completed++
				for _, u := range x.Usage {
					bt.calls += u.Calls
				}
			}
			if atKill[x.ID] {
				bt.afterKill = append(bt.afterKill, fmt.Sprintf("%s %.2fs", x.Worker, cmp.Or(x.FinishedAt, time.Now()).Sub(killed).Seconds()))
				delete(atKill, x.ID)
				if len(atKill) == 0 {
					bt.redelivery = cmp.Or(x.FinishedAt, time.Now()).Sub(killed)
				}
			}
			if kill != nil && atKill == nil && len(ended)*4 >= size {
				atKill = maps.Clone(running)
				bt.runningAtKill = len(atKill)
				killed = time.Now()
				kill()
			}
		}
	}
	if len(ended) > size {
		b.Fatalf("batch %s: %d executions ended for %d examples", ds, len(ended), size)
	}
	return bt
}

// measured is a throughput batch: its rate and what it cost the machine.
type measured struct {
	batch
	rate, callsPerExec float64
	// CPU per execution of the owner's process, the pools' processes (none
	// for the local pool) and the Python workers; cores is their sum over
	// the batch's time.
	ownerMS, poolsMS, workersMS, cores float64
	busy                               float64 // the machine's cores busy, 0 to 1 (everyone's work)
}

// measureBatch is followBatch with the CPU the owner, the pools and the
// workers spent on it.
func measureBatch(b *testing.B, cl *api.Client, env []string, ds string, size, ownerPID int, pools, workers []int) measured {
	b.Helper()
	busy0, all0 := machineTicks()
	o0, p0, w0 := cpuTicks(ownerPID), cpuTicks(pools...), cpuTicks(workers...)
	bt := followBatch(b, cl, env, ds, size, nil)
	o1, p1, w1 := cpuTicks(ownerPID), cpuTicks(pools...), cpuTicks(workers...)
	busy1, all1 := machineTicks()
	if bt.completed != size || bt.dup > 0 {
		b.Fatalf("batch %s: %d of %d completed, %d twice", ds, bt.completed, size, bt.dup)
	}
	m := measured{batch: bt, rate: float64(size) / bt.wall.Seconds(), callsPerExec: float64(bt.calls) / float64(size)}
	m.ownerMS = float64(o1-o0) * 10 / float64(size) // 100 ticks a second
	m.poolsMS = float64(p1-p0) * 10 / float64(size)
	m.workersMS = float64(w1-w0) * 10 / float64(size)
	m.cores = float64(o1-o0+p1-p0+w1-w0) / 100 / bt.wall.Seconds()
	if all1 > all0 {
		m.busy = float64(busy1-busy0) / float64(all1-all0)
	}
	return m
}

// machineTicks is the CPU time of every core, busy and in all, from
// /proc/stat's first line (user nice system idle iowait irq softirq steal).
func machineTicks() (busy, all int) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	for i, f := range strings.Fields(line)[1:] {
		if i >= 8 {
			break
		}
		n, _ := strconv.Atoi(f)
		all += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, all
}
