package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/signet-dspy/signet/model"
)

func examplesPath(dataset string) string {
	return "/v1/datasets/" + url.PathEscape(dataset) + "/examples"
}

// AddExample is POST /v1/datasets/{name}/examples: the example as stored,
// with its new ID.
func (c *Client) AddExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	var out model.Example
	if err := c.do(ctx, http.MethodPost, examplesPath(e.Dataset), e, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutExample is PUT /v1/datasets/{name}/examples/{id}: replaces an
// existing example.
func (c *Client) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	var out model.Example
	if err := c.do(ctx, http.MethodPut, examplesPath(e.Dataset)+"/"+e.ID.String(), e, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteExample is DELETE /v1/datasets/{name}/examples/{id}.
func (c *Client) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	var out DeletedExample
	return c.do(ctx, http.MethodDelete, examplesPath(dataset)+"/"+id.String(), nil, &out)
}

// Example is GET /v1/datasets/{name}/examples/{id}.
func (c *Client) Example(ctx context.Context, dataset string, id model.ID) (*model.Example, error) {
	var out model.Example
	if err := c.do(ctx, http.MethodGet, examplesPath(dataset)+"/"+id.String(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
