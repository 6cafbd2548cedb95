package tuitest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

type Evaluations struct {
	Mu        sync.Mutex
	List      []*model.Evaluation
	Results   map[model.ID][]*model.EvalResult
	Started   []app.EvaluateRequest
	Cancelled []model.ID
	// Runs are the optimization runs evaluations can be set against; nil:
	// none.
	Runs *Optimizations
}

// ListOptimizations lists Runs' runs.
func (f *Evaluations) ListOptimizations(ctx context.Context, q app.JobQuery) (*app.OptimizationPage, error) {
	if f.Runs == nil {
		return &app.OptimizationPage{}, nil
	}
	return f.Runs.ListOptimizations(ctx, q)
}

// Trials are the trials of one of Runs' runs.
func (f *Evaluations) Trials(ctx context.Context, id model.ID) ([]*model.Trial, error) {
	if f.Runs == nil {
		return nil, fmt.Errorf("optimization %s: not found", id)
	}
	return f.Runs.Trials(ctx, id)
}

func (f *Evaluations) ListEvaluations(_ context.Context, q app.JobQuery) (*app.EvaluationPage, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	out := &app.EvaluationPage{}
	for _, v := range f.List {
		if q.Program == "" || v.Program == q.Program {
			c := *v
			out.Evaluations = append(out.Evaluations, &c)
		}
	}
	return out, nil
}

func (f *Evaluations) Evaluation(_ context.Context, id model.ID) (*app.EvaluationDetail, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for _, v := range f.List {
		if v.ID == id {
			c := *v
			return &app.EvaluationDetail{Evaluation: &c, Results: f.Results[id]}, nil
		}
	}
	return nil, fmt.Errorf("evaluation %s: not found", id)
}

func (f *Evaluations) Evaluate(_ context.Context, req app.EvaluateRequest) (*model.Evaluation, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if req.Data.Dataset == "nope" {
		return nil, fmt.Errorf(`dataset nope: not found`)
	}
	f.Started = append(f.Started, req)
	v := &model.Evaluation{ID: FixedID(900 + len(f.Started)), Program: req.Program, Version: req.Version,
		Data: req.Data, Metric: model.Metric{Name: req.Metric.Name, Kind: model.MetricBuiltin}, State: model.Pending, Total: 4}
	f.List = append([]*model.Evaluation{v}, f.List...)
	return v, nil
}

func (f *Evaluations) CancelEvaluation(_ context.Context, id model.ID) (*model.Evaluation, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Cancelled = append(f.Cancelled, id)
	for _, v := range f.List {
		if v.ID == id {
			c := *v
			return &c, nil
		}
	}
	return nil, fmt.Errorf("evaluation %s: not found", id)
}

func SampleEvaluations() *Evaluations {
	start := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	labels := model.Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}
	exact := model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}
	done := &model.Evaluation{ID: FixedID(11), Program: "qa", Version: 2, Data: model.DataRef{Dataset: "caps", Split: model.Validation},
		Metric: exact, Labels: labels, State: model.Completed, Total: 4, N: 4, Failures: 1, Sum: 2, Score: 0.5, Cost: 0.0042,
		Usage: map[string]model.Usage{"m": {Calls: 4, PromptTokens: 400, CompletionTokens: 40}}, StartedAt: start, FinishedAt: start.Add(time.Minute)}
	running := &model.Evaluation{ID: FixedID(12), Program: "qa", Version: 3, Data: model.DataRef{Dataset: "caps", Split: model.Validation},
		Metric: exact, Labels: labels, State: model.Running, Total: 40, N: 10, Sum: 7, Score: 0.7, Cost: 0.001, StartedAt: start.Add(time.Hour)}
	other := &model.Evaluation{ID: FixedID(13), Program: "summarize", Version: 1, Data: model.DataRef{Dataset: "docs"}, Metric: exact, State: model.Completed}
	res := func(i int, country, got, want string, score float64) *model.EvalResult {
		return &model.EvalResult{Evaluation: done.ID, Index: i, Example: FixedID(200 + i), Execution: FixedID(300 + i), State: model.Completed,
			Inputs: map[string]any{"question": "What is the capital of " + country + "?"}, Outputs: map[string]any{"answer": got},
			Expected: map[string]any{"answer": want}, Score: score, Cost: 0.001}
	}
	failed := &model.EvalResult{Evaluation: done.ID, Index: 2, Example: FixedID(202), Execution: FixedID(302), State: model.Failed,
		Inputs: map[string]any{"question": "What is the capital of Atlantis?"}, Expected: map[string]any{"answer": "Poseidonis"},
		ErrorCode: "lm_unavailable", Error: "after 3 attempts: provider outage", Cost: 0.0012}
	return &Evaluations{
		List: []*model.Evaluation{running, done, other},
		Results: map[model.ID][]*model.EvalResult{
			done.ID: {res(0, "France", "Paris", "Paris", 1), res(1, "Japan", "Japan", "Tokyo", 0), failed, res(3, "Peru", "Lima", "Lima", 1)},
		},
	}
}
