package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/examples"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/pages/datasets"
	"github.com/signet-dspy/signet/tui/pages/evaluations"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
	"github.com/signet-dspy/signet/tui/pages/programs"
	"github.com/signet-dspy/signet/tui/runs"
)

// tuiDeps serves the workbench's interfaces with the workspace's service,
// whichever side of the socket this process is on. (The workbench's
// interfaces predate the service; they are being aligned with it.)
type tuiDeps struct{ svc app.Service }

func (d tuiDeps) deps() tui.Deps {
	return tui.Deps{Programs: d, Datasets: d, Optimizations: d, Executions: d, Events: d, Pool: d, Runner: d, Evaluations: d}
}

// Programs.

func (d tuiDeps) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	return d.svc.ListPrograms(ctx)
}

func (d tuiDeps) ProgramSummaries(ctx context.Context, names []string) (map[string]programs.Summary, error) {
	in, err := d.svc.ProgramSummaries(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]programs.Summary, len(in))
	for k, s := range in {
		out[k] = programs.Summary{LastRun: s.LastRun, LastState: s.LastState, MonthRuns: s.MonthRuns, MonthCost: s.MonthCost}
	}
	return out, nil
}

func (d tuiDeps) ProgramVersions(ctx context.Context, name string) ([]*model.Program, error) {
	return d.svc.ProgramVersions(ctx, name)
}

func (d tuiDeps) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return d.svc.SaveProgram(ctx, p)
}

func (d tuiDeps) CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return d.svc.CreateProgram(ctx, p)
}

func (d tuiDeps) SetProgramStatus(ctx context.Context, name string, st model.ProgramStatus, note string) (*model.Program, error) {
	return d.svc.SetProgramStatus(ctx, name, st, note)
}

func (d tuiDeps) DeleteProgram(ctx context.Context, name string) error {
	return d.svc.DeleteProgram(ctx, name)
}

// ProgramTemplates are the example programs `signet demo` loads.
func (d tuiDeps) ProgramTemplates(context.Context) ([]*model.Program, error) {
	var out []*model.Program
	for _, e := range examples.Demo {
		data, err := examples.FS.ReadFile(e.Program)
		if err != nil {
			return nil, err
		}
		p, err := parseProgram("examples/"+e.Program, data)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (d tuiDeps) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	return d.svc.Program(ctx, name, version)
}

// Datasets.

func (d tuiDeps) ListDatasets(ctx context.Context) ([]*model.Dataset, error) {
	return d.svc.ListDatasets(ctx)
}

func (d tuiDeps) ListExamples(ctx context.Context, dataset string, split model.Split, cursor string, limit int) ([]*model.Example, string, error) {
	page, err := d.svc.ListExamples(ctx, app.ExampleQuery{Dataset: dataset, Split: split, Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", err
	}
	return page.Examples, page.Next, nil
}

func (d tuiDeps) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	return d.svc.PutExample(ctx, e)
}

func (d tuiDeps) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	return d.svc.DeleteExample(ctx, dataset, id)
}

// ImportFile is `signet dataset import` of a file chosen in the workbench.
func (d tuiDeps) ImportFile(ctx context.Context, req datasets.ImportRequest) (*model.Dataset, error) {
	types, err := parseTypesFlag(req.Types)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rd io.Reader = f
	if req.Progress != nil {
		if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
			rd = &progressReader{r: f, total: fi.Size(), report: req.Progress}
		}
	}
	res, err := d.svc.ImportDataset(ctx, app.ImportDatasetRequest{Name: req.Name, File: req.Path, Split: req.Split,
		Inputs: model.ParseLabels(req.Inputs), Types: types, Data: rd})
	if err != nil {
		return nil, err
	}
	return res.Dataset, nil
}

