package cmd

import (
	"context"
	"fmt"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
)

// tuiOptimizations serves the TUI's Optimizations page through the owner's
// API (this process's own socket when it is the owner), so the page sees
// runs started anywhere on the workspace.
type tuiOptimizations struct{ cl *api.Client }

// optListLimit bounds the runs the page lists: the newest ones matter.
const optListLimit = 500

func (o tuiOptimizations) ListOptimizations(ctx context.Context, program string) ([]*model.Optimization, error) {
	page, err := o.cl.Optimizations(ctx, program, "", optListLimit)
	if err != nil {
		return nil, err
	}
	return page.Optimizations, nil
}

func (o tuiOptimizations) OptimizationTrials(ctx context.Context, id model.ID) ([]*model.Trial, error) {
	return o.cl.Trials(ctx, id)
}

// StartOptimization reads the form's fields as `signet opt run` reads its
// flags, so both accept and refuse the same things.
func (o tuiOptimizations) StartOptimization(ctx context.Context, r optimizations.OptimizationRequest) (*model.Optimization, error) {
	opt, err := optimize.ParseOptimizer(r.Optimizer)
	if err != nil {
		return nil, err
	}
	req := optimize.Request{Program: r.Program, Optimizer: opt, LM: r.LM, Budget: r.Budget}
	if req.Settings, err = parseSettings(r.Settings); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if r.Auto != "" {
		req.Settings["auto"] = r.Auto
	}
	if req.Train, err = optimize.ParseDataRef(r.Train); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if r.Val != "" {
		if req.Val, err = optimize.ParseDataRef(r.Val); err != nil {
			return nil, fmt.Errorf("val: %w", err)
		}
	}
	if req.Metric, err = optimize.ParseMetric(r.Metric, ""); err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	return o.cl.SubmitOptimization(ctx, api.OptimizationRequest{Request: req})
}

func (o tuiOptimizations) CancelOptimization(ctx context.Context, id model.ID) error {
	_, err := o.cl.CancelOptimization(ctx, id)
	return err
}

func (o tuiOptimizations) CompareOptimizations(ctx context.Context, ids []model.ID) (*model.Comparison, error) {
	c, err := o.cl.CompareOptimizations(ctx, ids...)
	if err != nil {
		return nil, err
	}
	return c.Comparison, nil
}

// PromoteOptimization is optimize.Promote in the owner.
func (o tuiOptimizations) PromoteOptimization(ctx context.Context, run *model.Optimization, force bool) (*model.Program, error) {
	return o.cl.PromoteOptimization(ctx, run.ID, force)
}
