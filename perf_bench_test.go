package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

// The end-to-end benchmarks against plain DSPy (issue 19): each figure and
// its baseline alternate within one run, rounds times (SIGNET_BENCH_ROUNDS,
// default 5), and are reported as medians with their ratio. The baselines
// are bench/plain_dspy.py: examples/qa.yaml written directly in DSPy, on
// the same signet/test LM.
//
//	SIGNET_PYTHON=$(bin/signet setup -q --print-python) go test -run '^$' -bench VsPlainDSPy -benchtime 1x .

const perfExamples = 1000

type perfWS struct {
	env  []string
	ws   string
	data string // the dataset's JSONL, for plain DSPy
	py   string
}

// perfEnv is a workspace with qa and cot, a dataset of perfExamples questions the
// test LM answers right, and the "fast" test-LM profile (no sleep, no cache).
func perfEnv(b *testing.B) perfWS {
	b.Helper()
	env := pythonEnv(b)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("cache: \"off\"\nprofiles:\n  fast:\n    model: signet/test\n    cache: false\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	var data strings.Builder
	for i := range perfExamples {
		fmt.Fprintf(&data, "{\"question\": \"What is the capital of Country%d?\", \"answer\": \"Country%d\"}\n", i, i)
	}
	w := perfWS{ws: filepath.Join(dir, "ws"), data: filepath.Join(dir, "items.jsonl"), py: os.Getenv("SIGNET_PYTHON")}
	if err := os.WriteFile(w.data, []byte(data.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	w.env = append(env, "SIGNET_HOME="+w.ws, "SIGNET_CONFIG="+cfg)
	mustRun(b, w.env, "init")
	mustRun(b, w.env, "program", "create", "-f", "examples/qa.yaml")
	cot := filepath.Join(dir, "cot.yaml")
	if err := os.WriteFile(cot, []byte(cotYAML), 0o600); err != nil {
		b.Fatal(err)
	}
	mustRun(b, w.env, "program", "create", "-f", cot)
	mustRun(b, w.env, "dataset", "import", w.data, "--inputs", "question", "--name", "items")
	return w
}

// cotYAML is bench/plain_dspy.py's `cot`: dspy.ChainOfThought("question -> answer").
const cotYAML = "name: cot\nmodules:\n  - name: answer\n    type: chain_of_thought\n    signature: \"question -> answer\"\n"

func perfRounds() int {
	if n, err := strconv.Atoi(os.Getenv("SIGNET_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 5
}

// served is a running `signet serve`.
type served struct {
	cmd     *exec.Cmd
	out     *serveLog
	cl      *api.Client
	stopped bool
}

// serveLog is serve's output; listening is closed once it says it serves.
type serveLog struct {
	mu        sync.Mutex
	b         strings.Builder
	listening chan struct{}
}

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if strings.Contains(l.b.String(), "serving workspace") {
		select {
		case <-l.listening:
		default:
			close(l.listening)
		}
	}
	return len(p), nil
}

func (l *serveLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve starts `signet serve` and returns once workers workers are ready:
// once it says it serves, it waits on the owner's event stream, which says
// when a worker's state changes.
func serve(b *testing.B, w perfWS, workers int, args ...string) *served {
	b.Helper()
	out := &serveLog{listening: make(chan struct{})}
	cmd := exec.Command(signetBinary(b), append([]string{"serve"}, args...)...)
	cmd.Env = append(testEnv(b.TempDir()), w.env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &served{cmd: cmd, out: out, cl: api.NewClient(api.SocketPath(w.ws))}
	b.Cleanup(func() { // after a failure, no owner outlives its benchmark
		if !s.stopped {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	select {
	case <-out.listening:
	case <-ctx.Done(): // a failure's bound
		b.Fatalf("serve: not serving within 2 minutes\n%s", out)
	}
	evs, err := s.cl.Subscribe(ctx)
	if err != nil {
		s.stop(b)
		b.Fatalf("serve: subscribing: %v\n%s", err, out)
	}
	for ev := range evs {
		if ev.Kind == app.EventPool && readyWorkers(ev.Pool.Pool) == workers {
			return s
		}
	}
	s.stop(b)
	b.Fatalf("serve: %d workers not ready within 2 minutes\n%s", workers, out)
	return nil
}

func readyWorkers(pool []app.Worker) int {
	n := 0
	for _, wk := range pool {
		if wk.State == "ready" {
			n++
		}
	}
	return n
}

func (s *served) stop(b *testing.B) {
	b.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		b.Fatalf("serve after SIGTERM: %v\n%s", err, s.out)
	}
}

// plain runs bench/plain_dspy.py and decodes its JSON line into v; it
// returns the process's wall time.
func plain(b *testing.B, w perfWS, v any, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(w.py, append([]string{"bench/plain_dspy.py"}, args...)...)
	cmd.Env = append(os.Environ(), "TQDM_DISABLE=1")
	t0 := time.Now()
	out, err := cmd.Output()
	d := time.Since(t0)
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		b.Fatalf("plain_dspy.py %v: %v\n%s", args, err, stderr)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			b.Fatalf("plain_dspy.py %v printed %q: %v", args, out, err)
		}
	}
	return d
}

type seconds struct {
	Seconds float64 `json:"seconds"`
}

func (s seconds) d() time.Duration { return time.Duration(s.Seconds * float64(time.Second)) }

// cpuTicks is the user+system CPU time of the processes, in clock ticks
// (100 a second on Linux).
func cpuTicks(pids ...int) int {
	n := 0
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		u, _ := strconv.Atoi(f[11])
		s, _ := strconv.Atoi(f[12])
		n += u + s
	}
	return n
}

func workerPIDsOf(b *testing.B, cl *api.Client) []int {
	st, err := cl.Status(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var pids []int
	for _, wk := range st.Pool {
		pids = append(pids, wk.PID)
	}
	return pids
}

func report(b *testing.B, name string, signet, base time.Duration, unit string) {
	b.Logf("%s: signet %v, plain DSPy %v, ratio %.2f", name, signet, base, float64(signet)/float64(base))
	b.ReportMetric(float64(signet)/float64(unit2d(unit)), "signet-"+unit)
	b.ReportMetric(float64(base)/float64(unit2d(unit)), "plain-"+unit)
	b.ReportMetric(float64(signet)/float64(base), "ratio")
}

func unit2d(unit string) time.Duration {
	if unit == "s" {
		return time.Second
	}
	return time.Millisecond
}

func BenchmarkVsPlainDSPy(b *testing.B) {
	w := perfEnv(b)
	rounds := perfRounds()
	b.Logf("load average: %s", loadAvg())

	// (a) 1,000 executions through a running owner against dspy.Evaluate
	// with 8 threads, on the same examples, program and LM: qa, and (a')
	// DSPy's first tutorial program, a bare ChainOfThought, whose small
	// prompt leaves the most room to Signet's fixed cost per execution.
	b.Run("batch1000", func(b *testing.B) { batchVsEvaluate(b, w, rounds, "qa") })
	b.Run("batch1000cot", func(b *testing.B) { batchVsEvaluate(b, w, rounds, "cot") })

	// (b) One traced execution through a running owner (a `signet run`
	// client process, and an API call) against plain DSPy in one process
	// with the module built once.
	b.Run("traced", func(b *testing.B) {
		const cli, calls = 10, 50
		s := serve(b, w, 2, "--workers", "2")
		defer s.stop(b)
		ctx := context.Background()
		var viaCLI, viaAPI, base []time.Duration
		q := func(i int) string { return fmt.Sprintf("What is the capital of Town%d?", i) }
		for r := range rounds * b.N {
			for i := range cli {
				_, d := timedRun(b, w.env, b.TempDir(), "run", "qa", "--input", "question="+q(r*cli+i), "--lm", "fast", "--no-cache")
				viaCLI = append(viaCLI, d)
			}
			for i := range calls {
				t0 := time.Now()
				x, err := s.cl.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": q(r*calls + i)}, LM: "fast", NoCache: true, Wait: true})
				if err != nil || x.State != model.Completed {
					b.Fatalf("run through the API: %v %+v", err, x)
				}
				viaAPI = append(viaAPI, time.Since(t0))
			}
			var v seconds
			plain(b, w, &v, "single", q(r), "-n", strconv.Itoa(calls))
			base = append(base, v.d())
		}
		report(b, "traced execution, API", median(viaAPI), median(base), "ms")
		b.ReportMetric(float64(median(viaCLI))/float64(time.Millisecond), "signet-cli-ms")
		b.Logf("traced execution, `signet run` client: %v (%.1fx plain)", median(viaCLI), float64(median(viaCLI))/float64(median(base)))
	})

	// (c) and (f): `signet serve --workers 4` until all 4 are ready against
	// one `import dspy`; then the PSS of the ready pool against 4
	// independent `python -m signet_worker`.
	b.Run("pool4", func(b *testing.B) {
		var ready, imp []time.Duration
		var poolPSS, soloPSS []int
		for r := range rounds * b.N {
			runPool := func() {
				t0 := time.Now()
				s := serve(b, w, 4, "--workers", "4")
				ready = append(ready, time.Since(t0))
				poolPSS = append(poolPSS, pssKiB(b, workerTree(s.cmd.Process.Pid)))
				s.stop(b)
			}
			runImport := func() {
				t0 := time.Now()
				if out, err := exec.Command(w.py, "-c", "import dspy").CombinedOutput(); err != nil {
					b.Fatalf("import dspy: %v\n%s", err, out)
				}
				imp = append(imp, time.Since(t0))
			}
			alternate(r, runPool, runImport)
			soloPSS = append(soloPSS, soloWorkersPSS(b, w, 4))
		}
		report(b, "4 workers ready", median(ready), median(imp), "ms")
		p, s := medianInt(poolPSS), medianInt(soloPSS)
		b.ReportMetric(float64(p)/1024, "pool-pss-MiB")
		b.ReportMetric(float64(s)/1024, "solo4-pss-MiB")
		b.ReportMetric(float64(p)/float64(s), "pss-ratio")
		b.Logf("memory: pool of 4 %d MiB PSS, 4 independent workers %d MiB, ratio %.2f", p/1024, s/1024, float64(p)/float64(s))
	})

	// (d) The first call on the `local` profile's shape (OpenAI-compatible
	// loopback server) in a fresh worker process, against `import dspy`.
	b.Run("firstcall", func(b *testing.B) {
		cmd := exec.Command(w.py, "bridge/worker/tests/bench_first_call.py", "--vs-import", "bridge/worker", strconv.Itoa(rounds*b.N))
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("bench_first_call.py: %v", err)
		}
		var v struct {
			First  float64 `json:"first_call_s"`
			Import float64 `json:"import_dspy_s"`
			RSS    float64 `json:"rss_mib"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			b.Fatalf("bench_first_call.py printed %q: %v", out, err)
		}
		sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
		report(b, "first call on local", sec(v.First), sec(v.Import), "ms")
		b.ReportMetric(v.RSS, "rss-MiB")
	})

	// (d') The first call on `local` itself, as a serving owner answers it
	// (`signet run qa --lm local` through it, the model's server started
	// with the workers), against plain DSPy's first call after its import
	// on the same server. Each round serves twice, the order flipped each
	// round: primed (owner: prime_local, the default: the owner sends the
	// server qa's prompt before any run, and the benchmark waits for that
	// as it waits for the server to be ready; the run follows as it comes)
	// and not primed (SIGNET_NO_PRIME=1), where Signet's run and plain
	// DSPy's call alternate, each after an unrelated prompt that empties
	// the server's prompt cache, so that neither reuses the other's prefix.
	// The model's own part is the LM span's latency, and the server's CPU
	// time during the call (load-independent): what is left is Signet's.
	b.Run("firstlocal", func(b *testing.B) {
		primedEnv := append(slices.Clip(w.env), "SIGNET_NO_WARM=0")
		coldEnv := append(slices.Clip(primedEnv), "SIGNET_NO_PRIME=1")
		var sig, primed, base, model, primedModel []time.Duration
		var sigCPU, primedCPU, baseCPU []int
		wl := w
		for r := range rounds * b.N {
			// A question of its own for each call: no cache answers it.
			q := fmt.Sprintf("What is the capital of Country%d?", 7000+r)
			qPrimed := fmt.Sprintf("What is the capital of Country%d?", 8000+r)
			signetRun := func(env []string, lm *app.LocalLM, q string, d, m *[]time.Duration, cpu *[]int) {
				ticks := cpuTicks(lm.PID)
				out, took := timedRun(b, env, b.TempDir(), "run", "qa", "--lm", "local", "--json", "--input", "question="+q)
				*cpu = append(*cpu, cpuTicks(lm.PID)-ticks)
				*d = append(*d, took)
				*m = append(*m, lmSpanLatency(b, env, out))
			}
			runPrimed := func() {
				wl.env = primedEnv
				s := serve(b, wl, 1, "--workers", "1")
				lm := localReady(b, s.cl)
				if lm.Primed == "" {
					b.Fatalf("the local LM is ready but not primed: %+v\n%s", lm, s.out)
				}
				signetRun(primedEnv, lm, qPrimed, &primed, &primedModel, &primedCPU)
				s.stop(b)
			}
			runCold := func() {
				wl.env = coldEnv
				s := serve(b, wl, 1, "--workers", "1")
				lm := localReady(b, s.cl)
				runSignet := func() {
					evictPromptCache(b, lm.URL)
					signetRun(coldEnv, lm, q, &sig, &model, &sigCPU)
				}
				runPlain := func() {
					evictPromptCache(b, lm.URL)
					var v seconds
					ticks := cpuTicks(lm.PID)
					plain(b, w, &v, "firstcall", q, "--api-base", lm.URL, "--model", lm.Model)
					baseCPU = append(baseCPU, cpuTicks(lm.PID)-ticks)
					base = append(base, v.d())
				}
				alternate(r, runSignet, runPlain)
				s.stop(b)
			}
			alternate(r, runPrimed, runCold)
		}
		report(b, "first call on local, served, primed", median(primed), median(base), "ms")
		b.ReportMetric(float64(median(sig))/float64(time.Millisecond), "unprimed-ms")
		b.ReportMetric(float64(median(primedModel))/float64(time.Millisecond), "model-ms")
		b.ReportMetric(float64(median(model))/float64(time.Millisecond), "unprimed-model-ms")
		b.Logf("first call on local through a serving owner: primed %v, of which the model %v (server CPU %d ms); "+
			"not primed %v, of which the model %v (server CPU %d ms); plain DSPy's first call %v (server CPU %d ms)",
			median(primed), median(primedModel), 10*medianInt(primedCPU), median(sig), median(model), 10*medianInt(sigCPU),
			median(base), 10*medianInt(baseCPU))
	})

	// (e) A one-off `signet run` (the second of a series: the background
	// owner the first left answers it) against a plain DSPy script.
	b.Run("oneoff", func(b *testing.B) {
		env := append(slices.Clip(w.env), "SIGNET_NO_DAEMON=0") // background owners on (testEnv turns them off)
		defer run(b, env, "stop")
		q := "What is the capital of France?"
		mustRun(b, env, "run", "qa", "--input", "question="+q, "--lm", "fast") // leaves the background owner
		var sig, base []time.Duration
		for r := range rounds * b.N {
			runSignet := func() {
				_, d := timedRun(b, env, b.TempDir(), "run", "qa", "--input", "question="+q, "--lm", "fast", "--no-cache")
				sig = append(sig, d)
			}
			runPlain := func() { base = append(base, plain(b, w, nil, "script", q)) }
			alternate(r, runSignet, runPlain)
		}
		report(b, "one-off run", median(sig), median(base), "ms")
	})
}

func medianInt(xs []int) int {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x)
	}
	return int(median(ds))
}

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

// workerTree is every descendant of pid running signet_worker (the workers,
// and a zygote they fork from, where there is one).
func workerTree(pid int) []int {
	var out []int
	var walk func(int)
	walk = func(p int) {
		// A child belongs to the thread that started it: read every thread's list.
		lists, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		var raw []byte
		for _, l := range lists {
			b, _ := os.ReadFile(l)
			raw = append(append(raw, b...), ' ')
		}
		for _, f := range strings.Fields(string(raw)) {
			c, _ := strconv.Atoi(f)
			if cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c)); strings.Contains(string(cl), "signet_worker") {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(pid)
	return out
}

// pssKiB sums the proportional set sizes of the processes.
func pssKiB(b *testing.B, pids []int) int {
	b.Helper()
	if len(pids) == 0 {
		b.Fatal("no worker processes to measure")
	}
	total := 0
	for _, pid := range pids {
		n, err := testenv.PSS(pid)
		if err != nil {
			b.Fatalf("reading the memory of worker %d: %v", pid, err)
		}
		total += int(n >> 10)
	}
	return total
}

// soloWorkersPSS starts n independent `python -m signet_worker` processes,
// waits for each one's hello, and returns their summed PSS.
func soloWorkersPSS(b *testing.B, w perfWS, n int) int {
	b.Helper()
	dir, err := bridge.WorkerDir()
	if err != nil {
		b.Fatal(err)
	}
	var pids []int
	for range n {
		cmd := exec.Command(w.py, "-m", "signet_worker")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PYTHONPATH="+dir, "SIGNET_DSPY_CACHEDIR="+filepath.Join(b.TempDir(), "cache"))
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { in.Close(); cmd.Wait() }()
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.Contains(line, "hello") {
			b.Fatalf("a standalone worker did not say hello: %q %v", line, err)
		}
		pids = append(pids, cmd.Process.Pid)
	}
	return pssKiB(b, pids)
}

// localReady waits on the owner's event stream until its local LM server
// is ready; one the owner primes is ready once primed.
func localReady(b *testing.B, cl *api.Client) *app.LocalLM {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a failure's bound
	defer cancel()
	evs, err := cl.Subscribe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for ev := range evs {
		if ev.Kind == app.EventPool && ev.Pool.LocalLM != nil && ev.Pool.LocalLM.State == "ready" {
			return ev.Pool.LocalLM
		}
	}
	b.Fatalf("no local LM ready within 2 minutes: %v", ctx.Err())
	return nil
}

// evictPromptCache sends the server an unrelated prompt, which replaces the
// prompt it keeps for reuse.
func evictPromptCache(b *testing.B, baseURL string) {
	b.Helper()
	body := `{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"` + strconv.FormatInt(time.Now().UnixNano(), 36) + ` zebra"}]}`
	resp, err := http.Post(baseURL+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("evicting the prompt cache: %s", resp.Status)
	}
}

// lmSpanLatency is the latency of the one LM call of the execution that
// `signet run --json` printed.
func lmSpanLatency(b *testing.B, env []string, runJSON string) time.Duration {
	b.Helper()
	var x struct{ ID string }
	if err := json.Unmarshal([]byte(runJSON), &x); err != nil {
		b.Fatalf("run --json printed %q: %v", runJSON, err)
	}
	var spans []model.Span
	if err := json.Unmarshal([]byte(mustRun(b, env, "trace", x.ID, "--json")), &spans); err != nil {
		b.Fatal(err)
	}
	for _, sp := range spans {
		if sp.Kind == model.SpanLM {
			return sp.Latency()
		}
	}
	b.Fatalf("execution %s has no LM span", x.ID)
	return 0
}

// alternate runs a then b in even rounds, b then a in odd ones, so that
// neither side always runs on what the other left warm.
func alternate(r int, a, b func()) {
	if r%2 == 0 {
		a()
		b()
		return
	}
	b()
	a()
}

// batchVsEvaluate runs `signet run PROGRAM --dataset items` through a
// running owner and dspy.Evaluate (8 threads) on the same examples,
// alternating, and reports the medians and the CPU per execution of the
// owner, its workers and the CLI client.
func batchVsEvaluate(b *testing.B, w perfWS, rounds int, program string) {
	sw := w
	if prof := os.Getenv("SIGNET_BENCH_OWNER_CPUPROFILE"); prof != "" {
		// The owner's Go CPU profile over the whole batch, written when it stops.
		sw.env = append(slices.Clip(w.env), "SIGNET_CPUPROFILE="+prof)
	}
	s := serve(b, sw, max(2, runtime.NumCPU())) // serve's default pool
	defer s.stop(b)
	pids := append([]int{s.cmd.Process.Pid}, workerPIDsOf(b, s.cl)...)
	var sig, base []time.Duration
	var ownerCPU, workerCPU int
	var clientCPU time.Duration
	for r := range rounds * b.N {
		runSignet := func() {
			before := []int{cpuTicks(pids[0]), cpuTicks(pids[1:]...)}
			cmd := exec.Command(signetBinary(b), "run", program, "--dataset", "items", "--lm", "fast", "--no-cache")
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir()}, w.env...)
			if prof := os.Getenv("SIGNET_BENCH_CLIENT_CPUPROFILE"); prof != "" {
				// The CLI client's Go CPU profile, of its last round.
				cmd.Env = append(cmd.Env, "SIGNET_CPUPROFILE="+prof)
			}
			t0 := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("signet run %s --dataset: %v\n%s", program, err, out)
			}
			sig = append(sig, time.Since(t0))
			ownerCPU += cpuTicks(pids[0]) - before[0]
			workerCPU += cpuTicks(pids[1:]...) - before[1]
			clientCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		runPlain := func() {
			var v seconds
			plain(b, w, &v, "evaluate", w.data, "--threads", "8", "--program", program)
			base = append(base, v.d())
		}
		alternate(r, runSignet, runPlain)
	}
	report(b, "batch of 1,000 ("+program+")", median(sig), median(base), "s")
	execs := float64(perfExamples * len(sig))
	b.ReportMetric(float64(ownerCPU)*10/execs, "owner-cpu-ms/exec")
	b.ReportMetric(float64(workerCPU)*10/execs, "workers-cpu-ms/exec")
	clientMS := float64(clientCPU) / float64(time.Millisecond) / execs
	b.ReportMetric(clientMS, "client-cpu-ms/exec")
	b.Logf("%s: workers %d; CPU per execution: owner %.2f ms, workers %.2f ms, the CLI client %.3f ms", program,
		len(pids)-1, float64(ownerCPU)*10/execs, float64(workerCPU)*10/execs, clientMS)
}
