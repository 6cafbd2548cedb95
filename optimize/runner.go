// Package optimize runs optimization records durably: a run of a DSPy
// optimizer on a program version is a model.Optimization that goes pending
// → running → completed | failed | cancelled, each transition written to the
// store before it is acted on. Trials are stored as the worker streams
// them, progress is published to subscribers, and the best program found
// becomes a new version of the program whose CompiledFrom is the run.
//
// Runs go to their own worker pool (cmd starts a single-worker pool for
// them), not the executions' pool: an optimization holds its worker for
// minutes with up to Threads evaluation threads busy inside it, and the
// pool's least-busy dispatch would otherwise keep sending executions to that
// process, where they would queue behind the optimizer for the GIL. A pool
// of its own keeps every supervision feature (restart, health pings,
// parent-death signal) and never takes an execution's slot.
//
// Recovery: a run left running by an owner that stopped is failed with
// code "interrupted" ("owner stopped"), its stored trials kept; it is not
// run again, since it has already spent LM calls and money that a silent
// rerun would spend a second time. A pending run (never started) is queued
// again.
package optimize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Optimizer is what the runner needs of a worker pool (*bridge.Pool).
type Optimizer interface {
	Optimize(ctx context.Context, req bridge.OptimizeRequest, onEvent func(bridge.OptimizeEvent)) (*bridge.OptimizeResult, error)
	// Flow is the program's data flow (a worker knows a custom module's fields).
	Flow(ctx context.Context, prog *model.Program, baseDir string) (model.Flow, error)
}

var _ Optimizer = (*bridge.Pool)(nil)

// LMs resolves an LM profile name into a spec.
type LMs interface {
	Spec(ctx context.Context, profile string) (bridge.LMSpec, error)
}

// Options configure New. Store, Pool and LMs are required.
type Options struct {
	Store       *store.Store
	Pool        Optimizer
	LMs         LMs
	DefaultLM   string        // profile when neither the request nor the program names one
	Concurrency int           // runs at once (default 1: one dedicated worker)
	Threads     int           // evaluation threads inside the worker (default 16)
	StopGrace   time.Duration // how long a cancelled run may take to stop (default bridge.DefaultStopGrace)
	// Publish, if set, receives every event, in order, on the goroutine of
	// the change; it must not block. cmd forwards them to the engine's event
	// stream, so that one stream (its subscribers queue state changes and
	// drop progress when behind) carries every live change of the workspace.
	Publish func(Event)
	Log     io.Writer
	Now     func() time.Time
}

// Error codes the runner sets on records; the others are the worker's.
const (
	CodeInterrupted = "interrupted" // the owner stopped while the run ran
	CodeBadInput    = "bad_input"
	CodeNotFound    = "not_found"
	CodeLMProfile   = "lm_profile"
	CodeInternal    = "internal"
)

// Errors callers test with errors.Is.
var (
	ErrClosed   = errors.New("optimize: closed")
	ErrFinished = errors.New("optimization has already finished")
)

// Request asks for one optimization run.
type Request struct {
	Program      string         `json:"program"`
	Version      int            `json:"version,omitempty"` // 0 = latest
	Optimizer    string         `json:"optimizer"`         // a contract name or an alias (mipro, bootstrap, ...)
	Settings     map[string]any `json:"settings,omitempty"`
	Train        model.DataRef  `json:"train"`
	Val          model.DataRef  `json:"val,omitzero"`
	Test         model.DataRef  `json:"test,omitzero"`
	Metric       model.Metric   `json:"metric"`
	Labels       []string       `json:"labels,omitempty"` // explicit labels (model.Labels)
	LM           string         `json:"lm,omitempty"`
	ReflectionLM string         `json:"reflection_lm,omitempty"`
	Budget       float64        `json:"budget,omitempty"` // USD; the run's own hard stop
	Threads      int            `json:"threads,omitempty"`
	Seed         int            `json:"seed,omitempty"`
}

// BudgetError refuses a run whose estimated cost would exceed a monthly cap.
type BudgetError struct {
	Scope    string // "workspace" or "program"
	Program  string
	Cap      float64
	Spent    float64
	Estimate float64
	Month    string
}

