package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"

	"github.com/signet-dspy/signet/internal/testenv"
)

// Each benchmark measures fixed-size samples per iteration, so the figures
// mean the same with -benchtime=1x (make bench) as with longer runs, and
// reports its baseline from the same run.

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// rawEcho is the baseline of BenchmarkPing: a Python process answering
// ping lines with the same JSON work as the worker's reader thread, over a
// bare pipe pair, without the pool.
type rawEcho struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

const rawEchoScript = `
import json, os, sys
out = os.fdopen(os.dup(1), "wb", buffering=0)
pid = os.getpid()
for line in sys.stdin.buffer:
    req = json.loads(line)
    out.write((json.dumps({"id": req["id"], "result": {"pid": pid, "served": 0, "inflight": 0}},
                          separators=(",", ":")) + "\n").encode())
`

func startRawEcho(b *testing.B, py string) *rawEcho {
	cmd := exec.Command(py, "-c", rawEchoScript)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := &rawEcho{cmd: cmd, in: in, out: bufio.NewReader(out)}
	b.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return r
}

func (r *rawEcho) roundTrip(id int) error {
	if _, err := fmt.Fprintf(r.in, `{"id":%d,"method":"ping","params":{}}`+"\n", id); err != nil {
		return err
	}
	_, err := r.out.ReadSlice('\n')
	return err
}

// pipelined sends n pings with at most window in flight; it returns when
// all are answered.
func (r *rawEcho) pipelined(n, window int) error {
	sem := make(chan struct{}, window)
	errc := make(chan error, 1)
	go func() {
		for range n {
			if _, err := r.out.ReadSlice('\n'); err != nil {
				errc <- err
				return
			}
			<-sem
		}
		errc <- nil
	}()
	for i := range n {
		sem <- struct{}{}
		if _, err := fmt.Fprintf(r.in, `{"id":%d,"method":"ping","params":{}}`+"\n", i+1); err != nil {
			return err
		}
	}
	return <-errc
}

