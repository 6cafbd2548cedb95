package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// The execution kind: one run of a program on one input, one worker call
// per attempt on the main pool. Trace spans are written as they stream in
// (spans.go); completed executions are cached by program version, inputs
// and LM (lms.go).

// execJob is the job of a pending execution: in its batch's lane, or the
// interactive one.
func (k *Kernel) execJob(x *model.Execution) *job {
	return &job{id: x.ID, kind: KindExecution, res: k.main, lane: x.Batch, exec: x, done: make(chan struct{})}
}

// plan is what an attempt of an execution runs: the program and its LMs, or
// why it cannot run, and what the run is expected to cost.
type plan struct {
	prog *model.Program
	enc  *bridge.EncodedProgram // prog encoded, when the program cache has it
	lms  lmSet
	err  error
	est  float64
	call float64 // what one LM call costs, from the program's latest runs; 0 when it has none
}

// plan resolves the program version (or the recorded variant) and the LM
// profiles of x.
func (k *Kernel) plan(ctx context.Context, x *model.Execution) plan {
	prog := x.Variant // an unsaved variant runs as recorded, outside the cache
	var enc *bridge.EncodedProgram
	if prog == nil {
		cp, err := k.progs.get(ctx, k.st, x.Program, x.Version)
		if err != nil {
			return plan{err: &attemptError{code: CodeNotFound, err: err}}
		}
		prog, enc = cp.prog, cp.enc
	}
	lms, err := k.resolveLMs(ctx, prog, x.LM)
	if err != nil {
		return plan{prog: prog, err: err}
	}
	call, _ := k.gate.callEstimate(ctx, prog, x.LM)
	return plan{prog: prog, enc: enc, lms: lms, est: k.gate.runEstimate(ctx, prog, x.LM, lms.main.spec), call: call}
}

// runExecution is one attempt of one execution. It owns j until it hands
// it back (queued again, or finished).
func (k *Kernel) runExecution(ctx context.Context, j *job) {
	k.mu.Lock()
	x := j.exec
	k.mu.Unlock()
	pl := k.plan(ctx, x)
	r, err := k.gate.reserve(storeCtx, "run", x.Program, x.User, pl.est)
	if err != nil {
		var be *BudgetError
		if errors.As(err, &be) {
			k.failExecution(j, x, CodeBudget, be.Error())
			return
		}
		k.log.printf("execution %s: budget check: %v; retrying later", x.ID, err)
		k.handBack(j, k.backoff(1))
		return
	}
	// Released once the outcome, and so the real cost, is written: as the
	// job leaves the kernel, or when this attempt hands it back.
	k.holding(j, r)
	defer k.gate.settle(r)
	if !j.seqKnown {
		last, err := k.lastSeq(storeCtx, x.ID)
		if err != nil {
			k.log.printf("execution %s: reading its trace: %v; retrying later", x.ID, err)
			k.handBack(j, k.backoff(1))
			return
		}
		j.nextSeq, j.seqKnown = last, true
	}

	cur := clone(x)
	must(cur.Move(model.Running, k.now())) // the kernel only runs pending executions
	k.mu.Lock()
	j.exec = cur
	k.mu.Unlock()
	k.publishExec(cur)

	// The running record goes to the store with the attempt's first spans,
	// or at the span writer's first tick when none came by then; an attempt
	// that ends before either is written once, ended (spans.go).
	sw := k.newSpanWriter(cur, j.stored, j.nextSeq)
	res, key, err := k.execute(ctx, cur, pl, r, sw.add)
	open := ""
	if err != nil {
		open = fmt.Sprintf("attempt %d ended before this span did: %v", cur.Attempts, err)
	}
	rest, bill := sw.finish(open, k.now())
	j.nextSeq, j.stored = sw.last(), sw.stored

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
	if w := workerOf(res, err); w != "" {
		next.Worker = w
	}
	if err == nil && (math.Abs(res.Cost-bill.cost) > 1e-9 || res.CostUnknown != bill.unknown) {
		k.log.printf("execution %s: its trace accounts $%.9f (unknown %v), the worker $%.9f (unknown %v): a span was lost",
			cur.ID, bill.cost, bill.unknown, res.Cost, res.CostUnknown)
	}
	now := k.now()
	if err == nil {
		must(next.Move(model.Completed, now))
		next.Outputs, next.EmbedCache = res.Outputs, res.EmbedCache
		next.ErrorCode, next.Error, next.Traceback = "", "", ""
		if next.Eval != nil {
			ev := *next.Eval
			ev.Score, ev.Scores = res.Score, res.Scores
			next.Eval = &ev
		}
		k.finishExecution(j, next, rest, key)
		return
	}
	v, code, msg := k.judge(j, err, cur.Attempts)
	next.ErrorCode, next.Error, next.Traceback = code, msg, traceback(err)
	switch v {
	case cancelled:
		must(next.Move(model.Cancelled, now))
		k.finishExecution(j, next, rest, nil)
	case cutShort:
		must(next.Move(model.Pending, now))
		next.Attempts--
		k.letGo(j, next, rest)
	case retry:
		must(next.Move(model.Pending, now))
		k.retryExecution(j, next, rest, code == bridge.CodeWorkerDied || code == bridge.CodeWorkerMemory)
	default:
		must(next.Move(model.Failed, now))
		k.finishExecution(j, next, rest, nil)
	}
}