func (e *BudgetError) Error() string {
	who := "the workspace's"
	if e.Scope == "program" {
		who = "program " + e.Program + "'s"
	}
	return fmt.Sprintf("budget: this run is estimated at $%.4f, and with $%.4f already spent in %s it would exceed %s monthly cap of $%.2f (lower the settings, use a smaller dataset, or raise the cap with `signet cost --set-budget`)",
		e.Estimate, e.Spent, e.Month, who, e.Cap)
}

// Event is a change of a run: a state change (Progress nil) or a progress
// report. Optimization is a snapshot that is never modified afterwards.
type Event struct {
	Optimization *model.Optimization
	Progress     *model.OptProgress
}

type job struct {
	rec      *model.Optimization // replaced, never modified, under Runner.mu
	running  bool
	stop     chan struct{}
	stopOnce sync.Once
	cancel   context.CancelFunc // hard abort, on Close
	done     chan struct{}
}

func (j *job) requestStop() { j.stopOnce.Do(func() { close(j.stop) }) }

// Runner runs optimizations. Its methods are safe for concurrent use.
type Runner struct {
	o   Options
	st  *store.Store
	ctx context.Context
	end context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	jobs    map[model.ID]*job
	queue   []model.ID
	running int
	wg      sync.WaitGroup
}

// New makes a runner; Start recovers and starts running.
func New(o Options) *Runner {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Threads <= 0 {
		o.Threads = 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	r := &Runner{o: o, st: o.Store, jobs: map[model.ID]*job{}}
	r.ctx, r.end = context.WithCancel(context.Background())
	return r
}

func (r *Runner) now() time.Time { return r.o.Now().UTC() }

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "%s optimize: %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), fmt.Sprintf(format, args...))
}

// Recovered counts what Start found left by the previous owner.
type Recovered struct {
	Requeued int // pending runs queued again
	Failed   int // running ones failed "owner stopped"
}