// BenchmarkPing: ping round trips through a pool of 2 real workers, and the
// same over raw pipes to 2 minimal Python echo loops (no pool).
func BenchmarkPing(b *testing.B) {
	py := testenv.Python(b)
	const sequential, concurrent, callers = 2000, 20000, 32
	p, _ := startPool(b, Config{Python: py, Workers: 2})
	raws := []*rawEcho{startRawEcho(b, py), startRawEcho(b, py)}
	ctx := context.Background()
	ping := func() error { _, err := p.Call(ctx, "ping", nil, nil); return err }
	for range 200 { // warm up both
		if err := ping(); err != nil {
			b.Fatal(err)
		}
		if err := raws[0].roundTrip(1); err != nil {
			b.Fatal(err)
		}
	}
	var poolLat, rawLat []time.Duration
	var poolTime, rawTime time.Duration
	b.ResetTimer()
	for range b.N {
		for i := range sequential {
			t0 := time.Now()
			if err := ping(); err != nil {
				b.Fatal(err)
			}
			poolLat = append(poolLat, time.Since(t0))
			t0 = time.Now()
			if err := raws[i%2].roundTrip(i + 1); err != nil {
				b.Fatal(err)
			}
			rawLat = append(rawLat, time.Since(t0))
		}

		t0 := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range concurrent / callers {
					if err := ping(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		poolTime += time.Since(t0)

		// The baseline keeps as many pings in flight per process as the
		// pool allows per worker (Threads).
		t0 = time.Now()
		for _, r := range raws {
			wg.Go(func() {
				if err := r.pipelined(concurrent/len(raws), DefaultThreads); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		rawTime += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(us(percentile(poolLat, 0.5)), "p50-us")
	b.ReportMetric(us(percentile(poolLat, 0.99)), "p99-us")
	b.ReportMetric(float64(concurrent*b.N)/poolTime.Seconds(), "pings/s")
	b.ReportMetric(us(percentile(rawLat, 0.5)), "raw-p50-us")
	b.ReportMetric(us(percentile(rawLat, 0.99)), "raw-p99-us")
	b.ReportMetric(float64(concurrent*b.N)/rawTime.Seconds(), "raw-pings/s")
}

// benchDirect is the worker author's baseline: the same 3-module program
// run in one Python process through the worker's own runner (spans encoded
// as frames, then dropped); it prints JSON with mean_ms per execution.
var benchDirect = filepath.Join("worker", "tests", "bench_direct.py")

// benchProgram is bench_direct.py's PROGRAM: predict → chain_of_thought →
// predict over the record.
var benchProgram = &model.Program{Name: "facts3", Modules: []model.Module{
	{Name: "recall", Type: model.Predict, Signature: "question -> facts: list[str]",
		Instructions: "List two or three short facts that help answer the question."},
	{Name: "answer", Type: model.ChainOfThought, Signature: "question, facts: list[str] -> answer",
		Instructions: "Using the facts, answer the question in a few words."},
	{Name: "polish", Type: model.Predict, Signature: "question, answer -> final_answer",
		Instructions: "Restate the answer as a short sentence."},
}}

// BenchmarkExecute3Modules: the 3-module program with the test LM and
// tracing on, through a pool of 2 workers, against the same program run
// directly in one Python process: one at a time (latency), and many at
// once (throughput: 16 callers on the pool, 8 threads in the one process).
func BenchmarkExecute3Modules(b *testing.B) {
	py := testenv.Python(b)
	const runs, concurrent, callers, directThreads = 200, 400, 16, 8
	p, _ := startPool(b, Config{Python: py, Workers: 2})
	ctx := context.Background()
	spans := 0
	exec1 := func(i int, onSpan func(model.Span)) error {
		_, err := p.Execute(ctx, ExecuteRequest{Program: benchProgram, Inputs: question(i), LM: testLM(nil), Trace: true}, onSpan)
		return err
	}
	for i := range 20 {
		if err := exec1(-1-i, nil); err != nil {
			b.Fatal(err)
		}
	}
	var seq, par time.Duration
	b.ResetTimer()
	for n := range b.N {
		t0 := time.Now()
		for i := range runs {
			if err := exec1(n*runs+i, func(model.Span) { spans++ }); err != nil {
				b.Fatal(err)
			}
		}
		seq += time.Since(t0)

		t0 = time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for range callers {
			wg.Go(func() {
				for i := range next {
					if err := exec1(i, func(model.Span) {}); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for i := range concurrent {
			next <- 1_000_000 + n*concurrent + i
		}
		close(next)
		wg.Wait()
		par += time.Since(t0)
	}
	b.StopTimer()
	poolMS := float64(seq) / float64(time.Millisecond) / float64(runs*b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(poolMS, "pool-ms/exec")
	b.ReportMetric(float64(concurrent*b.N)/par.Seconds(), "pool-execs/s")
	b.ReportMetric(float64(spans)/float64(runs*b.N), "span-events/exec")

	// The baseline runs while the pool idles (its pings are all it does).
	directMS, err := runBenchDirect(py, runs, 1)
	if err != nil {
		b.Fatalf("direct baseline: %v", err)
	}
	directParMS, err := runBenchDirect(py, concurrent, directThreads)
	if err != nil {
		b.Fatalf("direct baseline: %v", err)
	}
	b.ReportMetric(directMS, "direct-ms/exec")
	b.ReportMetric(1000/directParMS, "direct-execs/s")
	b.ReportMetric(poolMS/directMS, "pool/direct-latency")
}

// runBenchDirect runs bench_direct.py and returns its mean_ms.
func runBenchDirect(py string, n, threads int) (float64, error) {
	cmd := exec.Command(py, benchDirect, "-n", strconv.Itoa(n), "--threads", strconv.Itoa(threads))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "TOKENIZERS_PARALLELISM=false")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return 0, fmt.Errorf("%s: %w\n%s", benchDirect, err, stderr)
	}
	var r struct {
		MeanMS *float64 `json:"mean_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.MeanMS == nil {
		return 0, fmt.Errorf("%s printed %q, want JSON with mean_ms (%v)", benchDirect, out, err)
	}
	return *r.MeanMS, nil
}

// BenchmarkPoolReady: Start of 4 workers until every one said hello,
// against one `python -c "import dspy"`.
func BenchmarkPoolReady(b *testing.B) {
	py := testenv.Python(b)
	if _, err := WorkerDir(); err != nil { // the one-time copy is not what is measured
		b.Fatal(err)
	}
	var ready, imp time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		p, err := Start(context.Background(), Config{Python: py, Workers: 4, Workspace: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		ready += time.Since(t0)
		b.StopTimer()
		p.Close(context.Background())
		b.StartTimer()

		t0 = time.Now()
		if out, err := exec.Command(py, "-c", "import dspy").CombinedOutput(); err != nil {
			b.Fatalf("import dspy: %v\n%s", err, out)
		}
		imp += time.Since(t0)
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(ready), "pool4-ready-ms")
	b.ReportMetric(ms(imp), "import-dspy-ms")
	b.ReportMetric(float64(ready)/float64(imp), "ratio")
}

// BenchmarkExecuteTraced: the 3-module program through a pool of one
// worker, tracing on (every span handed to onSpan, as the job kernel gets
// them) against tracing off, alternating in rounds; medians per execution.
func BenchmarkExecuteTraced(b *testing.B) {
	py := testenv.Python(b)
	const rounds, runs = 5, 40
	p, _ := startPool(b, Config{Python: py, Workers: 1})
	ctx := context.Background()
	spans := 0
	exec1 := func(i int, trace bool) (time.Duration, error) {
		var onSpan func(model.Span)
		if trace {
			onSpan = func(model.Span) { spans++ }
		}
		t0 := time.Now()
		_, err := p.Execute(ctx, ExecuteRequest{Program: benchProgram, Inputs: question(i), LM: testLM(nil), Trace: trace}, onSpan)
		return time.Since(t0), err
	}
	for i := range 20 {
		if _, err := exec1(-1-i, i%2 == 0); err != nil {
			b.Fatal(err)
		}
	}
	spans = 0
	var on, off []time.Duration
	b.ResetTimer()
	for n := range b.N {
		for r := range rounds {
			for _, trace := range []bool{true, false} {
				for i := range runs {
					d, err := exec1(((n*rounds+r)*2)*runs+i, trace)
					if err != nil {
						b.Fatal(err)
					}
					if trace {
						on = append(on, d)
					} else {
						off = append(off, d)
					}
				}
			}
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(percentile(on, 0.5)), "traced-ms")
	b.ReportMetric(ms(percentile(off, 0.5)), "untraced-ms")
	b.ReportMetric(float64(percentile(on, 0.5))/float64(percentile(off, 0.5)), "traced/untraced")
	b.ReportMetric(float64(spans)/float64(len(on)), "spans/exec")
}
