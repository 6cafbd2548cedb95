package owner

import (
	"context"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

func (o *Owner) Evaluate(ctx context.Context, req app.EvaluateRequest) (*model.Evaluation, error) {
	return nil, errTodo
}
func (o *Owner) ListEvaluations(ctx context.Context, q app.JobQuery) (*app.EvaluationPage, error) {
	return nil, errTodo
}
func (o *Owner) Evaluation(ctx context.Context, id model.ID) (*app.EvaluationDetail, error) {
	return nil, errTodo
}
func (o *Owner) CancelEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	return nil, errTodo
}

func (o *Owner) EstimateOptimization(ctx context.Context, req app.OptimizeRequest) (*model.OptEstimate, error) {
	return nil, errTodo
}
func (o *Owner) Optimize(ctx context.Context, req app.OptimizeRequest) (*model.Optimization, error) {
	return nil, errTodo
}
func (o *Owner) ListOptimizations(ctx context.Context, q app.JobQuery) (*app.OptimizationPage, error) {
	return nil, errTodo
}
func (o *Owner) Optimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return nil, errTodo
}
func (o *Owner) Trials(ctx context.Context, id model.ID) ([]*model.Trial, error) { return nil, errTodo }
func (o *Owner) CancelOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	return nil, errTodo
}
func (o *Owner) CompareOptimizations(ctx context.Context, ids []model.ID) (*app.Comparison, error) {
	return nil, errTodo
}
func (o *Owner) PromoteOptimization(ctx context.Context, id model.ID, force bool) (*app.Promoted, error) {
	return nil, errTodo
}
