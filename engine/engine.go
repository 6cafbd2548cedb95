// Package engine runs executions: every run of a program is a
// model.Execution that goes pending → running → completed | failed |
// cancelled, with each transition written to the store before it is acted
// on, so that none is ever lost.
//
// Submit persists an execution as pending and queues it; a dispatcher hands
// queued executions, oldest first, to the worker pool with bounded
// concurrency. A retryable failure (a worker that died, a timeout, a rate
// limit, an LM that is unavailable) sends the execution back to pending and
// it is dispatched again after a backoff, at most model.MaxAttempts attempts
// in all. Start recovers what a crash left behind. Trace spans are written as
// they stream in. Completed executions are cached by program version, inputs
// and LM; budgets cap the monthly cost of a program and of the workspace.
//
// One process owns a workspace (DESIGN.md section 8), so one Engine owns its
// executions: no other writer moves them while it runs.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Executor is what the engine needs from the worker pool (*bridge.Pool
// satisfies it); it is declared here so that tests can wrap it.
type Executor interface {
	Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error)
}

// LMs resolves an LM profile name into a spec (cmd's resolver may start the
// local model server).
type LMs interface {
	Spec(ctx context.Context, profile string) (bridge.LMSpec, error)
}

// Options configure New. Store, Pool and LMs are required.
type Options struct {
	Store       *store.Store
	Pool        Executor
	LMs         LMs
	DefaultLM   string        // profile when neither the request nor the program names one
	Concurrency int           // executions in flight at once (default 8)
	CacheTTL    time.Duration // execution cache; default 10 min; negative = off
	Backoff     time.Duration // first retry delay (default 500ms, doubling, with jitter)
	Log         io.Writer     // engine events (recovery, retries, store errors); nil = discard
	Now         func() time.Time
}

// Defaults of Options.
const (
	DefaultConcurrency = 8
	DefaultCacheTTL    = 10 * time.Minute
	DefaultBackoff     = 500 * time.Millisecond
	maxBackoff         = 30 * time.Second
)

// Error codes the engine sets on executions; the others come from the
// worker (bridge.Error.Code).
const (
	CodeInterrupted = "interrupted" // Signet stopped while the execution ran
	CodeBudget      = "budget"      // refused at dispatch: a monthly cap was reached
	CodeCancelled   = "cancelled"   // cancelled on request
	CodeNotFound    = "not_found"   // the program version is gone
	CodeLMProfile   = "lm_profile"  // the LM profile could not be resolved
	CodeInternal    = "internal"    // an error that is not the worker's
)

// Request asks for one execution.
type Request struct {
	Program string
	Version int // 0 = latest
	Inputs  map[string]any
	LM      string // profile; "" = the program's, else Options.DefaultLM
	Batch   string // optional id grouping the executions of a dataset run
	NoCache bool   // do not answer from the execution cache (the result is still cached)
	// Variant, when set, is run instead of the stored version: an unsaved
	// program derived from Program/Version (its Name must be Program). It is
	// recorded on the execution (model.Execution.Variant), so a retry or a
	// recovery runs it again; it never reads or writes the execution cache.
	Variant *model.Program
	// Eval, when set, makes the execution one example of an evaluation:
	// the worker scores it with Eval.Metric against Eval.Labels in the same
	// request, and the completed execution carries the score in its Eval.
	// It is never answered from the cache (the metric must run).
	Eval *model.ExecEval
}

// Event is a state change of an execution or a span streamed by a running
// one. Execution and Span are shared by every subscriber: do not modify them.
type Event struct {
	Kind      string // EventExecution, EventSpan, EventOptimization or EventEvaluation
	Execution *model.Execution
	Span      *model.Span
	// Optimization is a run's record (EventOptimization), published by the
	// optimization runner through Publish; Progress is set on a progress
	// report, nil on a state change.
	Optimization *model.Optimization
	Progress     *model.OptProgress
	// Evaluation is an evaluation's record (EventEvaluation), published by
	// the evaluation runner as each example ends and at each state change.
	Evaluation *model.Evaluation
}

