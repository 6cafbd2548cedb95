package engine

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

// rawRun calls pool.Execute n times from conc goroutines, the way the engine
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

// engineRun submits n executions as one batch and waits for all, returning
// the wall time from submit to the last completion.
func engineRun(b *testing.B, e *Engine, n int, tag string) time.Duration {
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{Program: "qa", Inputs: map[string]any{"question": fmt.Sprintf("What is the capital of %s%d?", tag, i)}}
	}
	t0 := time.Now()
	xs, err := e.SubmitBatch(context.Background(), reqs)
	if err != nil {
		b.Fatal(err)
	}
	for _, x := range xs {
		got, err := e.Wait(context.Background(), x.ID)
		if err != nil {
			b.Fatal(err)
		}
		if got.State != model.Completed {
			b.Fatalf("%s: %s %s", got.ID, got.State, got.Error)
		}
	}
	return time.Since(t0)
}

// BenchmarkEngineOverhead: executions per second through the whole engine
// (submit → pending → running → completed, spans and records on disk) with
// a zero-latency test LM on 2 workers, against raw Pool.Execute calls at the
// same concurrency. ratio = raw rate / engine rate (1 = no overhead).
func BenchmarkEngineOverhead(b *testing.B) {
	// Rounds alternate raw and engine, so that load from elsewhere on the
	// machine falls on both alike.
	const rounds, n, conc = 6, 100, 16
	pool := startPool(b, 2, 8)
	st := openStore(b, "", qa)
	lm := bridge.LMSpec{Model: "signet/test"}
	e, _ := startEngine(b, Options{Store: st, Pool: pool, LMs: testLMs{"test": lm}, Concurrency: conc})
	rawRun(b, pool, lm, 100, conc, "Warm") // DSPy's first calls build caches
	var raw, eng time.Duration
	total := 0
	for b.Loop() {
		for range rounds {
			tag := fmt.Sprintf("Round%d_", total)
			raw += rawRun(b, pool, lm, n, conc, "Raw"+tag)
			eng += engineRun(b, e, n, "Engine"+tag)
			total += n
		}
	}
	rawRate := float64(total) / raw.Seconds()
	engRate := float64(total) / eng.Seconds()
	b.ReportMetric(engRate, "engine_exec/s")
	b.ReportMetric(rawRate, "raw_exec/s")
	b.ReportMetric(rawRate/engRate, "ratio")
}

// BenchmarkEngineSleep200: 1,000 executions at concurrency 32 on 2 workers ×
// 16 threads with a test LM sleeping 200 ms per call, wall time against the
// ideal 1000 × 0.2 s / 32 = 6.25 s.
func BenchmarkEngineSleep200(b *testing.B) {
	const n, conc = 1000, 32
	pool := startPool(b, 2, 16)
	st := openStore(b, "", qa)
	lms := testLM(map[string]any{"sleep_ms": 200})
	e, _ := startEngine(b, Options{Store: st, Pool: pool, LMs: lms, Concurrency: conc})
	rawRun(b, pool, lms["test"], 64, conc, "Warm")
	var wall time.Duration
	iter := 0
	for b.Loop() {
		wall += engineRun(b, e, n, fmt.Sprintf("Run%d_", iter))
		iter++
	}
	ideal := float64(n) * 0.2 / conc
	secs := wall.Seconds() / float64(iter)
	b.ReportMetric(secs, "s")
	b.ReportMetric(ideal, "ideal_s")
	b.ReportMetric(secs/ideal, "ratio")
}
