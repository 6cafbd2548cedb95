package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// TestSingleRunIsNotStuckBehindABatch: a single run submitted while a
// batch of 200 runs at concurrency 2, on real workers, takes the next free
// slot: it starts before the batch's third example that had not started
// when it was submitted (the two in flight may announce their start after
// it was submitted). Checked on the order of the start events.
func TestSingleRunIsNotStuckBehindABatch(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	k, _ := startKernel(t, Options{Store: st, Pool: startPool(t, 2, 2), LMs: testLM(map[string]any{"sleep_ms": 20}),
		Concurrency: 2, CacheTTL: -1})
	events, stop := k.Subscribe(4096)
	defer stop()
	reqs := make([]Request, 200)
	for i := range reqs {
		reqs[i] = Request{Program: "qa", Inputs: question(i), Batch: "big"}
	}
	batch, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	running := func(ev Event) bool { return ev.Kind == EventExecution && ev.Execution.State == model.Running }
	next(t, events, "the batch's first start", running)
	single, err := k.Submit(ctx, Request{Program: "qa", Inputs: map[string]any{"question": "What is the capital of Chad?"}})
	if err != nil {
		t.Fatal(err)
	}
	// Events are in publishing order: from the single run's pending event
	// on, count the batch's starts until the single run's.
	next(t, events, "the single run's pending event", func(ev Event) bool {
		return ev.Kind == EventExecution && ev.Execution.ID == single.ID
	})
	before := 0
	for {
		ev := next(t, events, "the single run's start", running)
		if ev.Execution.ID == single.ID {
			break
		}
		before++
	}
	if before > 2 {
		t.Fatalf("%d of the batch's examples started before the single run, want at most the 2 already dispatched", before)
	}
	if x := waitAll(t, k, []*model.Execution{single})[0]; x.State != model.Completed || x.Outputs["answer"] != "Chad" {
		t.Fatalf("single run %+v", x)
	}
	if err := k.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, x := range waitAll(t, k, batch) {
		if x.State != model.Completed {
			t.Fatalf("batch example %+v", x)
		}
	}
}

// TestLanesTakeTurns: two batches and an evaluation's executions wait in
// lanes of their own and are served in turn, one slot at a time, each
// lane in creation order; the interactive run goes first.
func TestLanesTakeTurns(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	var mu sync.Mutex
	var order []string
	fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		mu.Lock()
		order = append(order, req.Inputs["question"].(string))
		mu.Unlock()
		return echo(req), nil
	}}
	k := newKernel(t, Options{Store: st, Pool: fp, Concurrency: 1, CacheTTL: -1})
	var all []*model.Execution
	for _, lane := range []string{"a", "b", "c"} {
		var reqs []Request
		for i := range 3 {
			reqs = append(reqs, Request{Program: "qa", Batch: lane, Inputs: map[string]any{"question": fmt.Sprintf("%s%d", lane, i)}})
		}
		xs, err := k.SubmitBatch(ctx, reqs)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, xs...)
	}
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: map[string]any{"question": "single"}})
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, x)
	// Queued before Start, so the order is the scheduler's alone.
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitAll(t, k, all)
	want := []string{"single", "a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, want) {
		t.Fatalf("calls in order %v, want %v", order, want)
	}
}
