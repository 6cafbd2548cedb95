package owner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Run checks what a run needs that no worker has to see (the version or
// the variant, every LM profile and its key), then submits it to the
// job kernel, which checks the inputs; with Wait it answers once it has ended.
func (o *Owner) Run(ctx context.Context, req app.RunRequest) (*model.Execution, error) {
	if err := o.checkInputSize(req.Inputs); err != nil {
		return nil, err
	}
	routed, err := o.route(ctx, &req)
	if err != nil {
		return nil, err
	}
	p, err := o.runnable(ctx, req.Program, req.Version, req.Variant, req.LM)
	if err != nil {
		return nil, err
	}
	res := p
	if routed {
		// The split is an admin's choice of the versions that serve the
		// program: a routed run is the program's, in its current status,
		// whatever the status the version it landed on was saved with.
		if res, err = o.st.GetProgram(ctx, p.Name); err != nil {
			return nil, fail(err)
		}
	}
	if req.Variant != nil {
		// An unsaved variant is no program in production, whatever the
		// status of the version it derives from.
		res = &model.Program{Name: p.Name + " (a variant)", Status: model.Draft}
	}
	who, err := o.authorizeRun(ctx, res)
	if err != nil {
		return nil, err
	}
	k, err := o.kernel(ctx)
	if err != nil {
		return nil, err
	}
	// The version read above, not "the newest" again: a save in between
	// does not change what was checked.
	x, err := k.Submit(ctx, jobs.Request{Program: p.Name, Version: p.Version, Inputs: req.Inputs, LM: req.LM,
		NoCache: req.NoCache, Variant: req.Variant, Timeout: req.Timeout, User: userOf(who), Routed: routed})
	if err != nil {
		return nil, fail(err)
	}
	if req.Wait && !x.State.Terminal() {
		id := x.ID
		if x, err = k.Wait(ctx, id); err != nil {
			if ctx.Err() != nil && !o.stopping.Load() {
				o.abandoned(k, id)
			}
			return nil, fail(err)
		}
	}
	return x, nil
}

// authorizeRun checks that ctx's caller may execute program p (an
// ml_user's needs p in production and credits left: before any LM call).
func (o *Owner) authorizeRun(ctx context.Context, p *model.Program) (*app.Principal, error) {
	return o.authorize(ctx, app.ActionExecute, app.Resource{Kind: "program", Name: p.Name, Status: p.Status})
}

// authorizeRead checks that ctx's caller may see execution x.
func (o *Owner) authorizeRead(ctx context.Context, x *model.Execution) error {
	_, err := o.authorize(ctx, app.ActionRead, app.ExecutionOf(x))
	return err
}

// abandonedWait bounds the cancellation of a run whose caller left.
const abandonedWait = 30 * time.Second

// abandoned cancels a run whose caller stopped waiting for it (ctrl-c on
// `signet run`, a dropped connection): it was the caller's alone, and would
// otherwise go on spending on nobody's behalf. A run the owner's own stop
// interrupts is not abandoned: it resumes at the next start.
func (o *Owner) abandoned(k *jobs.Kernel, id model.ID) {
	ctx, cancel := context.WithTimeout(context.Background(), abandonedWait)
	defer cancel()
	if err := k.Cancel(ctx, id); err != nil && !errors.Is(err, jobs.ErrFinished) {
		o.logf("execution %s: its caller left; cancelling it: %v", id, err)
	}
}

// checkInputSize refuses inputs larger, JSON-encoded, than the config's
// input limit, naming the largest input: it would otherwise travel whole to
// the store, a worker and every trace.
func (o *Owner) checkInputSize(inputs map[string]any) error {
	lim, err := o.limits()
	if err != nil {
		return err
	}
	limit := int64(lim.Input)
	all, err := json.Marshal(inputs)
	if err != nil {
		return invalid("inputs", "inputs: %v", err)
	}
	if int64(len(all)) <= limit {
		return nil
	}
	var big string
	var bigSize int
	for k, v := range inputs {
		if b, _ := json.Marshal(v); len(b) > bigSize {
			big, bigSize = k, len(b)
		}
	}
	return invalid("inputs", "inputs: %d bytes JSON-encoded (input %q: %d bytes) is larger than the limit of %s (limits: input in config.yaml)",
		len(all), big, bigSize, model.FormatSize(limit))
}

// runnable is the program a run executes: the stored version, or the
// variant over it (its LM, when it names none, is the version's), once
// every LM profile it uses is known and has its key. The kernel validates
// the variant's name against the program.
func (o *Owner) runnable(ctx context.Context, name string, version int, variant *model.Program, lm string) (*model.Program, error) {
	p, err := o.program(ctx, name, version)
	if err != nil {
		return nil, fail(err)
	}
	run := p
	if variant != nil {
		v := *variant
		v.Name, v.LM = name, cmp.Or(v.LM, p.LM)
		if err := v.Validate(); err != nil {
			return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "variant", Msg: err.Error(), Err: err})
		}
		run = &v
	}
	lms, err := o.LMs()
	if err != nil {
		return nil, err
	}
	if err := lms.CheckProgram(run, lm); err != nil {
		// An unknown profile or a missing key is the request's fault.
		return nil, app.Wrap(app.CodeInvalid, err)
	}
	if _, err := o.indexSpecs(ctx, run); err != nil {
		return nil, err
	}
	return p, nil
}