// Start recovers the runs an earlier owner left (see the package comment),
// then starts running the queue.
func (r *Runner) Start(ctx context.Context) (Recovered, error) {
	var rec Recovered
	if r.o.Store == nil || r.o.Pool == nil || r.o.LMs == nil {
		return rec, errors.New("optimize: Options.Store, Pool and LMs are required")
	}
	var left []*model.Optimization
	for cursor := ""; ; {
		page, next, err := r.st.ListOptimizations(ctx, "", cursor, 1000)
		if err != nil {
			return rec, fmt.Errorf("optimize: recovery: %w", err)
		}
		for _, o := range page {
			if !o.State.Terminal() {
				left = append(left, o)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Reverse(left) // oldest first
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return rec, ErrClosed
	}
	for _, o := range left {
		if _, ok := r.jobs[o.ID]; ok {
			continue
		}
		if o.State == model.Running {
			if err := o.Move(model.Failed, r.now()); err != nil {
				return rec, err
			}
			o.ErrorCode = CodeInterrupted
			o.Error = "owner stopped: Signet stopped while the run was in progress; the trials it stored are kept (run it again with `signet opt run`)"
			// Its cost is the last progress stored (every few seconds): what
			// it spent after that is charged to no one, and unknown.
			o.CostUnknown = true
			if err := r.st.PutOptimization(ctx, o); err != nil {
				return rec, fmt.Errorf("optimize: recovery: %w", err)
			}
			r.publish(Event{Optimization: o})
			rec.Failed++
			continue
		}
		r.jobs[o.ID] = &job{rec: o, stop: make(chan struct{}), done: make(chan struct{})}
		r.queue = append(r.queue, o.ID)
		rec.Requeued++
	}
	if rec != (Recovered{}) {
		r.logf("recovery: %d pending queued again, %d interrupted runs failed", rec.Requeued, rec.Failed)
	}
	r.started = true
	r.pumpLocked()
	return rec, nil
}

// Submit checks a request, estimates its LM calls and cost, refuses it if
// the estimate would exceed a monthly budget, and stores and queues the run
// as pending. The record carries the estimate.
func (r *Runner) Submit(ctx context.Context, req Request) (*model.Optimization, error) {
	o, err := r.Prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if err := r.st.PutOptimization(ctx, o); err != nil {
		return nil, err
	}
	r.jobs[o.ID] = &job{rec: o, stop: make(chan struct{}), done: make(chan struct{})}
	r.queue = append(r.queue, o.ID)
	r.publish(Event{Optimization: o})
	if r.started {
		r.pumpLocked()
	}
	return clone(o), nil
}

// Prepare checks a request and builds its pending record with the
// estimate, without storing it: what Submit would run.
func (r *Runner) Prepare(ctx context.Context, req Request) (*model.Optimization, error) {
	opt, err := model.ParseOptimizer(req.Optimizer)
	if err != nil {
		return nil, &model.FieldError{Field: "optimizer", Msg: err.Error()}
	}
	if err := model.CheckMetric(req.Metric); err != nil {
		return nil, &model.FieldError{Field: "metric", Msg: err.Error()}
	}
	if req.Train.Dataset == "" {
		return nil, &model.FieldError{Field: "train", Msg: "a training set is required (DATASET or DATASET:SPLIT)"}
	}
	if req.Budget < 0 || math.IsNaN(req.Budget) || math.IsInf(req.Budget, 0) {
		return nil, &model.FieldError{Field: "budget", Msg: fmt.Sprintf("%v is not an amount in USD", req.Budget)}
	}
	var p *model.Program
	if req.Version > 0 {
		p, err = r.st.GetProgramVersion(ctx, req.Program, req.Version)
	} else {
		p, err = r.st.GetProgram(ctx, req.Program)
	}
	if err != nil {
		return nil, err
	}
	var sz sizes
	if sz.train, err = refSize(ctx, r.st, req.Train); err != nil {
		return nil, err
	}
	if sz.train == 0 {
		return nil, &model.FieldError{Field: "train", Msg: fmt.Sprintf("%s has no examples", req.Train.String())}
	}
	if sz.val, err = refSize(ctx, r.st, req.Val); err != nil {
		return nil, err
	}
	if sz.test, err = refSize(ctx, r.st, req.Test); err != nil {
		return nil, err
	}
	for _, ref := range []model.DataRef{req.Train, req.Val, req.Test} {
		if err := checkLabels(ctx, r.st, ref, p, req.Labels); err != nil {
			return nil, err
		}
	}
	profile := firstNonEmpty(req.LM, p.LM, r.o.DefaultLM)
	spec, err := r.o.LMs.Spec(ctx, profile)
	if err != nil {
		return nil, fmt.Errorf("LM profile %q: %w", profile, err)
	}
	for _, name := range []string{req.ReflectionLM, req.Metric.LM} {
		if name != "" {
			if _, err := r.o.LMs.Spec(ctx, name); err != nil {
				return nil, fmt.Errorf("LM profile %q: %w", name, err)
			}
		}
	}
	settings := map[string]any{}
	for k, v := range req.Settings {
		settings[k] = v
	}
	threads := req.Threads
	if threads <= 0 {
		threads = r.o.Threads
	}
	o := &model.Optimization{Program: p.Name, BaseVersion: p.Version, Optimizer: opt, Settings: settings,
		Train: req.Train, Val: req.Val, Test: req.Test, Metric: req.Metric, Labels: req.Labels, State: model.Pending,
		Budget: req.Budget, LM: req.LM, ReflectionLM: req.ReflectionLM, Threads: threads, Seed: req.Seed,
		CreatedAt: r.now()}
	o.Estimate = estimate(p, opt, settings, sz, spec)
	if err := r.checkBudget(ctx, o); err != nil {
		return nil, err
	}
	return o, nil
}

// spentThisMonth is what executions and optimization runs of program (""
// = all) cost this month.
func (r *Runner) spentThisMonth(ctx context.Context, program, month string) (float64, error) {
	// The rollups hold executions' and optimization runs' costs alike
	// (store.PutOptimization adds a run's cost to its program's month).
	rs, err := r.st.CostRollups(ctx, program, month)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, x := range rs {
		sum += x.Cost
	}
	return sum, nil
}

// checkBudget refuses a run whose estimate would take the month's spending
// of the workspace or the program over its cap; when a cap applies, the
// run's hard stop becomes at most what is left of it.
func (r *Runner) checkBudget(ctx context.Context, o *model.Optimization) error {
	caps, err := r.st.Budgets(ctx)
	if err != nil || len(caps) == 0 {
		return err
	}
	month := r.now().Format("2006-01")
	est := 0.0
	if o.Estimate.Cost != nil {
		est = *o.Estimate.Cost
	}
	for _, scope := range []string{"", o.Program} {
		c, ok := caps[scope]
		if !ok {
			continue
		}
		spent, err := r.spentThisMonth(ctx, scope, month)
		if err != nil {
			return err
		}
		be := &BudgetError{Scope: "workspace", Cap: c, Spent: spent, Estimate: est, Month: month}
		if scope != "" {
			be.Scope, be.Program = "program", scope
		}
		if spent >= c || (o.Estimate.Cost != nil && spent+est > c) {
			return be
		}
		if left := c - spent; o.Budget == 0 || left < o.Budget {
			o.Budget = left
		}
	}
	return nil
}

// pumpLocked starts queued runs while there is room.
func (r *Runner) pumpLocked() {
	for !r.closed && r.running < r.o.Concurrency && len(r.queue) > 0 {
		id := r.queue[0]
		r.queue = r.queue[1:]
		j := r.jobs[id]
		if j == nil {
			continue
		}
		j.running = true
		r.running++
		ctx, cancel := context.WithCancel(r.ctx)
		j.cancel = cancel
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer cancel()
			r.run(ctx, j)
			r.mu.Lock()
			r.running--
			delete(r.jobs, id)
			close(j.done)
			r.pumpLocked()
			r.mu.Unlock()
		}()
	}
}

// save writes a new state of a run and announces it.
func (r *Runner) save(j *job, o *model.Optimization) {
	// A background context: the outcome of a run must be written even when
	// the command that started it has gone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.st.PutOptimization(ctx, o); err != nil {
		r.logf("optimization %s: writing %s: %v", o.ID, o.State, err)
	}
	r.mu.Lock()
	j.rec = o
	r.mu.Unlock()
	r.publish(Event{Optimization: o})
}

