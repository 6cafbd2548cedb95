package api

import (
	"context"
	"errors"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TODO(#18): routes for indexes; placeholders so the contract compiles.
var errIndexesTODO = errors.New("indexes: not built yet")

func (c *Client) BuildIndex(ctx context.Context, req app.IndexRequest) (*app.IndexResult, error) {
	return nil, errIndexesTODO
}
func (c *Client) ListIndexes(ctx context.Context) ([]*model.Index, error) { return nil, errIndexesTODO }
func (c *Client) Index(ctx context.Context, name string) (*model.Index, error) {
	return nil, errIndexesTODO
}
func (c *Client) DeleteIndex(ctx context.Context, name string) error { return errIndexesTODO }
