package jobs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// Each benchmark runs fixed-size samples per iteration, so its figures mean
// the same with -benchtime=1x, and reports its baseline from the same run.

// rawRun calls pool.Execute n times from conc goroutines, the way the kernel
// would (traced, spans ignored), and returns the wall time.
func rawRun(b *testing.B, pool *bridge.Pool, lm bridge.LMSpec, n, conc int, tag string) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				_, err := pool.Execute(context.Background(), bridge.ExecuteRequest{Program: qa, LM: lm, Trace: true,
					Inputs: map[string]any{"question": fmt.Sprintf("What is the capital of %s%d?", tag, i)}}, func(model.Span) {})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}

// batchRun submits n executions as one batch and waits for all, returning
// the wall time from submit to the last completion.
func batchRun(b *testing.B, k *Kernel, n int, tag string) time.Duration {
	t0 := time.Now()
	xs := submitBatch(b, k, n, tag)
	for _, x := range xs {
		got, err := k.Wait(context.Background(), x.ID)
		if err != nil {
			b.Fatal(err)
		}
		if got.State != model.Completed {
			b.Fatalf("%s: %s %s", got.ID, got.State, got.Error)
		}
	}
	return time.Since(t0)
}

func submitBatch(b *testing.B, k *Kernel, n int, tag string) []*model.Execution {
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{Program: "qa", Batch: tag, Inputs: map[string]any{"question": fmt.Sprintf("What is the capital of %s%d?", tag, i)}}
	}
	xs, err := k.SubmitBatch(context.Background(), reqs)
	if err != nil {
		b.Fatal(err)
	}
	return xs
}

// single submits one interactive run and returns its latency, submit to
// completion.
func single(b *testing.B, k *Kernel, tag string) time.Duration {
	t0 := time.Now()
	x, err := k.Submit(context.Background(), Request{Program: "qa", Inputs: map[string]any{"question": "What is the capital of " + tag + "?"}})
	if err != nil {
		b.Fatal(err)
	}
	got, err := k.Wait(context.Background(), x.ID)
	if err != nil || got.State != model.Completed {
		b.Fatalf("single run %+v %v", got, err)
	}
	return time.Since(t0)
}

// BenchmarkKernelOverhead: executions per second through the whole kernel
// (submit → pending → running → completed, spans and records on disk) with
// a zero-latency test LM on 2 workers, against raw Pool.Execute calls at the
// same concurrency. ratio = raw rate / kernel rate (1 = no overhead).
func BenchmarkKernelOverhead(b *testing.B) {
	// Rounds alternate raw and kernel, so that load from elsewhere on the
	// machine falls on both alike.
	const rounds, n, conc = 6, 100, 16
	pool := startPool(b, 2, 8)
	st := openStore(b, "", qa)
	lm := bridge.LMSpec{Model: "signet/test"}
	k, _ := startKernel(b, Options{Store: st, Pool: pool, LMs: testLMs{"test": lm}, Concurrency: conc})
	rawRun(b, pool, lm, 100, conc, "Warm") // DSPy's first calls build caches
	var raw, kern time.Duration
	total := 0
	for b.Loop() {
		for range rounds {
			tag := fmt.Sprintf("Round%d_", total)
			raw += rawRun(b, pool, lm, n, conc, "Raw"+tag)
			kern += batchRun(b, k, n, "Kernel"+tag)
			total += n
		}
	}
	rawRate := float64(total) / raw.Seconds()
	kernRate := float64(total) / kern.Seconds()
	b.ReportMetric(kernRate, "kernel_exec/s")
	b.ReportMetric(rawRate, "raw_exec/s")
	b.ReportMetric(rawRate/kernRate, "ratio")
}

// BenchmarkKernelSleep200: 1,000 executions at concurrency 32 on 2 workers
// × 16 threads with a test LM sleeping 200 ms per call, wall time against
// the ideal 1000 × 0.2 s / 32 = 6.25 s.
func BenchmarkKernelSleep200(b *testing.B) {
	const n, conc = 1000, 32
	pool := startPool(b, 2, 16)
	st := openStore(b, "", qa)
	lms := testLM(map[string]any{"sleep_ms": 200})
	k, _ := startKernel(b, Options{Store: st, Pool: pool, LMs: lms, Concurrency: conc})
	rawRun(b, pool, lms["test"], 64, conc, "Warm")
	var wall time.Duration
	iter := 0
	for b.Loop() {
		wall += batchRun(b, k, n, fmt.Sprintf("Run%d_", iter))
		iter++
	}
	ideal := float64(n) * 0.2 / conc
	secs := wall.Seconds() / float64(iter)
	b.ReportMetric(secs, "s")
	b.ReportMetric(ideal, "ideal_s")
	b.ReportMetric(secs/ideal, "ratio")
}

