package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// A subscriber without spans gets every state change and no span; one
// with spans beside it gets them; with no subscriber wanting spans none is
// published, and the store keeps the trace all the same.
func TestSubscribeWithNoSpans(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	fp := &fakePool{fn: func(_ context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		now := time.Now()
		onSpan(span("p", "", now, false))
		onSpan(span("p", "", now, true))
		return echo(req), nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), CacheTTL: -1, Concurrency: 1})
	quiet, stopQuiet := k.SubscribeWith(64, Filter{NoSpans: true})
	defer stopQuiet()

	// until reads ev until id completes and returns the span events seen.
	until := func(events <-chan Event, id model.ID) int {
		t.Helper()
		spans := 0
		next(t, events, "execution "+id.String()+" completed", func(ev Event) bool {
			if ev.Kind == EventSpan {
				spans++
			}
			return ev.Kind == EventExecution && ev.Execution.ID == id && ev.Execution.State == model.Completed
		})
		return spans
	}
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	if n := until(quiet, x.ID); n != 0 {
		t.Fatalf("a subscriber without spans got %d span events", n)
	}
	if n := k.spanSubs.Load(); n != 0 {
		t.Fatalf("%d subscribers want spans, want 0: spans are published", n)
	}
	if got := allSpans(t, st, x.ID); len(got) != 1 || got[0].End.IsZero() {
		t.Fatalf("stored trace %+v, want the one span, ended", got)
	}

	loud, stopLoud := k.Subscribe(64)
	y, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(2)})
	if err != nil {
		t.Fatal(err)
	}
	if n := until(loud, y.ID); n != 2 {
		t.Fatalf("a subscriber with spans got %d span events, want 2 (start, end)", n)
	}
	if n := until(quiet, y.ID); n != 0 {
		t.Fatalf("beside one with spans, a subscriber without got %d span events", n)
	}
	stopLoud()
	stopLoud() // twice: counted once
	if n := k.spanSubs.Load(); n != 0 {
		t.Fatalf("%d subscribers want spans after the only one stopped", n)
	}
}

// BenchmarkPublishSpan: what a span costs the owner's event fan-out while
// its one subscriber (a batch's client) wants no spans, against the same
// subscriber taking every span and dropping it (as the API's stream did
// for `?spans=false` before the kernel knew).
func BenchmarkPublishSpan(b *testing.B) {
	st := openStore(b, "", qa)
	s := span("s", "", time.Now(), true)
	for _, wants := range []bool{false, true} {
		name := map[bool]string{false: "without-spans", true: "with-spans-dropped"}[wants]
		b.Run(name, func(b *testing.B) {
			k := newKernel(b, Options{Store: st, Pool: &fakePool{}, LMs: testLM(nil)})
			events, stop := k.SubscribeWith(1024, Filter{NoSpans: true})
			if wants {
				events, stop = k.Subscribe(1024)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range events { // the consumer drops what it gets
				}
			}()
			for b.Loop() {
				k.publishSpan(&s)
			}
			stop()
			<-done
		})
	}
}

// A subscriber asking for ended executions only hears of each execution
// once, as it ends; one beside it hears every state change.
func TestSubscribeEndedOnly(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	fp := &fakePool{fn: func(_ context.Context, req bridge.ExecuteRequest, _ func(model.Span)) (*bridge.ExecuteResult, error) {
		return echo(req), nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), CacheTTL: -1, Concurrency: 2})
	ended, stopEnded := k.SubscribeWith(64, Filter{NoSpans: true, EndedOnly: true})
	defer stopEnded()
	all, stopAll := k.Subscribe(64)
	defer stopAll()
	var reqs []Request
	for i := range 3 {
		reqs = append(reqs, Request{Program: "qa", Inputs: question(i)})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	states := func(events <-chan Event) map[model.ID][]model.RunState {
		t.Helper()
		seen := map[model.ID][]model.RunState{}
		done := 0
		next(t, events, "3 executions ended", func(ev Event) bool {
			if ev.Kind == EventExecution {
				seen[ev.Execution.ID] = append(seen[ev.Execution.ID], ev.Execution.State)
				if ev.Execution.State.Terminal() {
					done++
				}
			}
			return done == len(xs)
		})
		return seen
	}
	for id, got := range states(ended) {
		if len(got) != 1 || got[0] != model.Completed {
			t.Errorf("execution %s: an ended-only subscriber got %v, want [completed]", id, got)
		}
	}
	for id, got := range states(all) {
		if len(got) < 2 || got[len(got)-1] != model.Completed {
			t.Errorf("execution %s: a plain subscriber got %v, want running then completed", id, got)
		}
	}
}
