// Package jobs is the job kernel: one durable queue for every kind of job
// of a workspace (executions, evaluations, optimizations), with one
// scheduler, one budget gate, one cancellation, retry and crash-recovery
// policy and one event stream.
//
// Every job is a record in the store that goes pending → running →
// completed | failed | cancelled, each transition written before it is
// acted on, so that none is ever lost:
//   - an execution is one run of a program on one input: one worker call
//     per attempt on the main pool;
//   - an optimization is one run of a DSPy optimizer: one worker call per
//     attempt on the optimization worker (a pool of its own: an optimizer
//     holds its worker for minutes with its threads busy inside it);
//   - an evaluation is a parent whose children are executions (one per
//     example, scored by the worker in the same call); it takes no slot
//     itself. A batch (a dataset run) is executions grouped the same way,
//     with no record of its own.
//
// Scheduling (queue.go): ready work waits in lanes: the interactive lane
// (single runs), one lane per batch or evaluation, one per optimization.
// When a slot of a resource frees, the interactive lane is served first,
// then the other lanes in turn, so a single run submitted during a
// 1,000-example batch starts at the next free slot. Within a lane, oldest
// first.
//
// Policy, the same for every kind: a job cancelled before it starts is
// cancelled at once; a running one is asked to stop and keeps what it found
// (an execution its trace, an evaluation the examples that ended, an
// optimization its trials and best program so far). A retryable failure is
// retried after a backoff, at most model.MaxAttempts attempts in all. Close
// cuts running attempts short and writes them back to pending, that attempt
// not counted; Start takes up what an earlier owner left: pending jobs are
// queued again, running ones go back to pending with their attempt counted
// (failed "interrupted" when it was the last). An optimization resumes where
// its optimizer allows (opt.go).
//
// Budgets (budget.go): a job reserves its estimate against the monthly caps
// when it is dispatched and each of its LM calls reserves its own before it
// starts; a call's reservation is settled by its real cost, held until it
// is written with the job, so jobs in flight pass a cap by at most one call
// each.
//
// One process owns a workspace (DESIGN.md section 8), so one Kernel owns its
// jobs: no other writer moves them while it runs.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
	"github.com/signet-dspy/signet/store"
)

// Executor is what the kernel needs of the main worker pool (*bridge.Pool
// satisfies it); declared here so that tests can wrap it.
type Executor interface {
	Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error)
	// Flow is a program's data flow (a worker reads a custom module's fields).
	Flow(ctx context.Context, prog *model.Program, baseDir string, indexes map[string]bridge.IndexSpec) (model.Flow, error)
}

// Optimizer is what the kernel needs of the optimization worker.
type Optimizer interface {
	Optimize(ctx context.Context, req bridge.OptimizeRequest, onEvent func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error)
}

var (
	_ Executor  = (*bridge.Pool)(nil)
	_ Optimizer = (*bridge.Pool)(nil)
)

// LMs resolves an LM profile name into a spec (the owner's resolver may
// start the local model server).
type LMs interface {
	Spec(ctx context.Context, profile string) (bridge.LMSpec, error)
}

// Options configure New. Store, Pool and LMs are required.
type Options struct {
	Store *store.Store
	Pool  Executor
	// OptPool gives the optimization worker; the kernel calls it when the
	// first optimization starts (so that no process starts for nothing) and
	// keeps what it returns. nil: optimizations fail with code unavailable.
	OptPool func(ctx context.Context) (Optimizer, error)
	LMs     LMs
	// Indexes resolves the indexes a program's retrieve modules search
	// (the owner's records); an error fails the job before any worker
	// call. nil: no index resolves.
	Indexes        func(ctx context.Context, p *model.Program) (map[string]bridge.IndexSpec, error)
	DefaultLM      string        // profile when neither the request nor the program names one
	Concurrency    int           // executions in flight at once (default 8)
	OptConcurrency int           // optimizations at once (default 1: one dedicated worker)
	Threads        int           // evaluation threads inside an optimizer (default 16)
	StopGrace      time.Duration // how long a cancelled optimization may take to stop (default bridge.DefaultStopGrace)
	CacheTTL       time.Duration // execution cache; default 10 min; negative = off
	Backoff        time.Duration // first retry delay (default 500ms, doubling, with jitter)
	// ExecutionTimeout bounds one attempt of an execution whose request and
	// program name no timeout (the owner gives the config's; 0: none). Past
	// it the execution fails "timed out"; the pool stops the worker call
	// (and replaces the worker if it does not let go: a Python thread
	// cannot be interrupted).
	ExecutionTimeout time.Duration
	// Queue is how many executions may wait for a slot (the owner gives the
	// config's limit; 0: no limit); a submission that would make more wait
	// is refused with a *QueueFullError.
	Queue int
	// Dir is the workspace directory: an optimizer that can resume from its
	// own saved state (GEPA) keeps it under Dir/optimizations/<run id>.
	// "": such runs start over as a new attempt instead.
	Dir string
	Log io.Writer // kernel events (recovery, retries, store errors); nil = discard
	// Redact removes secrets from what requests bring in (inputs) before
	// it is stored; what workers send is redacted by the pool. nil: key
	// shapes only.
	Redact *redact.Redactor
	Now    func() time.Time
}

