package graphql

import (
	"context"
	"errors"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// updateFilter is what an executionUpdates subscription asked for: one
// execution, a program's, or (neither) every one the caller may read.
type updateFilter struct {
	id      *model.ID
	program string
}

// maxReadable bounds the executions a long subscription remembers it may
// read; past it, it asks the service again.
const maxReadable = 10_000

// executionUpdates streams the service's execution events that pass f and
// that the caller may read: the service decides that (svc.Execution, once
// per execution), as it does for the query. With an id the execution as
// it is now comes first, and the stream ends once it has ended.
func (r *Resolver) executionUpdates(ctx context.Context, f updateFilter) (<-chan *model.Execution, error) {
	// Subscribe before reading the execution: no change in between is lost.
	sub, cancel := context.WithCancel(app.WithoutSpans(ctx))
	events, err := r.svc.Subscribe(sub)
	if err != nil {
		cancel()
		return nil, err
	}
	var now *model.Execution
	if f.id != nil {
		if now, err = r.svc.Execution(ctx, *f.id); err != nil {
			cancel()
			return nil, err
		}
		if f.program != "" && now.Program != f.program {
			cancel()
			return nil, &app.Error{Code: app.CodeInvalid, Field: "program",
				Message: "executionUpdates: execution " + f.id.String() + " is of program " + now.Program + ", not " + f.program}
		}
	}
	out := make(chan *model.Execution, 1)
	go func() {
		defer close(out)
		defer cancel()
		send := func(x *model.Execution) bool {
			select {
			case out <- x:
				return true
			case <-ctx.Done():
				return false
			}
		}
		readable := map[model.ID]bool{}
		var last model.RunState
		if now != nil {
			if !send(now) || now.State.Terminal() {
				return
			}
			readable[now.ID], last = true, now.State
		}
		for ev := range events {
			x := ev.Execution
			if ev.Kind != app.EventExecution || x == nil || (f.id != nil && (x.ID != *f.id || x.State == last)) ||
				(f.program != "" && x.Program != f.program) || !r.mayRead(ctx, readable, x.ID) {
				continue
			}
			if !send(x) {
				return
			}
			if f.id != nil && x.State.Terminal() {
				return
			}
			last = x.State
		}
	}()
	return out, nil
}

// mayRead says whether the service lets the caller read execution id,
// remembering its answer (who created an execution never changes).
func (r *Resolver) mayRead(ctx context.Context, readable map[model.ID]bool, id model.ID) bool {
	if ok, seen := readable[id]; seen {
		return ok
	}
	_, err := r.svc.Execution(ctx, id)
	if err != nil && !errors.Is(err, app.ErrForbidden) && !errors.Is(err, app.ErrNotFound) {
		return false // a failure to read, not an answer: ask again next time
	}
	if len(readable) >= maxReadable {
		clear(readable)
	}
	readable[id] = err == nil
	return err == nil
}
