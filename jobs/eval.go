package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// The evaluation kind: dspy.Evaluate's semantics over a dataset. Every
// example is one child execution (traced, costed, retried, cancellable, on
// the Executions page) whose worker request also scores it with the metric
// (model.ExecEval); an example whose execution failed scores 0 and counts;
// the score is the mean. Each example's result is stored as it ends, in the
// same transaction as the evaluation that counts it.
//
// An evaluation takes no slot: its coordinator submits its examples as
// executions in the evaluation's own lane (Threads at a time when it is set,
// else all at once, the lanes sharing the slots) and hears of each as it
// ends. Recovery takes it up: the examples whose executions ended are
// recorded, those running are followed (recovery requeued them), the
// others submitted.

// EvalRequest asks for one evaluation, in the CLI's terms.
type EvalRequest struct {
	Program string         `json:"program"`
	Version int            `json:"version,omitempty"` // 0 = latest
	Data    model.DataRef  `json:"data"`
	Metric  model.Metric   `json:"metric"`
	Extra   []model.Metric `json:"extra,omitempty"`  // reported beside Metric
	Labels  []string       `json:"labels,omitempty"` // explicit labels (model.Labels)
	LM      string         `json:"lm,omitempty"`
	Threads int            `json:"threads,omitempty"` // examples in flight at once; 0 = all (the slots bound them)
	User    string         `json:"user,omitempty"`    // who asks (model.Evaluation.User)
}

// evalRun is the coordinator of one evaluation: the examples still to
// submit, the executions in flight and what has ended.
type evalRun struct {
	k   *Kernel
	j   *job
	rec *model.Evaluation // the published record, under Kernel.mu
	v   *model.Evaluation // the latest record, owned by the coordinator

	examples []*model.Example // from Evaluate; nil for a recovered evaluation
	byIndex  []*model.Example
	queue    []int            // indexes of examples not yet submitted, in order
	flight   map[model.ID]int // execution → example index
	ended    map[int]bool     // examples recorded
	window   int

	cancelling bool
	cancelReq  chan struct{}
	cancelOnce sync.Once
	cancels    sync.WaitGroup // the Cancel calls of a cancel, in flight

	mu    sync.Mutex
	inbox []*model.Execution // ended executions, from finishExecution
	wake  chan struct{}
}

func (f *evalRun) requestCancel() { f.cancelOnce.Do(func() { close(f.cancelReq) }) }

// deliver hands the coordinator an execution of it that ended; it never
// blocks the kernel.
func (f *evalRun) deliver(x *model.Execution) {
	f.mu.Lock()
	f.inbox = append(f.inbox, x)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *evalRun) received() []*model.Execution {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.inbox
	f.inbox = nil
	return in
}

// Evaluate checks a request (the program version, the dataset and its
// examples, the labels, the metric, the LM profiles), stores the
// evaluation as pending and starts it. Nothing is stored when a check
// fails.
func (k *Kernel) Evaluate(ctx context.Context, req EvalRequest) (*model.Evaluation, error) {
	v, examples, err := k.prepareEval(ctx, req)
	if err != nil {
		return nil, err
	}
	err = k.enter(ctx, func(ctx context.Context) error { return k.st.PutEvaluation(ctx, v) },
		func() { k.publishEval(cloneEval(v)) }, func() { k.startEvalLocked(v, examples) })
	if err != nil {
		return nil, err
	}
	return cloneEval(v), nil
}