// Defaults of Options.
const (
	DefaultConcurrency = 8
	DefaultThreads     = 16
	DefaultCacheTTL    = 10 * time.Minute
	DefaultBackoff     = 500 * time.Millisecond
	maxBackoff         = 30 * time.Second
)

// Error codes the kernel sets on jobs; the others come from the worker
// (bridge.Error.Code).
const (
	CodeInterrupted = "interrupted" // Signet stopped while the job ran
	CodeBudget      = "budget"      // refused at dispatch or at an LM call: a monthly cap was reached
	CodeCancelled   = "cancelled"   // cancelled on request
	CodeNotFound    = "not_found"   // the program version is gone
	CodeLMProfile   = "lm_profile"  // the LM profile could not be resolved
	CodeBadInput    = "bad_input"   // the request cannot run (a dataset changed under a recovered evaluation)
	CodeSubmit      = "submit"      // an evaluation's executions were refused (a profile)
	CodeUnavailable = "unavailable" // the optimization worker could not start
	CodeInternal    = "internal"    // an error that is not the worker's
)

// Kind is what a job runs.
type Kind int

// Kinds of job.
const (
	KindExecution Kind = iota
	KindEvaluation
	KindOptimization
)

func (k Kind) String() string {
	return [...]string{"execution", "evaluation", "optimization"}[k]
}

// Counts is what recovery did with the jobs of one kind.
type Counts struct {
	Requeued int // pending jobs queued again
	Retried  int // running ones put back to pending, their attempt counted
	Failed   int // running (or pending) ones out of attempts, failed "interrupted"
}

// Recovered counts what Start found left by the previous owner.
type Recovered struct {
	Executions    Counts
	Optimizations Counts
	Evaluations   int // taken up: their ended examples recorded, the others run
}

// Errors callers test with errors.Is.
var (
	ErrClosed     = errors.New("the job kernel is closed")
	ErrNotStarted = errors.New("the job kernel is not started")
	ErrFinished   = errors.New("already finished")
)

// phase is where a live job is in the kernel.
type phase int

const (
	phaseQueued  phase = iota // in a lane of its resource
	phaseBackoff              // waiting for its retry timer
	phaseRunning              // owned by a goroutine: an attempt, a cancel, an evaluation's coordinator
	phaseDone                 // finished or let go; removed from Kernel.jobs
)

// job is a live (pending or running) job. Fields are guarded by Kernel.mu;
// the records are replaced, never modified, so a pointer read under the
// lock is a consistent snapshot.
type job struct {
	id    model.ID
	kind  Kind
	res   *resource // the slots its attempts take; nil for an evaluation
	lane  string    // its lane on res ("" is the interactive lane)
	phase phase
	index int // position in its lane's heap while queued
	// suspect marks a retry after a worker died (see resource.pick).
	suspect bool
	// cancelReq is set by Cancel; cancel stops the running attempt.
	cancelReq bool
	cancel    context.CancelFunc
	timer     *time.Timer
	done      chan struct{} // closed when the job leaves the kernel
	err       error         // why the outcome could not be written, if so
	finishing bool          // a terminal state is being written: guards against a second
	// hold is the running attempt's budget reservation: released when the
	// job leaves the kernel, before anyone waiting hears it ended.
	hold *reservation

	exec *model.Execution // KindExecution
	// stored is exec's record as the store last committed it, when the
	// kernel knows it (nil: the store reads it): it is handed to each write
	// of the execution, which then need not read and decode the stored
	// record. Only the job's owner touches it.
	stored   *model.Execution
	nextSeq  uint64   // last span seq used by earlier attempts
	seqKnown bool     // false for a recovered execution until its trace is read
	parent   *evalRun // the evaluation an execution is an example of

	opt      *model.Optimization // KindOptimization
	stop     chan struct{}       // closed by Cancel: stop at the next hook, keeping what was found
	stopOnce sync.Once

	eval *evalRun // KindEvaluation: its coordinator
}

func (j *job) requestStop() { j.stopOnce.Do(func() { close(j.stop) }) }