// Event kinds.
const (
	EventExecution    = "execution"
	EventSpan         = "span"
	EventOptimization = "optimization"
	EventEvaluation   = "evaluation"
)

// Recovered counts what Start found left by the previous owner.
type Recovered struct {
	Requeued int // pending executions queued again
	Retried  int // running ones put back to pending, their attempt counted
	Failed   int // running (or pending) ones out of attempts, failed "interrupted"
}

// Errors callers test with errors.Is.
var (
	ErrClosed     = errors.New("engine: closed")
	ErrNotStarted = errors.New("engine: not started")
	ErrFinished   = errors.New("execution has already finished")
)

// BudgetError refuses an execution because a monthly cap is reached.
type BudgetError struct {
	Scope   string  // "workspace" or "program"
	Program string  // the program, when Scope is "program"
	Cap     float64 // USD per month
	Spent   float64 // USD spent this month
	Month   string  // "2026-11", UTC
}

// Budget scopes.
const (
	ScopeWorkspace = "workspace"
	ScopeProgram   = "program"
)

func (e *BudgetError) Error() string {
	who := "the workspace has"
	if e.Scope == ScopeProgram {
		who = "program " + e.Program + " has"
	}
	return fmt.Sprintf("budget: %s spent $%.4f of its $%.2f monthly cap for %s", who, e.Spent, e.Cap, e.Month)
}

// phase is where a live execution is in the engine.
type phase int

const (
	phaseQueued  phase = iota // in a ready heap
	phaseBackoff              // waiting for its retry timer
	phaseRunning              // owned by a runner goroutine
	phaseDone                 // finished or let go; removed from Engine.jobs
)

// job is a live (pending or running) execution. Fields are guarded by
// Engine.mu; exec is replaced, never modified, so a pointer read under the
// lock is a consistent snapshot.
type job struct {
	exec    *model.Execution
	phase   phase
	index   int // position in its heap while queued
	suspect bool
	// cancelReq is set by Cancel; cancel stops the running attempt.
	cancelReq bool
	cancel    context.CancelFunc
	timer     *time.Timer
	done      chan struct{} // closed when the job leaves the engine
	err       error         // why the outcome could not be written, if so
	finishing bool          // a terminal state is being written: guards against a second
	nextSeq   uint64        // last span seq used by earlier attempts
	seqKnown  bool          // false for a recovered execution until its trace is read
}

var _ Executor = (*bridge.Pool)(nil)

// Engine runs executions. Its methods are safe for concurrent use.
type Engine struct {
	o   Options
	st  *store.Store
	log logger

	ctx  context.Context // cancelled by Close: stops every pool call
	stop context.CancelFunc

	// life orders Start's recovery against Submit (which must not persist an
	// execution that recovery then queues a second time) and against Cancel
	// of a stored execution the engine does not hold.
	life sync.RWMutex

	mu        sync.Mutex
	started   bool
	closed    bool
	closedCh  chan struct{}
	jobs      map[model.ID]*job
	ready     jobHeap // fresh and retried executions, oldest first
	suspects  jobHeap // retries after a worker died, run one at a time (see pumpLocked)
	running   int
	suspectOn bool
	changed   chan struct{} // closed and replaced whenever a job leaves
	runners   sync.WaitGroup

	subMu     sync.Mutex
	subs      map[*subscriber]struct{}
	subsEnded bool
}

// New makes an engine; Start recovers and starts dispatching.
func New(o Options) *Engine {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Engine{o: o, st: o.Store, log: logger{w: o.Log}, closedCh: make(chan struct{}),
		jobs: map[model.ID]*job{}, changed: make(chan struct{}), subs: map[*subscriber]struct{}{}}
	e.ctx, e.stop = context.WithCancel(context.Background())
	return e
}