func (k *Kernel) prepareEval(ctx context.Context, req EvalRequest) (*model.Evaluation, []*model.Example, error) {
	if err := model.CheckMetric(req.Metric); err != nil {
		return nil, nil, &model.FieldError{Field: "metric", Msg: err.Error()}
	}
	names := map[string]bool{req.Metric.Name: true}
	for _, m := range req.Extra {
		if err := model.CheckMetric(m); err != nil {
			return nil, nil, &model.FieldError{Field: "metric", Msg: err.Error()}
		}
		if names[m.Name] {
			return nil, nil, &model.FieldError{Field: "metric", Msg: fmt.Sprintf("metric %s is given twice", m.Name)}
		}
		names[m.Name] = true
	}
	if req.Data.Dataset == "" {
		return nil, nil, &model.FieldError{Field: "data", Msg: "a dataset is required (DATASET or DATASET:SPLIT)"}
	}
	if req.Threads < 0 {
		return nil, nil, &model.FieldError{Field: "threads", Msg: fmt.Sprintf("%d is not a number of threads", req.Threads)}
	}
	p, err := k.program(ctx, req.Program, req.Version)
	if err != nil {
		return nil, nil, err
	}
	profiles := []string{p.LMProfile(req.LM, k.o.DefaultLM), req.Metric.LM}
	for _, m := range req.Extra {
		profiles = append(profiles, m.LM)
	}
	for _, name := range profiles {
		if name == "" {
			continue
		}
		if _, err := k.o.LMs.Spec(ctx, name); err != nil {
			return nil, nil, fmt.Errorf("LM profile %q: %w", name, err)
		}
	}
	lab, examples, err := k.evalExamples(ctx, p, req.Data, req.Labels)
	if err != nil {
		return nil, nil, err
	}
	if len(examples) == 0 {
		return nil, nil, &model.FieldError{Field: "data", Msg: fmt.Sprintf("%s has no examples", req.Data)}
	}
	if len(lab.Labels) == 0 && req.Metric.Kind == model.MetricBuiltin {
		return nil, nil, &model.FieldError{Field: "labels", Msg: fmt.Sprintf(
			"metric %s compares outputs with labels, and dataset %s has none of the outputs of program %s: give --labels (its fields: %v)",
			req.Metric.Name, req.Data.Dataset, p.Name, lab.Ignored)}
	}
	v := &model.Evaluation{Program: p.Name, Version: p.Version, Data: req.Data, Metric: req.Metric, Extra: req.Extra, Labels: lab,
		LM: req.LM, Threads: req.Threads, User: req.User, State: model.Pending, Total: len(examples), CreatedAt: k.now()}
	v.ID = model.NewIDAt(v.CreatedAt)
	return v, examples, nil
}

// program is a stored version, the newest for version 0.
func (k *Kernel) program(ctx context.Context, name string, version int) (*model.Program, error) {
	if version > 0 {
		return k.st.GetProgramVersion(ctx, name, version)
	}
	return k.st.GetProgram(ctx, name)
}

// evalExamples reads the examples a reference selects and the labeling of
// the program on its dataset.
func (k *Kernel) evalExamples(ctx context.Context, p *model.Program, ref model.DataRef, labels []string) (model.Labeling, []*model.Example, error) {
	flow, err := k.Flow(ctx, p)
	if err != nil {
		return model.Labeling{}, nil, err
	}
	return readExamples(ctx, k.st, ref, p.Name, flow, labels)
}

// startEvalLocked registers an evaluation and starts its coordinator.
func (k *Kernel) startEvalLocked(v *model.Evaluation, examples []*model.Example) {
	f := &evalRun{k: k, rec: v, v: cloneEval(v), examples: examples, flight: map[model.ID]int{}, ended: map[int]bool{},
		cancelReq: make(chan struct{}), wake: make(chan struct{}, 1)}
	j := &job{id: v.ID, kind: KindEvaluation, phase: phaseRunning, done: make(chan struct{}), eval: f}
	f.j = j
	k.jobs[v.ID] = j
	k.runners.Add(1)
	go func() {
		defer k.runners.Done()
		f.run(k.ctx)
		k.mu.Lock()
		k.releaseLocked(j, nil)
		k.mu.Unlock()
	}()
}

// unfinishedEvaluations lists the evaluations left pending or running,
// oldest first.
func (k *Kernel) unfinishedEvaluations(ctx context.Context) ([]*model.Evaluation, error) {
	return unfinished(ctx, k.st.ListEvaluations, evaluations.state)
}

// WaitEvaluation returns an evaluation once it has ended.
func (k *Kernel) WaitEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	return waitFor(ctx, k, evaluations, id)
}

// Evaluation is the live record of an evaluation the kernel holds, else the
// stored one.
func (k *Kernel) Evaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	return current(ctx, k, evaluations, id)
}

// attach makes f hear of execution id's end, if the kernel holds it.
func (k *Kernel) attach(id model.ID, f *evalRun) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	j := k.jobs[id]
	if j == nil || j.kind != KindExecution {
		return false
	}
	j.parent = f
	return true
}

// run takes one evaluation to a terminal state, unless the kernel closes
// first (then it stays as stored for the next Start).
func (f *evalRun) run(ctx context.Context) {
	defer f.cancels.Wait()
	recovered := f.examples == nil
	if err := f.load(ctx); err != nil {
		if ctx.Err() == nil {
			f.fail(CodeBadInput, err)
		}
		return
	}
	if f.v.State == model.Pending {
		f.move(model.Running)
	}
	if recovered {
		if err := f.adopt(ctx); err != nil {
			if ctx.Err() == nil {
				f.fail(CodeBadInput, err)
			}
			return
		}
	}
	cancel := f.cancelReq // set to nil once seen: a nil channel blocks
	for {
		select {
		case <-cancel:
			cancel = nil
			f.cancel()
		default:
		}
		for _, x := range f.received() {
			f.observe(x)
		}
		if !f.cancelling {
			if err := f.submit(ctx); err != nil {
				if ctx.Err() != nil || errors.Is(err, ErrClosed) {
					return // the owner is stopping: taken up at the next start
				}
				f.stop(err)
			}
		}
		if len(f.flight) == 0 && (f.cancelling || len(f.queue) == 0) {
			f.finish()
			return
		}
		select {
		case <-f.wake:
		case <-cancel:
			cancel = nil
			f.cancel()
		case <-ctx.Done():
			return
		}
	}
}

