package bridge

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
)

// poolPSS is the sum of the PSS of p's processes (its zygote included).
func poolPSS(b *testing.B, p *Pool) int64 {
	var sum int64
	for _, pid := range poolPIDs(p) {
		n, err := testenv.PSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		sum += n
	}
	return sum
}

func median[T int64 | time.Duration](s []T) T {
	s = slices.Clone(s)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkZygoteReady: a pool of 4 ready (every worker said hello) forked
// from a zygote, against the plain spawn (4 workers each importing DSPy)
// and one `python -c "import dspy"`, alternating in each round; and the
// pool's memory (the PSS of its workers, and of the zygote) at ready and
// after 16 executions.
// Medians over -rounds (default 7) per iteration.
func BenchmarkZygoteReady(b *testing.B) {
	if !zygoteSupported {
		b.Skip("no zygote on this platform")
	}
	py := testenv.Python(b)
	if _, err := WorkerDir(); err != nil { // the one-time copy is not what is measured
		b.Fatal(err)
	}
	rounds := 7
	if v, err := strconv.Atoi(os.Getenv("SIGNET_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	pool := func(noZygote bool) (time.Duration, [2]int64) {
		t0 := time.Now()
		p, err := Start(context.Background(), Config{Python: py, Workers: 4, Workspace: b.TempDir(), NoZygote: noZygote})
		if err != nil {
			b.Fatal(err)
		}
		ready := time.Since(t0)
		if !noZygote && p.zygote() == nil {
			b.Fatal("no zygote")
		}
		mem := poolPSS(b, p)
		// Then each worker at work: 16 executions, 8 at a time, so that every
		// worker builds a program and calls the LM (and collects garbage).
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range 16 {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(i), LM: testLM(nil)}, nil); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		used := poolPSS(b, p)
		p.Close(context.Background())
		return ready, [2]int64{mem, used}
	}
	var zr, pr, ir []time.Duration
	var zm, pm, zu, pu []int64
	b.ResetTimer()
	for range b.N {
		for range rounds {
			d, m := pool(false)
			zr, zm, zu = append(zr, d), append(zm, m[0]), append(zu, m[1])
			d, m = pool(true)
			pr, pm, pu = append(pr, d), append(pm, m[0]), append(pu, m[1])
			t0 := time.Now()
			if out, err := exec.Command(py, "-c", "import dspy").CombinedOutput(); err != nil {
				b.Fatalf("import dspy: %v\n%s", err, out)
			}
			ir = append(ir, time.Since(t0))
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(median(zr)), "zygote-ready-ms")
	b.ReportMetric(ms(median(pr)), "plain-ready-ms")
	b.ReportMetric(ms(median(ir)), "import-dspy-ms")
	b.ReportMetric(float64(median(zr))/float64(median(ir)), "zygote/import")
	b.ReportMetric(float64(median(pr))/float64(median(ir)), "plain/import")
	b.ReportMetric(mib(median(zm)), "zygote-pss-MiB")
	b.ReportMetric(mib(median(pm)), "plain-pss-MiB")
	b.ReportMetric(float64(median(zm))/float64(median(pm)), "pss-ratio")
	b.ReportMetric(mib(median(zu)), "zygote-used-pss-MiB")
	b.ReportMetric(mib(median(pu)), "plain-used-pss-MiB")
	b.ReportMetric(float64(median(zu))/float64(median(pu)), "used-pss-ratio")
}