func (r *Runner) snapshot(j *job) *model.Optimization {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(j.rec)
}

// run takes one run from pending to a terminal state.
func (r *Runner) run(ctx context.Context, j *job) {
	o := r.snapshot(j)
	select {
	case <-j.stop: // cancelled while queued
		if err := o.Move(model.Cancelled, r.now()); err == nil {
			r.save(j, o)
		}
		return
	default:
	}
	if err := o.Move(model.Running, r.now()); err != nil {
		r.logf("optimization %s: %v", o.ID, err)
		return
	}
	r.save(j, o)
	fail := func(code string, err error) {
		o := r.snapshot(j)
		_ = o.Move(model.Failed, r.now())
		o.ErrorCode, o.Error = code, err.Error()
		chargeFailed(o, err)
		if ctx.Err() != nil && r.closing() {
			o.ErrorCode = CodeInterrupted
			o.Error = "owner stopped: Signet stopped while the run was in progress; the trials it stored are kept"
		}
		r.save(j, o)
	}
	req, base, err := r.request(ctx, o)
	if err != nil {
		code := CodeBadInput
		var be *bridge.Error
		switch {
		case errors.As(err, &be):
			code = be.Code
		case errors.Is(err, store.ErrNotFound):
			code = CodeNotFound
		}
		fail(code, err)
		return
	}
	req.Stop = j.stop
	req.StopGrace = r.o.StopGrace
	var mu sync.Mutex // guards trials: onEvent runs on this goroutine, Cancel reads nothing of it
	trials := map[int]bool{}
	lastSave := time.Time{}
	res, err := r.o.Pool.Optimize(ctx, req, func(ev bridge.OptimizeEvent) {
		switch {
		case ev.Trial != nil:
			t := &model.Trial{Optimization: o.ID, N: ev.Trial.N, Score: ev.Trial.Score, Instructions: ev.Trial.Instructions,
				Demos: ev.Trial.Demos, Results: ev.Trial.Results, At: r.now()}
			fillFromModules(t, ev.Trial.Modules)
			if err := r.st.PutTrial(context.Background(), t); err != nil {
				r.logf("optimization %s: trial %d: %v", o.ID, t.N, err)
			}
			mu.Lock()
			trials[t.N] = true
			n := len(trials)
			mu.Unlock()
			cur := r.snapshot(j)
			cur.Trials = n
			if t.N == 0 {
				cur.BaselineScore = t.Score
			}
			if t.N > 0 && (t.Score > cur.BestScore || cur.BestTrial == 0) {
				cur.BestScore, cur.BestTrial = t.Score, t.N
			}
			r.save(j, cur)
			lastSave = time.Now()
		case ev.Progress != nil:
			cur := r.snapshot(j)
			p := *ev.Progress
			cur.Progress = &p
			cur.LMCalls, cur.Cost = p.LMCalls, p.Cost
			r.mu.Lock()
			j.rec = cur
			r.mu.Unlock()
			// Progress is published at the worker's pace and stored now and
			// then, so that a record read from the store is not far behind.
			if time.Since(lastSave) > 5*time.Second {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := r.st.PutOptimization(ctx, cur); err != nil {
					r.logf("optimization %s: progress: %v", o.ID, err)
				}
				cancel()
				lastSave = time.Now()
			}
			r.publish(Event{Optimization: cur, Progress: &p})
		}
	})
	if err != nil {
		code := CodeInternal
		var be *bridge.Error
		if errors.As(err, &be) {
			code = be.Code
		}
		fail(code, err)
		return
	}
	r.finish(ctx, j, base, res)
}

