package owner

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/otlp"
)

// otlpFlushWait bounds how long stopping the export waits for what is
// queued to go.
const otlpFlushWait = 5 * time.Second

// ExportTraces exports every execution that ends from now on to an
// OTLP/HTTP endpoint (see otlp.Live: batched, from a bounded queue, never
// holding up an execution). The returned stop exports what is queued, a
// few seconds at most, and ends it; call it before Close.
func (o *Owner) ExportTraces(ctx context.Context, endpoint string, content bool) (stop func(), err error) {
	live, err := otlp.StartLive(ctx, otlp.LiveOptions{
		Endpoint: endpoint,
		Options:  otlp.Options{Content: content, Redact: o.redact},
		Load: func(ctx context.Context, id model.ID) (*model.Execution, []model.Span, error) {
			x, err := o.st.GetExecution(ctx, id)
			if err != nil {
				return nil, nil, err
			}
			traced := id
			if x.CacheHit && !x.CacheOf.IsZero() {
				traced = x.CacheOf
			}
			spans, err := o.allSpans(ctx, traced)
			return x, spans, err
		},
		Logf: o.logf,
	})
	if err != nil {
		return nil, err
	}
	// Ended executions only; the kernel's subscription never waits for
	// this reader, which only queues ids.
	subc, cancel := o.subscribeKernel(subWants{buffer: otlp.DefaultQueue, filter: jobs.Filter{NoSpans: true, EndedOnly: true}})
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		var events <-chan jobs.Event
		for {
			select {
			case sub := <-subc:
				events = sub.c
				defer sub.stop()
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Kind == jobs.EventExecution && ev.Execution.State.Terminal() {
					live.Ended(ev.Execution.ID)
				}
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), otlpFlushWait)
		defer scancel()
		if err := live.Shutdown(sctx); err != nil {
			o.logf("otlp: %v", err)
		}
		exported, dropped, failed := live.Counts()
		o.logf("otlp: exported %d executions' traces to %s; %d dropped (queue full), %d failed", exported, endpoint, dropped, failed)
	}, nil
}

// allSpans is an execution's whole trace, read page by page.
func (o *Owner) allSpans(ctx context.Context, id model.ID) ([]model.Span, error) {
	const page = 1000
	var out []model.Span
	for after := uint64(0); ; {
		spans, err := o.st.Spans(ctx, id, after, page)
		if err != nil {
			return nil, fmt.Errorf("spans of execution %s: %w", id, err)
		}
		out = append(out, spans...)
		if len(spans) < page {
			return out, nil
		}
		after = spans[len(spans)-1].Seq
	}
}
