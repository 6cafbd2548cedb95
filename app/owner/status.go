package owner

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func (o *Owner) Status(ctx context.Context) (*app.Status, error) {
	if err := o.mayAdminister(ctx, "status"); err != nil {
		return nil, err
	}
	st := &app.Status{API: api.Version, PID: o.info.PID, Started: o.info.Started, Uptime: time.Since(o.info.Started).Seconds(),
		Workspace: o.dir, Version: o.info.Version, Command: o.info.Command, Clients: o.srv.Clients()}
	ps := o.poolStatus()
	st.Engine, st.Pool, st.Zygote, st.LocalLM, st.LocalLMs = ps.Engine, ps.Pool, ps.Zygote, ps.LocalLM, ps.LocalLMs
	st.LMEndpoints = o.lmEndpoints(ctx)
	st.NATS, st.Remote = o.natsStatus(ctx)
	if e, err := o.environment(); err == nil {
		st.LM = e.Config.DefaultLM()
	}
	var err error
	if st.Queue.Pending, err = o.st.CountExecutions(ctx, store.ExecQuery{State: model.Pending}); err != nil {
		return nil, fail(err)
	}
	if st.Queue.Running, err = o.st.CountExecutions(ctx, store.ExecQuery{State: model.Running}); err != nil {
		return nil, fail(err)
	}
	st.Queue.Depth = st.Queue.Pending + st.Queue.Running
	o.idleStatus(st)
	return st, nil
}

// poolStatus is the pool as the API and the workbench show it.
func (o *Owner) poolStatus() *app.PoolStatus {
	ps := &app.PoolStatus{Engine: "idle", Pool: []app.Worker{}}
	if o.kern.Load() != nil {
		ps.Engine = "running"
	}
	if p := o.pool.Load(); p != nil {
		ps.Pool = workersOf(p.Status())
		if z, ok := p.ZygoteStatus(); ok {
			ps.Zygote = &app.Zygote{State: string(z.State), PID: z.PID, Restarts: z.Restarts, LastError: z.LastError}
		}
	}
	if r := o.lms.Load(); r != nil {
		for _, l := range r.Local() {
			ps.LocalLMs = append(ps.LocalLMs, localLMOf(l))
		}
		if len(ps.LocalLMs) > 0 {
			ps.LocalLM = &ps.LocalLMs[0]
		}
	}
	return ps
}

// localLMOf is a local LM server as the API shows it.
func localLMOf(l bridge.LocalLMStatus) app.LocalLM {
	out := app.LocalLM{State: string(l.State), PID: l.PID, Model: l.Model, Restarts: l.Restarts, LastError: l.LastError, Primed: l.Primed}
	if l.PID != 0 {
		out.URL = l.BaseURL
	}
	if !l.Started.IsZero() {
		out.Uptime = time.Since(l.Started).Seconds()
	}
	return out
}

func workersOf(ws []bridge.WorkerStatus) []app.Worker {
	out := make([]app.Worker, 0, len(ws))
	for _, w := range ws {
		x := app.Worker{ID: w.ID, State: string(w.State), PID: w.PID, Served: w.Served, Restarts: w.Restarts,
			Inflight: w.Inflight, LastError: w.LastError, DSPy: w.DSPy, Python: w.Python}
		if !w.Started.IsZero() {
			x.Uptime = time.Since(w.Started).Seconds()
		}
		if w.Current != nil {
			x.Current = w.Current.String()
		}
		out = append(out, x)
	}
	return out
}

func (o *Owner) Pool(ctx context.Context) (*app.PoolStatus, error) {
	if err := o.mayAdminister(ctx, "pool"); err != nil {
		return nil, err
	}
	ps := o.poolStatus()
	ps.LMEndpoints = o.lmEndpoints(ctx)
	ps.NATS, ps.Remote = o.natsStatus(ctx)
	return ps, nil
}

// StartPool starts the pool and the job kernel on it.
func (o *Owner) StartPool(ctx context.Context) (*app.PoolStatus, error) {
	if err := o.mayAdminister(ctx, "pool"); err != nil {
		return nil, err
	}
	if _, err := o.kernel(ctx); err != nil {
		return nil, err
	}
	return o.poolStatus(), nil
}

// RestartWorker kills a worker (0: every worker, one after the other so
// the others keep serving) and answers once its replacement is ready.
func (o *Owner) RestartWorker(ctx context.Context, id int) (*app.PoolStatus, error) {
	if err := o.mayAdminister(ctx, "pool"); err != nil {
		return nil, err
	}
	return o.replace(ctx, id, (*bridge.Pool).Restart)
}

// RecycleWorker replaces a worker (0: every worker) once it is idle.
func (o *Owner) RecycleWorker(ctx context.Context, id int) (*app.PoolStatus, error) {
	if err := o.mayAdminister(ctx, "pool"); err != nil {
		return nil, err
	}
	return o.replace(ctx, id, (*bridge.Pool).Recycle)
}

func (o *Owner) replace(ctx context.Context, id int, do func(*bridge.Pool, context.Context, int) error) (*app.PoolStatus, error) {
	p := o.pool.Load()
	if p == nil {
		return nil, app.Errorf(app.CodeInvalid, "the worker pool is not started (start it first)")
	}
	ws := p.Status()
	ids := []int{id}
	switch {
	case id == 0:
		ids = ids[:0]
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
	case id < 0 || id > len(ws):
		return nil, app.Errorf(app.CodeNotFound, "no worker %d (the pool has workers 1 to %d)", id, len(ws))
	}
	for _, w := range ids {
		if err := do(p, ctx, w); err != nil {
			return nil, fail(fmt.Errorf("worker %d: %w", w, err))
		}
	}
	return o.poolStatus(), nil
}

