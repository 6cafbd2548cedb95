package evaluate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// writeTimeout bounds one write of an evaluation's state or result; they
// are made with a background context, so that an outcome is written even
// when the command that started the evaluation has gone.
const writeTimeout = 30 * time.Second

// follow is one evaluation being run: the examples still to submit, the
// executions in flight and what has ended.
type follow struct {
	r       *Runner
	j       *job
	v       *model.Evaluation // the latest record, owned by the run goroutine
	queue   []int             // indexes of examples not yet submitted, in order
	flight  map[model.ID]int  // execution → example index
	ended   map[int]bool      // examples recorded
	byIndex []*model.Example
	window  int

	cancelled bool
	cancels   sync.WaitGroup // the engine.Cancel calls of a cancel, in flight
}

// run takes one evaluation to a terminal state, unless the runner closes
// first (then it stays as stored for the next Start).
func (r *Runner) run(ctx context.Context, j *job) {
	r.mu.Lock()
	f := &follow{r: r, j: j, v: clone(j.rec), flight: map[model.ID]int{}, ended: map[int]bool{}}
	r.mu.Unlock()
	defer f.cancels.Wait()

	// Subscribed before anything is submitted or read, so that no end of
	// an execution of this evaluation is missed.
	events, unsubscribe := r.eng.Subscribe(1024)
	defer unsubscribe()

	recovered := j.examples == nil
	if err := f.load(ctx); err != nil {
		f.fail(CodeBadInput, err)
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
	cancelled := j.cancel // set to nil once seen: a nil channel blocks
	for {
		select {
		case <-cancelled:
			cancelled = nil
			f.cancel()
		default:
		}
		if !f.cancelled {
			if err := f.submit(ctx); err != nil {
				if ctx.Err() != nil || errors.Is(err, engine.ErrClosed) {
					return // the owner is stopping: taken up at the next start
				}
				f.stopWith(err)
			}
		}
		if len(f.flight) == 0 && (f.cancelled || len(f.queue) == 0) {
			f.finish()
			return
		}
		select {
		case ev, ok := <-events:
			if !ok {
				return // the engine closed: the owner is stopping
			}
			if ev.Kind == engine.EventExecution {
				f.observe(ev.Execution)
			}
		case <-cancelled:
			cancelled = nil
			f.cancel()
		case <-ctx.Done():
			return
		}
	}
}

// load reads the examples of a recovered evaluation (a fresh one has them
// from Submit) and queues every one not yet recorded.
func (f *follow) load(ctx context.Context) error {
	exs := f.j.examples
	f.j.examples = nil // the job no longer needs them
	if exs == nil {
		p, err := f.r.st.GetProgramVersion(ctx, f.v.Program, f.v.Version)
		if err != nil {
			return err
		}
		var lab model.Labeling
		if lab, exs, err = f.r.examples(ctx, p, f.v.Data, explicitLabels(f.v.Labels)); err != nil {
			return err
		}
		if len(exs) != f.v.Total {
			return fmt.Errorf("dataset %s has %d examples now, %d when the evaluation started", f.v.Data, len(exs), f.v.Total)
		}
		f.v.Labels = lab
		results, err := f.r.st.EvalResults(ctx, f.v.ID, 0, 0)
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
// the others are followed (the engine has recovered them).
func (f *follow) adopt(ctx context.Context) error {
	adopted := map[int]bool{}
	defer func() {
		f.queue = slices.DeleteFunc(f.queue, func(i int) bool { return adopted[i] })
	}()
	for cursor := ""; ; {
		page, next, err := f.r.st.ListExecutions(ctx, store.ExecQuery{Program: f.v.Program, Cursor: cursor, Limit: 500})
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
			f.observe(x)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// submit starts examples until the window is full.
func (f *follow) submit(ctx context.Context) error {
	n := min(f.window-len(f.flight), len(f.queue))
	if n <= 0 {
		return nil
	}
	idx := f.queue[:n]
	reqs := make([]engine.Request, n)
	for k, i := range idx {
		e := f.byIndex[i]
		in, labels := f.v.Labels.Split(e.Data)
		reqs[k] = engine.Request{Program: f.v.Program, Version: f.v.Version, Inputs: in, LM: f.v.LM, Batch: f.v.ID.String(),
			Eval: &model.ExecEval{Evaluation: f.v.ID, Example: e.ID, Index: i, Metric: f.v.Metric, Labels: labels}}
	}
	xs, err := f.r.eng.SubmitBatch(ctx, reqs)
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
func (f *follow) observe(x *model.Execution) {
	i, ok := f.flight[x.ID]
	if !ok || !x.State.Terminal() {
		return
	}
	delete(f.flight, x.ID)
	if f.ended[i] || (x.State == model.Cancelled && f.cancelled) {
		return // cancelled with the evaluation: not an example that ran
	}
	f.ended[i] = true
	res := resultOf(f.v.ID, i, x)
	next := clone(f.v)
	next.Add(res)
	wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := f.r.st.RecordEvalResult(wctx, next, res); err != nil {
		f.r.logf("evaluation %s: %v", f.v.ID, err)
		return
	}
	f.save(next, false)
}

// resultOf is an ended execution as an example's result; a failed (or
// cancelled) run scores 0, DSPy's failure_score.
func resultOf(eval model.ID, index int, x *model.Execution) *model.EvalResult {
	r := &model.EvalResult{Evaluation: eval, Index: index, Execution: x.ID, State: x.State, Inputs: x.Inputs,
		Outputs: x.Outputs, Cost: x.Cost, CostUnknown: x.CostUnknown, Usage: x.Usage, ErrorCode: x.ErrorCode, Error: x.Error}
	if x.Eval != nil {
		r.Example, r.Expected = x.Eval.Example, x.Eval.Labels
		if x.State == model.Completed && x.Eval.Score != nil {
			r.Score = *x.Eval.Score
		}
	}
	if x.State == model.Completed && (x.Eval == nil || x.Eval.Score == nil) {
		// Completed without a score: not what the worker does; count it as failed.
		r.State, r.ErrorCode, r.Error = model.Failed, "internal", "the execution completed without the metric's score"
	}
	return r
}

// cancel stops submitting and cancels the executions in flight; their
// ends arrive as events.
func (f *follow) cancel() {
	f.cancelled = true
	ids := make([]model.ID, 0, len(f.flight))
	for id := range f.flight {
		ids = append(ids, id)
	}
	f.cancels.Add(1)
	go func() {
		defer f.cancels.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, id := range ids {
			if err := f.r.eng.Cancel(ctx, id); err != nil && !errors.Is(err, engine.ErrFinished) && !errors.Is(err, engine.ErrClosed) {
				f.r.logf("evaluation %s: cancel execution %s: %v", f.v.ID, id, err)
			}
		}
	}()
}

// stopWith ends the evaluation early when the engine refuses its next
// examples (a budget reached mid-way): what ran is kept.
func (f *follow) stopWith(err error) {
	f.queue = nil
	f.cancelled = true
	next := clone(f.v)
	next.ErrorCode, next.Error = CodeSubmit, err.Error()
	var be *engine.BudgetError
	if errors.As(err, &be) {
		next.ErrorCode = engine.CodeBudget
	}
	f.save(next, false)
	f.cancel()
}

// finish writes the terminal state: completed when every example ended,
// failed when the engine refused some, cancelled on request.
func (f *follow) finish() {
	to := model.Completed
	switch {
	case f.v.ErrorCode != "":
		to = model.Failed
	case f.cancelled:
		to = model.Cancelled
	}
	f.move(to)
}

func (f *follow) fail(code string, err error) {
	next := clone(f.v)
	next.ErrorCode, next.Error = code, err.Error()
	f.v = next
	f.move(model.Failed)
}

func (f *follow) move(to model.RunState) {
	next := clone(f.v)
	if err := next.Move(to, f.r.now()); err != nil {
		f.r.logf("evaluation %s: %v", f.v.ID, err)
		return
	}
	f.save(next, true)
}

// save makes next the current record (writing it unless the caller has)
// and announces it.
func (f *follow) save(next *model.Evaluation, write bool) {
	if write {
		wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		if err := f.r.st.PutEvaluation(wctx, next); err != nil {
			f.r.logf("evaluation %s: writing %s: %v", next.ID, next.State, err)
		}
	}
	f.v = next
	f.r.mu.Lock()
	f.j.rec = next
	f.r.mu.Unlock()
	f.r.publish(next)
}
