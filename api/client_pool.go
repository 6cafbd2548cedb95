package api

import (
	"context"
	"net/http"
)

// PoolStart is POST /v1/pool/start: the pool and the engine run when it returns.
func (c *Client) PoolStart(ctx context.Context) (*PoolAnswer, error) {
	var out PoolAnswer
	if err := c.do(ctx, http.MethodPost, "/v1/pool/start", struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PoolRestart is POST /v1/pool/restart: worker 0 restarts every worker.
func (c *Client) PoolRestart(ctx context.Context, worker int) (*PoolAnswer, error) {
	var out PoolAnswer
	if err := c.do(ctx, http.MethodPost, "/v1/pool/restart", PoolRequest{Worker: worker}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PoolRecycle is POST /v1/pool/recycle: worker 0 recycles every worker.
func (c *Client) PoolRecycle(ctx context.Context, worker int) (*PoolAnswer, error) {
	var out PoolAnswer
	if err := c.do(ctx, http.MethodPost, "/v1/pool/recycle", PoolRequest{Worker: worker}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
