package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Request asks for one execution.
type Request struct {
	Program string
	Version int // 0 = latest
	Inputs  map[string]any
	LM      string // profile; "" = the program's, else Options.DefaultLM
	// Batch groups the executions of a dataset run: they wait in a lane of
	// their own (see the package comment). "" is a single interactive run.
	Batch   string
	NoCache bool // do not answer from the execution cache (the result is still cached)
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
	// Timeout bounds this run (model.Execution.Timeout); 0: the program's
	// timeout, else Options.ExecutionTimeout.
	Timeout time.Duration
	// User is who asks (model.Execution.User): the user whose credits pay
	// the run's cost when its final record is written; "" for the
	// workspace's local user.
	User string
	// Routed says the program's traffic split chose Version
	// (model.Execution.Routed).
	Routed bool
}

// Submit validates a request and creates its execution. A request over a
// monthly budget is refused with a *BudgetError and creates nothing. With a
// cache hit the new execution is completed at once (CacheHit, CacheOf, the
// cached outputs, no usage, cost 0) and the pool is not called; otherwise it
// is persisted pending and queued. Submitting before Start is allowed: the
// execution waits for Start.
func (k *Kernel) Submit(ctx context.Context, r Request) (*model.Execution, error) {
	xs, err := k.submit(ctx, []Request{r}, nil)
	if err != nil {
		return nil, err
	}
	return xs[0], nil
}

// SubmitBatch is Submit for many requests (a dataset run): all are
// validated and budget-checked first, then created in as few transactions
// as the store allows (one per store.MaxExecutionBatch), so a bad request
// creates nothing. The executions come back in request order.
func (k *Kernel) SubmitBatch(ctx context.Context, rs []Request) ([]*model.Execution, error) {
	return k.submit(ctx, rs, nil)
}

type prepared struct {
	x   *model.Execution
	hit bool
	est float64 // what one run is expected to cost (budget.go)
}