// progressReader reports the share of the file read so far.
type progressReader struct {
	r      io.Reader
	n      atomic.Int64
	total  int64
	report func(float64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	done := p.n.Add(int64(n))
	p.report(min(float64(done)/float64(p.total), 1))
	return n, err
}

// Executions and runs.

func (d tuiDeps) ListExecutions(ctx context.Context, state model.RunState, cursor string, limit int) ([]*model.Execution, string, error) {
	page, err := d.svc.ListExecutions(ctx, app.ExecutionQuery{State: state, Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", err
	}
	return page.Executions, page.Next, nil
}

func (d tuiDeps) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return d.svc.CancelExecution(ctx, id)
}

func (d tuiDeps) MonthCost(ctx context.Context) (float64, error) {
	c, err := d.svc.Cost(ctx, app.CostQuery{Month: time.Now().UTC().Format("2006-01")})
	if err != nil {
		return 0, err
	}
	return c.Total, nil
}

func (d tuiDeps) Submit(ctx context.Context, req runs.RunRequest) (*model.Execution, error) {
	return d.svc.Run(ctx, app.RunRequest{Program: req.Program, Version: req.Version, Variant: req.Variant, Inputs: req.Inputs, LM: req.LM})
}

func (d tuiDeps) Cancel(ctx context.Context, id model.ID) error {
	_, err := d.svc.CancelExecution(ctx, id)
	return err
}

func (d tuiDeps) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return d.svc.Execution(ctx, id)
}

func (d tuiDeps) Spans(ctx context.Context, id model.ID, after uint64, limit int) ([]model.Span, uint64, error) {
	page, err := d.svc.Spans(ctx, id, after, limit)
	if err != nil {
		return nil, 0, err
	}
	return page.Spans, page.Next, nil
}

func (d tuiDeps) Render(ctx context.Context, req runs.RunRequest, module string) ([]runs.RenderedPrompt, error) {
	res, err := d.svc.Render(ctx, app.RenderRequest{Program: req.Program, Version: req.Version, Variant: req.Variant,
		Inputs: req.Inputs, LM: req.LM, Module: module})
	if err != nil {
		return nil, err
	}
	out := make([]runs.RenderedPrompt, len(res.Modules))
	for i, m := range res.Modules {
		out[i] = runs.RenderedPrompt{Module: m.Module, Predictor: m.Predictor, Messages: m.Messages, Placeholders: m.Placeholders, Note: m.Note}
	}
	return out, nil
}

// Cost is the program's month to date with its budget and its cost per day.
func (d tuiDeps) Cost(ctx context.Context, program string) (*runs.CostSummary, error) {
	c, err := d.svc.Cost(ctx, app.CostQuery{Program: program, Month: time.Now().UTC().Format("2006-01"), Days: true})
	if err != nil {
		return nil, err
	}
	out := &runs.CostSummary{Program: program, Month: c.Month, Days: c.Days}
	for _, row := range c.Programs {
		if row.Program == program {
			out.Cost += row.Cost
			out.Tokens += row.Usage.Total()
		}
	}
	if b, ok := c.Budgets[program]; ok {
		out.Budget, out.HasBudget = b, true
	} else if b, ok := c.Budgets[""]; ok {
		out.Budget, out.HasBudget = b, true
	}
	return out, nil
}

// Events and the pool.

func (d tuiDeps) Subscribe(ctx context.Context, fn func(live.Event)) error {
	evs, err := d.svc.Subscribe(ctx)
	if err != nil {
		return err
	}
	for ev := range evs {
		switch {
		case ev.Kind == app.EventExecution && ev.Execution != nil:
			fn(live.Event{Kind: live.EventExecution, Execution: ev.Execution})
		case ev.Kind == app.EventSpan && ev.Span != nil:
			fn(live.Event{Kind: live.EventSpan, Span: ev.Span})
		case ev.Kind == app.EventPool && ev.Pool != nil:
			fn(live.Event{Kind: live.EventPool, Pool: tuiPool(ev.Pool)})
		}
	}
	return ctx.Err()
}

func tuiPool(p *app.PoolStatus) *live.PoolStatus {
	ps := &live.PoolStatus{Engine: p.Engine, At: time.Now()}
	for _, w := range p.Pool {
		ps.Workers = append(ps.Workers, live.Worker{
			ID: w.ID, State: w.State, PID: w.PID, Uptime: time.Duration(w.Uptime * float64(time.Second)),
			Served: w.Served, Restarts: w.Restarts, Inflight: w.Inflight, Current: w.Current, LastError: w.LastError,
		})
	}
	return ps
}

