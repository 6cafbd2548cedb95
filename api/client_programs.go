package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/signet-dspy/signet/model"
)

// ProgramVersions is GET /v1/programs/{name}/versions, oldest first.
func (c *Client) ProgramVersions(ctx context.Context, name string) ([]*model.Program, error) {
	var out []*model.Program
	if err := c.do(ctx, http.MethodGet, "/v1/programs/"+url.PathEscape(name)+"/versions", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateProgram is POST /v1/programs: version 1 of a new program.
func (c *Client) CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	var out model.Program
	if err := c.do(ctx, http.MethodPost, "/v1/programs", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetProgramStatus is PUT /v1/programs/{name}/status: a new version with
// the status.
func (c *Client) SetProgramStatus(ctx context.Context, name string, st model.ProgramStatus, note string) (*model.Program, error) {
	var out model.Program
	if err := c.do(ctx, http.MethodPut, "/v1/programs/"+url.PathEscape(name)+"/status", StatusRequest{Status: st, Note: note}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteProgram is DELETE /v1/programs/{name}.
func (c *Client) DeleteProgram(ctx context.Context, name string) error {
	var out Deleted
	return c.do(ctx, http.MethodDelete, "/v1/programs/"+url.PathEscape(name), nil, &out)
}
