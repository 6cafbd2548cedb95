package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// events subscribes to the workspace's events for a command that follows
// its own jobs: as a client, the stream holds the owner, which then waits
// for this command before it stops, and leaves out span events, which no
// command reads (a batch's would be most of what the owner sends).
func (a *cli) events(ctx context.Context) (<-chan app.Event, error) {
	// Commands follow jobs to their ends: no spans, and an execution's
	// event only once it has ended.
	ctx = app.EndedOnly(app.WithoutSpans(ctx))
	if a.sess != nil && a.sess.Client != nil {
		return a.sess.Client.Holding().Subscribe(ctx)
	}
	return a.svc.Subscribe(ctx)
}

// followExecutions waits until every execution in ids has ended, calling
// ended (when not nil) once for each, in the order they end. It subscribes
// first, then reads each execution once, so one that ended before the
// stream began is not missed.
func (a *cli) followExecutions(ctx context.Context, ids []model.ID, ended func(*model.Execution)) (map[model.ID]*model.Execution, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := a.events(ctx)
	if err != nil {
		return nil, err
	}
	return a.follow(ctx, evs, ids, ended, true)
}

// follow is followExecutions on a stream already open: when it was opened
// before the executions were submitted (read false), every change of theirs
// is on it and none needs reading.
func (a *cli) follow(ctx context.Context, evs <-chan app.Event, ids []model.ID, ended func(*model.Execution), read bool) (map[model.ID]*model.Execution, error) {
	want := make(map[model.ID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	final := make(map[model.ID]*model.Execution, len(ids))
	end := func(x *model.Execution) {
		if !want[x.ID] || final[x.ID] != nil || !x.State.Terminal() {
			return
		}
		final[x.ID] = x
		if ended != nil {
			ended(x)
		}
	}
	for _, id := range ids {
		if !read {
			break
		}
		x, err := a.svc.Execution(ctx, id)
		if err != nil {
			return final, err
		}
		end(x)
	}
	// ids may name one execution twice (read from two lists while it moved
	// between them): the set decides when all have ended.
	for len(final) < len(want) {
		select {
		case ev, ok := <-evs:
			if !ok {
				if ctx.Err() != nil {
					return final, ctx.Err()
				}
				return final, app.Errorf(app.CodeUnavailable, "lost the owner of the workspace with %d of %d executions not ended; they stay pending: `signet exec resume` finishes them", len(want)-len(final), len(want))
			}
			if ev.Kind == app.EventExecution && ev.Execution != nil {
				end(ev.Execution)
			}
		case <-ctx.Done():
			left := len(want) - len(final)
			if a.owned() == nil { // the owner is another process: they go on there
				return final, fmt.Errorf("interrupted with %d of %d executions not ended; they go on in the workspace's owner (`signet exec cancel ID` or `signet stop` ends them)", left, len(want))
			}
			return final, fmt.Errorf("interrupted with %d of %d executions left; they stay pending: `signet exec resume` finishes them", left, len(want))
		}
	}
	return final, nil
}

// job is how followJob follows one optimization or evaluation.
type job[T any] struct {
	id       model.ID
	of       func(app.Event) *T // the job's new state in an event, nil when the event is not about it
	ended    func(*T) bool
	get      func(context.Context) (*T, error)
	cancel   func(context.Context) error
	stopWait time.Duration
	step     func(app.Event, *T) // each change, for a progress bar
	stopping func()              // ctrl-c was pressed: say so
}

// followJob waits until a job ends and returns it as it ended; ctrl-c
// cancels the job (it keeps what it found) and waits up to stopWait for it
// to stop, then interrupted is true.
func followJob[T any](a *cli, ctx context.Context, j job[T]) (final *T, interrupted bool, err error) {
	sub, stop := context.WithCancel(context.Background())
	defer stop()
	events, err := a.events(sub)
	if err != nil {
		return nil, false, err
	}
	if cur, err := j.get(ctx); err == nil && j.ended(cur) {
		return cur, false, nil // it ended before the stream began
	}
	wait := ctx
	for {
		select {
		case <-wait.Done():
			if interrupted {
				return nil, true, fmt.Errorf("%s did not stop within %s", j.id, j.stopWait)
			}
			interrupted = true
			if j.stopping != nil {
				j.stopping()
			}
			wctx, cancel := context.WithTimeout(context.Background(), j.stopWait)
			defer cancel()
			if err := j.cancel(wctx); err != nil && !errors.Is(err, app.ErrFinished) {
				return nil, true, err
			}
			wait = wctx
		case ev, ok := <-events:
			if !ok {
				cur, err := j.get(context.Background())
				if err == nil && j.ended(cur) {
					return cur, interrupted, nil
				}
				return nil, interrupted, app.Errorf(app.CodeUnavailable, "lost the owner of the workspace while %s ran; it goes on with the next owner", j.id)
			}
			cur := j.of(ev)
			if cur == nil {
				continue
			}
			if j.step != nil {
				j.step(ev, cur)
			}
			if j.ended(cur) {
				return cur, interrupted, nil
			}
		}
	}
}