// load reads the examples of a recovered evaluation (a fresh one has them
// from Evaluate) and queues every one not yet recorded.
func (f *evalRun) load(ctx context.Context) error {
	exs := f.examples
	f.examples = nil // no longer needed once queued
	if exs == nil {
		p, err := f.k.st.GetProgramVersion(ctx, f.v.Program, f.v.Version)
		if err != nil {
			return err
		}
		var lab model.Labeling
		if lab, exs, err = f.k.evalExamples(ctx, p, f.v.Data, explicitLabels(f.v.Labels)); err != nil {
			return err
		}
		if len(exs) != f.v.Total {
			return fmt.Errorf("dataset %s has %d examples now, %d when the evaluation started", f.v.Data, len(exs), f.v.Total)
		}
		f.v.Labels = lab
		results, err := f.k.st.EvalResults(ctx, f.v.ID, 0, 0)
		if err != nil {
			return err
		}
		for _, res := range results {
			f.ended[res.Index] = true
		}
	}
	f.byIndex = exs
	for i := range exs {
		if !f.ended[i] {
			f.queue = append(f.queue, i)
		}
	}
	f.window = f.v.Threads
	if f.window <= 0 {
		f.window = len(exs)
	}
	return nil
}

// explicitLabels gives back what --labels said, so that a recovered
// evaluation picks the same labels again.
func explicitLabels(l model.Labeling) []string {
	if l.Guessed {
		return nil
	}
	return l.Labels
}

