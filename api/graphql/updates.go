package graphql

import (
	"context"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// updateFilter is what an executionUpdates subscription asked for: one
// execution, a program's, or (neither) every one the caller may read.
type updateFilter struct {
	id      *model.ID
	program string
}

// executionUpdates streams the service's execution events that pass f and
// that the caller may read. With an id, the service's Execution decides
// that, and the execution as it is now comes first; the stream ends once it
// has ended. Without one, each event is left out unless the policy lets the
// subscriber read it (app.Authorize, as ListExecutions leaves out what the
// caller may not read: other users' executions are not refusals to audit).
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
	who := app.Caller(ctx)
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
		var last model.RunState
		if now != nil {
			if !send(now) || now.State.Terminal() {
				return
			}
			last = now.State
		}
		for ev := range events {
			x := ev.Execution
			if ev.Kind != app.EventExecution || x == nil || !f.passes(x, last) ||
				app.Authorize(who, app.ActionRead, app.ExecutionOf(x)) != nil {
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

// passes says whether x is one f asked for, and (one execution's) a state
// not sent yet: last is the state sent last.
func (f updateFilter) passes(x *model.Execution, last model.RunState) bool {
	if f.id != nil {
		return x.ID == *f.id && x.State != last
	}
	return f.program == "" || x.Program == f.program
}
