package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

// Executions beyond the queue's length are refused, creating nothing;
// once the queue has drained, submissions are taken again.
func TestQueueRefusesBeyondItsLength(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	k := newKernel(t, Options{Store: st, Pool: &fakePool{}, Queue: 3, CacheTTL: -1})
	// Not started: what is submitted waits in the queue.
	if _, err := k.SubmitBatch(ctx, []Request{{Program: "qa", Inputs: question(1)}, {Program: "qa", Inputs: question(2)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(3)}); err != nil {
		t.Fatal(err)
	}
	_, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(4)})
	var qf *QueueFullError
	if !errors.As(err, &qf) || qf.Waiting != 3 || qf.Limit != 3 || !strings.Contains(err.Error(), "limits: queue:") {
		t.Fatalf("a fourth execution with a queue of 3: %v", err)
	}
	if _, err := k.SubmitBatch(ctx, []Request{{Program: "qa", Inputs: question(5)}}); !errors.As(err, &qf) {
		t.Fatalf("a batch past the queue: %v", err)
	}
	if n := countExecutions(t, k); n != 3 {
		t.Fatalf("%d executions stored, want the 3 admitted", n)
	}
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(6)})
	if err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
	if got := waitAll(t, k, []*model.Execution{x})[0]; got.State != model.Completed {
		t.Fatalf("%+v", got)
	}
}

func countExecutions(t *testing.T, k *Kernel) int {
	t.Helper()
	n := 0
	for _, st := range []model.RunState{model.Pending, model.Running, model.Completed, model.Failed} {
		ids, err := k.idsIn(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		n += len(ids)
	}
	return n
}

// The bound of a run is its request's timeout, else its program's, else
// the kernel's.
func TestTimeoutOfARun(t *testing.T) {
	ctx := context.Background()
	slow := *qa
	slow.Name, slow.Timeout = "slow", "90s"
	st := openStore(t, "", qa, &slow)
	var mu sync.Mutex
	got := map[string]time.Duration{}
	fp := &fakePool{fn: func(_ context.Context, req bridge.ExecuteRequest, _ func(model.Span)) (*bridge.ExecuteResult, error) {
		mu.Lock()
		got[req.Program.Name+" "+req.Inputs["question"].(string)] = req.Timeout
		mu.Unlock()
		return echo(req), nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, ExecutionTimeout: 7 * time.Minute, CacheTTL: -1})
	var xs []*model.Execution
	for _, r := range []Request{{Program: "qa", Inputs: map[string]any{"question": "a"}},
		{Program: "qa", Inputs: map[string]any{"question": "b"}, Timeout: 3 * time.Second},
		{Program: "slow", Inputs: map[string]any{"question": "c"}},
		{Program: "slow", Inputs: map[string]any{"question": "d"}, Timeout: 4 * time.Second}} {
		x, err := k.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	waitAll(t, k, xs)
	want := map[string]time.Duration{"qa a": 7 * time.Minute, "qa b": 3 * time.Second, "slow c": 90 * time.Second, "slow d": 4 * time.Second}
	for key, d := range want {
		if got[key] != d {
			t.Errorf("%s: timeout %s, want %s", key, got[key], d)
		}
	}
	if _, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1), Timeout: -time.Second}); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("a negative timeout: %v", err)
	}
}

// A worker over the memory cap is killed and replaced; its execution is
// retried once on a fresh worker, and one that goes over again (alone on
// its worker: one thread each here) fails naming the cap. Other runs
// complete.
func TestWorkerOverMemoryCap(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "hog.py")
	// forward() holds 600 MiB (written, so resident) until its worker is
	// killed; with a marker path as the question, only the first time.
	os.WriteFile(src, []byte(`import os, threading
import dspy

class Hog(dspy.Module):
    def forward(self, question):
        if question.startswith("/"):
            if os.path.exists(question):
                return dspy.Prediction(answer="fresh worker")
            open(question, "w").close()
        blob = b"x" * (600 << 20)
        threading.Event().wait()
        return dspy.Prediction(answer=str(len(blob)))
`), 0o600)
	hog := &model.Program{Name: "hog", Modules: []model.Module{{Name: "hog", Type: model.Custom, Source: src + ":Hog", Signature: "question -> answer"}}}
	st := openStore(t, "", qa, hog)
	log := &testenv.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pool, err := bridge.Start(ctx, bridge.Config{Python: testenv.Python(t), Workers: 2, Threads: 1, Workspace: t.TempDir(), Log: log,
		MaxRSS: 400 << 20, MemoryInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("starting workers: %v\n%s", err, log)
	}
	t.Cleanup(func() {
		pool.Close(context.Background())
		if t.Failed() {
			t.Logf("pool log:\n%s", log)
		}
	})
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: testLM(nil), Backoff: time.Millisecond, CacheTTL: -1})
	always, err := k.Submit(ctx, Request{Program: "hog", LM: "test", Inputs: map[string]any{"question": "always"}})
	if err != nil {
		t.Fatal(err)
	}
	once, err := k.Submit(ctx, Request{Program: "hog", LM: "test", Inputs: map[string]any{"question": filepath.Join(dir, "once")}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	got := waitAll(t, k, []*model.Execution{always, once, plain})
	if x := got[0]; x.State != model.Failed || x.ErrorCode != bridge.CodeWorkerMemory || x.Attempts != 2 ||
		!strings.Contains(x.Error, "worker_memory cap of 400 MiB") || !strings.Contains(x.Error, "again") {
		t.Errorf("a run over the cap every time: %s after %d attempts: %s %q", x.State, x.Attempts, x.ErrorCode, x.Error)
	}
	if x := got[1]; x.State != model.Completed || x.Outputs["answer"] != "fresh worker" {
		t.Errorf("a run over the cap once: %s after %d attempts: %q", x.State, x.Attempts, x.Error)
	}
	if x := got[2]; x.State != model.Completed {
		t.Errorf("a run beside them: %s after %d attempts: %q", x.State, x.Attempts, x.Error)
	}
}
