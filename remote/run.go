package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/bridge"
)

// RunPool starts a pool of Python workers as bc says and serves the queue
// with it (Join) until ctx ends; then the workers stop.
func RunPool(ctx context.Context, bc bridge.Config, o JoinOptions) error {
	bc.Name = o.Name
	p, err := bridge.Start(ctx, bc)
	if err != nil {
		return fmt.Errorf("starting %d Python workers with %s: %w", bc.Workers, bc.Python, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Close(cctx)
	}()
	o.Runner = p
	return Join(ctx, o)
}