// state is the job's current state, under Kernel.mu.
func (j *job) state() model.RunState {
	switch j.kind {
	case KindExecution:
		return j.exec.State
	case KindOptimization:
		return j.opt.State
	}
	return j.eval.rec.State
}

// Kernel runs jobs. Its methods are safe for concurrent use.
type Kernel struct {
	o    Options
	st   *store.Store
	log  logger
	gate *gate
	// flushed, when set (tests), is called after each write of a running
	// attempt's span writer.
	flushed func(exec model.ID)

	ctx  context.Context // cancelled by Close: stops every worker call
	stop context.CancelFunc

	// life orders Start's recovery against submissions (which must not
	// persist a job that recovery then queues a second time) and against
	// Cancel of a stored job the kernel does not hold.
	life sync.RWMutex

	mu       sync.Mutex
	started  bool
	closed   bool
	closedCh chan struct{}
	jobs     map[model.ID]*job
	main     *resource // the main pool's slots: executions
	optRes   *resource // the optimization worker's slots
	// admitting counts the executions being submitted, admitted to the
	// queue but not in it yet.
	admitting int
	changed   chan struct{} // closed and replaced whenever a job leaves
	runners   sync.WaitGroup

	optMu   sync.Mutex
	optPool Optimizer // once OptPool gave it

	subMu     sync.Mutex
	subs      map[*subscriber]struct{}
	subsEnded bool
	// spanSubs counts the subscribers that want span events (changed under
	// subMu): with none, a span is not published at all.
	spanSubs atomic.Int32

	progs programCache
}

// New makes a kernel; Start recovers and starts dispatching.
func New(o Options) *Kernel {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.OptConcurrency <= 0 {
		o.OptConcurrency = 1
	}
	if o.Threads <= 0 {
		o.Threads = DefaultThreads
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
	k := &Kernel{o: o, st: o.Store, log: logger{w: o.Log}, closedCh: make(chan struct{}),
		jobs: map[model.ID]*job{}, changed: make(chan struct{}), subs: map[*subscriber]struct{}{},
		main: newResource("main", o.Concurrency), optRes: newResource("optimization", o.OptConcurrency)}
	k.gate = &gate{st: o.Store, now: k.now, hist: map[string][]float64{}}
	k.ctx, k.stop = context.WithCancel(context.Background())
	return k
}

func (k *Kernel) now() time.Time { return k.o.Now().UTC() }

// Start recovers what the last owner of the store left, then starts
// dispatching (see the package comment). ctx bounds the recovery only; the
// kernel runs until Close.
func (k *Kernel) Start(ctx context.Context) (Recovered, error) {
	var rec Recovered
	if k.o.Store == nil || k.o.Pool == nil || k.o.LMs == nil {
		return rec, errors.New("jobs: Options.Store, Pool and LMs are required")
	}
	k.life.Lock()
	defer k.life.Unlock()
	k.mu.Lock()
	switch {
	case k.closed:
		k.mu.Unlock()
		return rec, ErrClosed
	case k.started:
		k.mu.Unlock()
		return rec, errors.New("jobs: already started")
	}
	k.mu.Unlock()

	if err := k.recoverExecutions(ctx, &rec.Executions); err != nil {
		return rec, fmt.Errorf("jobs: recovery: %w", err)
	}
	if err := k.recoverOptimizations(ctx, &rec.Optimizations); err != nil {
		return rec, fmt.Errorf("jobs: recovery: %w", err)
	}
	evals, err := k.unfinishedEvaluations(ctx)
	if err != nil {
		return rec, fmt.Errorf("jobs: recovery: %w", err)
	}
	if rec != (Recovered{}) || len(evals) > 0 {
		e, o := rec.Executions, rec.Optimizations
		k.log.printf("recovery: executions %d requeued, %d retried, %d failed; optimizations %d requeued, %d resumed, %d failed; %d evaluations taken up",
			e.Requeued, e.Retried, e.Failed, o.Requeued, o.Retried, o.Failed, len(evals))
	}
	k.mu.Lock()
	k.started = true
	// An evaluation is taken up once the executions it follows are held:
	// its coordinator finds them among the kernel's jobs.
	for _, v := range evals {
		if _, live := k.jobs[v.ID]; !live && !k.closed {
			k.startEvalLocked(v, nil)
			rec.Evaluations++
		}
	}
	k.pumpLocked()
	k.mu.Unlock()
	return rec, nil
}

// Held is the number of jobs the kernel holds: queued, running or backing
// off (a background owner is not idle while there are any).
func (k *Kernel) Held() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.jobs) + k.admitting
}

