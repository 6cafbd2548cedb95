package owner

import (
	"context"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

func (o *Owner) Run(ctx context.Context, req app.RunRequest) (*model.Execution, error) {
	return nil, errTodo
}
func (o *Owner) RunBatch(ctx context.Context, req app.BatchRequest) (*app.Batch, error) {
	return nil, errTodo
}
func (o *Owner) ListExecutions(ctx context.Context, q app.ExecutionQuery) (*app.ExecutionPage, error) {
	return nil, errTodo
}
func (o *Owner) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return nil, errTodo
}
func (o *Owner) Spans(ctx context.Context, id model.ID, after uint64, limit int) (*app.SpanPage, error) {
	return nil, errTodo
}
func (o *Owner) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return nil, errTodo
}
func (o *Owner) ResumeExecutions(ctx context.Context) (*app.Recovered, error) { return nil, errTodo }

func (o *Owner) Cost(ctx context.Context, q app.CostQuery) (*app.CostReport, error) {
	return nil, errTodo
}
func (o *Owner) SetBudget(ctx context.Context, program string, usd float64) error { return errTodo }