// subscriberBuffer is how far a subscriber may fall behind before its
// droppable events (spans, progress) are dropped.
const subscriberBuffer = 1024

// Subscribe streams the pool's state first, then the job kernel's events
// (every kind's) and the pool's changes, until ctx ends or the owner stops.
// Before the kernel runs there is nothing to stream but the pool; the
// stream joins the kernel's the moment it is created, so no event of it is
// missed.
func (o *Owner) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	keep := o.eventsOf(ctx, who)
	out := make(chan app.Event, subscriberBuffer)
	subc, cancel := o.subscribeKernel(subWants{buffer: subscriberBuffer,
		filter: jobs.Filter{NoSpans: !app.WantsSpans(ctx), EndedOnly: app.WantsEndedOnly(ctx)}})
	changes, stopChanges := o.changes.subscribe()
	go func() {
		defer close(out)
		defer cancel()
		defer stopChanges()
		send := func(ev app.Event) bool {
			if keep != nil && !keep(ev) {
				return true
			}
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// A worker's state (starting, ready, restarting, failed, its pid)
		// goes out as it changes; its load (requests in flight), which
		// changes with every request, at most once per poolEvery.
		lastState, lastLoad := "", ""
		pool := func(force, load bool) bool {
			ps := o.poolStatus()
			st, ld := poolKey(ps, false), poolKey(ps, true)
			if !force && st == lastState && (!load || ld == lastLoad) {
				return true
			}
			lastState, lastLoad = st, ld
			return send(app.Event{Kind: app.EventPool, Pool: ps})
		}
		var poolChanged, localChanged <-chan struct{}
		watch := func() {
			if p := o.pool.Load(); p != nil {
				poolChanged = p.StateChanged()
			}
			if r := o.lms.Load(); r != nil {
				localChanged = r.LocalChanged()
			}
		}
		// moved: a state may have changed; watch again and say so if it did.
		moved := func() bool {
			watch()
			return pool(false, false)
		}
		var ch <-chan jobs.Event
		select {
		case sub := <-subc:
			ch = sub.c
			defer sub.stop()
		default:
		}
		watch()
		if !pool(true, true) {
			return
		}
		tick := time.NewTicker(cmp.Or(o.poolEvery, time.Second))
		defer tick.Stop()
		for {
			select {
			case sub := <-subc:
				ch = sub.c
				defer sub.stop()
				if !moved() { // the pool starts before the kernel
					return
				}
			case <-poolChanged:
				if !moved() {
					return
				}
			case <-localChanged:
				if !moved() {
					return
				}
			case ev, ok := <-ch:
				if !ok {
					return // the kernel closed: the owner is stopping
				}
				if !send(eventOf(ev)) {
					return
				}
			case ev := <-changes:
				if !send(ev) {
					return
				}
			case <-tick.C:
				if poolChanged == nil || localChanged == nil {
					watch()
				}
				if !pool(false, true) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// subscribeKernel subscribes to the kernel's events: at once if there is
// a kernel, else when one is created, before it starts. cancel gives up
// (and ends a subscription that arrived but was not taken).
func (o *Owner) subscribeKernel(wants subWants) (<-chan kernelSub, func()) {
	c := make(chan kernelSub, 1)
	o.subMu.Lock()
	defer o.subMu.Unlock()
	if o.events != nil {
		ch, stop := wants.subscribe(o.events)
		c <- kernelSub{ch, stop}
		return c, func() {}
	}
	o.subs[c] = wants
	return c, func() {
		o.subMu.Lock()
		delete(o.subs, c)
		o.subMu.Unlock()
		select {
		case sub := <-c: // arrived, never taken
			sub.stop()
		default:
		}
	}
}

func eventOf(ev jobs.Event) app.Event {
	return app.Event{Kind: app.EventKind(ev.Kind), Execution: ev.Execution, Span: ev.Span, Optimization: ev.Optimization,
		Progress: ev.Progress, Evaluation: ev.Evaluation}
}

// poolKey is what of the pool is worth an event (not uptimes or counters):
// what a pool event would say: the workers' states, and with
// load their requests in flight.
func poolKey(ps *app.PoolStatus, load bool) string {
	k := ps.Engine
	if z := ps.Zygote; z != nil {
		k += fmt.Sprintf("|zygote %s %d %d %s", z.State, z.PID, z.Restarts, z.LastError)
	}
	for _, l := range ps.LocalLMs {
		k += fmt.Sprintf("|local %s %d %d %s %s", l.State, l.PID, l.Restarts, l.LastError, l.Primed)
	}
	for _, w := range ps.Pool {
		k += fmt.Sprintf("|%d %s %d %d %s", w.ID, w.State, w.PID, w.Restarts, w.LastError)
		if load {
			k += fmt.Sprintf(" %d", w.Inflight)
		}
	}
	return k
}

// LMProfiles are the profiles of the owner's config, the default marked.
func (o *Owner) LMProfiles(ctx context.Context) ([]app.LMProfile, error) {
	if err := o.mayRead(ctx, "lm-profiles", "*"); err != nil {
		return nil, err
	}
	e, err := o.environment()
	if err != nil {
		return nil, fail(err)
	}
	cfg := e.Config
	var out []app.LMProfile
	for _, n := range cfg.ProfileNames() {
		p, err := cfg.Profile(n)
		if err != nil {
			return nil, fail(err)
		}
		lp := app.LMProfile{Name: n, Model: p.Model, Default: n == cfg.DefaultLM()}
		lp.KeyUnset = p.UnsetKey()
		out = append(out, lp)
	}
	return out, nil
}
