package bridge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
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

// benchProgram is a 3-module program: predict → chain_of_thought →
// predict over the record.
var benchProgram = &model.Program{Name: "facts3", Modules: []model.Module{
	{Name: "recall", Type: model.Predict, Signature: "question -> facts: list[str]",
		Instructions: "List two or three short facts that help answer the question."},
	{Name: "answer", Type: model.ChainOfThought, Signature: "question, facts: list[str] -> answer",
		Instructions: "Using the facts, answer the question in a few words."},
	{Name: "polish", Type: model.Predict, Signature: "question, answer -> final_answer",
		Instructions: "Restate the answer as a short sentence."},
}}

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
