package cmd

import (
	"context"
	"fmt"

	"github.com/signet-dspy/signet/api"
)

// The owner restarts and recycles workers for the API's pool routes
// (api/pool.go).
var _ api.PoolBackend = (*owner)(nil)

func (o *owner) RestartWorker(ctx context.Context, id int) error {
	p := o.pool.Load()
	if p == nil {
		return fmt.Errorf("the worker pool is not started")
	}
	return p.Restart(ctx, id)
}

func (o *owner) RecycleWorker(ctx context.Context, id int) error {
	p := o.pool.Load()
	if p == nil {
		return fmt.Errorf("the worker pool is not started")
	}
	return p.Recycle(ctx, id)
}