func (d tuiDeps) RestartWorker(ctx context.Context, id int) error {
	_, err := d.svc.RestartWorker(ctx, id)
	return err
}

func (d tuiDeps) RecycleWorker(ctx context.Context, id int) error {
	_, err := d.svc.RecycleWorker(ctx, id)
	return err
}

func (d tuiDeps) StartPool(ctx context.Context) error {
	_, err := d.svc.StartPool(ctx)
	return err
}

// Optimizations.

// optListLimit bounds the runs the page lists: the newest ones matter.
const optListLimit = 500

func (d tuiDeps) ListOptimizations(ctx context.Context, program string) ([]*model.Optimization, error) {
	page, err := d.svc.ListOptimizations(ctx, app.JobQuery{Program: program, Limit: optListLimit})
	if err != nil {
		return nil, err
	}
	return page.Optimizations, nil
}

func (d tuiDeps) OptimizationTrials(ctx context.Context, id model.ID) ([]*model.Trial, error) {
	return d.svc.Trials(ctx, id)
}

// StartOptimization reads the form's fields as `signet opt run` reads its
// flags, so both accept and refuse the same things.
func (d tuiDeps) StartOptimization(ctx context.Context, r optimizations.OptimizationRequest) (*model.Optimization, error) {
	cwd, _ := os.Getwd()
	req := app.OptimizeRequest{Program: r.Program, Optimizer: r.Optimizer, LM: r.LM, Budget: r.Budget,
		Metric: model.Metric{Name: r.Metric, Kind: app.MetricSpelled}, BaseDir: cwd}
	var err error
	if req.Settings, err = model.ParseSettings(r.Settings); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if r.Auto != "" {
		req.Settings["auto"] = r.Auto
	}
	if req.Train, err = model.ParseDataRef(r.Train); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if r.Val != "" {
		if req.Val, err = model.ParseDataRef(r.Val); err != nil {
			return nil, fmt.Errorf("val: %w", err)
		}
	}
	return d.svc.Optimize(ctx, req)
}

func (d tuiDeps) CancelOptimization(ctx context.Context, id model.ID) error {
	_, err := d.svc.CancelOptimization(ctx, id)
	return err
}

func (d tuiDeps) CompareOptimizations(ctx context.Context, ids []model.ID) (*model.Comparison, error) {
	c, err := d.svc.CompareOptimizations(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &c.Comparison, nil
}

func (d tuiDeps) PromoteOptimization(ctx context.Context, run *model.Optimization, force bool) (*model.Program, error) {
	p, err := d.svc.PromoteOptimization(ctx, run.ID, force)
	if err != nil {
		return nil, err
	}
	return p.Program, nil
}

// Evaluations.

// evalListLimit bounds the evaluations the screen lists: the newest matter.
const evalListLimit = 200

func (d tuiDeps) ListEvaluations(ctx context.Context, program string) ([]*model.Evaluation, error) {
	page, err := d.svc.ListEvaluations(ctx, app.JobQuery{Program: program, Limit: evalListLimit})
	if err != nil {
		return nil, err
	}
	return page.Evaluations, nil
}

func (d tuiDeps) Evaluation(ctx context.Context, id model.ID) (*model.Evaluation, []*model.EvalResult, error) {
	v, err := d.svc.Evaluation(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return v.Evaluation, v.Results, nil
}

// StartEvaluation reads the form's fields as `signet eval` reads its
// flags; a custom metric's relative path is this process's.
func (d tuiDeps) StartEvaluation(ctx context.Context, r evaluations.EvaluationRequest) (*model.Evaluation, error) {
	cwd, _ := os.Getwd()
	req := app.EvaluateRequest{Program: r.Program, Version: r.Version, LM: r.LM, Labels: model.ParseLabels(r.Labels),
		Metric: model.Metric{Name: r.Metric, Kind: app.MetricSpelled}, BaseDir: cwd}
	var err error
	if req.Data, err = model.ParseDataRef(r.Data); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return d.svc.Evaluate(ctx, req)
}

func (d tuiDeps) CancelEvaluation(ctx context.Context, id model.ID) error {
	_, err := d.svc.CancelEvaluation(ctx, id)
	return err
}
