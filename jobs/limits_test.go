package jobs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
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
