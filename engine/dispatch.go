package engine

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// jobHeap orders queued jobs by ID, which is creation order (IDs are
// time-ordered), so dispatch is FIFO by creation and a retry keeps its
// place ahead of newer work.
type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, k int) bool {
	return bytes.Compare(h[i].exec.ID[:], h[k].exec.ID[:]) < 0
}
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index, h[k].index = i, k
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.index = -1
	return j
}

// pushLocked queues j for dispatch.
func (e *Engine) pushLocked(j *job) {
	j.phase = phaseQueued
	if j.suspect {
		heap.Push(&e.suspects, j)
	} else {
		heap.Push(&e.ready, j)
	}
	e.pumpLocked()
}

// removeLocked takes a queued j out of its heap.
func (e *Engine) removeLocked(j *job) {
	h := &e.ready
	if j.suspect {
		h = &e.suspects
	}
	if j.index >= 0 && j.index < h.Len() && (*h)[j.index] == j {
		heap.Remove(h, j.index)
	}
}

// pumpLocked starts runners while a slot is free and work is queued.
//
// A retry after a worker died may be the very input that killed it (a
// "poison" input takes down every request on its worker). So such
// retries run one at a time: a poison input can then only ever take fresh
// executions down with it, never the same retried ones again, and the
// innocent ones succeed on their next attempt instead of running out of
// attempts beside it.
func (e *Engine) pumpLocked() {
	if !e.started || e.closed {
		return
	}
	for e.running < e.o.Concurrency {
		var j *job
		r := e.ready.Len() > 0
		s := !e.suspectOn && e.suspects.Len() > 0
		switch {
		case r && s:
			if bytes.Compare(e.ready[0].exec.ID[:], e.suspects[0].exec.ID[:]) < 0 {
				j = heap.Pop(&e.ready).(*job)
			} else {
				j = heap.Pop(&e.suspects).(*job)
			}
		case r:
			j = heap.Pop(&e.ready).(*job)
		case s:
			j = heap.Pop(&e.suspects).(*job)
		default:
			return
		}
		if j.suspect {
			e.suspectOn = true
		}
		e.running++
		j.phase = phaseRunning
		ctx, cancel := context.WithCancel(e.ctx)
		j.cancel = cancel
		e.runners.Add(1)
		go e.run(ctx, cancel, j, j.exec, j.suspect)
	}
}

