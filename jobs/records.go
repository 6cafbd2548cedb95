package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// records is how the kernel reads and ends the records of one kind of job,
// so that waiting, reading live records and cancelling stored ones are
// written once for every kind.
type records[T any] struct {
	kind  Kind
	get   func(*store.Store, context.Context, model.ID) (*T, error)
	live  func(*job) *T // a copy of a held job's current record, under Kernel.mu
	state func(*T) model.RunState
	// cancel writes a stored record cancelled, with why, and announces it.
	cancel func(ctx context.Context, k *Kernel, rec *T, why string) error
}

var executions = records[model.Execution]{kind: KindExecution, get: (*store.Store).GetExecution,
	live:  func(j *job) *model.Execution { return clone(j.exec) },
	state: func(x *model.Execution) model.RunState { return x.State },
	cancel: func(ctx context.Context, k *Kernel, x *model.Execution, why string) error {
		must(x.Move(model.Cancelled, k.now()))
		x.ErrorCode, x.Error = CodeCancelled, why
		return announced(k.st.PutExecution(ctx, x), func() { k.publishExec(x) })
	}}

var optimizations = records[model.Optimization]{kind: KindOptimization, get: (*store.Store).GetOptimization,
	live:  func(j *job) *model.Optimization { return cloneOpt(j.opt) },
	state: func(o *model.Optimization) model.RunState { return o.State },
	cancel: func(ctx context.Context, k *Kernel, o *model.Optimization, why string) error {
		must(o.Move(model.Cancelled, k.now()))
		o.ErrorCode, o.Error = CodeCancelled, why
		return announced(k.st.PutOptimization(ctx, o), func() { k.publishOpt(o, nil) })
	}}

var evaluations = records[model.Evaluation]{kind: KindEvaluation, get: (*store.Store).GetEvaluation,
	live:  func(j *job) *model.Evaluation { return cloneEval(j.eval.rec) },
	state: func(v *model.Evaluation) model.RunState { return v.State },
	cancel: func(ctx context.Context, k *Kernel, v *model.Evaluation, why string) error {
		must(v.Move(model.Cancelled, k.now()))
		v.ErrorCode, v.Error = CodeCancelled, why
		return announced(k.st.PutEvaluation(ctx, v), func() { k.publishEval(v) })
	}}

// announced runs announce once a write has succeeded.
func announced(err error, announce func()) error {
	if err == nil {
		announce()
	}
	return err
}

// waitFor returns a job's record once it has reached a terminal state.
func waitFor[T any](ctx context.Context, k *Kernel, r records[T], id model.ID) (*T, error) {
	var stored *T
	j, err := k.await(ctx, r.kind.String(), id, func(ctx context.Context) (bool, error) {
		rec, err := r.get(k.st, ctx, id)
		stored = rec
		return err == nil && r.state(rec).Terminal(), err
	})
	if err != nil || j == nil {
		return stored, err
	}
	k.mu.Lock()
	rec := r.live(j)
	k.mu.Unlock()
	if err := ended(j, r.kind.String(), r.state(rec)); err != nil {
		return nil, err
	}
	return rec, nil
}

// current is the live record of a job the kernel holds, else the stored one.
func current[T any](ctx context.Context, k *Kernel, r records[T], id model.ID) (*T, error) {
	k.mu.Lock()
	var rec *T
	if j := k.jobs[id]; j != nil && j.kind == r.kind {
		rec = r.live(j)
	}
	k.mu.Unlock()
	if rec != nil {
		return rec, nil
	}
	return r.get(k.st, ctx, id)
}

// unfinished lists the records a store listing (newest first, by pages)
// holds that are pending or running, oldest first.
func unfinished[T any](ctx context.Context, list func(ctx context.Context, program, cursor string, limit int) ([]*T, string, error),
	state func(*T) model.RunState) ([]*T, error) {
	var left []*T
	for cursor := ""; ; {
		page, next, err := list(ctx, "", cursor, 1000)
		if err != nil {
			return nil, err
		}
		for _, rec := range page {
			if !state(rec).Terminal() {
				left = append(left, rec)
			}
		}
		if next == "" {
			slices.Reverse(left)
			return left, nil
		}
		cursor = next
	}
}

// cancelStoredAs cancels a stored job of r's kind, if id is one.
func cancelStoredAs[T any](ctx context.Context, k *Kernel, r records[T], id model.ID, why string) (found bool, err error) {
	rec, err := r.get(k.st, ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return true, err
	}
	if st := r.state(rec); st.Terminal() {
		return true, fmt.Errorf("cancel %s %s: %w (%s)", r.kind, id, ErrFinished, st)
	}
	return true, r.cancel(ctx, k, rec, why)
}