// RunBatch submits one execution per example of a dataset (or a split), in
// the dataset's order, up to Limit: each takes the example's inputs as the
// program's flow and the labels (model.Labels) divide them.
func (o *Owner) RunBatch(ctx context.Context, req app.BatchRequest) (*app.Batch, error) {
	if req.Limit < 0 {
		return nil, app.Errorf(app.CodeInvalid, "limit %d: want a number of examples ≥ 0 (0: all)", req.Limit)
	}
	if req.Data.Dataset == "" {
		return nil, app.Errorf(app.CodeInvalid, "data: name the dataset to run on")
	}
	q := store.ExampleQuery{Dataset: req.Data.Dataset, Limit: 1000}
	if req.Data.Split != "" {
		sp, err := model.ParseSplit(string(req.Data.Split))
		if err != nil {
			return nil, app.Errorf(app.CodeInvalid, "data %s: %w", req.Data, err)
		}
		q.Split = sp
	}
	p, err := o.runnable(ctx, req.Program, req.Version, nil, req.LM)
	if err != nil {
		return nil, err
	}
	who, err := o.authorizeRun(ctx, p)
	if err != nil {
		return nil, err
	}
	d, err := o.st.GetDataset(ctx, req.Data.Dataset)
	if err != nil {
		return nil, fail(err)
	}
	flow, err := o.flow(ctx, p)
	if err != nil {
		return nil, fail(err)
	}
	lab, err := model.Labels(p.Name, flow, d, req.Labels)
	if err != nil {
		return nil, app.Wrap(app.CodeInvalid, err)
	}
	b := &app.Batch{ID: model.NewID(), Program: p.Name, Version: p.Version, Labeling: lab}
	var reqs []jobs.Request
	full := func() bool { return req.Limit > 0 && len(reqs) == req.Limit }
	for {
		page, next, err := o.st.ListExamples(ctx, q)
		if err != nil {
			return nil, fail(err)
		}
		for _, e := range page {
			if full() {
				break
			}
			in, _ := lab.Split(e.Data)
			reqs = append(reqs, jobs.Request{Program: p.Name, Version: p.Version, Inputs: in, LM: req.LM,
				Batch: b.ID.String(), NoCache: req.NoCache, User: userOf(who)})
			b.Examples = append(b.Examples, e.ID)
		}
		if next == "" || full() {
			break
		}
		q.Cursor = next
	}
	if len(reqs) == 0 {
		return nil, app.Errorf(app.CodeInvalid, "dataset %s has no examples to run", req.Data)
	}
	k, err := o.kernel(ctx)
	if err != nil {
		return nil, err
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		return nil, fail(fmt.Errorf("dataset %s: %w", req.Data, err))
	}
	b.Executions = make([]model.ID, len(xs))
	for i, x := range xs {
		b.Executions[i] = x.ID
	}
	return b, nil
}