// workerOf is the pool and worker that ran an attempt, when one did.
func workerOf(res *bridge.ExecuteResult, err error) string {
	if res != nil {
		return res.Worker
	}
	var be *bridge.Error
	if errors.As(err, &be) {
		return be.WorkerName()
	}
	return ""
}

// execute calls the pool with what pl resolved. It also returns the cache
// key of this run, or nil when the cache is off.
func (k *Kernel) execute(ctx context.Context, x *model.Execution, pl plan, r *reservation, onSpan func(model.Span)) (*bridge.ExecuteResult, []byte, error) {
	if pl.err != nil {
		return nil, nil, pl.err
	}
	// Each LM call of the run reserves its estimate with the run's reservation.
	gate, err := k.gate.callGate(storeCtx, r, pl.call, callsPerRun(pl.prog))
	if err != nil {
		return nil, nil, &attemptError{code: CodeInternal, retryable: true, err: fmt.Errorf("budget check: %w", err)}
	}
	var key []byte
	if k.o.CacheTTL > 0 && x.Variant == nil {
		key, _ = cacheKey(pl.prog, x.Inputs, pl.lms) // the inputs encoded at submit: it does not fail here
	}
	req := bridge.ExecuteRequest{Program: pl.prog, Encoded: pl.enc, Inputs: x.Inputs, LM: pl.lms.main.spec, ModuleLMs: pl.lms.moduleSpecs(),
		Trace: true, Timeout: k.timeout(x, pl.prog), Gate: gate, Indexes: pl.lms.indexes}
	if x.Eval != nil {
		// One example of an evaluation: the worker scores it in this request.
		var judge *bridge.LMSpec
		if x.Eval.Metric.LM != "" {
			s, err := k.lmSpec(ctx, x.Eval.Metric.LM, "metric: ")
			if err != nil {
				return nil, nil, err
			}
			judge = &s
		}
		m := bridge.MetricOf(x.Eval.Metric, judge)
		req.Metric, req.Labels = &m, x.Eval.Labels
		for _, e := range x.Eval.Extra {
			var judge *bridge.LMSpec
			if e.LM != "" {
				s, err := k.lmSpec(ctx, e.LM, "metric "+e.Name+": ")
				if err != nil {
					return nil, nil, err
				}
				judge = &s
			}
			req.Metrics = append(req.Metrics, bridge.MetricOf(e, judge))
		}
	}
	res, err := k.o.Pool.Execute(ctx, req, onSpan)
	if err != nil {
		return nil, nil, err
	}
	return res, key, nil
}

// timeout is what bounds an attempt of x: the run's own timeout, else its
// program's, else the workspace's.
func (k *Kernel) timeout(x *model.Execution, prog *model.Program) time.Duration {
	return cmp.Or(x.Timeout, prog.ExecTimeout(), k.o.ExecutionTimeout)
}