func (e *Engine) now() time.Time { return e.o.Now().UTC() }

// Start recovers what the last owner of the store left, then starts
// dispatching: pending executions are queued again; executions left running
// by a crash go back to pending with that attempt counted, or fail with code
// "interrupted" when it was their last. ctx bounds the recovery only; the
// engine runs until Close.
func (e *Engine) Start(ctx context.Context) (Recovered, error) {
	var rec Recovered
	if e.o.Store == nil || e.o.Pool == nil || e.o.LMs == nil {
		return rec, errors.New("engine: Options.Store, Pool and LMs are required")
	}
	e.life.Lock()
	defer e.life.Unlock()
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return rec, ErrClosed
	case e.started:
		e.mu.Unlock()
		return rec, errors.New("engine: already started")
	}
	e.mu.Unlock()

	for _, st := range []model.RunState{model.Running, model.Pending} {
		ids, err := e.idsIn(ctx, st)
		if err != nil {
			return rec, fmt.Errorf("engine: recovery: %w", err)
		}
		for _, id := range ids {
			if err := e.recover(ctx, id, &rec); err != nil {
				return rec, fmt.Errorf("engine: recovery: %w", err)
			}
		}
	}
	if rec != (Recovered{}) {
		e.log.printf("recovery: %d pending queued again, %d interrupted runs retried, %d failed out of attempts", rec.Requeued, rec.Retried, rec.Failed)
	}
	e.mu.Lock()
	e.started = true
	e.pumpLocked()
	e.mu.Unlock()
	return rec, nil
}

