package owner

import (
	"context"
	"io"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

func (o *Owner) ListDatasets(ctx context.Context) ([]*model.Dataset, error) { return nil, errTodo }
func (o *Owner) Dataset(ctx context.Context, name string) (*model.Dataset, error) {
	return nil, errTodo
}
func (o *Owner) ListExamples(ctx context.Context, q app.ExampleQuery) (*app.ExamplePage, error) {
	return nil, errTodo
}
func (o *Owner) Example(ctx context.Context, dataset string, id model.ID) (*model.Example, error) {
	return nil, errTodo
}
func (o *Owner) ExampleAt(ctx context.Context, dataset string, split model.Split, n int) (*model.Example, error) {
	return nil, errTodo
}
func (o *Owner) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	return nil, errTodo
}
func (o *Owner) DeleteExample(ctx context.Context, dataset string, id model.ID) error { return errTodo }
func (o *Owner) ImportDataset(ctx context.Context, req app.ImportDatasetRequest) (*app.ImportDatasetResult, error) {
	return nil, errTodo
}
func (o *Owner) ExportDataset(ctx context.Context, req app.ExportDatasetRequest, w io.Writer) error {
	return errTodo
}
func (o *Owner) DatasetStats(ctx context.Context, name string) (*model.DatasetStats, error) {
	return nil, errTodo
}
func (o *Owner) DeleteDataset(ctx context.Context, name string) error { return errTodo }
