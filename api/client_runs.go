package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/signet-dspy/signet/model"
)

// Execution is GET /v1/executions/{id}.
func (c *Client) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	var x model.Execution
	if err := c.do(ctx, http.MethodGet, "/v1/executions/"+url.PathEscape(id.String()), nil, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

// Spans is GET /v1/executions/{id}/spans: up to limit spans after seq after.
func (c *Client) Spans(ctx context.Context, id model.ID, after uint64, limit int) (*SpanPage, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatUint(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page SpanPage
	path := "/v1/executions/" + url.PathEscape(id.String()) + "/spans"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// CancelExecution is POST /v1/executions/{id}/cancel.
func (c *Client) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	var x model.Execution
	if err := c.do(ctx, http.MethodPost, "/v1/executions/"+url.PathEscape(id.String())+"/cancel", struct{}{}, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

// Render is POST /v1/render.
func (c *Client) Render(ctx context.Context, req RenderRequest) (*RenderResult, error) {
	var out RenderResult
	if err := c.do(ctx, http.MethodPost, "/v1/render", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CostOf is GET /v1/cost for one program ("" = all) and month ("" = this
// month, "all" = every month).
func (c *Client) CostOf(ctx context.Context, program, month string) (*Cost, error) {
	q := url.Values{}
	if program != "" {
		q.Set("program", program)
	}
	if month != "" {
		q.Set("month", month)
	}
	var out Cost
	if err := c.do(ctx, http.MethodGet, "/v1/cost?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
