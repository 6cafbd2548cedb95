package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// The optimization kind: a run of a DSPy optimizer on a program version,
// one worker call per attempt on the optimization worker. Trials are stored
// as the worker streams them, progress is published, and the best program
// found becomes a new version of the program whose CompiledFrom is the run
// (or, when it scores below the baseline, the run's candidate).
//
// An attempt cut short (Close, a crash, a retryable failure) does not fail
// the run: the next attempt resumes where the optimizer allows. GEPA keeps
// its own state in a log directory under Options.Dir, one per run, and the
// next attempt passes the same directory, so GEPA continues from its last
// iteration with its budget of metric calls already spent counted. The
// other optimizers cannot resume, so the next attempt runs them again; the
// trials already stored are kept and the new ones are numbered after them.
// What every attempt spent adds up in the run's cost.

// OptRequest asks for one optimization run.
type OptRequest struct {
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
	User         string         `json:"user,omitempty"` // who asks (model.Optimization.User)
}

// Optimize checks a request, estimates its LM calls and cost, refuses it if
// the estimate would pass a monthly cap, and stores and queues the run as
// pending, in a lane of its own. The record carries the estimate.
func (k *Kernel) Optimize(ctx context.Context, req OptRequest) (*model.Optimization, error) {
	o, err := k.PrepareOptimization(ctx, req)
	if err != nil {
		return nil, err
	}
	err = k.enter(ctx, func(ctx context.Context) error { return k.st.PutOptimization(ctx, o) },
		func() { k.publishOpt(cloneOpt(o), nil) }, func() {
			j := k.optJob(o)
			k.jobs[o.ID] = j
			k.pushLocked(j)
		})
	if err != nil {
		return nil, err
	}
	return cloneOpt(o), nil
}