// backoff is the delay before attempt n+1 after n attempts: Backoff
// doubling, at most maxBackoff, times a jitter in [0.5, 1.5) so that the
// executions one failure hit do not come back in lockstep.
func (e *Engine) backoff(attempts int) time.Duration {
	d := e.o.Backoff << min(max(attempts-1, 0), 16)
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// storeCtx is for the engine's own writes: they must happen even while
// Close cancels the pool calls, so they do not take e.ctx.
var storeCtx = context.Background()

// run is one attempt of one execution. It owns j until it hands it back
// (queued again, or finished).
func (e *Engine) run(ctx context.Context, cancel context.CancelFunc, j *job, x *model.Execution, suspect bool) {
	defer e.runners.Done()
	defer func() {
		e.mu.Lock()
		e.running--
		if suspect {
			e.suspectOn = false
		}
		e.pumpLocked()
		e.mu.Unlock()
	}()
	defer cancel()

	if ctx.Err() != nil {
		e.handBack(j, x, 0) // cancelled or closing before it began
		return
	}
	if err := e.checkBudget(storeCtx, []string{x.Program}); err != nil {
		var be *BudgetError
		if errors.As(err, &be) {
			e.fail(j, x, CodeBudget, be.Error())
			return
		}
		e.log.printf("execution %s: budget check: %v; retrying later", x.ID, err)
		e.handBack(j, x, e.backoff(1))
		return
	}
	if !j.seqKnown {
		last, err := e.lastSeq(storeCtx, x.ID)
		if err != nil {
			e.log.printf("execution %s: reading its trace: %v; retrying later", x.ID, err)
			e.handBack(j, x, e.backoff(1))
			return
		}
		j.nextSeq, j.seqKnown = last, true
	}

	cur := clone(x)
	if err := cur.Move(model.Running, e.now()); err != nil {
		panic(fmt.Sprintf("engine: execution %s: %v", x.ID, err)) // the engine only runs pending executions
	}
	if err := e.st.PutExecution(storeCtx, cur); err != nil {
		e.log.printf("execution %s: writing running: %v; retrying later", x.ID, err)
		e.handBack(j, x, e.backoff(1))
		return
	}
	e.mu.Lock()
	j.exec = cur
	e.mu.Unlock()
	e.publishExec(cur)

	sw := e.newSpanWriter(cur.ID, j.nextSeq)
	res, key, err := e.execute(ctx, cur, sw.add)
	open := ""
	if err != nil {
		open = fmt.Sprintf("attempt %d ended before this span did: %v", cur.Attempts, err)
	}
	rest, bill := sw.finish(open, e.now())
	j.nextSeq = sw.last()

	next := clone(cur)
	// Every LM call an attempt made is charged to the execution, whatever
	// the outcome: completed, failed, cancelled, retried, cut short. The
	// charge is summed from the attempt's LM spans, the one record that
	// exists in every case: each carries its call's usage and cost when it
	// ends and is persisted as it streams in, so it survives a worker killed
	// mid-run, where no result or error frame ever comes (the worker's own
	// totals exist only when it lives to send them). A call begun and never
	// ended makes the cost unknown: it may have been billed.
	bill.to(next)
	if err == nil && (math.Abs(res.Cost-bill.cost) > 1e-9 || res.CostUnknown != bill.unknown) {
		e.log.printf("execution %s: its trace accounts $%.9f (unknown %v), the worker $%.9f (unknown %v): a span was lost",
			cur.ID, bill.cost, bill.unknown, res.Cost, res.CostUnknown)
	}
	now := e.now()
	e.mu.Lock()
	cancelled := j.cancelReq
	e.mu.Unlock()
	closing := e.ctx.Err() != nil
	switch {
	case err == nil:
		must(next.Move(model.Completed, now))
		next.Outputs = res.Outputs
		next.ErrorCode, next.Error = "", ""
		if next.Eval != nil {
			ev := *next.Eval
			ev.Score = res.Score
			next.Eval = &ev
		}
		e.finish(j, next, rest, key)
	case cancelled:
		must(next.Move(model.Cancelled, now))
		next.ErrorCode, next.Error = CodeCancelled, fmt.Sprintf("cancelled during attempt %d", cur.Attempts)
		e.finish(j, next, rest, nil)
	case closing || errors.Is(err, bridge.ErrClosed):
		// Cut short by Close (or the pool closing under us): not the
		// execution's failure, so the attempt is not counted.
		must(next.Move(model.Pending, now))
		next.Attempts--
		next.ErrorCode, next.Error = CodeInterrupted, fmt.Sprintf("attempt %d cut short: Signet was stopping", cur.Attempts)
		e.letGo(j, next, rest)
	default:
		code, msg, retryable := classify(err)
		switch {
		case retryable && next.Attempts < model.MaxAttempts:
			must(next.Move(model.Pending, now))
			next.ErrorCode, next.Error = code, fmt.Sprintf("attempt %d of %d failed: %s", cur.Attempts, model.MaxAttempts, msg)
			e.retry(j, next, rest, code == bridge.CodeWorkerDied)
		case retryable:
			must(next.Move(model.Failed, now))
			next.ErrorCode, next.Error = code, fmt.Sprintf("after %d attempts: %s", next.Attempts, msg)
			e.finish(j, next, rest, nil)
		default:
			must(next.Move(model.Failed, now))
			next.ErrorCode, next.Error = code, msg
			e.finish(j, next, rest, nil)
		}
	}
}

// must panics on an illegal transition: the engine moves executions only
// along legal ones, so one is a bug.
func must(err error) {
	if err != nil {
		panic("engine: " + err.Error())
	}
}

// classify turns a failed attempt into an error code and message, and says
// whether another attempt may help.
func classify(err error) (code, msg string, retryable bool) {
	var be *bridge.Error
	if errors.As(err, &be) {
		return be.Code, be.Message, be.Retryable
	}
	var ae *attemptError
	if errors.As(err, &ae) {
		return ae.code, ae.err.Error(), ae.retryable
	}
	return CodeInternal, err.Error(), false
}

// attemptError is a failure before the pool call: resolving the program or
// the LM profiles.
type attemptError struct {
	code      string
	retryable bool
	err       error
}

func (a *attemptError) Error() string { return a.code + ": " + a.err.Error() }
func (a *attemptError) Unwrap() error { return a.err }

// execute resolves the program version and LM profiles and calls the pool.
// It also returns the cache key of this run, or nil when the cache is off.
func (e *Engine) execute(ctx context.Context, x *model.Execution, onSpan func(model.Span)) (*bridge.ExecuteResult, []byte, error) {
	prog := x.Variant // an unsaved variant runs as recorded, outside the cache
	if prog == nil {
		var err error
		if prog, err = e.st.GetProgramVersion(ctx, x.Program, x.Version); err != nil {
			return nil, nil, &attemptError{code: CodeNotFound, err: err}
		}
	}
	lms, err := e.resolveLMs(ctx, prog, x.LM)
	if err != nil {
		return nil, nil, err
	}
	var key []byte
	if e.o.CacheTTL > 0 && x.Variant == nil {
		key, _ = cacheKey(prog, x.Inputs, lms) // the inputs encoded at submit: it does not fail here
	}
	req := bridge.ExecuteRequest{Program: prog, Inputs: x.Inputs, LM: lms.main.spec, ModuleLMs: lms.moduleSpecs(), Trace: true}
	if x.Eval != nil {
		// One example of an evaluation: the worker scores it in this request.
		var judge *bridge.LMSpec
		if x.Eval.Metric.LM != "" {
			s, err := e.lmSpec(ctx, x.Eval.Metric.LM, "metric: ")
			if err != nil {
				return nil, nil, err
			}
			judge = &s
		}
		m := bridge.MetricOf(x.Eval.Metric, judge)
		req.Metric, req.Labels = &m, x.Eval.Labels
	}
	res, err := e.o.Pool.Execute(ctx, req, onSpan)
	if err != nil {
		return nil, nil, err
	}
	return res, key, nil
}

// handBack returns a job whose attempt did not start (x is still what the
// store holds, pending): it is cancelled if Cancel asked, dropped if the
// engine is closing, else queued again after d.
func (e *Engine) handBack(j *job, x *model.Execution, d time.Duration) {
	e.mu.Lock()
	j.exec = x
	if e.closed {
		e.releaseLocked(j, nil)
		e.mu.Unlock()
		return
	}
	if j.cancelReq {
		e.mu.Unlock()
		e.cancelOwned(j, x, "cancelled before it started")
		return
	}
	e.backoffLocked(j, d)
	e.mu.Unlock()
}

// backoffLocked queues j again once d has passed. The timer holds no
// dispatch slot.
func (e *Engine) backoffLocked(j *job, d time.Duration) {
	j.phase = phaseBackoff
	j.timer = time.AfterFunc(d, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if j.phase == phaseBackoff && !e.closed {
			e.pushLocked(j)
		}
	})
}