// chargeFailed sets what a failed run is charged: every LM call it made.
// The worker's error says what the run spent when the worker lived to send
// it (bridge.SpentOf). Otherwise the last progress report (already on o) is
// what is known; if the call had reached a worker that then died, timed out
// or was abandoned, calls after that report (progress is throttled) or in
// flight may have been billed too, so the cost is unknown beyond it.
func chargeFailed(o *model.Optimization, err error) {
	if sp, ok := bridge.SpentOf(err); ok {
		o.Cost, o.LMCalls = sp.Cost, sp.LMCalls
		o.CostUnknown = o.CostUnknown || sp.CostUnknown
		return
	}
	var be *bridge.Error
	if errors.As(err, &be) && be.Worker != 0 &&
		slices.Contains([]string{bridge.CodeWorkerDied, bridge.CodeTimeout, bridge.CodeCancelled, bridge.CodeProtocol}, be.Code) {
		o.CostUnknown = true
	}
}

// fillFromModules fills a trial's per-predictor instructions and demos,
// keyed by predictor path as in the program's dump_state(), from the
// modules' full state where the event did not give them.
func fillFromModules(t *model.Trial, mods map[string]bridge.ModuleState) {
	for name, m := range mods {
		for _, p := range m.Predictors {
			path := model.PredictorPath(name, p.Name)
			if t.Instructions == nil {
				t.Instructions = map[string]string{}
			}
			if _, ok := t.Instructions[path]; !ok {
				t.Instructions[path] = p.Instructions
			}
			if t.Demos == nil {
				t.Demos = map[string][]map[string]any{}
			}
			if _, ok := t.Demos[path]; !ok && p.Demos != nil {
				t.Demos[path] = p.Demos
			}
		}
	}
}

// request builds the worker request of a run: the base version, the LMs
// resolved, the examples read.
func (r *Runner) request(ctx context.Context, o *model.Optimization) (bridge.OptimizeRequest, *model.Program, error) {
	var req bridge.OptimizeRequest
	p, err := r.st.GetProgramVersion(ctx, o.Program, o.BaseVersion)
	if err != nil {
		return req, nil, err
	}
	specs := map[string]bridge.LMSpec{}
	spec := func(name string) (bridge.LMSpec, error) {
		if s, ok := specs[name]; ok {
			return s, nil
		}
		s, err := r.o.LMs.Spec(ctx, name)
		if err != nil {
			var be *bridge.Error
			if errors.As(err, &be) {
				return s, err
			}
			return s, &bridge.Error{Code: CodeLMProfile, Message: fmt.Sprintf("LM profile %q: %v", name, err), Err: err}
		}
		specs[name] = s
		return s, nil
	}
	if req.LM, err = spec(firstNonEmpty(o.LM, p.LM, r.o.DefaultLM)); err != nil {
		return req, nil, err
	}
	for _, m := range p.Modules {
		if m.LM == "" {
			continue
		}
		s, err := spec(m.LM)
		if err != nil {
			return req, nil, err
		}
		if req.ModuleLMs == nil {
			req.ModuleLMs = map[string]bridge.LMSpec{}
		}
		req.ModuleLMs[m.Name] = s
	}
	if o.ReflectionLM != "" {
		s, err := spec(o.ReflectionLM)
		if err != nil {
			return req, nil, err
		}
		req.ReflectionLM = &s
	}
	var judge *bridge.LMSpec
	if o.Metric.LM != "" {
		s, err := spec(o.Metric.LM)
		if err != nil {
			return req, nil, err
		}
		judge = &s
	}
	req.Metric = bridge.MetricOf(o.Metric, judge)
	// A custom module without a signature: a worker reads its fields.
	flow, err := r.o.Pool.Flow(ctx, p, "")
	if err != nil {
		return req, nil, err
	}
	if req.Train, err = loadExamples(ctx, r.st, o.Train, p.Name, flow, o.Labels); err != nil {
		return req, nil, err
	}
	if req.Val, err = loadExamples(ctx, r.st, o.Val, p.Name, flow, o.Labels); err != nil {
		return req, nil, err
	}
	if req.Test, err = loadExamples(ctx, r.st, o.Test, p.Name, flow, o.Labels); err != nil {
		return req, nil, err
	}
	req.Program, req.Optimizer, req.Settings = p, o.Optimizer, o.Settings
	req.Budget, req.Threads, req.Seed = o.Budget, o.Threads, o.Seed
	return req, p, nil
}

