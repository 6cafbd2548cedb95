package tuitest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

type Optimizations struct {
	Mu        sync.Mutex
	Runs      []*model.Optimization
	TrialsOf  map[model.ID][]*model.Trial
	Programs  map[string]*model.Program // "name@version"
	Examples  []*model.Example          // what OptimizationDetail's results name
	Started   []app.OptimizeRequest
	Cancelled []model.ID
	Promoted  []model.ID
	Forced    []bool
	Lists     int
}

func (f *Optimizations) ListOptimizations(_ context.Context, q app.JobQuery) (*app.OptimizationPage, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Lists++
	out := &app.OptimizationPage{}
	for _, o := range f.Runs {
		if q.Program == "" || o.Program == q.Program {
			c := *o
			out.Optimizations = append(out.Optimizations, &c)
		}
	}
	return out, nil
}

func (f *Optimizations) Trials(_ context.Context, id model.ID) ([]*model.Trial, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.TrialsOf[id], nil
}

// OptimizationDetail is the run with its trials and the examples of
// Examples their results name, as the owner gives it.
func (f *Optimizations) OptimizationDetail(_ context.Context, id model.ID) (*app.OptimizationDetail, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	o := f.run(id)
	if o == nil {
		return nil, fmt.Errorf("optimization %s: not found", id)
	}
	c := *o
	d := &app.OptimizationDetail{Optimization: &c, Trials: f.TrialsOf[id]}
	for _, e := range f.Examples {
		for _, t := range d.Trials {
			if slices.ContainsFunc(t.Results, func(r model.ExampleResult) bool { return r.Example == e.ID }) {
				d.Examples = append(d.Examples, e)
				break
			}
		}
	}
	return d, nil
}

func (f *Optimizations) Optimize(_ context.Context, req app.OptimizeRequest) (*model.Optimization, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if req.Program == "missing" {
		return nil, fmt.Errorf("program %q: not found", req.Program)
	}
	f.Started = append(f.Started, req)
	o := &model.Optimization{ID: model.NewID(), Program: req.Program, BaseVersion: 1, Optimizer: req.Optimizer, State: model.Pending}
	f.Runs = append([]*model.Optimization{o}, f.Runs...)
	return o, nil
}

func (f *Optimizations) CancelOptimization(_ context.Context, id model.ID) (*model.Optimization, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Cancelled = append(f.Cancelled, id)
	if o := f.run(id); o != nil {
		c := *o
		return &c, nil
	}
	return nil, fmt.Errorf("optimization %s: not found", id)
}

// run is the run id, nil when there is none; f.Mu is held.
func (f *Optimizations) run(id model.ID) *model.Optimization {
	for _, o := range f.Runs {
		if o.ID == id {
			return o
		}
	}
	return nil
}

func (f *Optimizations) PromoteOptimization(_ context.Context, id model.ID, force bool) (*app.Promoted, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	run := f.run(id)
	if run == nil {
		return nil, fmt.Errorf("optimization %s: not found", id)
	}
	if run.Regressed && !force {
		return nil, fmt.Errorf("optimization %s: its result scored below the baseline", run.ID)
	}
	res := run.Candidate
	if res == nil {
		res = f.Programs[fmt.Sprintf("%s@%d", run.Program, run.ResultVersion)]
	}
	if res == nil {
		return nil, fmt.Errorf("program %s v%d: not found", run.Program, run.ResultVersion)
	}
	f.Promoted = append(f.Promoted, run.ID)
	f.Forced = append(f.Forced, force)
	p := *res
	p.Version = 4
	c := *run
	return &app.Promoted{Program: &p, Optimization: &c}, nil
}

// CompareOptimizations compares the runs as the owner does, with the
// score against cost of every finished run of their programs.
func (f *Optimizations) CompareOptimizations(_ context.Context, ids []model.ID) (*app.Comparison, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var runs []model.RunForCompare
	progs := map[string]bool{}
	for _, id := range ids {
		if o := f.run(id); o != nil {
			progs[o.Program] = true
			runs = append(runs, model.RunForCompare{Run: o, Trials: f.TrialsOf[id],
				Base:   f.Programs[fmt.Sprintf("%s@%d", o.Program, o.BaseVersion)],
				Result: f.Programs[fmt.Sprintf("%s@%d", o.Program, o.ResultVersion)]})
		}
	}
	var all []*model.Optimization
	for _, o := range f.Runs {
		if progs[o.Program] {
			all = append(all, o)
		}
	}
	return &app.Comparison{Comparison: *model.CompareRuns(runs), Points: model.ScoreVsCost(all)}, nil
}

