package owner

import (
	"context"
	"errors"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TODO(#18): routes for indexes; placeholders so the contract compiles.
var errIndexesTODO = errors.New("indexes: not built yet")

func (o *Owner) BuildIndex(ctx context.Context, req app.IndexRequest) (*app.IndexResult, error) {
	return nil, errIndexesTODO
}
func (o *Owner) ListIndexes(ctx context.Context) ([]*model.Index, error) { return nil, errIndexesTODO }
func (o *Owner) Index(ctx context.Context, name string) (*model.Index, error) {
	return nil, errIndexesTODO
}
func (o *Owner) DeleteIndex(ctx context.Context, name string) error { return errIndexesTODO }