// BenchmarkSingleRunDuringBatch is issue 15's: the latency of a single run
// submitted while a 1,000-example batch runs (test LM sleeping 50 ms per
// call, concurrency 8 on 2 workers × 8 threads: the batch takes about
// 1000 × 0.05 s / 8 = 6.25 s), against the same run alone on the same
// kernel. The single run waits for the next free slot, not for the batch:
// within one call's time (50 ms) of its alone figure.
func BenchmarkSingleRunDuringBatch(b *testing.B) {
	const n, conc, samples = 1000, 8, 5
	pool := startPool(b, 2, 8)
	st := openStore(b, "", qa)
	lms := testLM(map[string]any{"sleep_ms": 50})
	k, _ := startKernel(b, Options{Store: st, Pool: pool, LMs: lms, Concurrency: conc, CacheTTL: -1})
	rawRun(b, pool, lms["test"], 32, conc, "Warm")
	var alone, during, batch time.Duration
	iter := 0
	for b.Loop() {
		for i := range samples {
			alone += single(b, k, fmt.Sprintf("Alone%d_%d", iter, i))
		}
		events, stop := k.Subscribe(4096)
		t0 := time.Now()
		xs := submitBatch(b, k, n, fmt.Sprintf("Batch%d_", iter))
		// Sampled through the first half of the batch: once it fills the
		// slots, then every 100 of its starts.
		started := 0
		for i := range samples {
			for started < conc+i*n/(2*samples) {
				if ev := <-events; ev.Kind == EventExecution && ev.Execution.State == model.Running && ev.Execution.Batch != "" {
					started++
				}
			}
			during += single(b, k, fmt.Sprintf("During%d_%d", iter, i))
		}
		stop()
		for _, x := range xs {
			if _, err := k.Wait(context.Background(), x.ID); err != nil {
				b.Fatal(err)
			}
		}
		batch += time.Since(t0)
		iter++
	}
	per := func(d time.Duration, m int) float64 { return d.Seconds() * 1000 / float64(iter*m) }
	b.ReportMetric(per(during, samples), "during_batch_ms")
	b.ReportMetric(per(alone, samples), "alone_ms")
	b.ReportMetric(per(batch, 1), "batch_ms")
}

// BenchmarkEvaluate200 is issue 8's benchmark: evaluating a 200-example
// validation set with a test LM that sleeps 200 ms per call, at 16
// threads, against the ideal 200 × 0.2 s / 16 = 2.5 s. It runs
// LabeledFewShot, which evaluates the validation set twice (the baseline,
// then the compiled program); each evaluation ends with a trial event, so
// both are timed apart: eval_base_s and eval_best_s, beside ideal_s.
func BenchmarkEvaluate200(b *testing.B) {
	const (
		n       = 200
		sleep   = 200 * time.Millisecond
		threads = 16
	)
	pool := startPool(b, 1, 2)
	val := make([]bridge.Example, n)
	for i := range val {
		val[i] = bridge.Example{ID: model.NewID().String(), Inputs: map[string]any{"question": fmt.Sprintf("What is the capital of Country%d?", i)},
			Outputs: map[string]any{"answer": fmt.Sprintf("City%d", i)}}
	}
	req := bridge.OptimizeRequest{Program: qa, LM: bridge.LMSpec{Model: "signet/test", Kwargs: map[string]any{"sleep_ms": sleep.Milliseconds()}},
		Optimizer: "labeled_fewshot", Settings: map[string]any{"k": 4}, Train: val[:8], Val: val,
		Metric: bridge.MetricSpec{Name: "exact_match", Kind: "builtin"}, Threads: threads}
	ideal := time.Duration(n) * sleep / threads
	var base, best, total time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var marks []time.Time
		res, err := pool.Optimize(context.Background(), req, func(ev bridge.OptimizeEvent) {
			if ev.Trial != nil {
				marks = append(marks, time.Now())
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(marks) < 2 || res.LMCalls < 2*n {
			b.Fatalf("%d trial events, %d LM calls: want 2 evaluations of %d", len(marks), res.LMCalls, n)
		}
		total += time.Since(start)
		base += marks[0].Sub(start)
		best += marks[len(marks)-1].Sub(marks[len(marks)-2])
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(base), "eval_base_s")
	b.ReportMetric(per(best), "eval_best_s")
	b.ReportMetric(ideal.Seconds(), "ideal_s")
	b.ReportMetric(per(base)/ideal.Seconds(), "x_ideal")
	b.ReportMetric(per(total), "run_s")
}
