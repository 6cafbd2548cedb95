package jobs

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// BenchmarkKernelBatchCPU is the Go side of a batch alone: 1,000 executions
// of a one-module program through the kernel and a real store, on a pool
// that answers at once with the span events a traced one-module run sends
// (program, module and LM call, each opened then closed). It reports the
// process's CPU time per execution: what the owner spends on an execution
// besides decoding the worker's frames.
func BenchmarkKernelBatchCPU(b *testing.B) {
	const n = 1000
	st := openStore(b, "", qa)
	fp := &fakePool{fn: func(_ context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		now := time.Now()
		q, _ := req.Inputs["question"].(string)
		root, mod, lm := span("p"+q, "", now, false), span("m"+q, "p"+q, now, false), span("l"+q, "m"+q, now, false)
		lm.Kind = model.SpanLM
		for _, s := range []model.Span{root, mod, lm} {
			onSpan(s)
		}
		lm.End, lm.Usage = now, model.Usage{Calls: 1, PromptTokens: 204, CompletionTokens: 11}
		mod.End, root.End = now, now
		for _, s := range []model.Span{lm, mod, root} {
			onSpan(s)
		}
		return echo(req), nil
	}}
	k, _ := startKernel(b, Options{Store: st, Pool: fp, LMs: testLM(nil), Concurrency: 8})
	batchCPU(b, k, n, "")
}

// batchCPU runs b.N batches of n executions and reports this process's CPU
// per execution, from submit to the last one's end.
func batchCPU(b *testing.B, k *Kernel, n int, batch string) {
	var cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		reqs := make([]Request, n)
		for j := range reqs {
			reqs[j] = Request{Program: "qa", Batch: batch, Inputs: map[string]any{"question": fmt.Sprintf("What is the capital of Country%d_%d?", i, j)}}
		}
		c0 := cpuTime()
		xs, err := k.SubmitBatch(context.Background(), reqs)
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range waitAll(b, k, xs) {
			if x.State != model.Completed {
				b.Fatalf("%+v", x)
			}
		}
		cpu += cpuTime() - c0
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(n*b.N), "cpu-us/exec")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkKernelBatchPoolCPU is BenchmarkKernelBatchCPU on real workers
// (2 workers of 4 threads, the test LM, no cache, concurrency 8, as
// `signet serve` runs a batch): the CPU of this process, the owner's side
// of an execution with the worker's frames decoded, per execution. The
// workers' own CPU is theirs (other processes) and not counted.
func BenchmarkKernelBatchPoolCPU(b *testing.B) {
	const n = 1000
	st := openStore(b, "", qa)
	pool := startPool(b, 2, 4)
	k, _ := startKernel(b, Options{Store: st, Pool: pool, LMs: testLM(nil), Concurrency: 8, CacheTTL: -1})
	batchRun(b, k, 100, "Warm") // DSPy's first calls build its caches
	batchCPU(b, k, n, "b")
}
