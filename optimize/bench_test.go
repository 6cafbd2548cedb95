package optimize

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

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
	pool := startPool(b, 2)
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
