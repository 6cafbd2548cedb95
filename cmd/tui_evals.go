package cmd

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/evaluate"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/tui/pages/evaluations"
)

// tuiEvaluations serves the TUI's evaluations screen through the owner's
// API (this process's own socket when it is the owner), so it sees
// evaluations started anywhere on the workspace.
type tuiEvaluations struct{ cl *api.Client }

// evalListLimit bounds the evaluations the screen lists: the newest matter.
const evalListLimit = 200

func (e tuiEvaluations) ListEvaluations(ctx context.Context, program string) ([]*model.Evaluation, error) {
	page, err := e.cl.Evaluations(ctx, program, "", evalListLimit)
	if err != nil {
		return nil, err
	}
	return page.Evaluations, nil
}

func (e tuiEvaluations) Evaluation(ctx context.Context, id model.ID) (*model.Evaluation, []*model.EvalResult, error) {
	d, err := e.cl.Evaluation(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return d.Evaluation, d.Results, nil
}

// StartEvaluation reads the form's fields as `signet eval` reads its
// flags, so both accept and refuse the same things; a custom metric's
// relative path is this process's, as on the command line.
func (e tuiEvaluations) StartEvaluation(ctx context.Context, r evaluations.EvaluationRequest) (*model.Evaluation, error) {
	req := evaluate.Request{Program: r.Program, Version: r.Version, LM: r.LM, Labels: model.ParseLabels(r.Labels)}
	var err error
	if req.Data, err = optimize.ParseDataRef(r.Data); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if req.Metric, err = optimize.ParseMetric(r.Metric, ""); err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	req.Metric = absMetric(req.Metric, func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	})
	return e.cl.SubmitEvaluation(ctx, api.EvaluationRequest{Request: req})
}

func (e tuiEvaluations) CancelEvaluation(ctx context.Context, id model.ID) error {
	_, err := e.cl.CancelEvaluation(ctx, id)
	return err
}