func (k *Kernel) optJob(o *model.Optimization) *job {
	return &job{id: o.ID, kind: KindOptimization, res: k.optRes, lane: o.ID.String(), opt: o,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// PrepareOptimization checks a request and builds its pending record with
// the estimate, without storing it: what Optimize would run. A run whose
// estimate would take the month's spending over a cap is refused; under a
// cap, the run's hard stop becomes at most what is left of it.
func (k *Kernel) PrepareOptimization(ctx context.Context, req OptRequest) (*model.Optimization, error) {
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
	p, err := k.program(ctx, req.Program, req.Version)
	if err != nil {
		return nil, err
	}
	var sz sizes
	if sz.train, err = refSize(ctx, k.st, req.Train); err != nil {
		return nil, err
	}
	if sz.train == 0 {
		return nil, &model.FieldError{Field: "train", Msg: fmt.Sprintf("%s has no examples", req.Train.String())}
	}
	if sz.val, err = refSize(ctx, k.st, req.Val); err != nil {
		return nil, err
	}
	if sz.test, err = refSize(ctx, k.st, req.Test); err != nil {
		return nil, err
	}
	for _, ref := range []model.DataRef{req.Train, req.Val, req.Test} {
		if err := checkLabels(ctx, k.st, ref, p, req.Labels); err != nil {
			return nil, err
		}
	}
	profile := p.LMProfile(req.LM, k.o.DefaultLM)
	spec, err := k.o.LMs.Spec(ctx, profile)
	if err != nil {
		return nil, fmt.Errorf("LM profile %q: %w", profile, err)
	}
	for _, name := range []string{req.ReflectionLM, req.Metric.LM} {
		if name != "" {
			if _, err := k.o.LMs.Spec(ctx, name); err != nil {
				return nil, fmt.Errorf("LM profile %q: %w", name, err)
			}
		}
	}
	settings := maps.Clone(req.Settings)
	if settings == nil {
		settings = map[string]any{}
	}
	threads := req.Threads
	if threads <= 0 {
		threads = k.o.Threads
	}
	o := &model.Optimization{Program: p.Name, BaseVersion: p.Version, Optimizer: opt, Settings: settings,
		Train: req.Train, Val: req.Val, Test: req.Test, Metric: req.Metric, Labels: req.Labels, State: model.Pending,
		Budget: req.Budget, LM: req.LM, ReflectionLM: req.ReflectionLM, Threads: threads, Seed: req.Seed,
		User: req.User, CreatedAt: k.now()}
	o.Estimate = estimate(p, opt, settings, sz, spec)
	left, capped, err := k.gate.check(ctx, "optimization", o.Program, estimateCost(o))
	if err != nil {
		return nil, err
	}
	if capped && (o.Budget == 0 || left < o.Budget) {
		o.Budget = left
	}
	return o, nil
}

// estimateCost is what the gate holds for a run: its estimate's cost, 0
// when the LM has no prices.
func estimateCost(o *model.Optimization) float64 {
	if o.Estimate == nil || o.Estimate.Cost == nil {
		return 0
	}
	return *o.Estimate.Cost
}

// optimizer is the optimization worker, started the first time a run needs
// it.
func (k *Kernel) optimizer(ctx context.Context) (Optimizer, error) {
	k.optMu.Lock()
	defer k.optMu.Unlock()
	if k.optPool != nil {
		return k.optPool, nil
	}
	if k.o.OptPool == nil {
		return nil, &attemptError{code: CodeUnavailable, err: errors.New("this Signet has no optimization worker")}
	}
	p, err := k.o.OptPool(ctx)
	if err != nil {
		return nil, &attemptError{code: CodeUnavailable, err: fmt.Errorf("starting the optimization worker: %w", err)}
	}
	k.optPool = p
	return p, nil
}

// Dir is where a run keeps what its optimizer saves to resume (GEPA's
// log_dir), "" without a workspace directory.
func (k *Kernel) optDir(id model.ID) string {
	if k.o.Dir == "" {
		return ""
	}
	return filepath.Join(k.o.Dir, "optimizations", id.String())
}

// prior is what a run's earlier attempts left: their cost, calls, time and
// trials, which the next attempt adds to.
type prior struct {
	cost     float64
	calls    int
	duration time.Duration
	trials   int // trials stored
	lastN    int // the highest trial number stored: the next attempt's are numbered after it
}

// runOptimization is one attempt of one run. It owns j until it hands it
// back (queued again, or ended).
func (k *Kernel) runOptimization(ctx context.Context, j *job) {
	k.mu.Lock()
	o := cloneOpt(j.opt)
	k.mu.Unlock()
	// What earlier attempts spent is stored (and so counted as spent): the
	// gate holds what is left of the estimate.
	r, err := k.gate.reserve(storeCtx, "optimization", o.Program, max(estimateCost(o)-o.Cost, 0))
	if err != nil {
		var be *BudgetError
		if !errors.As(err, &be) {
			k.log.printf("optimization %s: budget check: %v; retrying later", o.ID, err)
			k.handBack(j, k.backoff(1))
			return
		}
		must(o.Move(model.Failed, k.now()))
		o.ErrorCode, o.Error = CodeBudget, be.Error()
		k.endOptimization(j, o)
		return
	}
	k.holding(j, r)
	defer k.gate.settle(r)
	pr, err := k.prior(storeCtx, o)
	if err != nil {
		k.log.printf("optimization %s: reading its trials: %v; retrying later", o.ID, err)
		k.handBack(j, k.backoff(1))
		return
	}
	must(o.Move(model.Running, k.now())) // the kernel only runs pending runs
	o.ErrorCode, o.Error = "", ""
	if !k.saveOptimization(j, o) {
		k.handBack(j, k.backoff(1))
		return
	}
	a := &optAttempt{k: k, j: j, r: r, prior: pr, stored: map[int]bool{}}
	res, base, err := a.run(ctx)
	if err == nil {
		a.finish(base, res)
		return
	}
	o = a.snapshot()
	v, code, msg := k.judge(j, err, o.Attempts)
	o.ErrorCode, o.Error = code, msg
	a.charge(o, err)
	now := k.now()
	switch v {
	case cancelled:
		must(o.Move(model.Cancelled, now))
		k.endOptimization(j, o)
	case cutShort:
		must(o.Move(model.Pending, now))
		o.Attempts--
		o.Error += fmt.Sprintf("; it resumes at the next start, its %d trials kept", o.Trials)
		k.saveOptimization(j, o)
		k.mu.Lock()
		k.releaseLocked(j, nil)
		k.mu.Unlock()
	case retry:
		must(o.Move(model.Pending, now))
		k.saveOptimization(j, o)
		d := k.backoff(o.Attempts)
		k.log.printf("optimization %s: %s; retrying in %s", o.ID, o.Error, d.Round(time.Millisecond))
		k.mu.Lock()
		j.suspect = code == bridge.CodeWorkerDied
		k.mu.Unlock()
		k.handBack(j, d)
	default:
		must(o.Move(model.Failed, now))
		k.endOptimization(j, o)
	}
}

// prior reads what the earlier attempts of o stored.
func (k *Kernel) prior(ctx context.Context, o *model.Optimization) (prior, error) {
	ts, err := k.st.Trials(ctx, o.ID)
	if err != nil {
		return prior{}, err
	}
	p := prior{cost: o.Cost, calls: o.LMCalls, duration: o.Duration, trials: len(ts)}
	for _, t := range ts {
		p.lastN = max(p.lastN, t.N)
	}
	return p, nil
}

// optAttempt is one attempt of a run: what its events update.
type optAttempt struct {
	k     *Kernel
	j     *job
	r     *reservation
	prior prior

	mu       sync.Mutex // the worker's events and the end of the call
	stored   map[int]bool
	lastSave time.Time
}

// n is the stored number of this attempt's trial n: the baseline is 0 in
// every attempt, the candidates follow the earlier attempts'.
func (a *optAttempt) n(n int) int {
	if n == 0 {
		return 0
	}
	return a.prior.lastN + n
}

func (a *optAttempt) snapshot() *model.Optimization {
	a.k.mu.Lock()
	defer a.k.mu.Unlock()
	return cloneOpt(a.j.opt)
}

// run builds the worker request and calls the optimization worker.
func (a *optAttempt) run(ctx context.Context) (*bridge.OptimizeResult, *model.Program, error) {
	k, o := a.k, a.snapshot()
	req, base, err := k.optRequest(ctx, o)
	if err != nil {
		return nil, nil, requestError(err)
	}
	// The run's own hard stop, less what earlier attempts spent, and at
	// most what the caps leave (the gate holds this run's estimate).
	if o.Budget > 0 {
		req.Budget = o.Budget - a.prior.cost
	}
	if left, capped, err := k.gate.left(storeCtx, o.Program, a.r); err != nil {
		return nil, nil, &attemptError{code: CodeInternal, retryable: true, err: fmt.Errorf("budget check: %w", err)}
	} else if capped && (req.Budget == 0 || left < req.Budget) {
		req.Budget = left
	}
	if (o.Budget > 0 || req.Budget != 0) && req.Budget <= 0 {
		return nil, nil, &attemptError{code: CodeBudget, err: errors.New("nothing is left of the run's budget or the monthly cap for another attempt")}
	}
	if dir := k.optDir(o.ID); dir != "" && o.Optimizer == "gepa" && req.Settings["log_dir"] == nil {
		// GEPA saves its state there each iteration and resumes from it.
		req.Settings = maps.Clone(req.Settings)
		req.Settings["log_dir"] = filepath.Join(dir, "gepa")
	}
	req.Stop = a.j.stop
	req.StopGrace = k.o.StopGrace
	if req.Gate, err = k.gate.callGate(storeCtx, a.r, 0, 0); err != nil {
		return nil, nil, &attemptError{code: CodeInternal, retryable: true, err: fmt.Errorf("budget check: %w", err)}
	}
	pool, err := k.optimizer(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := pool.Optimize(ctx, req, a.event)
	return res, base, err
}

// event handles a trial or a progress report of the worker.
func (a *optAttempt) event(ev bridge.OptimizeEvent) {
	k := a.k
	switch {
	case ev.Trial != nil:
		n := a.n(ev.Trial.N)
		a.mu.Lock()
		resumed := n == 0 && a.prior.trials > 0
		a.mu.Unlock()
		if !resumed { // a resumed run's baseline is the one stored first
			t := &model.Trial{Optimization: a.j.id, N: n, Score: ev.Trial.Score, Instructions: ev.Trial.Instructions,
				Demos: ev.Trial.Demos, Results: ev.Trial.Results, Cost: ev.Trial.Cost,
				Duration:   time.Duration(ev.Trial.DurationS * float64(time.Second)),
				Reflection: ev.Trial.Reflection, Proposals: ev.Trial.Proposals, At: k.now()}
			for _, p := range ev.Trial.Parents {
				t.Parents = append(t.Parents, a.n(p))
			}
			fillFromModules(t, ev.Trial.Modules)
			if err := k.st.PutTrial(storeCtx, t); err != nil {
				k.log.printf("optimization %s: trial %d: %v", a.j.id, t.N, err)
			}
		}
		a.mu.Lock()
		if !resumed {
			a.stored[n] = true
		}
		count := a.prior.trials + len(a.stored)
		a.mu.Unlock()
		cur := a.snapshot()
		cur.Trials = count
		if n == 0 {
			cur.BaselineScore = ev.Trial.Score
		}
		if n > 0 && (ev.Trial.Score > cur.BestScore || cur.BestTrial == 0) {
			cur.BestScore, cur.BestTrial = ev.Trial.Score, n
		}
		k.saveOptimization(a.j, cur)
		a.mu.Lock()
		a.lastSave = time.Now()
		a.mu.Unlock()
	case ev.Progress != nil:
		cur := a.snapshot()
		p := *ev.Progress
		cur.Progress = &p
		cur.LMCalls, cur.Cost = a.prior.calls+p.LMCalls, a.prior.cost+p.Cost
		k.mu.Lock()
		a.j.opt = cur
		k.mu.Unlock()
		a.mu.Lock()
		due := time.Since(a.lastSave) > 5*time.Second
		if due {
			a.lastSave = time.Now()
		}
		a.mu.Unlock()
		// Progress is published at the worker's pace and stored now and
		// then, so that a record read from the store is not far behind; what
		// is stored counts as spent, so the gate holds only the rest.
		if due {
			ctx, cancel := context.WithTimeout(storeCtx, 10*time.Second)
			if err := k.st.PutOptimization(ctx, cur); err != nil {
				k.log.printf("optimization %s: progress: %v", a.j.id, err)
			} else {
				k.gate.hold(a.r, estimateCost(cur)-cur.Cost, cur.Cost-a.prior.cost)
			}
			cancel()
		}
		k.publishOpt(cur, &p)
	}
}

// requestError gives a failure to build a run's request its code: a
// worker's error keeps its own, a missing program is not_found, the rest is
// bad_input. None is retryable, but the worker's.
func requestError(err error) error {
	var be *bridge.Error
	var ae *attemptError
	switch {
	case errors.As(err, &be), errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrNotFound):
		return &attemptError{code: CodeNotFound, err: err}
	}
	return &attemptError{code: CodeBadInput, err: err}
}

// charge sets what a failed or interrupted attempt is charged, added to
// what earlier attempts spent: every LM call it made. The worker's error
// says what the attempt spent when the worker lived to send it
// (bridge.SpentOf). Otherwise the last progress report (already on o) is
// what is known; if the call had reached a worker that then died, timed out
// or was abandoned, calls after that report (progress is throttled) or in
// flight may have been billed too, so the cost is unknown beyond it.
func (a *optAttempt) charge(o *model.Optimization, err error) {
	if sp, ok := bridge.SpentOf(err); ok {
		o.Cost, o.LMCalls = a.prior.cost+sp.Cost, a.prior.calls+sp.LMCalls
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

// optRequest builds the worker request of a run: the base version, the LMs
// resolved, the examples read.
func (k *Kernel) optRequest(ctx context.Context, o *model.Optimization) (bridge.OptimizeRequest, *model.Program, error) {
	var req bridge.OptimizeRequest
	p, err := k.st.GetProgramVersion(ctx, o.Program, o.BaseVersion)
	if err != nil {
		return req, nil, err
	}
	lms, err := k.resolveLMs(ctx, p, p.LMProfile(o.LM, k.o.DefaultLM))
	if err != nil {
		return req, nil, err
	}
	req.LM, req.ModuleLMs, req.Indexes = lms.main.spec, lms.moduleSpecs(), lms.indexes
	if o.ReflectionLM != "" {
		s, err := k.lmSpec(ctx, o.ReflectionLM, "reflection: ")
		if err != nil {
			return req, nil, err
		}
		req.ReflectionLM = &s
	}
	var judge *bridge.LMSpec
	if o.Metric.LM != "" {
		s, err := k.lmSpec(ctx, o.Metric.LM, "metric: ")
		if err != nil {
			return req, nil, err
		}
		judge = &s
	}
	req.Metric = bridge.MetricOf(o.Metric, judge)
	flow, err := k.Flow(ctx, p)
	if err != nil {
		return req, nil, err
	}
	if req.Train, err = workerExamples(ctx, k.st, o.Train, p.Name, flow, o.Labels); err != nil {
		return req, nil, err
	}
	if req.Val, err = workerExamples(ctx, k.st, o.Val, p.Name, flow, o.Labels); err != nil {
		return req, nil, err
	}
	if req.Test, err = workerExamples(ctx, k.st, o.Test, p.Name, flow, o.Labels); err != nil {
		return req, nil, err
	}
	req.Program, req.Optimizer, req.Settings = p, o.Optimizer, o.Settings
	req.Threads, req.Seed = o.Threads, o.Seed
	return req, p, nil
}

// finish records a result: scores, cost, the best program as a new version
// (for a stopped run too, if it learned anything) or, when it scores below
// the baseline, as the run's candidate, and the final state.
func (a *optAttempt) finish(base *model.Program, res *bridge.OptimizeResult) {
	k, j := a.k, a.j
	o := a.snapshot()
	wctx, cancel := context.WithTimeout(storeCtx, writeTimeout)
	defer cancel()
	best := a.n(res.BestTrial)
	o.BaselineScore, o.BestScore, o.BestTrial = res.BaselineScore, res.BestScore, best
	o.TestBaseline, o.TestScore = res.TestBaseline, res.TestScore
	o.Cost, o.LMCalls = a.prior.cost+res.Cost, a.prior.calls+res.LMCalls
	o.CostUnknown = o.CostUnknown || res.CostUnknown
	o.Duration, o.Stopped = a.prior.duration+res.Duration(), res.Stopped
	o.Trials = max(o.Trials, a.prior.trials+res.Trials)
	// The best trial's per-example results are what compare reads; fill
	// them (and the baseline's) from the result when the optimizer
	// evaluated the candidate elsewhere.
	for _, fix := range []struct {
		n       int
		results []model.ExampleResult
		score   float64
	}{{0, res.ValResults.Baseline, res.BaselineScore}, {best, res.ValResults.Best, res.BestScore}} {
		if len(fix.results) == 0 {
			continue
		}
		t, err := k.trial(wctx, o.ID, fix.n)
		if err != nil {
			k.log.printf("optimization %s: trial %d: %v", o.ID, fix.n, err)
			continue
		}
		if t == nil {
			t = &model.Trial{Optimization: o.ID, N: fix.n, Score: fix.score, At: k.now()}
			if fix.n == best {
				t.Instructions, t.Demos = map[string]string{}, map[string][]map[string]any{}
				fillFromModules(t, res.Modules)
			}
			o.Trials++
		}
		if len(t.Results) == 0 {
			t.Results = fix.results
			if err := k.st.PutTrial(wctx, t); err != nil {
				k.log.printf("optimization %s: trial %d: %v", o.ID, fix.n, err)
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
		// (a promote with force makes the candidate the head).
		if res.BestScore < res.BaselineScore {
			o.Regressed, o.Candidate = true, &next
		} else {
			saved, err := k.st.SaveProgram(wctx, &next)
			if err != nil {
				must(o.Move(model.Failed, k.now()))
				o.ErrorCode, o.Error = CodeInternal, fmt.Sprintf("saving the best program: %v", err)
				k.endOptimization(j, o)
				return
			}
			o.ResultVersion = saved.Version
		}
	}
	to := model.Completed
	if res.Stopped == "cancelled" {
		to = model.Cancelled
	}
	must(o.Move(to, k.now()))
	if o.Progress != nil {
		o.Progress.Phase = "done"
	}
	k.endOptimization(j, o)
}

func (k *Kernel) trial(ctx context.Context, id model.ID, n int) (*model.Trial, error) {
	ts, err := k.st.Trials(ctx, id)
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

// saveOptimization writes a new state of a run and announces it; it says
// whether the write succeeded.
func (k *Kernel) saveOptimization(j *job, o *model.Optimization) bool {
	// A background context: the outcome of a run must be written even when
	// the command that started it has gone.
	ctx, cancel := context.WithTimeout(storeCtx, writeTimeout)
	defer cancel()
	err := k.st.PutOptimization(ctx, o)
	if err != nil {
		k.log.printf("optimization %s: writing %s: %v", o.ID, o.State, err)
	}
	k.mu.Lock()
	j.opt = o
	k.mu.Unlock()
	k.publishOpt(o, nil)
	return err == nil
}

// endOptimization writes a run's terminal state and lets it go; what it
// kept to resume is of no more use.
func (k *Kernel) endOptimization(j *job, o *model.Optimization) {
	k.ending(j)
	var err error
	if !k.saveOptimization(j, o) {
		err = fmt.Errorf("optimization %s: writing %s failed (the next start settles it)", o.ID, o.State)
	}
	if dir := k.optDir(o.ID); dir != "" && err == nil {
		if rerr := os.RemoveAll(dir); rerr != nil {
			k.log.printf("optimization %s: %v", o.ID, rerr)
		}
	}
	k.mu.Lock()
	k.releaseLocked(j, err)
	k.mu.Unlock()
}

// recoverOptimizations brings back the runs left pending or running, under
// the one policy: a pending run is queued again; a running one goes back to
// pending with its attempt counted, to resume (see above), or fails
// "interrupted" when that was its last attempt.
func (k *Kernel) recoverOptimizations(ctx context.Context, rec *Counts) error {
	left, err := unfinished(ctx, k.st.ListOptimizations, optimizations.state)
	if err != nil {
		return err
	}
	now := k.now()
	for _, o := range left {
		k.mu.Lock()
		_, live := k.jobs[o.ID]
		k.mu.Unlock()
		if live {
			continue
		}
		was := o.State
		switch {
		case o.Attempts >= model.MaxAttempts:
			must(o.Move(model.Failed, now))
			o.ErrorCode = CodeInterrupted
			if was == model.Running {
				o.Error = fmt.Sprintf("interrupted: Signet stopped during attempt %d of %d, the last; the trials it stored are kept", o.Attempts, model.MaxAttempts)
			} else {
				o.Error = fmt.Sprintf("out of attempts after %d (%s: %s)", o.Attempts, o.ErrorCode, o.Error)
			}
			rec.Failed++
		case was == model.Running:
			must(o.Move(model.Pending, now))
			o.ErrorCode = CodeInterrupted
			o.Error = fmt.Sprintf("attempt %d of %d interrupted: Signet stopped while it ran; it resumes, its %d trials kept", o.Attempts, model.MaxAttempts, o.Trials)
			rec.Retried++
		default:
			rec.Requeued++
		}
		if was == model.Running {
			// Its cost is the last progress stored (every few seconds): what
			// it spent after that is charged to no one, and unknown.
			o.CostUnknown = true
		}
		if o.State != was {
			if err := k.st.PutOptimization(ctx, o); err != nil {
				return fmt.Errorf("optimization %s: %w", o.ID, err)
			}
			k.publishOpt(cloneOpt(o), nil)
		}
		if o.State.Terminal() {
			continue
		}
		k.mu.Lock()
		j := k.optJob(o)
		k.jobs[o.ID] = j
		k.pushLocked(j)
		k.mu.Unlock()
	}
	return nil
}

// WaitOptimization returns a run once it has reached a terminal state.
func (k *Kernel) WaitOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return waitFor(ctx, k, optimizations, id)
}

// Optimization is the live record of a run the kernel holds (with its
// latest progress), else the stored one.
func (k *Kernel) Optimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return current(ctx, k, optimizations, id)
}

func cloneOpt(o *model.Optimization) *model.Optimization {
	c := *o
	if o.Progress != nil {
		p := *o.Progress
		c.Progress = &p
	}
	return &c
}
