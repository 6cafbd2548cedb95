package cmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/optimize"
)

// optWorkerThreads is the request threads of the optimization worker: one
// optimize request at a time, plus room for a second request (so that a
// queued one is accepted while the first is stopping).
const optWorkerThreads = 2

// startOptimizer starts the optimization runner on its own single-worker
// pool (the optimize package says why), after the engine: the runner's
// events go out through the engine's stream, which the API and the TUI
// read. The runner first recovers what an earlier owner left.
func (o *owner) startOptimizer(ctx context.Context, pf poolFlags, notify io.Writer) (*optimize.Runner, error) {
	if r := o.opt.Load(); r != nil {
		return r, nil
	}
	eng, _, err := o.startEngine(ctx, pf, 0, notify)
	if err != nil {
		return nil, err
	}
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if r := o.opt.Load(); r != nil {
		return r, nil
	}
	if o.closing {
		return nil, fmt.Errorf("the owner of %s is stopping: %w", o.dir, optimize.ErrClosed)
	}
	env := o.env
	pool, err := bridge.Start(ctx, bridge.Config{Python: env.py.Path, Workers: 1, Threads: optWorkerThreads,
		Workspace: filepath.Dir(env.logf.Name()), Log: env.logf})
	if err != nil {
		return nil, fmt.Errorf("starting the optimization worker with %s: %w", env.py.Path, err)
	}
	r := optimize.New(optimize.Options{Store: o.st, Pool: pool, LMs: env.lms, DefaultLM: env.cfg.DefaultLM(), Log: env.logf,
		Publish: func(ev optimize.Event) {
			eng.Publish(engine.Event{Kind: engine.EventOptimization, Optimization: ev.Optimization, Progress: ev.Progress})
		}})
	rec, err := r.Start(ctx)
	if err != nil {
		r.Close(context.Background())
		pool.Close(context.Background())
		return nil, fmt.Errorf("starting the optimization runner: %w", err)
	}
	if rec.Failed+rec.Requeued > 0 && notify != nil {
		fmt.Fprintf(notify, "recovered optimizations from an earlier run: %d pending requeued, %d interrupted failed (owner stopped)\n", rec.Requeued, rec.Failed)
	}
	o.optPool = pool
	o.opt.Store(r)
	return r, nil
}

// closeOptimizer stops the runner (running runs stop early and keep their
// best program, within ctx) and its worker.
func (o *owner) closeOptimizer(ctx context.Context) {
	if r := o.opt.Load(); r != nil {
		if err := r.Close(ctx); err != nil {
			o.logf("optimize: %v", err)
		}
	}
	o.startMu.Lock()
	pool := o.optPool
	o.startMu.Unlock()
	if pool != nil {
		pool.Close(ctx)
	}
}

// The owner serves the optimization routes.
var _ api.OptimizationBackend = (*owner)(nil)

func (o *owner) Optimizations(ctx context.Context) (*optimize.Runner, error) {
	o.startMu.Lock()
	var log io.Writer
	if o.env != nil {
		log = o.env.logf
	}
	o.startMu.Unlock()
	return o.startOptimizer(ctx, poolFlags{defaultWorkers: serveWorkers()}, log)
}

func (o *owner) RunningOptimizations() *optimize.Runner { return o.opt.Load() }
