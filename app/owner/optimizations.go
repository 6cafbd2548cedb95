package owner

import (
	"context"
	"errors"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/store"
)

// optimizeRequest checks an optimization request (the optimizer, the
// metric, the settings, the program version and every LM profile the run
// uses) before any worker starts, and makes it the kernel's.
func (o *Owner) optimizeRequest(ctx context.Context, req app.OptimizeRequest) (jobs.OptRequest, error) {
	opt, err := model.ParseOptimizer(req.Optimizer)
	if err != nil {
		return jobs.OptRequest{}, invalidField("optimizer", err)
	}
	if err := o.mayRunMetrics(ctx, req.Metric); err != nil {
		return jobs.OptRequest{}, err
	}
	metric, err := metricOf(req.Metric, req.BaseDir)
	if err != nil {
		return jobs.OptRequest{}, err
	}
	settings, err := settingsOf(opt, req.Settings)
	if err != nil {
		return jobs.OptRequest{}, err
	}
	p, err := o.jobProgram(ctx, req.Program, req.Version, req.LM, req.ReflectionLM, metric.LM)
	if err != nil {
		return jobs.OptRequest{}, err
	}
	return jobs.OptRequest{Program: p.Name, Version: p.Version, Optimizer: opt, Settings: settings,
		Train: req.Train, Val: req.Val, Test: req.Test, Metric: metric, Labels: req.Labels, LM: req.LM,
		ReflectionLM: req.ReflectionLM, Budget: req.Budget, Threads: req.Threads, Seed: req.Seed}, nil
}

// EstimateOptimization is the run Optimize would submit, with its estimate
// of LM calls and cost, not stored; a run a monthly cap refuses is
// CodeBudget here too.
func (o *Owner) EstimateOptimization(ctx context.Context, req app.OptimizeRequest) (*model.Optimization, error) {
	return o.submitOptimization(ctx, req, (*jobs.Kernel).PrepareOptimization)
}

// Optimize submits a run: it is estimated, refused with CodeBudget when
// the estimate would exceed a monthly cap, stored pending and queued. Its
// changes and progress follow on the event stream. The optimization worker
// starts first, so that one that cannot start is this request's error.
func (o *Owner) Optimize(ctx context.Context, req app.OptimizeRequest) (*model.Optimization, error) {
	return o.submitOptimization(ctx, req, func(k *jobs.Kernel, ctx context.Context, r jobs.OptRequest) (*model.Optimization, error) {
		if _, err := o.optimizer(ctx); err != nil {
			return nil, err
		}
		return k.Optimize(ctx, r)
	})
}

// submitOptimization checks a request, then hands it to the job kernel,
// to prepare or submit.
func (o *Owner) submitOptimization(ctx context.Context, req app.OptimizeRequest,
	do func(*jobs.Kernel, context.Context, jobs.OptRequest) (*model.Optimization, error)) (*model.Optimization, error) {
	who, err := o.authorize(ctx, app.ActionCompile, app.Resource{Kind: "program", Name: req.Program})
	if err != nil {
		return nil, err
	}
	oreq, err := o.optimizeRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	oreq.User = userOf(who)
	k, err := o.kernel(ctx)
	if err != nil {
		return nil, err
	}
	run, err := do(k, ctx, oreq)
	return run, fail(err)
}

// ListOptimizations is a page of runs, newest first, live (with their
// progress) while they run.
func (o *Owner) ListOptimizations(ctx context.Context, q app.JobQuery) (*app.OptimizationPage, error) {
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := o.st.ListOptimizations(ctx, q.Program, q.Cursor, q.Limit)
	if err != nil {
		return nil, fail(err)
	}
	rows = mine(who, "optimization", rows, func(x *model.Optimization) (model.ID, string) { return x.ID, x.User })
	rows = live(ctx, rows, func(x *model.Optimization) (model.ID, model.RunState) { return x.ID, x.State }, o.currentOptimization)
	return &app.OptimizationPage{Optimizations: rows, Next: next}, nil
}

