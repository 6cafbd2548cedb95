package owner

import (
	"context"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
)

// Evaluate checks the request (the metric, the program version and every
// LM profile the evaluation uses) before any worker starts, then submits
// it to the job kernel. It answers with the pending record; its changes
// follow on the event stream.
//
// Evaluating is development work, under the compile rule: its executions
// are not charged to anyone's credits.
func (o *Owner) Evaluate(ctx context.Context, req app.EvaluateRequest) (*model.Evaluation, error) {
	who, err := o.authorize(ctx, app.ActionCompile, app.Resource{Kind: "program", Name: req.Program})
	if err != nil {
		return nil, err
	}
	if err := o.mayRunMetrics(ctx, append([]model.Metric{req.Metric}, req.Extra...)...); err != nil {
		return nil, err
	}
	metric, err := metricOf(req.Metric, req.BaseDir)
	if err != nil {
		return nil, err
	}
	judges := []string{metric.LM}
	extra := make([]model.Metric, len(req.Extra))
	for i, m := range req.Extra {
		if extra[i], err = metricOf(m, req.BaseDir); err != nil {
			return nil, err
		}
		judges = append(judges, extra[i].LM)
	}

	p, err := o.jobProgram(ctx, req.Program, req.Version, req.LM, judges...)
	if err != nil {
		return nil, err
	}
	k, err := o.kernel(ctx)
	if err != nil {
		return nil, err
	}
	v, err := k.Evaluate(ctx, jobs.EvalRequest{Program: p.Name, Version: p.Version, Data: req.Data, Metric: metric,
		Extra: extra, Labels: req.Labels, LM: req.LM, Threads: req.Threads, User: userOf(who)})
	return v, fail(err)
}

// ListEvaluations is a page of evaluations, newest first, live while they
// run.
func (o *Owner) ListEvaluations(ctx context.Context, q app.JobQuery) (*app.EvaluationPage, error) {
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := o.st.ListEvaluations(ctx, q.Program, q.Cursor, q.Limit)
	if err != nil {
		return nil, fail(err)
	}
	rows = mine(who, "evaluation", rows, func(v *model.Evaluation) (model.ID, string) { return v.ID, v.User })
	rows = live(ctx, rows, func(v *model.Evaluation) (model.ID, model.RunState) { return v.ID, v.State }, o.currentEvaluation)
	return &app.EvaluationPage{Evaluations: rows, Next: next}, nil
}

// Evaluation is an evaluation (live while it runs) with the results of
// its examples that have ended, by index.
func (o *Owner) Evaluation(ctx context.Context, id model.ID) (*app.EvaluationDetail, error) {
	v, err := o.currentEvaluation(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	if err := o.mayReadOwn(ctx, "evaluation", id.String(), v.User); err != nil {
		return nil, err
	}
	results, err := o.st.EvalResults(ctx, id, 0, 0)
	if err != nil {
		return nil, fail(err)
	}
	if results == nil {
		results = []*model.EvalResult{}
	}
	return &app.EvaluationDetail{Evaluation: v, Results: results}, nil
}

func (o *Owner) currentEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	if k := o.kern.Load(); k != nil {
		return k.Evaluation(ctx, id)
	}
	return o.st.GetEvaluation(ctx, id)
}

// CancelEvaluation stops an evaluation: no more examples start, the
// running ones are cancelled, and it ends cancelled with the examples that
// ended. It answers with the cancelled evaluation. An evaluation that has
// ended is CodeFinished, without starting workers.
func (o *Owner) CancelEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	return cancelJob(o, ctx, "evaluation", id, o.currentEvaluation,
		func(v *model.Evaluation) (model.RunState, string) { return v.State, v.User })
}