// finish records a result: scores, cost, the best program as a new version
// (for a stopped run too, if it learned anything) or, when it scores below
// the baseline, as the run's candidate, and the final state.
func (r *Runner) finish(ctx context.Context, j *job, base *model.Program, res *bridge.OptimizeResult) {
	o := r.snapshot(j)
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o.BaselineScore, o.BestScore, o.BestTrial = res.BaselineScore, res.BestScore, res.BestTrial
	o.TestBaseline, o.TestScore = res.TestBaseline, res.TestScore
	o.Cost, o.CostUnknown, o.LMCalls, o.Duration, o.Stopped = res.Cost, res.CostUnknown, res.LMCalls, res.Duration(), res.Stopped
	o.Trials = max(o.Trials, res.Trials)
	// The best trial's per-example results are what compare reads; fill
	// them (and the baseline's) from the result when the optimizer
	// evaluated the candidate elsewhere.
	for _, fix := range []struct {
		n       int
		results []model.ExampleResult
		score   float64
	}{{0, res.ValResults.Baseline, res.BaselineScore}, {res.BestTrial, res.ValResults.Best, res.BestScore}} {
		if len(fix.results) == 0 {
			continue
		}
		t, err := r.trial(wctx, o.ID, fix.n)
		if err != nil {
			r.logf("optimization %s: trial %d: %v", o.ID, fix.n, err)
			continue
		}
		if t == nil {
			t = &model.Trial{Optimization: o.ID, N: fix.n, Score: fix.score, At: r.now()}
			if fix.n == res.BestTrial {
				t.Instructions, t.Demos = map[string]string{}, map[string][]map[string]any{}
				fillFromModules(t, res.Modules)
			}
			o.Trials++
		}
		if len(t.Results) == 0 {
			t.Results = fix.results
			if err := r.st.PutTrial(wctx, t); err != nil {
				r.logf("optimization %s: trial %d: %v", o.ID, fix.n, err)
			}
		}
	}
	learned := res.Stopped == "" || res.BestTrial > 0
	if len(res.Modules) > 0 && learned {
		next := *base
		next.Modules = slices.Clone(base.Modules)
		for i := range next.Modules {
			m, ok := res.Modules[next.Modules[i].Name]
			if !ok {
				continue
			}
			// Every predictor's state as the optimizer left it; the
			// module's own instructions stay the user's.
			next.Modules[i].Predictors = m.Predictors
			next.Modules[i].Demos = nil
		}
		next.CompiledFrom = o.ID.String()
		next.Note = fmt.Sprintf("optimized by %s (run %s) from v%d: validation score %.3f → %.3f", o.Optimizer, o.ID, base.Version, res.BaselineScore, res.BestScore)
		if res.Stopped != "" {
			next.Note += fmt.Sprintf(" (stopped: %s; best so far)", res.Stopped)
		}
		// No run silently makes a program worse: a result that scores below
		// the baseline stays with the run as a candidate, and the head stays
		// (Promote with force makes the candidate the head).
		if res.BestScore < res.BaselineScore {
			o.Regressed, o.Candidate = true, &next
		} else {
			saved, err := r.st.SaveProgram(wctx, &next)
			if err != nil {
				_ = o.Move(model.Failed, r.now())
				o.ErrorCode, o.Error = CodeInternal, fmt.Sprintf("saving the best program: %v", err)
				r.save(j, o)
				return
			}
			o.ResultVersion = saved.Version
		}
	}
	to := model.Completed
	if res.Stopped == "cancelled" {
		to = model.Cancelled
		if r.closing() {
			o.ErrorCode, o.Error = CodeInterrupted, "owner stopped: the run was stopped early; the best program found so far is kept"
		}
	}
	if err := o.Move(to, r.now()); err != nil {
		r.logf("optimization %s: %v", o.ID, err)
	}
	if o.Progress != nil {
		o.Progress.Phase = "done"
	}
	r.save(j, o)
}

