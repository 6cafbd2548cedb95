package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Submit validates a request and creates its execution. A request over a
// monthly budget is refused with a *BudgetError and creates nothing. With a
// cache hit the new execution is completed at once (CacheHit, CacheOf, the
// cached outputs, no usage, cost 0) and the pool is not called; otherwise it
// is persisted pending and queued. Submitting before Start is allowed: the
// execution waits for Start.
func (e *Engine) Submit(ctx context.Context, r Request) (*model.Execution, error) {
	xs, err := e.submit(ctx, []Request{r})
	if err != nil {
		return nil, err
	}
	return xs[0], nil
}

// SubmitBatch is Submit for many requests (a dataset run): all are
// validated and budget-checked first, then created in as few transactions
// as the store allows (one per store.MaxExecutionBatch), so a bad request
// creates nothing. The executions come back in request order.
func (e *Engine) SubmitBatch(ctx context.Context, rs []Request) ([]*model.Execution, error) {
	return e.submit(ctx, rs)
}

type prepared struct {
	x   *model.Execution
	hit bool
}

func (e *Engine) submit(ctx context.Context, rs []Request) ([]*model.Execution, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	if e.st == nil || e.o.LMs == nil {
		return nil, errors.New("engine: Options.Store and LMs are required")
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// Held until the executions are queued, so Start's recovery cannot
	// also pick them up from the store.
	e.life.RLock()
	defer e.life.RUnlock()

	progs := map[string]*model.Program{}
	ps := make([]prepared, len(rs))
	var misses []string
	for i, r := range rs {
		p, err := e.prepare(ctx, r, progs)
		if err != nil {
			if len(rs) > 1 {
				return nil, fmt.Errorf("request %d of %d: %w", i+1, len(rs), err)
			}
			return nil, err
		}
		ps[i] = p
		if !p.hit {
			misses = append(misses, p.x.Program)
		}
	}
	// A cache hit spends nothing, so only misses are held to the budgets.
	if len(misses) > 0 {
		if err := e.checkBudget(ctx, misses); err != nil {
			return nil, err
		}
	}
	xs := make([]*model.Execution, len(ps))
	for i := range ps {
		xs[i] = ps[i].x
	}
	for chunk := range slices.Chunk(xs, store.MaxExecutionBatch) {
		if err := e.st.CreateExecutions(ctx, chunk); err != nil {
			return nil, fmt.Errorf("submit: %w", err)
		}
	}

	out := make([]*model.Execution, len(ps))
	e.mu.Lock()
	defer e.mu.Unlock()
	// Registered, announced and queued under one lock: Cancel cannot slip
	// in between, so "pending" is always the first event of an execution.
	for i, p := range ps {
		out[i] = clone(p.x)
		e.publishExec(p.x)
		if p.hit || e.closed { // closed: it stays pending for the next start
			continue
		}
		j := &job{exec: p.x, done: make(chan struct{}), seqKnown: true}
		e.jobs[p.x.ID] = j
		e.pushLocked(j)
	}
	return out, nil
}

// prepare validates one request and builds its execution: pending, or
// completed from the cache.
func (e *Engine) prepare(ctx context.Context, r Request, progs map[string]*model.Program) (prepared, error) {
	pk := fmt.Sprintf("%s\x00%d", r.Program, r.Version)
	prog := progs[pk]
	if r.Variant != nil {
		v, err := e.variant(ctx, r)
		if err != nil {
			return prepared{}, err
		}
		prog = v
	}
	if prog == nil {
		var err error
		if r.Version == 0 {
			prog, err = e.st.GetProgram(ctx, r.Program)
		} else {
			prog, err = e.st.GetProgramVersion(ctx, r.Program, r.Version)
		}
		if err != nil {
			return prepared{}, err
		}
		progs[pk] = prog
	}
	if err := checkInputs(prog, r.Inputs); err != nil {
		return prepared{}, err
	}
	profile := firstNonEmpty(r.LM, prog.LM, e.o.DefaultLM)
	if profile == "" {
		return prepared{}, fmt.Errorf("program %s v%d: no LM profile: name one in the request, the program or the default", prog.Name, prog.Version)
	}
	lms, err := e.resolveLMs(ctx, prog, profile)
	if err != nil && !bridge.IsRetryable(err) {
		// An unknown profile will not get better: refuse now. One that is
		// only unavailable now is the runner's to retry.
		return prepared{}, fmt.Errorf("program %s v%d: %w", prog.Name, prog.Version, err)
	}
	x := &model.Execution{ID: model.NewID(), Program: prog.Name, Version: prog.Version, LM: profile,
		State: model.Pending, Inputs: maps.Clone(r.Inputs), Batch: r.Batch, CreatedAt: e.now()}
	if x.Inputs == nil {
		x.Inputs = map[string]any{}
	}
	if r.Variant != nil {
		x.Variant = prog
	}
	if r.Eval != nil {
		if r.Eval.Metric.LM != "" {
			if _, merr := e.lmSpec(ctx, r.Eval.Metric.LM, "metric: "); merr != nil && !bridge.IsRetryable(merr) {
				return prepared{}, fmt.Errorf("program %s v%d: %w", prog.Name, prog.Version, merr)
			}
		}
		ev := *r.Eval
		ev.Score = nil
		x.Eval = &ev
	}
	if e.o.CacheTTL < 0 || r.NoCache || err != nil || r.Variant != nil || r.Eval != nil {
		return prepared{x: x}, nil
	}
	key, kerr := cacheKey(prog, x.Inputs, lms)
	if kerr != nil {
		return prepared{}, fmt.Errorf("program %s v%d: inputs: %w", prog.Name, prog.Version, kerr)
	}
	id, ok, err := e.st.GetCacheEntry(ctx, key)
	if err != nil {
		return prepared{}, err
	}
	if !ok {
		return prepared{x: x}, nil
	}
	src, err := e.st.GetExecution(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && src.State != model.Completed) {
		return prepared{x: x}, nil // the cached execution is gone: run again
	}
	if err != nil {
		return prepared{}, err
	}
	now := e.now()
	must(x.Move(model.Running, now))
	must(x.Move(model.Completed, now))
	x.CacheHit, x.CacheOf, x.Outputs = true, src.ID, maps.Clone(src.Outputs)
	return prepared{x: x, hit: true}, nil
}

// variant checks an unsaved program variant: it must name the program it
// is derived from, be a valid program, and that program must exist (its
// version 0 = the latest). The copy returned carries the base version.
func (e *Engine) variant(ctx context.Context, r Request) (*model.Program, error) {
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
	var base *model.Program
	var err error
	if r.Version == 0 {
		base, err = e.st.GetProgram(ctx, r.Program)
	} else {
		base, err = e.st.GetProgramVersion(ctx, r.Program, r.Version)
	}
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

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// lmChoice is a profile name and what it resolved to.
type lmChoice struct {
	profile string
	spec    bridge.LMSpec
}

// lmSet is the LM of a run: the program's and the per-module overrides.
type lmSet struct {
	main    lmChoice
	modules map[string]lmChoice // by module name
}

func (s lmSet) moduleSpecs() map[string]bridge.LMSpec {
	if len(s.modules) == 0 {
		return nil
	}
	out := make(map[string]bridge.LMSpec, len(s.modules))
	for m, c := range s.modules {
		out[m] = c.spec
	}
	return out
}

// resolveLMs resolves the run's profile and every module override. An
// error that is not a *bridge.Error is an attemptError "lm_profile", not
// retryable; a *bridge.Error keeps its own code and retryability.
func (e *Engine) resolveLMs(ctx context.Context, prog *model.Program, profile string) (lmSet, error) {
	byName := map[string]bridge.LMSpec{}
	spec := func(name, where string) (bridge.LMSpec, error) {
		if s, ok := byName[name]; ok {
			return s, nil
		}
		s, err := e.lmSpec(ctx, name, where)
		if err == nil {
			byName[name] = s
		}
		return s, err
	}
	var set lmSet
	s, err := spec(profile, "")
	if err != nil {
		return set, err
	}
	set.main = lmChoice{profile, s}
	for _, m := range prog.Modules {
		if m.LM == "" {
			continue
		}
		s, err := spec(m.LM, "module "+m.Name+": ")
		if err != nil {
			return set, err
		}
		if set.modules == nil {
			set.modules = map[string]lmChoice{}
		}
		set.modules[m.Name] = lmChoice{m.LM, s}
	}
	return set, nil
}

// lmSpec resolves one profile; where prefixes the error ("module m: ").
// An error that is not a *bridge.Error is an attemptError "lm_profile",
// not retryable.
func (e *Engine) lmSpec(ctx context.Context, name, where string) (bridge.LMSpec, error) {
	s, err := e.o.LMs.Spec(ctx, name)
	if err != nil {
		var be *bridge.Error
		if errors.As(err, &be) {
			return s, err
		}
		return s, &attemptError{code: CodeLMProfile, err: fmt.Errorf("%sLM profile %q: %w", where, name, err)}
	}
	return s, nil
}

// cacheLM is what of an LM choice decides its outputs. Never the API base
// or the key's variable: the same model behind another endpoint answers
// the same, and nothing secret goes into a key, even hashed.
type cacheLM struct {
	Profile     string         `json:"profile"`
	Model       string         `json:"model"`
	Temperature *float64       `json:"temperature"`
	MaxTokens   int            `json:"max_tokens"`
	Adapter     string         `json:"adapter"`
	Kwargs      map[string]any `json:"kwargs,omitempty"`
}

func toCacheLM(c lmChoice) cacheLM {
	return cacheLM{Profile: c.profile, Model: c.spec.Model, Temperature: c.spec.Temperature,
		MaxTokens: c.spec.MaxTokens, Adapter: c.spec.Adapter, Kwargs: c.spec.Kwargs}
}

// cacheKey is sha256 over canonical JSON (encoding/json writes map keys
// sorted) of the program version, the inputs and the LM choices.
func cacheKey(prog *model.Program, inputs map[string]any, lms lmSet) ([]byte, error) {
	mods := map[string]cacheLM{}
	for m, c := range lms.modules {
		mods[m] = toCacheLM(c)
	}
	b, err := json.Marshal(struct {
		Format  string             `json:"format"`
		Program string             `json:"program"`
		Version int                `json:"version"`
		Inputs  map[string]any     `json:"inputs"`
		LM      cacheLM            `json:"lm"`
		Modules map[string]cacheLM `json:"modules,omitempty"`
	}{"signet-exec-cache/1", prog.Name, prog.Version, inputs, toCacheLM(lms.main), mods})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// checkBudget refuses when this month's cost of the workspace, or of one of
// programs, has reached its cap.
func (e *Engine) checkBudget(ctx context.Context, programs []string) error {
	caps, err := e.st.Budgets(ctx)
	if err != nil || len(caps) == 0 {
		return err
	}
	month := e.now().Format("2006-01")
	spent := func(program string) (float64, error) {
		rs, err := e.st.CostRollups(ctx, program, month)
		var sum float64
		for _, r := range rs {
			sum += r.Cost
		}
		return sum, err
	}
	if c, ok := caps[""]; ok {
		s, err := spent("")
		if err != nil {
			return err
		}
		if s >= c {
			return &BudgetError{Scope: ScopeWorkspace, Cap: c, Spent: s, Month: month}
		}
	}
	seen := map[string]bool{}
	sort.Strings(programs)
	for _, p := range programs {
		c, ok := caps[p]
		if !ok || seen[p] {
			continue
		}
		seen[p] = true
		s, err := spent(p)
		if err != nil {
			return err
		}
		if s >= c {
			return &BudgetError{Scope: ScopeProgram, Program: p, Cap: c, Spent: s, Month: month}
		}
	}
	return nil
}

// lastSeq is the highest span seq an execution has stored, read page by
// page (only for a recovered execution that ran before).
func (e *Engine) lastSeq(ctx context.Context, id model.ID) (uint64, error) {
	var last uint64
	for {
		page, err := e.st.Spans(ctx, id, last, 1000)
		if err != nil {
			return 0, err
		}
		if len(page) == 0 {
			return last, nil
		}
		last = page[len(page)-1].Seq
	}
}

// Cancel cancels an execution: a pending one at once; a running one by
// cancelling its pool call (the bridge asks the worker to stop, then kills
// it after a grace), after which it is written cancelled. Cancel returns
// once the execution is terminal; if it completed or failed first, the
// error wraps ErrFinished.
func (e *Engine) Cancel(ctx context.Context, id model.ID) error {
	e.mu.Lock()
	j := e.jobs[id]
	if j == nil {
		e.mu.Unlock()
		return e.cancelStored(ctx, id)
	}
	switch j.phase {
	case phaseQueued:
		e.removeLocked(j)
	case phaseBackoff:
		j.timer.Stop()
	default: // running, or being cancelled already
		j.cancelReq = true
		if j.cancel != nil {
			j.cancel()
		}
		e.mu.Unlock()
		select {
		case <-j.done:
		case <-ctx.Done():
			return fmt.Errorf("cancel execution %s: %w", id, ctx.Err())
		}
		x, err := e.outcome(j)
		if err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		if x.State != model.Cancelled {
			return fmt.Errorf("cancel execution %s: %w (%s)", id, ErrFinished, x.State)
		}
		return nil
	}
	// Now no runner and no timer holds it: this call owns it.
	j.phase = phaseRunning
	j.cancelReq = true
	j.cancel = nil
	x := j.exec
	e.runners.Add(1) // Close waits for this write too
	e.mu.Unlock()
	defer e.runners.Done()
	e.cancelOwned(j, x, "cancelled before it started")
	if _, err := e.outcome(j); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	return nil
}

// cancelStored cancels an execution the engine does not hold: one left
// pending or running before Start recovered it.
func (e *Engine) cancelStored(ctx context.Context, id model.ID) error {
	e.life.Lock()
	e.mu.Lock()
	_, live := e.jobs[id]
	e.mu.Unlock()
	if live { // recovered meanwhile
		e.life.Unlock()
		return e.Cancel(ctx, id)
	}
	defer e.life.Unlock()
	x, err := e.st.GetExecution(ctx, id)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	if x.State.Terminal() {
		return fmt.Errorf("cancel execution %s: %w (%s)", id, ErrFinished, x.State)
	}
	next := clone(x)
	must(next.Move(model.Cancelled, e.now()))
	next.ErrorCode, next.Error = CodeCancelled, "cancelled while Signet was not running it"
	if err := e.st.PutExecution(ctx, next); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	e.publishExec(next)
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	return nil
}