func (o *Owner) ListExecutions(ctx context.Context, q app.ExecutionQuery) (*app.ExecutionPage, error) {
	sq := store.ExecQuery{Program: q.Program, Cursor: q.Cursor, Limit: q.Limit}
	if q.State != "" {
		s, err := model.ParseRunState(string(q.State))
		if err != nil {
			return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "state", Msg: err.Error(), Err: err})
		}
		sq.State = s
	}
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	xs, next, err := o.st.ListExecutions(ctx, sq)
	if err != nil {
		return nil, fail(err)
	}
	// A user sees its own executions only: the others are left out of
	// the page (which may then hold fewer), not refused.
	mine := xs[:0]
	for _, x := range xs {
		if sees(who, "execution", x.ID.String(), x.User) {
			mine = append(mine, x)
		}
	}
	if mine == nil {
		mine = []*model.Execution{}
	}
	return &app.ExecutionPage{Executions: mine, Next: next}, nil
}

func (o *Owner) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	x, err := o.st.GetExecution(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	if err := o.authorizeRead(ctx, x); err != nil {
		return nil, err
	}
	return x, nil
}

// maxSpanPage bounds a page of spans (and is the page when none is asked).
const maxSpanPage = 1000

// Spans is a page of an execution's trace. One span more than the page is
// read, so that Next is 0 exactly when the trace has no more.
func (o *Owner) Spans(ctx context.Context, id model.ID, after uint64, limit int) (*app.SpanPage, error) {
	if limit <= 0 || limit > maxSpanPage {
		limit = maxSpanPage
	}
	x, err := o.st.GetExecution(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	if err := o.authorizeRead(ctx, x); err != nil {
		return nil, err
	}
	spans, err := o.st.Spans(ctx, id, after, limit+1)
	if err != nil {
		return nil, fail(err)
	}
	page := &app.SpanPage{Spans: spans}
	if len(spans) > limit {
		page.Spans = spans[:limit]
		page.Next = spans[limit-1].Seq
	}
	if page.Spans == nil {
		page.Spans = []model.Span{}
	}
	return page, nil
}

// CancelExecution cancels a pending or running execution and answers it as
// it is then. One that has ended is CodeFinished, told without starting
// the workers.
func (o *Owner) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	x, err := o.st.GetExecution(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	if err := o.mayCancel(ctx, "execution", id.String(), x.User); err != nil {
		return nil, err
	}
	if x.State.Terminal() {
		return nil, fail(fmt.Errorf("cancel execution %s: %w (%s)", id, jobs.ErrFinished, x.State))
	}
	k, err := o.kernel(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.Cancel(ctx, id); err != nil {
		return nil, fail(err)
	}
	x, err = o.st.GetExecution(ctx, id)
	return x, fail(err)
}

// ResumeExecutions starts the job kernel, which takes up what an earlier
// owner left pending or running (every kind of job) and runs it; the counts
// are the executions this call recovered (none when the kernel already ran:
// it recovered then).
func (o *Owner) ResumeExecutions(ctx context.Context) (*app.Recovered, error) {
	if _, err := o.mayWrite(ctx, "executions", "*"); err != nil {
		return nil, err
	}
	_, rec, err := o.startKernel(ctx)
	if err != nil {
		return nil, fail(err)
	}
	x := rec.Executions
	return &app.Recovered{Requeued: x.Requeued, Retried: x.Retried, Failed: x.Failed}, nil
}