// submit creates executions; parent, when set, is the evaluation they are
// examples of: it hears of each as it ends.
func (k *Kernel) submit(ctx context.Context, rs []Request, parent *evalRun) ([]*model.Execution, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	if k.st == nil || k.o.LMs == nil {
		return nil, errors.New("jobs: Options.Store and LMs are required")
	}
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// Held until the executions are queued, so Start's recovery cannot
	// also pick them up from the store.
	k.life.RLock()
	defer k.life.RUnlock()

	progs := map[string]*model.Program{}
	ps := make([]prepared, len(rs))
	type payer struct{ program, user string }
	est := map[payer]float64{} // the dearest run of each program for each user, cache hits aside
	for i, r := range rs {
		p, err := k.prepare(ctx, r, progs)
		if err != nil {
			if len(rs) > 1 {
				return nil, fmt.Errorf("request %d of %d: %w", i+1, len(rs), err)
			}
			return nil, err
		}
		ps[i] = p
		if !p.hit {
			key := payer{p.x.Program, p.x.User}
			est[key] = max(est[key], p.est)
		}
	}
	// A cache hit spends nothing, so only misses are held to the budgets.
	// Each run is admitted (and reserved) when it is dispatched: here the
	// gate only refuses what it would refuse now, so that a request over a
	// cap creates nothing.
	payers := slices.SortedFunc(maps.Keys(est), func(a, b payer) int {
		return cmp.Or(cmp.Compare(a.program, b.program), cmp.Compare(a.user, b.user))
	})
	for _, py := range payers {
		if _, _, err := k.gate.check(ctx, "run", py.program, py.user, est[py]); err != nil {
			return nil, err
		}
	}
	if parent == nil {
		// An evaluation's window bounds its own executions; everything else
		// is held to the queue's length.
		release, err := k.admit(ps)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	xs := make([]*model.Execution, len(ps))
	for i := range ps {
		xs[i] = ps[i].x
	}
	for chunk := range slices.Chunk(xs, store.MaxExecutionBatch) {
		if err := k.st.CreateExecutions(ctx, chunk); err != nil {
			return nil, fmt.Errorf("submit: %w", err)
		}
	}

	out := make([]*model.Execution, len(ps))
	k.mu.Lock()
	defer k.mu.Unlock()
	// Registered, announced and queued under one lock: Cancel cannot slip
	// in between, so "pending" is always the first event of an execution.
	for i, p := range ps {
		out[i] = clone(p.x)
		k.publishExec(p.x)
		if p.hit || k.closed { // closed: it stays pending for the next start
			continue
		}
		j := k.execJob(p.x)
		j.seqKnown, j.parent, j.stored = true, parent, p.x
		k.jobs[p.x.ID] = j
		k.pushLocked(j)
	}
	return out, nil
}

// QueueFullError refuses executions that would make more than the
// queue's length wait for a slot (Options.Queue).
type QueueFullError struct {
	Waiting, Asked, Limit int
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("the queue is full: %d executions wait for a slot and this request adds %d, over the limit of %d (limits: queue: in the config); try again once some have run",
		e.Waiting, e.Asked, e.Limit)
}

// admit holds places in the queue for the runs of ps that are not cache
// hits, or refuses them all; release gives back the hold once they are
// queued (or refused later).
func (k *Kernel) admit(ps []prepared) (release func(), err error) {
	n := 0
	for _, p := range ps {
		if !p.hit {
			n++
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Retries waiting for their backoff were admitted once: not counted.
	waiting := k.main.waiting + k.admitting
	if n > 0 && k.o.Queue > 0 && waiting+n > k.o.Queue {
		return nil, &QueueFullError{Waiting: waiting, Asked: n, Limit: k.o.Queue}
	}
	k.admitting += n
	return func() {
		k.mu.Lock()
		k.admitting -= n
		k.mu.Unlock()
	}, nil
}

// prepare validates one request and builds its execution: pending, or
// completed from the cache.
func (k *Kernel) prepare(ctx context.Context, r Request, progs map[string]*model.Program) (prepared, error) {
	pk := fmt.Sprintf("%s\x00%d", r.Program, r.Version)
	prog := progs[pk]
	if r.Variant != nil {
		v, err := k.variant(ctx, r)
		if err != nil {
			return prepared{}, err
		}
		prog = v
	}
	if prog == nil {
		var err error
		if prog, err = k.program(ctx, r.Program, r.Version); err != nil {
			return prepared{}, err
		}
		progs[pk] = prog
	}
	if err := checkInputs(prog, r.Inputs); err != nil {
		return prepared{}, err
	}
	if r.Timeout < 0 || r.Timeout > model.MaxTimeout {
		return prepared{}, &model.FieldError{Field: "timeout", Msg: fmt.Sprintf("%s is not a positive duration of at most %s", r.Timeout, model.MaxTimeout)}
	}
	profile := prog.LMProfile(r.LM, k.o.DefaultLM)
	if profile == "" {
		return prepared{}, fmt.Errorf("program %s v%d: no LM profile: name one in the request, the program or the default", prog.Name, prog.Version)
	}
	lms, err := k.resolveLMs(ctx, prog, profile)
	if err != nil && !bridge.IsRetryable(err) {
		// An unknown profile will not get better: refuse now. One that is
		// only unavailable now is the runner's to retry.
		return prepared{}, fmt.Errorf("program %s v%d: %w", prog.Name, prog.Version, err)
	}
	x := &model.Execution{ID: model.NewID(), Program: prog.Name, Version: prog.Version, LM: profile,
		State: model.Pending, Inputs: maps.Clone(k.o.Redact.Map(r.Inputs)), Batch: r.Batch, Timeout: r.Timeout, User: r.User, Routed: r.Routed, CreatedAt: k.now()}
	if x.Inputs == nil {
		x.Inputs = map[string]any{}
	}
	if r.Variant != nil {
		x.Variant = prog
	}
	if r.Eval != nil {
		if r.Eval.Metric.LM != "" {
			if _, merr := k.lmSpec(ctx, r.Eval.Metric.LM, "metric: "); merr != nil && !bridge.IsRetryable(merr) {
				return prepared{}, fmt.Errorf("program %s v%d: %w", prog.Name, prog.Version, merr)
			}
		}
		ev := *r.Eval
		ev.Score = nil
		x.Eval = &ev
	}
	miss := prepared{x: x}
	if err == nil {
		miss.est = k.gate.runEstimate(ctx, prog, profile, lms.main.spec)
	}
	if k.o.CacheTTL < 0 || r.NoCache || err != nil || r.Variant != nil || r.Eval != nil {
		return miss, nil
	}
	key, kerr := cacheKey(prog, x.Inputs, lms)
	if kerr != nil {
		return prepared{}, fmt.Errorf("program %s v%d: inputs: %w", prog.Name, prog.Version, kerr)
	}
	id, ok, err := k.st.GetCacheEntry(ctx, key)
	if err != nil {
		return prepared{}, err
	}
	if !ok {
		return miss, nil
	}
	src, err := k.st.GetExecution(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && src.State != model.Completed) {
		return miss, nil // the cached execution is gone: run again
	}
	if err != nil {
		return prepared{}, err
	}
	now := k.now()
	must(x.Move(model.Running, now))
	must(x.Move(model.Completed, now))
	x.CacheHit, x.CacheOf, x.Outputs = true, src.ID, maps.Clone(src.Outputs)
	return prepared{x: x, hit: true}, nil
}

// variant checks an unsaved program variant: it must name the program it
// is derived from, be a valid program, and that program must exist (its
// version 0 = the latest). The copy returned carries the base version.
func (k *Kernel) variant(ctx context.Context, r Request) (*model.Program, error) {
	v := *r.Variant
	v.Modules = slices.Clone(v.Modules)
	if v.Name == "" {
		v.Name = r.Program
	}
	if v.Name != r.Program {
		return nil, &model.FieldError{Field: "variant.name", Msg: fmt.Sprintf("a variant of %s cannot be named %q", r.Program, v.Name)}
	}
	if err := v.Validate(); err != nil {
		return nil, &model.FieldError{Field: "variant", Msg: err.Error(), Err: err}
	}
	base, err := k.program(ctx, r.Program, r.Version)
	if err != nil {
		return nil, err
	}
	v.Version = base.Version
	if v.LM == "" {
		v.LM = base.LM
	}
	return &v, nil
}

// checkInputs wants every input the program reads and nothing else. A custom
// module without a signature reads fields Go cannot know, so then extra
// inputs are let through to DSPy.
func checkInputs(prog *model.Program, in map[string]any) error {
	want := prog.Inputs()
	names := make([]string, len(want))
	for i, f := range want {
		names[i] = f.Name
		if _, ok := in[f.Name]; !ok {
			return &model.FieldError{Field: "inputs." + f.Name,
				Msg: fmt.Sprintf("missing: program %s v%d needs %s", prog.Name, prog.Version, strings.Join(quoted(want), ", "))}
		}
	}
	for _, m := range prog.Modules {
		if m.Type == model.Custom && m.Signature == "" {
			return nil
		}
	}
	extra := slices.Sorted(maps.Keys(in))
	for _, k := range extra {
		if !slices.Contains(names, k) {
			return &model.FieldError{Field: "inputs." + k,
				Msg: fmt.Sprintf("program %s v%d has no input %q (it takes %s)", prog.Name, prog.Version, k, strings.Join(quoted(want), ", "))}
		}
	}
	return nil
}

func quoted(fs []model.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%q", f.Name)
	}
	return out
}
