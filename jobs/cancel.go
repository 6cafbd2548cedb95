package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Cancel cancels a job of any kind, the same way: one that has not started
// is cancelled at once; a running one is asked to stop and keeps what it
// found (an execution's call is cancelled, its trace kept; an optimization
// stops at its next hook with the best program so far; an evaluation
// starts no more examples, cancels the running ones and keeps those that
// ended). Cancel returns once the job is terminal; if it completed or
// failed first, the error wraps ErrFinished. An unknown ID is
// store.ErrNotFound.
func (k *Kernel) Cancel(ctx context.Context, id model.ID) error {
	k.mu.Lock()
	j := k.jobs[id]
	if j == nil {
		k.mu.Unlock()
		return k.cancelStored(ctx, id)
	}
	if j.kind == KindEvaluation {
		k.mu.Unlock()
		j.eval.requestCancel()
		return k.cancelled(ctx, j)
	}
	switch j.phase {
	case phaseQueued:
		j.res.remove(j)
	case phaseBackoff:
		j.timer.Stop()
	default: // running, or being cancelled already
		j.cancelReq = true
		if j.kind == KindOptimization {
			j.requestStop() // the cancel that keeps what it learned
		} else if j.cancel != nil {
			j.cancel()
		}
		k.mu.Unlock()
		return k.cancelled(ctx, j)
	}
	// Now no goroutine and no timer holds it: this call owns it.
	j.phase = phaseRunning
	j.cancelReq = true
	j.cancel = nil
	k.runners.Add(1) // Close waits for this write too
	k.mu.Unlock()
	defer k.runners.Done()
	k.cancelOwned(j, "cancelled before it started")
	return k.cancelled(ctx, j)
}

// cancelled waits for a cancelled job to leave the kernel and says how it
// ended.
func (k *Kernel) cancelled(ctx context.Context, j *job) error {
	select {
	case <-j.done:
	case <-ctx.Done():
		return fmt.Errorf("cancel %s %s: %w", j.kind, j.id, ctx.Err())
	}
	k.mu.Lock()
	st := j.state()
	k.mu.Unlock()
	if err := ended(j, j.kind.String(), st); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	if st != model.Cancelled {
		return fmt.Errorf("cancel %s %s: %w (%s)", j.kind, j.id, ErrFinished, st)
	}
	return nil
}

// cancelOwned cancels a pending job that no goroutine or timer holds.
func (k *Kernel) cancelOwned(j *job, why string) {
	switch j.kind {
	case KindExecution:
		k.mu.Lock()
		x := j.exec
		k.mu.Unlock()
		k.failExecution(j, x, CodeCancelled, why)
	case KindOptimization:
		k.mu.Lock()
		o := cloneOpt(j.opt)
		k.mu.Unlock()
		must(o.Move(model.Cancelled, k.now()))
		o.ErrorCode, o.Error = CodeCancelled, why
		k.endOptimization(j, o)
	}
}

// cancelStored cancels a job the kernel does not hold: one left pending or
// running before Start recovered it.
func (k *Kernel) cancelStored(ctx context.Context, id model.ID) error {
	k.life.Lock()
	k.mu.Lock()
	_, live := k.jobs[id]
	k.mu.Unlock()
	if live { // recovered meanwhile
		k.life.Unlock()
		return k.Cancel(ctx, id)
	}
	defer k.life.Unlock()
	const why = "cancelled while Signet was not running it"
	found, err := cancelStoredAs(ctx, k, executions, id, why)
	if !found && err == nil {
		found, err = cancelStoredAs(ctx, k, optimizations, id, why)
	}
	if !found && err == nil {
		found, err = cancelStoredAs(ctx, k, evaluations, id, why)
	}
	switch {
	case !found && err == nil:
		return fmt.Errorf("cancel: no job %s: %w", id, store.ErrNotFound)
	case errors.Is(err, ErrFinished):
		return err
	case err != nil:
		return fmt.Errorf("cancel: %w", err)
	}
	k.mu.Lock()
	k.changedLocked()
	k.mu.Unlock()
	return nil
}