// FixedID makes IDs whose short form (the last 8 hex digits) is readable
// and stable across runs, for goldens.
func FixedID(n int) model.ID {
	id, err := model.ParseID(fmt.Sprintf("0190b6c8-0000-7000-8000-0000%08d", n))
	if err != nil {
		panic(err)
	}
	return id
}

func SampleOptimizations() *Optimizations {
	start := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	ex := []model.ID{FixedID(101), FixedID(102), FixedID(103), FixedID(104)}
	res := func(pass ...bool) []model.ExampleResult {
		out := make([]model.ExampleResult, len(pass))
		for i, p := range pass {
			out[i] = model.ExampleResult{Example: ex[i], Pass: p}
		}
		return out
	}
	boot := &model.Optimization{ID: FixedID(1), Program: "qa", BaseVersion: 1, ResultVersion: 2, Optimizer: "bootstrap_fewshot",
		Settings: map[string]any{"max_bootstrapped_demos": 4}, Metric: model.Metric{Name: "exact_match"},
		State: model.Completed, Trials: 3, BaselineScore: 0.25, BestScore: 0.75, BestTrial: 3, LMCalls: 48, Cost: 0.0123,
		StartedAt: start, FinishedAt: start.Add(95 * time.Second)}
	mipro := &model.Optimization{ID: FixedID(2), Program: "qa", BaseVersion: 1, ResultVersion: 3, Optimizer: "mipro_v2",
		Settings: map[string]any{"auto": "light"}, Metric: model.Metric{Name: "exact_match"},
		State: model.Completed, Trials: 2, BaselineScore: 0.25, BestScore: 0.5, BestTrial: 2, LMCalls: 120, Cost: 0.0456,
		StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 4*time.Minute)}
	running := &model.Optimization{ID: FixedID(3), Program: "sentiment", BaseVersion: 2, Optimizer: "gepa",
		Metric: model.Metric{Name: "f1"}, State: model.Running, StartedAt: start.Add(2 * time.Hour),
		Progress: &model.OptProgress{Phase: "trials", Trial: 4, Trials: 10, Score: 0.6, BestScore: 0.7, LMCalls: 80,
			TokensIn: 12000, TokensOut: 900, Cost: 0.02, Elapsed: 42, ETA: 63},
		Estimate: &model.OptEstimate{LMCalls: 240, Cost: ptr(0.03), Train: 20, Val: 10}}
	return &Optimizations{
		Runs: []*model.Optimization{running, mipro, boot},
		TrialsOf: map[model.ID][]*model.Trial{
			boot.ID: {
				{N: 0, Score: 0.25, Results: res(true, false, false, false)},
				{N: 1, Score: 0.5, Results: res(true, true, false, false)},
				{N: 2, Score: 0.5, Results: res(true, false, true, false)},
				{N: 3, Score: 0.75, Results: res(true, true, true, false)},
			},
			mipro.ID: {
				{N: 0, Score: 0.25, Results: res(true, false, false, false)},
				{N: 1, Score: 0.25, Results: res(false, true, false, false)},
				{N: 2, Score: 0.5, Results: res(false, true, true, false)},
			},
			running.ID: {{N: 0, Score: 0.4}, {N: 1, Score: 0.55}, {N: 2, Score: 0.7}, {N: 3, Score: 0.6}},
		},
		Programs: map[string]*model.Program{
			"qa@1": {Name: "qa", Version: 1, Modules: []model.Module{{Name: "answer", Instructions: "Answer the question."}}},
			"qa@2": {Name: "qa", Version: 2, Modules: []model.Module{{Name: "answer", Instructions: "Answer the question.",
				Demos: []map[string]any{{"question": "Capital of France?", "answer": "Paris"}}}}},
			"qa@3": {Name: "qa", Version: 3, Modules: []model.Module{{Name: "answer", Instructions: "Answer in one word."}}},
		},
	}
}

func ptr[T any](v T) *T { return &v }
