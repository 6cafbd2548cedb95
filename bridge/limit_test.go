package bridge

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// A request past its limit fails as timed out, not retryable, at once; a
// worker that holds on to it past the cancel grace is killed and replaced,
// and the other request it ran fails retryable (the caller's to retry).
func TestCallLimitReplacesAWorkerThatHoldsOn(t *testing.T) {
	cfg := fakeConfig(t)
	clk := newHeldClock()
	cfg.clock = clk
	p, _ := startPool(t, cfg)
	pid := p.Status()[0].PID
	ctx := context.Background()

	var wg sync.WaitGroup
	var otherErr error
	onOther, otherRunning := started()
	wg.Go(func() { _, otherErr = p.Call(ctx, "sleep", map[string]int{"ms": 30000}, onOther) })
	receive(t, "the other request to start", otherRunning)

	onEvent, running := started()
	go func() {
		<-running
		clk.fireAfter(t) // the limit
	}()
	_, err := p.call(ctx, "sleep", map[string]any{"ms": 30000, "ignore_cancel": true}, 1, onEvent, nil)
	if e := asError(t, err); e.Code != CodeTimeout || e.Retryable || e.Message != "timed out after 1ns" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %#v", e)
	}
	clk.fireFunc(t) // the cancel grace: the worker still runs it
	st := slotReady(t, p, 1, pid)
	contains(t, st.LastError, "did not end within")
	wg.Wait()
	if e := asError(t, otherErr); e.Code != CodeWorkerDied || !e.Retryable {
		t.Fatalf("the other request: %#v", e)
	}
	if _, err := p.Call(ctx, "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
}
