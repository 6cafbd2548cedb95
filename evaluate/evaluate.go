// Package evaluate runs evaluations: dspy.Evaluate's semantics over a
// dataset, as ordinary executions of the engine. Every example is one
// execution (traced, costed, retried, cancellable, on the Executions page)
// whose worker request also scores it with the metric (model.ExecEval); an
// example whose execution failed scores 0 and counts; the score is the
// mean. The evaluation is a model.Evaluation that goes pending → running →
// completed | failed | cancelled, with each example's result stored as it
// ends, in the same transaction as the evaluation that counts it.
//
// The runner submits an evaluation's executions to the engine's batch
// submission (Threads at a time when it is set, else all at once, bounded
// by the engine's concurrency) and follows them through the engine's
// events; it adds no queue of its own. Its record goes out on the same
// event stream (engine.EventEvaluation).
//
// Recovery: the engine recovers the executions an earlier owner left; Start
// takes up every evaluation left pending or running, finds its executions
// (those of its program created since it was), records the ones that ended
// and submits the examples that never ran.
package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// LMs resolves an LM profile name (cmd's resolver); Submit checks the
// profiles an evaluation needs before it stores anything.
type LMs interface {
	Spec(ctx context.Context, profile string) (bridge.LMSpec, error)
}

// Options configure New. Store, Engine and LMs are required.
type Options struct {
	Store     *store.Store
	Engine    *engine.Engine
	LMs       LMs
	DefaultLM string // profile when neither the request nor the program names one
	// Flow is a program's data flow (bridge's Pool.Flow: a worker reads a
	// custom module without a signature); nil: the signatures'.
	Flow func(ctx context.Context, p *model.Program) (model.Flow, error)
	Log  io.Writer
	Now  func() time.Time
}

// Request asks for one evaluation, in the CLI's terms.
type Request struct {
	Program string        `json:"program"`
	Version int           `json:"version,omitempty"` // 0 = latest
	Data    model.DataRef `json:"data"`
	Metric  model.Metric  `json:"metric"`
	Labels  []string      `json:"labels,omitempty"` // explicit labels (model.Labels)
	LM      string        `json:"lm,omitempty"`
	Threads int           `json:"threads,omitempty"` // examples in flight at once; 0 = all (the engine bounds them)
}

// Errors callers test with errors.Is.
var (
	ErrClosed   = errors.New("evaluate: closed")
	ErrFinished = errors.New("evaluation has already finished")
)

// Error codes the runner sets on evaluations.
const (
	CodeBadInput = "bad_input" // the dataset or the program changed under a recovered evaluation
	CodeSubmit   = "submit"    // the engine refused the executions (a budget, a profile)
)

type job struct {
	rec      *model.Evaluation // replaced, never modified, under Runner.mu
	examples []*model.Example  // nil for a recovered evaluation: read when it runs
	cancel   chan struct{}
	once     sync.Once
	done     chan struct{}
}

func (j *job) requestCancel() { j.once.Do(func() { close(j.cancel) }) }

// Runner runs evaluations. Its methods are safe for concurrent use.
type Runner struct {
	o   Options
	st  *store.Store
	eng *engine.Engine

	ctx  context.Context // cancelled by Close: the jobs stop following
	stop context.CancelFunc

	mu     sync.Mutex
	closed bool
	jobs   map[model.ID]*job
	wg     sync.WaitGroup
}

// New makes a runner; Start takes up what an earlier owner left.
func New(o Options) *Runner {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	r := &Runner{o: o, st: o.Store, eng: o.Engine, jobs: map[model.ID]*job{}}
	r.ctx, r.stop = context.WithCancel(context.Background())
	return r
}

func (r *Runner) now() time.Time { return r.o.Now().UTC() }

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "%s evaluate: %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), fmt.Sprintf(format, args...))
}

