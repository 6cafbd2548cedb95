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
