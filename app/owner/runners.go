package owner

import (
	"cmp"
	"context"
	"fmt"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
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
		o.lms.Store(e.LMs)
	}
	return o.env, nil
}

// limits are the config's limits (loading the config the first time).
func (o *Owner) limits() (config.Limits, error) {
	e, err := o.environment()
	if err != nil {
		return config.Limits{}, err
	}
	return e.Config.Limits(), nil
}

// LMs is the owner's LM profiles (loading the config the first time).
func (o *Owner) LMs() (*LMs, error) {
	e, err := o.environment()
	if err != nil {
		return nil, err
	}
	return e.LMs, nil
}

// kernel starts the worker pool and the job kernel if they do not run
// yet, the kernel first taking up what an earlier owner left pending or
// running (executions, evaluations, optimizations).
func (o *Owner) kernel(ctx context.Context) (*jobs.Kernel, error) {
	k, _, err := o.startKernel(ctx)
	return k, err
}

func (o *Owner) startKernel(ctx context.Context) (*jobs.Kernel, jobs.Recovered, error) {
	var rec jobs.Recovered
	if k := o.kern.Load(); k != nil {
		return k, rec, nil
	}
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if k := o.kern.Load(); k != nil {
		return k, rec, nil
	}
	if o.closing {
		return nil, rec, app.Errorf(app.CodeUnavailable, "the owner of %s is stopping: %w", o.dir, jobs.ErrClosed)
	}
	e, err := o.environmentLocked()
	if err != nil {
		return nil, rec, err
	}
	if o.opts.Workers < 0 && o.opts.NATS == nil {
		return nil, rec, app.Errorf(app.CodeUnavailable, "no workers: an owner without workers of its own needs a NATS queue that remote pools serve (serve --nats-listen or --nats)")
	}
	if e.Pool == nil && o.opts.Workers >= 0 {
		if err := e.StartPool(ctx, o.opts.Workers, o.opts.DefaultWorkers); err != nil {
			return nil, rec, app.Wrap(app.CodeUnavailable, err)
		}
		o.pool.Store(e.Pool)
		if o.opts.WarmLocal && e.Config.WarmLocal() {
			var prime bridge.Primer
			if e.Config.PrimeLocal() {
				prime = o.primer(e)
			}
			e.LMs.Warm(prime)
		}
	}
	concurrency := cmp.Or(o.opts.Concurrency, e.Config.Concurrency, jobs.DefaultConcurrency)
	var pool jobs.Executor = e.Pool
	if o.opts.NATS != nil && o.queue == nil {
		q, err := o.startQueue(ctx, e, concurrency)
		if err != nil {
			return nil, rec, app.Wrap(app.CodeUnavailable, fmt.Errorf("the NATS queue: %w", err))
		}
		o.queue = q
		pool = q.d
	}
	k := jobs.New(jobs.Options{
		Store: o.st, Pool: pool, OptPool: o.optimizer, LMs: e.LMs, Indexes: o.indexSpecs, DefaultLM: e.Config.DefaultLM(),
		Concurrency: concurrency, CacheTTL: e.Config.CacheTTL(), Dir: o.dir, Log: e.Log, Redact: e.Redact,
		ExecutionTimeout: e.Config.ExecutionTimeoutOr(), Queue: e.Config.Limits().Queue,
	})
	if o.queue != nil {
		o.queue.d.Follow(k.SetConcurrency) // the pools' capacity, from now on
	}
	o.subMu.Lock()
	o.events = k
	for c, wants := range o.subs {
		ch, stop := wants.subscribe(k)
		c <- kernelSub{ch, stop}
		delete(o.subs, c)
	}
	o.subMu.Unlock()
	if rec, err = k.Start(ctx); err != nil {
		k.Close(context.Background())
		return nil, rec, fmt.Errorf("starting the job kernel: %w", err)
	}
	o.kern.Store(k)
	x, opt := rec.Executions, rec.Optimizations
	o.notify("recovered executions from an earlier run: %d pending requeued, %d interrupted retried, %d out of attempts failed",
		x.Requeued+x.Retried+x.Failed, x.Requeued, x.Retried, x.Failed)
	o.notify("recovered optimizations from an earlier run: %d pending requeued, %d interrupted resumed, %d out of attempts failed",
		opt.Requeued+opt.Retried+opt.Failed, opt.Requeued, opt.Retried, opt.Failed)
	o.notify("recovered %d evaluation(s) from an earlier run", rec.Evaluations, rec.Evaluations)
	return k, rec, nil
}

// notify tells the process's user what the owner did on its own, when n
// (how many jobs it concerns) is not 0.
func (o *Owner) notify(format string, n int, args ...any) {
	if o.opts.Notify != nil && n > 0 {
		fmt.Fprintf(o.opts.Notify, format+"\n", args...)
	}
}

// optimizer starts the optimization worker, a single-worker pool of its
// own (an optimizer holds its worker for minutes with its threads busy
// inside it; the main pool's least-busy dispatch would queue executions
// behind it for the GIL). The kernel asks for it when the first run starts;
// Optimize asks first, so that a worker that cannot start is the request's
// error.
func (o *Owner) optimizer(ctx context.Context) (jobs.Optimizer, error) {
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if o.optPool != nil {
		return o.optPool, nil
	}
	if o.closing {
		return nil, app.Errorf(app.CodeUnavailable, "the owner of %s is stopping: %w", o.dir, jobs.ErrClosed)
	}
	e, err := o.environmentLocked()
	if err != nil {
		return nil, err
	}
	py, err := e.Interpreter()
	if err != nil {
		return nil, app.Wrap(app.CodeUnavailable, err)
	}
	pool, err := bridge.Start(ctx, e.poolConfig(py, 1, optWorkerThreads))
	if err != nil {
		return nil, app.Errorf(app.CodeUnavailable, "starting the optimization worker with %s: %w", py, err)
	}
	o.optPool = pool
	return pool, nil
}

// closeRunners stops the kernel (running jobs are cut short and written
// back to pending, to be taken up by the next owner; within ctx), then the
// optimization worker.
func (o *Owner) closeRunners(ctx context.Context) {
	if k := o.kern.Load(); k != nil {
		if err := k.Close(ctx); err != nil {
			o.logf("jobs: %v", err)
		}
	}
	o.startMu.Lock()
	pool, q := o.optPool, o.queue
	o.startMu.Unlock()
	if q != nil {
		q.close()
	}
	if pool != nil {
		pool.Close(ctx)
	}
}

// flow is a program's data flow: its signatures', else a worker's reading
// of its custom modules (the pool starts if it does not run).
func (o *Owner) flow(ctx context.Context, p *model.Program) (model.Flow, error) {
	if f := p.StaticFlow(); len(f.Opaque) == 0 {
		return f, nil // no need to start the workers
	}
	k, err := o.kernel(ctx)
	if err != nil {
		return model.Flow{}, err
	}
	return k.Flow(ctx, p)
}