// adopt finds the executions a recovered evaluation already has: those of
// its program created since it was, that name it. Ended ones are recorded;
// the others are followed (recovery queued them again).
func (f *evalRun) adopt(ctx context.Context) error {
	adopted := map[int]bool{}
	defer func() {
		f.queue = slices.DeleteFunc(f.queue, func(i int) bool { return adopted[i] })
	}()
	for cursor := ""; ; {
		page, next, err := f.k.st.ListExecutions(ctx, store.ExecQuery{Program: f.v.Program, Cursor: cursor, Limit: 500})
		if err != nil {
			return err
		}
		for _, x := range page {
			if x.CreatedAt.Before(f.v.CreatedAt) {
				next = "" // newest first: the rest are older than the evaluation
				break
			}
			if x.Eval == nil || x.Eval.Evaluation != f.v.ID || f.ended[x.Eval.Index] {
				continue
			}
			adopted[x.Eval.Index] = true
			f.flight[x.ID] = x.Eval.Index
			if !x.State.Terminal() && !f.k.attach(x.ID, f) {
				// Not held: it ended since it was read, and the store says how.
				if x, err = f.k.st.GetExecution(ctx, x.ID); err != nil {
					return err
				}
			}
			f.observe(x)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// submit starts examples until the window is full.
func (f *evalRun) submit(ctx context.Context) error {
	n := min(f.window-len(f.flight), len(f.queue))
	if n <= 0 {
		return nil
	}
	idx := f.queue[:n]
	reqs := make([]Request, n)
	for k, i := range idx {
		e := f.byIndex[i]
		in, labels := f.v.Labels.Split(e.Data)
		reqs[k] = Request{Program: f.v.Program, Version: f.v.Version, Inputs: in, LM: f.v.LM, Batch: f.v.ID.String(),
			Eval: &model.ExecEval{Evaluation: f.v.ID, Example: e.ID, Index: i, Metric: f.v.Metric, Extra: f.v.Extra, Labels: labels}}
	}
	xs, err := f.k.submit(ctx, reqs, f)
	if err != nil {
		return err
	}
	f.queue = f.queue[n:]
	for k, x := range xs {
		f.flight[x.ID] = idx[k]
		f.observe(x)
	}
	return nil
}

// observe records an execution of the evaluation that has ended.
func (f *evalRun) observe(x *model.Execution) {
	i, ok := f.flight[x.ID]
	if !ok || !x.State.Terminal() {
		return
	}
	delete(f.flight, x.ID)
	if f.ended[i] || (x.State == model.Cancelled && f.cancelling) {
		return // cancelled with the evaluation: not an example that ran
	}
	f.ended[i] = true
	res := resultOf(f.v.ID, i, x)
	next := cloneEval(f.v)
	next.Add(res)
	wctx, cancel := context.WithTimeout(storeCtx, writeTimeout)
	defer cancel()
	if err := f.k.st.RecordEvalResult(wctx, next, res); err != nil {
		f.k.log.printf("evaluation %s: %v", f.v.ID, err)
		return
	}
	f.save(next, false)
	if x.ErrorCode == CodeBudget && !f.cancelling {
		// A cap reached mid-way: the next examples would be refused too.
		f.stopWith(CodeBudget, x.Error)
	}
}

// resultOf is an ended execution as an example's result; a failed (or
// cancelled) run scores 0, DSPy's failure_score.
func resultOf(eval model.ID, index int, x *model.Execution) *model.EvalResult {
	r := &model.EvalResult{Evaluation: eval, Index: index, Execution: x.ID, State: x.State, Inputs: x.Inputs,
		Outputs: x.Outputs, Cost: x.Cost, CostUnknown: x.CostUnknown, Usage: x.Usage, ErrorCode: x.ErrorCode, Error: x.Error}
	if x.Eval != nil {
		r.Example, r.Expected = x.Eval.Example, x.Eval.Labels
		if x.State == model.Completed && x.Eval.Score != nil {
			r.Score, r.Scores = *x.Eval.Score, x.Eval.Scores
		}
	}
	if x.State == model.Completed && (x.Eval == nil || x.Eval.Score == nil) {
		// Completed without a score: not what the worker does; count it as failed.
		r.State, r.ErrorCode, r.Error = model.Failed, CodeInternal, "the execution completed without the metric's score"
	}
	return r
}

// cancel stops submitting and cancels the executions in flight; their
// ends arrive through deliver.
func (f *evalRun) cancel() {
	f.cancelling = true
	ids := slices.Collect(maps.Keys(f.flight))
	f.cancels.Add(1)
	go func() {
		defer f.cancels.Done()
		ctx, cancel := context.WithTimeout(storeCtx, 2*time.Minute)
		defer cancel()
		for _, id := range ids {
			if err := f.k.Cancel(ctx, id); err != nil && !errors.Is(err, ErrFinished) && !errors.Is(err, ErrClosed) {
				f.k.log.printf("evaluation %s: cancel execution %s: %v", f.v.ID, id, err)
			}
		}
	}()
}

// stop ends the evaluation early when the kernel refuses its next examples
// (a budget reached, a profile gone): what ran is kept.
func (f *evalRun) stop(err error) {
	code := CodeSubmit
	var be *BudgetError
	if errors.As(err, &be) {
		code = CodeBudget
	}
	f.stopWith(code, err.Error())
}

func (f *evalRun) stopWith(code, msg string) {
	f.queue = nil
	next := cloneEval(f.v)
	next.ErrorCode, next.Error = code, msg
	f.save(next, false)
	f.cancel()
}

// finish writes the terminal state: completed when every example ended,
// failed when the kernel refused some, cancelled on request.
func (f *evalRun) finish() {
	to := model.Completed
	switch {
	case f.v.ErrorCode != "":
		to = model.Failed
	case f.cancelling:
		to = model.Cancelled
	}
	f.move(to)
}

func (f *evalRun) fail(code string, err error) {
	next := cloneEval(f.v)
	next.ErrorCode, next.Error = code, err.Error()
	f.v = next
	f.move(model.Failed)
}

func (f *evalRun) move(to model.RunState) {
	next := cloneEval(f.v)
	if err := next.Move(to, f.k.now()); err != nil {
		f.k.log.printf("evaluation %s: %v", f.v.ID, err)
		return
	}
	f.save(next, true)
}

// save makes next the current record (writing it unless the caller has)
// and announces it.
func (f *evalRun) save(next *model.Evaluation, write bool) {
	if write {
		wctx, cancel := context.WithTimeout(storeCtx, writeTimeout)
		defer cancel()
		if err := f.k.st.PutEvaluation(wctx, next); err != nil {
			f.k.log.printf("evaluation %s: writing %s: %v", next.ID, next.State, err)
		}
	}
	f.v = next
	f.k.mu.Lock()
	f.rec = next
	f.k.mu.Unlock()
	f.k.publishEval(cloneEval(next))
}

func cloneEval(v *model.Evaluation) *model.Evaluation {
	c := *v
	c.Usage = maps.Clone(v.Usage)
	c.ExtraSums, c.Scores = maps.Clone(v.ExtraSums), maps.Clone(v.Scores)
	return &c
}