func (r *Runner) trial(ctx context.Context, id model.ID, n int) (*model.Trial, error) {
	ts, err := r.st.Trials(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.N == n {
			return t, nil
		}
	}
	return nil, nil
}

func (r *Runner) closing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Cancel stops a run: a queued one is cancelled at once; a running one is
// asked to stop at its next hook and ends cancelled with the best program
// found so far saved (Wait for it). A finished run is ErrFinished.
func (r *Runner) Cancel(ctx context.Context, id model.ID) error {
	r.mu.Lock()
	j := r.jobs[id]
	if j != nil && !j.running {
		if i := slices.Index(r.queue, id); i >= 0 {
			r.queue = slices.Delete(r.queue, i, i+1)
		}
		delete(r.jobs, id)
		o := clone(j.rec)
		r.mu.Unlock()
		if err := o.Move(model.Cancelled, r.now()); err != nil {
			return err
		}
		r.save(j, o)
		close(j.done)
		return nil
	}
	r.mu.Unlock()
	if j != nil {
		j.requestStop()
		return nil
	}
	o, err := r.st.GetOptimization(ctx, id)
	if err != nil {
		return err
	}
	if o.State.Terminal() {
		return fmt.Errorf("optimization %s is %s: %w", id, o.State, ErrFinished)
	}
	// Not held by this runner (it has not started): nothing runs it.
	if err := o.Move(model.Cancelled, r.now()); err != nil {
		return err
	}
	if err := r.st.PutOptimization(ctx, o); err != nil {
		return err
	}
	r.publish(Event{Optimization: o})
	return nil
}

// Wait returns the run once it has reached a terminal state.
func (r *Runner) Wait(ctx context.Context, id model.ID) (*model.Optimization, error) {
	r.mu.Lock()
	j := r.jobs[id]
	r.mu.Unlock()
	if j != nil {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for optimization %s: %w", id, ctx.Err())
		}
	}
	return r.st.GetOptimization(ctx, id)
}

// Current is the live record of a run the runner holds (with its latest
// progress), else the stored one.
func (r *Runner) Current(ctx context.Context, id model.ID) (*model.Optimization, error) {
	r.mu.Lock()
	j := r.jobs[id]
	var o *model.Optimization
	if j != nil {
		o = clone(j.rec)
	}
	r.mu.Unlock()
	if o != nil {
		return o, nil
	}
	return r.st.GetOptimization(ctx, id)
}

// Close stops taking work and asks every running run to stop, keeping what
// it learned; runs that have not stopped when ctx ends are abandoned and
// failed "owner stopped". Queued runs stay pending for the next Start.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var running []*job
	for id, j := range r.jobs {
		if j.running {
			running = append(running, j)
		} else {
			delete(r.jobs, id) // stays pending in the store
			close(j.done)
		}
	}
	r.queue = nil
	r.mu.Unlock()
	for _, j := range running {
		j.requestStop()
	}
	finished := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		r.end() // abandons the worker calls; each run is failed "owner stopped"
		<-finished
		err = fmt.Errorf("optimize: close: %d run(s) did not stop in time: %w", len(running), ctx.Err())
	}
	r.end()
	return err
}

// publish hands an event to Options.Publish: the owner's one event stream
// (the engine's), which the CLI, the API and the TUI read.
func (r *Runner) publish(ev Event) {
	if r.o.Publish != nil {
		r.o.Publish(ev)
	}
}

func clone(o *model.Optimization) *model.Optimization {
	c := *o
	if o.Progress != nil {
		p := *o.Progress
		c.Progress = &p
	}
	return &c
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