// Drain waits until the kernel holds no pending or running job.
func (k *Kernel) Drain(ctx context.Context) error {
	for {
		k.mu.Lock()
		n, started, closed, changed := len(k.jobs), k.started, k.closed, k.changed
		k.mu.Unlock()
		switch {
		case n == 0:
			return nil
		case closed:
			return ErrClosed
		case !started:
			return fmt.Errorf("drain with %d jobs queued: %w", n, ErrNotStarted)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("drain with %d jobs left: %w", n, ctx.Err())
		case <-k.closedCh:
		}
	}
}

// Close stops taking work. Running worker calls are cancelled and their
// jobs written back to pending, that attempt not counted (it was cut short,
// it did not fail), so nothing is left running; queued and backing-off jobs
// stay pending in the store, evaluations as they are. The next Start takes
// them all up. Close waits for those writes (bounded by ctx), then ends
// every subscription once its queued events are delivered. Close the kernel
// before the pools and the store.
func (k *Kernel) Close(ctx context.Context) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	close(k.closedCh)
	for id, j := range k.jobs {
		switch j.phase {
		case phaseBackoff:
			j.timer.Stop()
			fallthrough
		case phaseQueued:
			j.phase = phaseDone
			delete(k.jobs, id)
			close(j.done)
		}
	}
	k.main.clear()
	k.optRes.clear()
	k.mu.Unlock()
	k.stop()

	finished := make(chan struct{})
	go func() {
		k.runners.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = fmt.Errorf("jobs: close: jobs still being written back: %w", ctx.Err())
	}
	k.subMu.Lock()
	k.subsEnded = true
	for s := range k.subs {
		s.end()
		k.dropLocked(s)
	}
	k.subMu.Unlock()
	return err
}

// enter stores a new job's record (put) and, under the kernel's lock,
// announces it and registers it, so that Cancel cannot slip in between and
// "pending" is always its first event. Start's recovery is held off
// meanwhile, so it cannot take the job up a second time. A job stored as
// the kernel closes stays pending for the next start.
func (k *Kernel) enter(ctx context.Context, put func(context.Context) error, announce, register func()) error {
	k.life.RLock()
	defer k.life.RUnlock()
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := put(ctx); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	announce()
	if !k.closed {
		register()
	}
	return nil
}

// ending marks j as having its terminal state written: a job ends once,
// by its owner, so a second end is a bug.
func (k *Kernel) ending(j *job) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if j.finishing || j.phase == phaseDone {
		panic(fmt.Sprintf("jobs: %s %s ended twice", j.kind, j.id))
	}
	j.finishing = true
}

// releaseLocked drops j from the kernel and wakes its waiters.
func (k *Kernel) releaseLocked(j *job, err error) {
	if j.phase == phaseDone {
		return
	}
	j.phase = phaseDone
	j.err = err
	k.gate.settle(j.hold)
	j.hold = nil
	delete(k.jobs, j.id)
	close(j.done)
	k.changedLocked()
}

func (k *Kernel) changedLocked() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// await waits until job id is terminal: held, until it leaves the kernel;
// not held (Start has not recovered it, or it just left), until the stored
// record, which terminal reads, says so. It returns the job if it was held.
func (k *Kernel) await(ctx context.Context, what string, id model.ID, terminal func(context.Context) (bool, error)) (*job, error) {
	for {
		k.mu.Lock()
		j := k.jobs[id]
		changed := k.changed
		k.mu.Unlock()
		if j != nil {
			select {
			case <-j.done:
				return j, nil
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for %s %s: %w", what, id, ctx.Err())
			case <-k.closedCh:
				// Its goroutine may still be writing it back to pending.
				select {
				case <-j.done:
					return j, nil
				default:
					return nil, fmt.Errorf("waiting for %s %s: %w", what, id, ErrClosed)
				}
			}
		}
		done, err := terminal(ctx)
		if err != nil || done {
			return nil, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s %s: %w", what, id, ctx.Err())
		case <-k.closedCh:
			return nil, fmt.Errorf("waiting for %s %s: %w", what, id, ErrClosed)
		}
	}
}

// ended is the error for a job that left the kernel without a terminal
// state: its outcome could not be written, or the kernel closed first.
func ended(j *job, what string, st model.RunState) error {
	if j.err != nil {
		return j.err
	}
	if !st.Terminal() {
		return fmt.Errorf("%s %s: %w (left %s for the next start)", what, j.id, ErrClosed, st)
	}
	return nil
}

// storeCtx is for the kernel's own writes: they must happen even while
// Close cancels the worker calls, so they do not take k.ctx.
var storeCtx = context.Background()

// writeTimeout bounds a write of the kernel's that no caller waits for.
const writeTimeout = 30 * time.Second

// logger writes timestamped kernel lines to Options.Log.
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
	fmt.Fprintf(l.w, "%s jobs: %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), msg)
}
