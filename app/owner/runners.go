package owner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/evaluate"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
)

// optWorkerThreads is the request threads of the optimization worker: one
// optimize request at a time, plus room for a second request (so that a
// queued one is accepted while the first is stopping).
const optWorkerThreads = 2

// environment is the run environment, made once, from the options of the
// process that became the owner.
func (o *Owner) environment() (*Env, error) {
	o.startMu.Lock()
	defer o.startMu.Unlock()
	return o.environmentLocked()
}

func (o *Owner) environmentLocked() (*Env, error) {
	if o.env == nil {
		e, err := NewEnv(o.opts.Python, o.dir)
		if err != nil {
			return nil, app.Wrap(app.CodeUnavailable, err)
		}
		o.env = e
	}
	return o.env, nil
}

// LMs is the owner's LM profiles (loading the config the first time).
func (o *Owner) LMs() (*LMs, error) {
	e, err := o.environment()
	if err != nil {
		return nil, err
	}
	return e.LMs, nil
}

// engine starts the worker pool and the execution engine if they do not
// run yet, the engine first recovering what an earlier owner left pending
// or running, and the evaluation runner on it.
func (o *Owner) engine(ctx context.Context) (*engine.Engine, error) {
	eng, _, err := o.startEngine(ctx)
	return eng, err
}

func (o *Owner) startEngine(ctx context.Context) (*engine.Engine, engine.Recovered, error) {
	var rec engine.Recovered
	if eng := o.eng.Load(); eng != nil {
		return eng, rec, nil
	}
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if eng := o.eng.Load(); eng != nil {
		return eng, rec, nil
	}
	if o.closing {
		return nil, rec, app.Errorf(app.CodeUnavailable, "the owner of %s is stopping: %w", o.dir, engine.ErrClosed)
	}
	e, err := o.environmentLocked()
	if err != nil {
		return nil, rec, err
	}
	if e.Pool == nil {
		if err := e.StartPool(ctx, o.opts.Workers, o.opts.DefaultWorkers); err != nil {
			return nil, rec, app.Wrap(app.CodeUnavailable, err)
		}
		o.pool.Store(e.Pool)
	}
	concurrency := e.Config.Concurrency
	if o.opts.Concurrency > 0 {
		concurrency = o.opts.Concurrency
	}
	eng := engine.New(engine.Options{
		Store: o.st, Pool: e.Pool, LMs: e.LMs, DefaultLM: e.Config.DefaultLM(),
		Concurrency: concurrency, CacheTTL: e.Config.CacheTTL(), Log: e.Log,
	})
	o.subMu.Lock()
	o.events = eng
	for c, buffer := range o.subs {
		ch, stop := eng.Subscribe(buffer)
		c <- engineSub{ch, stop}
		delete(o.subs, c)
	}
	o.subMu.Unlock()
	if rec, err = eng.Start(ctx); err != nil {
		eng.Close(context.Background())
		return nil, rec, fmt.Errorf("starting the execution engine: %w", err)
	}
	// Evaluations run on the engine: their runner starts with it, so that
	// one left running by an earlier owner is taken up as its executions are.
	ev := evaluate.New(evaluate.Options{Store: o.st, Engine: eng, LMs: e.LMs, DefaultLM: e.Config.DefaultLM(), Log: e.Log,
		Flow: o.flow})
	n, err := ev.Start(ctx)
	if err != nil {
		ev.Close(context.Background())
		eng.Close(context.Background())
		return nil, rec, fmt.Errorf("starting the evaluation runner: %w", err)
	}
	o.notify("recovered %d evaluation(s) from an earlier run", n)
	o.evals.Store(ev)
	o.eng.Store(eng)
	if n := rec.Requeued + rec.Retried + rec.Failed; n > 0 {
		o.notify("recovered from an earlier run: %d pending requeued, %d interrupted retried, %d out of attempts failed", rec.Requeued, rec.Retried, rec.Failed)
	}
	return eng, rec, nil
}

// notify tells the process's user what the owner did on its own, when n
// (the first number) is not 0.
func (o *Owner) notify(format string, n int, args ...any) {
	if o.opts.Notify != nil && n > 0 {
		fmt.Fprintf(o.opts.Notify, format+"\n", append([]any{n}, args...)...)
	}
}

// evaluator is the evaluation runner, started with the engine.
func (o *Owner) evaluator(ctx context.Context) (*evaluate.Runner, error) {
	if _, err := o.engine(ctx); err != nil {
		return nil, err
	}
	return o.evals.Load(), nil
}

// optimizer starts the optimization runner on its own single-worker pool
// (the optimize package says why), after the engine: the runner's events go
// out through the engine's stream. It first recovers what an earlier owner
// left.
func (o *Owner) optimizer(ctx context.Context) (*optimize.Runner, error) {
	if r := o.opt.Load(); r != nil {
		return r, nil
	}
	eng, err := o.engine(ctx)
	if err != nil {
		return nil, err
	}
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if r := o.opt.Load(); r != nil {
		return r, nil
	}
	if o.closing {
		return nil, app.Errorf(app.CodeUnavailable, "the owner of %s is stopping: %w", o.dir, optimize.ErrClosed)
	}
	e := o.env
	pool, err := bridge.Start(ctx, bridge.Config{Python: e.Python.Path, Workers: 1, Threads: optWorkerThreads,
		Workspace: filepath.Dir(e.Log.Name()), Log: e.Log})
	if err != nil {
		return nil, app.Errorf(app.CodeUnavailable, "starting the optimization worker with %s: %w", e.Python.Path, err)
	}
	r := optimize.New(optimize.Options{Store: o.st, Pool: pool, LMs: e.LMs, DefaultLM: e.Config.DefaultLM(), Log: e.Log,
		Publish: func(ev optimize.Event) {
			eng.Publish(engine.Event{Kind: engine.EventOptimization, Optimization: ev.Optimization, Progress: ev.Progress})
		}})
	rec, err := r.Start(ctx)
	if err != nil {
		r.Close(context.Background())
		pool.Close(context.Background())
		return nil, fmt.Errorf("starting the optimization runner: %w", err)
	}
	o.notify("recovered optimizations from an earlier run: %d pending requeued, %d interrupted failed (owner stopped)", rec.Requeued+rec.Failed, rec.Requeued, rec.Failed)
	o.optPool = pool
	o.opt.Store(r)
	return r, nil
}

// closeRunners stops the optimizer (running runs stop early and keep their
// best program, within ctx) and its worker, the evaluation runner, then the
// engine.
func (o *Owner) closeRunners(ctx context.Context) {
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
	if ev := o.evals.Load(); ev != nil { // before the engine it follows
		if err := ev.Close(ctx); err != nil {
			o.logf("evaluate: %v", err)
		}
	}
	if eng := o.eng.Load(); eng != nil {
		if err := eng.Close(ctx); err != nil {
			o.logf("engine: %v", err)
		}
	}
}

// flow is a program's data flow: its signatures', else a worker's reading
// of its custom modules (the pool starts if it does not run).
func (o *Owner) flow(ctx context.Context, p *model.Program) (model.Flow, error) {
	if f := p.StaticFlow(); len(f.Opaque) == 0 {
		return f, nil
	}
	if _, err := o.engine(ctx); err != nil {
		return model.Flow{}, err
	}
	pool := o.pool.Load()
	if pool == nil {
		return model.Flow{}, errors.New("the worker pool is not running")
	}
	return pool.Flow(ctx, p, "")
}
