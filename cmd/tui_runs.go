package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/runs"
)

// tuiRunner is the TUI's Runner (tui/runs/run.go) over the owner's API: runs,
// their spans, render previews, program versions and the month's cost.
type tuiRunner struct{ cl *api.Client }

var _ runs.Runner = tuiRunner{}

func (r tuiRunner) Submit(ctx context.Context, req runs.RunRequest) (*model.Execution, error) {
	return r.cl.Submit(ctx, api.SubmitRequest{Program: req.Program, Version: req.Version, Inputs: req.Inputs,
		LM: req.LM, Variant: req.Variant})
}

func (r tuiRunner) Cancel(ctx context.Context, id model.ID) error {
	_, err := r.cl.CancelExecution(ctx, id)
	return err
}

func (r tuiRunner) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return r.cl.Execution(ctx, id)
}

func (r tuiRunner) Spans(ctx context.Context, id model.ID, after uint64, limit int) ([]model.Span, uint64, error) {
	page, err := r.cl.Spans(ctx, id, after, limit)
	if err != nil {
		return nil, 0, err
	}
	return page.Spans, page.Next, nil
}

func (r tuiRunner) Render(ctx context.Context, req runs.RunRequest, module string) ([]runs.RenderedPrompt, error) {
	res, err := r.cl.Render(ctx, api.RenderRequest{Program: req.Program, Version: req.Version, Variant: req.Variant,
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

func (r tuiRunner) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	return r.cl.Program(ctx, name, version)
}

func (r tuiRunner) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return r.cl.SaveProgram(ctx, p)
}

// costDayPages bounds how many pages of this month's executions are read
// for the per-day chart (the store keeps rollups per month only).
const (
	costDayPages    = 10
	costDayPageSize = 500
)

// Cost is the program's month to date (GET /v1/cost) with its budget, and
// its cost per day this month summed from its executions, newest first,
// at most costDayPages pages.
func (r tuiRunner) Cost(ctx context.Context, program string) (*runs.CostSummary, error) {
	c, err := r.cl.CostOf(ctx, program, "")
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	out := &runs.CostSummary{Program: program, Month: c.Month, Days: make([]float64, now.Day())}
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
	cursor := ""
	for range costDayPages {
		page, err := r.cl.Executions(ctx, program, "", cursor, costDayPageSize)
		if err != nil {
			return nil, err
		}
		old := false
		for _, x := range page.Executions {
			if x.CreatedAt.Before(start) {
				old = true
				continue
			}
			if d := x.CreatedAt.UTC().Day() - 1; d >= 0 && d < len(out.Days) {
				out.Days[d] += x.Cost
			}
		}
		if old || page.Next == "" {
			break
		}
		cursor = page.Next
	}
	return out, nil
}

// Render serves POST /v1/render (api.Renderer): the program version or the
// variant, the LM profile's adapter, rendered by a worker of the pool
// (started if it does not run yet).
func (o *owner) Render(ctx context.Context, req *api.RenderRequest) (*api.RenderResult, error) {
	prog := req.Variant
	if prog == nil {
		var err error
		if req.Version > 0 {
			prog, err = o.st.GetProgramVersion(ctx, req.Program, req.Version)
		} else {
			prog, err = o.st.GetProgram(ctx, req.Program)
		}
		if err != nil {
			return nil, err
		}
	} else if err := prog.Validate(); err != nil {
		return nil, &model.FieldError{Field: "variant", Msg: err.Error(), Err: err}
	}
	if _, err := o.Engine(ctx); err != nil { // starts the pool
		return nil, err
	}
	pool := o.pool.Load()
	o.startMu.Lock()
	env := o.env
	o.startMu.Unlock()
	if pool == nil || env == nil {
		return nil, errors.New("render: the worker pool is not running")
	}
	profile := req.LM
	if profile == "" {
		profile = prog.LM
	}
	if profile == "" {
		profile = env.cfg.DefaultLM()
	}
	var spec bridge.LMSpec
	if profile != "" {
		s, err := env.lms.Spec(ctx, profile)
		if err != nil {
			return nil, fmt.Errorf("LM profile %q: %w", profile, err)
		}
		spec = s
	}
	mods := map[string]bridge.LMSpec{}
	for _, m := range prog.Modules {
		if m.LM != "" {
			s, err := env.lms.Spec(ctx, m.LM)
			if err != nil {
				return nil, fmt.Errorf("module %s: LM profile %q: %w", m.Name, m.LM, err)
			}
			mods[m.Name] = s
		}
	}
	if len(mods) == 0 {
		mods = nil
	}
	return pool.Render(ctx, bridge.RenderRequest{Program: prog, Inputs: req.Inputs, LM: spec, ModuleLMs: mods, Module: req.Module})
}

var _ api.Renderer = (*owner)(nil)