// retry writes next (back to pending) and hands it back for a retry.
func (e *Engine) retry(j *job, next *model.Execution, rest []model.Span, suspect bool) {
	if err := e.st.PutExecutionWithSpans(storeCtx, next, rest); err != nil {
		// It stays running in the store; recovery will count the attempt.
		e.log.printf("execution %s: writing the retry: %v", next.ID, err)
		e.mu.Lock()
		e.releaseLocked(j, fmt.Errorf("execution %s: writing the retry: %w", next.ID, err))
		e.mu.Unlock()
		return
	}
	d := e.backoff(next.Attempts)
	e.log.printf("execution %s: %s; retrying in %s", next.ID, next.Error, d.Round(time.Millisecond))
	e.mu.Lock()
	j.suspect = suspect
	e.mu.Unlock()
	e.publishExec(next)
	e.handBack(j, next, d)
}

// cancelOwned cancels a pending execution that no runner or timer holds.
func (e *Engine) cancelOwned(j *job, x *model.Execution, why string) {
	next := clone(x)
	must(next.Move(model.Cancelled, e.now()))
	next.ErrorCode, next.Error = CodeCancelled, why
	e.finish(j, next, nil, nil)
}

// finish writes a terminal state with the last spans in one transaction,
// caches a completion, then tells everyone. It is the only place a
// terminal state is written, and it runs once per job: the job's owner
// calls it and the job leaves the engine.
func (e *Engine) finish(j *job, next *model.Execution, rest []model.Span, key []byte) {
	e.mu.Lock()
	if j.finishing || j.phase == phaseDone {
		e.mu.Unlock()
		panic(fmt.Sprintf("engine: execution %s finished twice", next.ID))
	}
	j.finishing = true
	e.mu.Unlock()
	var err error
	for try := 0; ; try++ {
		if err = e.st.PutExecutionWithSpans(storeCtx, next, rest); err == nil || try == 4 {
			break
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
	if err != nil {
		// The store still has it pending or running; the next start settles it.
		e.log.printf("execution %s: writing %s: %v", next.ID, next.State, err)
		e.mu.Lock()
		e.releaseLocked(j, fmt.Errorf("execution %s: writing %s: %w", next.ID, next.State, err))
		e.mu.Unlock()
		return
	}
	if key != nil && next.State == model.Completed {
		if err := e.st.PutCacheEntry(storeCtx, key, next.ID, e.o.CacheTTL); err != nil {
			e.log.printf("execution %s: %v", next.ID, err)
		}
	}
	e.mu.Lock()
	j.exec = next
	e.mu.Unlock()
	e.publishExec(next)
	e.mu.Lock()
	e.releaseLocked(j, nil)
	e.mu.Unlock()
}

// letGo writes next (pending again, for the next start) and drops j.
func (e *Engine) letGo(j *job, next *model.Execution, rest []model.Span) {
	if err := e.st.PutExecutionWithSpans(storeCtx, next, rest); err != nil {
		e.log.printf("execution %s: writing it back to pending: %v (recovery will retry it)", next.ID, err)
	} else {
		e.mu.Lock()
		j.exec = next
		e.mu.Unlock()
		e.publishExec(next)
	}
	e.mu.Lock()
	e.releaseLocked(j, nil)
	e.mu.Unlock()
}

// fail moves a pending execution straight to failed (refused at dispatch).
func (e *Engine) fail(j *job, x *model.Execution, code, msg string) {
	next := clone(x)
	must(next.Move(model.Failed, e.now()))
	next.ErrorCode, next.Error = code, msg
	e.finish(j, next, nil, nil)
}

// releaseLocked drops j from the engine and wakes its waiters.
func (e *Engine) releaseLocked(j *job, err error) {
	if j.phase == phaseDone {
		return
	}
	j.phase = phaseDone
	j.err = err
	delete(e.jobs, j.exec.ID)
	close(j.done)
	close(e.changed)
	e.changed = make(chan struct{})
}