// Optimization is a run, live (with its latest progress) while it runs.
func (o *Owner) Optimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return o.readOptimization(ctx, id)
}

// readOptimization is a run, live, if ctx's caller may read it.
func (o *Owner) readOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	run, err := o.currentOptimization(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	if err := o.mayReadOwn(ctx, "optimization", id.String(), run.User); err != nil {
		return nil, err
	}
	return run, nil
}

func (o *Owner) currentOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	if k := o.kern.Load(); k != nil {
		return k.Optimization(ctx, id)
	}
	return o.st.GetOptimization(ctx, id)
}

// OptimizationDetail is a run, live, with its trials and the examples of
// its scoring set (validation, else training) their results name.
func (o *Owner) OptimizationDetail(ctx context.Context, id model.ID) (*app.OptimizationDetail, error) {
	run, err := o.readOptimization(ctx, id)
	if err != nil {
		return nil, err
	}
	ts, err := o.Trials(ctx, id)
	if err != nil {
		return nil, err
	}
	dataset := run.Val.Dataset
	if dataset == "" {
		dataset = run.Train.Dataset
	}
	d := &app.OptimizationDetail{Optimization: run, Trials: ts, Examples: []*model.Example{}}
	seen := map[model.ID]bool{}
	for _, t := range ts {
		for _, r := range t.Results {
			if seen[r.Example] {
				continue
			}
			seen[r.Example] = true
			e, err := o.st.GetExample(ctx, dataset, r.Example)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue // deleted since: its results stay, without inputs
			case err != nil:
				return nil, fail(err)
			}
			d.Examples = append(d.Examples, e)
		}
	}
	return d, nil
}

// Trials are a run's trials, by N (0 is the base program).
func (o *Owner) Trials(ctx context.Context, id model.ID) ([]*model.Trial, error) {
	if _, err := o.readOptimization(ctx, id); err != nil {
		return nil, err
	}
	ts, err := o.st.Trials(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	if ts == nil {
		ts = []*model.Trial{}
	}
	return ts, nil
}

// CancelOptimization stops a run: a queued one is cancelled at once, a
// running one stops at its next hook and ends cancelled with the best
// program found so far saved. It answers with the cancelled run. A run that
// has ended is CodeFinished, without starting workers.
func (o *Owner) CancelOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return cancelJob(o, ctx, "optimization", id, o.currentOptimization,
		func(run *model.Optimization) (model.RunState, string) { return run.State, run.User })
}

// CompareOptimizations sets two or more runs side by side (model.CompareRuns)
// with the score against cost of every finished run of their programs.
func (o *Owner) CompareOptimizations(ctx context.Context, ids []model.ID) (*app.Comparison, error) {
	if len(ids) < 2 {
		return nil, app.Errorf(app.CodeInvalid, "compare: want at least two optimization runs, got %d", len(ids))
	}
	for _, id := range ids {
		if _, err := o.readOptimization(ctx, id); err != nil {
			return nil, err
		}
	}
	c, err := optimize.Compare(ctx, o.st, ids)
	if err != nil {
		return nil, fail(err)
	}
	return &app.Comparison{Comparison: *c.Comparison, Points: c.Points}, nil
}

// PromoteOptimization saves a run's result as its program's newest version
// (optimize.Promote). A result that scored below its baseline needs force:
// without it, CodeRegressed, saying to pass --force; a run without a result
// is CodeInvalid.
func (o *Owner) PromoteOptimization(ctx context.Context, id model.ID, force bool) (*app.Promoted, error) {
	if _, err := o.mayWrite(ctx, "optimization", id.String()); err != nil {
		return nil, err
	}
	p, run, err := optimize.Promote(ctx, o.st, id, force)
	if err != nil {
		return nil, fail(err)
	}
	o.programChanged(p.Name)
	return &app.Promoted{Program: p, Optimization: run}, nil
}