// retryExecution writes next (back to pending) and hands it back for a
// retry.
func (k *Kernel) retryExecution(j *job, next *model.Execution, rest []model.Span, suspect bool) {
	if err := k.put(j, next, rest); err != nil {
		// It stays running in the store; recovery will count the attempt.
		k.log.printf("execution %s: writing the retry: %v", next.ID, err)
		k.mu.Lock()
		k.releaseLocked(j, fmt.Errorf("execution %s: writing the retry: %w", next.ID, err))
		k.mu.Unlock()
		return
	}
	d := k.backoff(next.Attempts)
	k.log.printf("execution %s: %s; retrying in %s", next.ID, next.Error, d.Round(time.Millisecond))
	k.mu.Lock()
	j.exec, j.suspect = next, suspect
	k.mu.Unlock()
	k.publishExec(next)
	k.handBack(j, d)
}

// put writes next over the record j last wrote, with rest of its spans.
// A write that failed may leave either record stored: the next reads it.
func (k *Kernel) put(j *job, next *model.Execution, rest []model.Span) error {
	err := k.st.ReplaceExecution(storeCtx, j.stored, next, rest)
	if j.stored = next; err != nil {
		j.stored = nil
	}
	return err
}

// finishExecution writes a terminal state with the last spans in one
// transaction, caches a completion, then tells everyone, the evaluation it
// belongs to last. It is the only place a terminal state is written, and it
// runs once per job: the job's owner calls it and the job leaves the
// kernel.
func (k *Kernel) finishExecution(j *job, next *model.Execution, rest []model.Span, key []byte) {
	k.ending(j)
	var err error
	for try := 0; ; try++ {
		if err = k.put(j, next, rest); err == nil || try == 4 {
			break
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
	if err != nil {
		// The store still has it pending or running; the next start settles it.
		k.log.printf("execution %s: writing %s: %v", next.ID, next.State, err)
		k.mu.Lock()
		k.releaseLocked(j, fmt.Errorf("execution %s: writing %s: %w", next.ID, next.State, err))
		k.mu.Unlock()
		return
	}
	if key != nil && next.State == model.Completed {
		if err := k.st.PutCacheEntry(storeCtx, key, next.ID, k.o.CacheTTL); err != nil {
			k.log.printf("execution %s: %v", next.ID, err)
		}
	}
	k.gate.observe(next)
	k.mu.Lock()
	j.exec = next
	k.mu.Unlock()
	k.publishExec(next)
	k.mu.Lock()
	// Read under the lock that releases it: an evaluation taking it up
	// either set parent before, or finds it gone and reads the store.
	parent := j.parent
	k.releaseLocked(j, nil)
	k.mu.Unlock()
	if parent != nil {
		parent.deliver(next)
	}
}

// letGo writes next (pending again, for the next start) and drops j.
func (k *Kernel) letGo(j *job, next *model.Execution, rest []model.Span) {
	if err := k.put(j, next, rest); err != nil {
		k.log.printf("execution %s: writing it back to pending: %v (recovery will retry it)", next.ID, err)
	} else {
		k.mu.Lock()
		j.exec = next
		k.mu.Unlock()
		k.publishExec(next)
	}
	k.mu.Lock()
	k.releaseLocked(j, nil)
	k.mu.Unlock()
}

// failExecution moves a pending execution straight to failed (refused at
// dispatch) or cancelled.
func (k *Kernel) failExecution(j *job, x *model.Execution, code, msg string) {
	next := clone(x)
	to := model.Failed
	if code == CodeCancelled {
		to = model.Cancelled
	}
	must(next.Move(to, k.now()))
	next.ErrorCode, next.Error = code, msg
	k.finishExecution(j, next, nil, nil)
}

// Wait returns an execution once it has reached a terminal state.
func (k *Kernel) Wait(ctx context.Context, id model.ID) (*model.Execution, error) {
	return waitFor(ctx, k, executions, id)
}

// recoverExecutions brings back the executions left pending or running:
// pending ones are queued again; ones left running by a crash go back to
// pending with that attempt counted, or fail "interrupted" when it was
// their last. It runs under k.life, so nothing else persists new jobs.
func (k *Kernel) recoverExecutions(ctx context.Context, rec *Counts) error {
	for _, st := range []model.RunState{model.Running, model.Pending} {
		ids, err := k.idsIn(ctx, st)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := k.recoverExecution(ctx, id, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// idsIn lists every execution in a state. The IDs are collected before any
// is moved, since moving one changes the index being paged.
func (k *Kernel) idsIn(ctx context.Context, st model.RunState) ([]model.ID, error) {
	var ids []model.ID
	cursor := ""
	for {
		page, next, err := k.st.ListExecutions(ctx, store.ExecQuery{State: st, Cursor: cursor, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, x := range page {
			ids = append(ids, x.ID)
		}
		if next == "" {
			return ids, nil
		}
		cursor = next
	}
}

func (k *Kernel) recoverExecution(ctx context.Context, id model.ID, rec *Counts) error {
	k.mu.Lock()
	_, live := k.jobs[id] // submitted before Start: already queued
	k.mu.Unlock()
	if live {
		return nil
	}
	x, err := k.st.GetExecution(ctx, id)
	if err != nil {
		return err
	}
	if x.State.Terminal() {
		return nil
	}
	next := clone(x)
	if x.State == model.Running {
		// The interrupted attempt was never charged: its LM spans, stored as
		// they ended, say what it spent.
		if err := k.chargeTrace(ctx, next); err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
	}
	now := k.now()
	switch {
	case x.Attempts >= model.MaxAttempts:
		must(next.Move(model.Failed, now))
		next.ErrorCode = CodeInterrupted
		if x.State == model.Running {
			next.Error = fmt.Sprintf("interrupted: Signet stopped during attempt %d of %d, the last", x.Attempts, model.MaxAttempts)
		} else {
			next.Error = fmt.Sprintf("out of attempts after %d (%s: %s)", x.Attempts, x.ErrorCode, x.Error)
		}
		rec.Failed++
	case x.State == model.Running:
		must(next.Move(model.Pending, now))
		next.ErrorCode = CodeInterrupted
		next.Error = fmt.Sprintf("attempt %d of %d interrupted: Signet stopped while it ran", x.Attempts, model.MaxAttempts)
		rec.Retried++
	default:
		rec.Requeued++
	}
	if next.State != x.State {
		if err := k.st.ReplaceExecution(ctx, x, next, nil); err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
		k.publishExec(next)
	}
	if next.State.Terminal() {
		return nil
	}
	j := k.execJob(next)
	j.seqKnown, j.stored = next.Attempts == 0, next
	k.mu.Lock()
	k.jobs[id] = j
	k.pushLocked(j)
	k.mu.Unlock()
	return nil
}

// chargeTrace sets x's cost and usage to what the LM spans of its stored
// trace add up to. Earlier attempts were charged from the same spans, so
// this adds what the interrupted attempt stored before Signet stopped; a
// charge already made is never taken back (should a span's write have
// failed, it was charged and is not stored).
func (k *Kernel) chargeTrace(ctx context.Context, x *model.Execution) error {
	var bill charge
	for after := uint64(0); ; {
		page, err := k.st.Spans(ctx, x.ID, after, 0)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			if page[i].End.IsZero() {
				bill.unknown = bill.unknown || billable(&page[i])
				continue
			}
			bill.add(&page[i])
		}
		after = page[len(page)-1].Seq
	}
	var calls int
	for _, u := range bill.usage {
		calls += u.Calls
	}
	if bill.cost >= x.Cost && calls >= x.TotalUsage().Calls {
		x.Cost, x.Usage = bill.cost, bill.usage
	}
	x.CostUnknown = x.CostUnknown || bill.unknown
	return nil
}

// lastSeq is the highest span seq an execution has stored, read page by
// page (only for a recovered execution that ran before).
func (k *Kernel) lastSeq(ctx context.Context, id model.ID) (uint64, error) {
	var last uint64
	for {
		page, err := k.st.Spans(ctx, id, last, 1000)
		if err != nil {
			return 0, err
		}
		if len(page) == 0 {
			return last, nil
		}
		last = page[len(page)-1].Seq
	}
}

// clone copies an execution; its maps are shared, and never modified once
// set, so a clone is as good as a deep copy.
func clone(x *model.Execution) *model.Execution {
	c := *x
	return &c
}