// Start takes up every evaluation an earlier owner left pending or
// running (see the package comment); the engine must have started. It
// returns how many it took up.
func (r *Runner) Start(ctx context.Context) (int, error) {
	if r.st == nil || r.eng == nil || r.o.LMs == nil {
		return 0, errors.New("evaluate: Options.Store, Engine and LMs are required")
	}
	var left []*model.Evaluation
	for cursor := ""; ; {
		page, next, err := r.st.ListEvaluations(ctx, "", cursor, 1000)
		if err != nil {
			return 0, fmt.Errorf("evaluate: recovery: %w", err)
		}
		for _, v := range page {
			if !v.State.Terminal() {
				left = append(left, v)
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
		return 0, ErrClosed
	}
	for _, v := range left {
		if _, ok := r.jobs[v.ID]; !ok {
			r.startLocked(v, nil)
		}
	}
	if len(left) > 0 {
		r.logf("recovery: %d evaluation(s) taken up", len(left))
	}
	return len(left), nil
}

// Submit checks a request (the program version, the dataset and its
// examples, the labels, the metric, the LM profiles), stores the
// evaluation as pending and starts it. Nothing is stored when a check
// fails.
func (r *Runner) Submit(ctx context.Context, req Request) (*model.Evaluation, error) {
	v, examples, err := r.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if err := r.st.PutEvaluation(ctx, v); err != nil {
		return nil, err
	}
	r.publish(v)
	r.startLocked(v, examples)
	return clone(v), nil
}

func (r *Runner) prepare(ctx context.Context, req Request) (*model.Evaluation, []*model.Example, error) {
	if err := model.CheckMetric(req.Metric); err != nil {
		return nil, nil, &model.FieldError{Field: "metric", Msg: err.Error()}
	}
	if req.Data.Dataset == "" {
		return nil, nil, &model.FieldError{Field: "data", Msg: "a dataset is required (DATASET or DATASET:SPLIT)"}
	}
	if req.Threads < 0 {
		return nil, nil, &model.FieldError{Field: "threads", Msg: fmt.Sprintf("%d is not a number of threads", req.Threads)}
	}
	var p *model.Program
	var err error
	if req.Version > 0 {
		p, err = r.st.GetProgramVersion(ctx, req.Program, req.Version)
	} else {
		p, err = r.st.GetProgram(ctx, req.Program)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, name := range []string{firstNonEmpty(req.LM, p.LM, r.o.DefaultLM), req.Metric.LM} {
		if name == "" {
			continue
		}
		if _, err := r.o.LMs.Spec(ctx, name); err != nil {
			return nil, nil, fmt.Errorf("LM profile %q: %w", name, err)
		}
	}
	lab, examples, err := r.examples(ctx, p, req.Data, req.Labels)
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
	v := &model.Evaluation{Program: p.Name, Version: p.Version, Data: req.Data, Metric: req.Metric, Labels: lab,
		LM: req.LM, Threads: req.Threads, State: model.Pending, Total: len(examples), CreatedAt: r.now()}
	v.ID = model.NewIDAt(v.CreatedAt)
	return v, examples, nil
}

// examples reads the examples a reference selects and the labeling of the
// program on its dataset; an example without an input of the program is
// an error naming it.
func (r *Runner) examples(ctx context.Context, p *model.Program, ref model.DataRef, labels []string) (model.Labeling, []*model.Example, error) {
	d, err := r.st.GetDataset(ctx, ref.Dataset)
	if err != nil {
		return model.Labeling{}, nil, fmt.Errorf("dataset %s: %w", ref.Dataset, err)
	}
	flow := p.StaticFlow()
	if r.o.Flow != nil {
		if flow, err = r.o.Flow(ctx, p); err != nil {
			return model.Labeling{}, nil, err
		}
	}
	lab, err := model.Labels(p.Name, flow, d, labels)
	if err != nil {
		return lab, nil, err
	}
	var out []*model.Example
	for cursor := ""; ; {
		page, next, err := r.st.ListExamples(ctx, store.ExampleQuery{Dataset: ref.Dataset, Split: ref.Split, Cursor: cursor, Limit: 1000})
		if err != nil {
			return lab, nil, err
		}
		for _, e := range page {
			for _, k := range lab.Inputs {
				if _, ok := e.Data[k]; !ok {
					return lab, nil, &model.FieldError{Field: fmt.Sprintf("dataset %s: example %s", ref, e.ID),
						Msg: fmt.Sprintf("no field %q, an input of program %s", k, p.Name)}
				}
			}
			out = append(out, e)
		}
		if next == "" {
			return lab, out, nil
		}
		cursor = next
	}
}

func (r *Runner) startLocked(v *model.Evaluation, examples []*model.Example) {
	j := &job{rec: v, examples: examples, cancel: make(chan struct{}), done: make(chan struct{})}
	r.jobs[v.ID] = j
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run(r.ctx, j)
		r.mu.Lock()
		delete(r.jobs, v.ID)
		r.mu.Unlock()
		close(j.done)
	}()
}

// Wait returns the evaluation once it has ended (or the runner closed).
func (r *Runner) Wait(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	r.mu.Lock()
	j := r.jobs[id]
	r.mu.Unlock()
	if j != nil {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for evaluation %s: %w", id, ctx.Err())
		}
	}
	return r.st.GetEvaluation(ctx, id)
}

// Current is the live record of an evaluation the runner holds, else the
// stored one.
func (r *Runner) Current(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	r.mu.Lock()
	j := r.jobs[id]
	var v *model.Evaluation
	if j != nil {
		v = clone(j.rec)
	}
	r.mu.Unlock()
	if v != nil {
		return v, nil
	}
	return r.st.GetEvaluation(ctx, id)
}

// Cancel stops an evaluation: no more examples start, the running ones
// are cancelled, and it ends cancelled with the results of the examples
// that ended (Wait for it). A finished one is ErrFinished.
func (r *Runner) Cancel(ctx context.Context, id model.ID) error {
	r.mu.Lock()
	j := r.jobs[id]
	r.mu.Unlock()
	if j != nil {
		j.requestCancel()
		return nil
	}
	v, err := r.st.GetEvaluation(ctx, id)
	if err != nil {
		return err
	}
	if v.State.Terminal() {
		return fmt.Errorf("evaluation %s is %s: %w", id, v.State, ErrFinished)
	}
	// Stored unfinished and not held: this runner has not started it.
	if err := v.Move(model.Cancelled, r.now()); err != nil {
		return err
	}
	if err := r.st.PutEvaluation(ctx, v); err != nil {
		return err
	}
	r.publish(v)
	return nil
}

// Close stops following evaluations; they stay as stored, and the next
// Start takes them up (the engine keeps their executions). Close it
// before the engine.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.stop()
	finished := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("evaluate: close: %w", ctx.Err())
	}
}

// publish sends an evaluation's record on the engine's event stream.
func (r *Runner) publish(v *model.Evaluation) {
	r.eng.Publish(engine.Event{Kind: engine.EventEvaluation, Evaluation: clone(v)})
}

func clone(v *model.Evaluation) *model.Evaluation {
	c := *v
	c.Usage = maps.Clone(v.Usage)
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