// idsIn lists every execution in a state. The IDs are collected before any
// is moved, since moving one changes the index being paged.
func (e *Engine) idsIn(ctx context.Context, st model.RunState) ([]model.ID, error) {
	var ids []model.ID
	cursor := ""
	for {
		page, next, err := e.st.ListExecutions(ctx, store.ExecQuery{State: st, Cursor: cursor, Limit: 1000})
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

// recover brings one stored pending or running execution back under the
// engine. It runs under e.life, so nothing else persists new executions.
func (e *Engine) recover(ctx context.Context, id model.ID, rec *Recovered) error {
	e.mu.Lock()
	_, live := e.jobs[id] // submitted before Start: already queued
	e.mu.Unlock()
	if live {
		return nil
	}
	x, err := e.st.GetExecution(ctx, id)
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
		if err := e.chargeTrace(ctx, next); err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
	}
	now := e.now()
	switch {
	case x.Attempts >= model.MaxAttempts:
		if err := next.Move(model.Failed, now); err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
		next.ErrorCode = CodeInterrupted
		if x.State == model.Running {
			next.Error = fmt.Sprintf("interrupted: Signet stopped during attempt %d of %d, the last", x.Attempts, model.MaxAttempts)
		} else {
			next.Error = fmt.Sprintf("out of attempts after %d (%s: %s)", x.Attempts, x.ErrorCode, x.Error)
		}
		rec.Failed++
	case x.State == model.Running:
		if err := next.Move(model.Pending, now); err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
		next.ErrorCode = CodeInterrupted
		next.Error = fmt.Sprintf("attempt %d of %d interrupted: Signet stopped while it ran", x.Attempts, model.MaxAttempts)
		rec.Retried++
	default:
		rec.Requeued++
	}
	if next.State != x.State {
		if err := e.st.PutExecution(ctx, next); err != nil {
			return fmt.Errorf("execution %s: %w", id, err)
		}
		e.publishExec(next)
	}
	if next.State.Terminal() {
		return nil
	}
	j := &job{exec: next, done: make(chan struct{}), seqKnown: next.Attempts == 0}
	e.mu.Lock()
	e.jobs[id] = j
	e.pushLocked(j)
	e.mu.Unlock()
	return nil
}

// chargeTrace sets x's cost and usage to what the LM spans of its stored
// trace add up to. Earlier attempts were charged from the same spans, so
// this adds what the interrupted attempt stored before Signet stopped; a
// charge already made is never taken back (should a span's write have
// failed, it was charged and is not stored).
func (e *Engine) chargeTrace(ctx context.Context, x *model.Execution) error {
	var bill charge
	for after := uint64(0); ; {
		page, err := e.st.Spans(ctx, x.ID, after, 0)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			if page[i].End.IsZero() {
				bill.unknown = bill.unknown || page[i].Kind == model.SpanLM
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

// Wait returns the execution once it has reached a terminal state.
func (e *Engine) Wait(ctx context.Context, id model.ID) (*model.Execution, error) {
	for {
		e.mu.Lock()
		j := e.jobs[id]
		changed := e.changed
		e.mu.Unlock()
		if j != nil {
			select {
			case <-j.done:
				return e.outcome(j)
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for execution %s: %w", id, ctx.Err())
			case <-e.closedCh:
				// The runner may still be writing it back to pending.
				select {
				case <-j.done:
					return e.outcome(j)
				default:
					return nil, fmt.Errorf("waiting for execution %s: %w", id, ErrClosed)
				}
			}
		}
		x, err := e.st.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		if x.State.Terminal() {
			return x, nil
		}
		// Not held yet (Start has not recovered it) or it just left: look
		// again when something changes.
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for execution %s: %w", id, ctx.Err())
		case <-e.closedCh:
			return nil, fmt.Errorf("waiting for execution %s: %w", id, ErrClosed)
		}
	}
}

// outcome is a job's final record, once its done channel is closed.
func (e *Engine) outcome(j *job) (*model.Execution, error) {
	e.mu.Lock()
	x, err := j.exec, j.err
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !x.State.Terminal() {
		return nil, fmt.Errorf("execution %s: %w (left %s for the next start)", x.ID, ErrClosed, x.State)
	}
	return clone(x), nil
}

// Drain waits until the engine holds no pending or running execution.
func (e *Engine) Drain(ctx context.Context) error {
	for {
		e.mu.Lock()
		n, started, closed, changed := len(e.jobs), e.started, e.closed, e.changed
		e.mu.Unlock()
		switch {
		case n == 0:
			return nil
		case closed:
			return ErrClosed
		case !started:
			return fmt.Errorf("drain with %d executions queued: %w", n, ErrNotStarted)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("drain with %d executions left: %w", n, ctx.Err())
		case <-e.closedCh:
		}
	}
}

// Close stops taking work. Running pool calls are cancelled and their
// executions written back to pending, that attempt not counted (it was cut
// short, it did not fail), so nothing is left running; queued and backing
// off executions stay pending in the store. The next Start runs them all.
// Close waits for those writes (bounded by ctx), then ends every
// subscription once its queued events are delivered. Close the engine
// before the pool and the store.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closedCh)
	for id, j := range e.jobs {
		switch j.phase {
		case phaseBackoff:
			j.timer.Stop()
			fallthrough
		case phaseQueued:
			j.phase = phaseDone
			delete(e.jobs, id)
			close(j.done)
		}
	}
	e.ready, e.suspects = nil, nil
	e.mu.Unlock()
	e.stop()

	finished := make(chan struct{})
	go func() {
		e.runners.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = fmt.Errorf("engine: close: executions still being written back: %w", ctx.Err())
	}
	e.subMu.Lock()
	e.subsEnded = true
	for s := range e.subs {
		s.end()
		delete(e.subs, s)
	}
	e.subMu.Unlock()
	return err
}

// clone copies an execution; its maps are shared, and never modified once
// set, so a clone is as good as a deep copy.
func clone(x *model.Execution) *model.Execution {
	c := *x
	return &c
}

// logger writes timestamped engine lines to Options.Log.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(format string, args ...any) {
	if l.w == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s engine: %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), msg)
}
