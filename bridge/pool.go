package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge/wire"
)

// Pool is a supervised set of Python workers. Its methods are safe for
// concurrent use.
type Pool struct {
	cfg Config
	env []string
	dir string // PYTHONPATH entry holding signet_worker
	log *lineLog

	ctx    context.Context // cancelled by Close: aborts handshakes and backoffs
	cancel context.CancelFunc
	closer // its done is closed when every supervisor has returned
	wg     sync.WaitGroup
	forker *forker

	// The zygote workers fork from, when useZygote: its own supervisor,
	// closed (zclosing) only once no worker runs, since it reaps them.
	forks    bool // workers fork from a zygote (useZygote at Start)
	zsup     supervisor
	zclosing chan struct{}
	zdone    chan struct{}

	mu      sync.Mutex
	zyg     *zygote // the ready zygote; nil: spawn workers the plain way
	slots   []*slot
	changed chan struct{}   // closed and replaced when a state or a count changed
	states  chan struct{}   // closed and replaced when a state changed
	waiters []chan struct{} // calls waiting for a free worker, first come first served
	closed  bool
	rr      int // where the next dispatch starts looking, to spread ties
}

// slot is one place in the pool, filled by a succession of processes.
type slot struct {
	supervisor // its state, counts and restart policy; guarded by Pool.mu
	id         int
	recycle    chan struct{} // cap 1: drain the process and replace it
	restart    chan struct{} // cap 1: kill the process and replace it

	proc *proc // guarded by Pool.mu
}

// Start spawns cfg.Workers workers and returns once every one has said
// hello, or the first error (then nothing is left running).
func Start(ctx context.Context, cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dir := cfg.WorkerDir
	if dir == "" {
		if dir, err = WorkerDir(); err != nil {
			return nil, fmt.Errorf("bridge: %w", err)
		}
	}
	p := &Pool{cfg: cfg, dir: dir, log: &lineLog{w: cfg.Log}, closer: newCloser(), changed: make(chan struct{}), states: make(chan struct{})}
	p.env = workerEnv(cfg, dir)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.forker = newForker()
	p.zclosing, p.zdone = make(chan struct{}), make(chan struct{})
	if cfg.NoZygote || !useZygote(dir) {
		close(p.zdone)
	} else {
		p.forks = true
		p.superviseZygote(ctx)
	}
	for i := range cfg.Workers {
		s := &slot{id: i + 1, recycle: make(chan struct{}, 1), restart: make(chan struct{}, 1)}
		s.supervisor = supervisor{lock: &p.mu, changed: p.broadcastLocked, closing: p.closing, revive: s.restart,
			backoff: cfg.backoff, clock: cfg.clock, state: StateStarting,
			logf: func(format string, args ...any) { p.logf(s.id, 0, format, args...) }}
		p.slots = append(p.slots, s)
	}
	procs := make([]*proc, cfg.Workers)
	errs := make([]error, cfg.Workers)
	var wg sync.WaitGroup
	for i, s := range p.slots {
		wg.Go(func() { procs[i], errs[i] = p.spawn(ctx, s.id) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, pr := range procs {
			if pr != nil {
				pr.kill("another worker failed to start", false)
				<-pr.exited
			}
		}
		p.cancel()
		close(p.zclosing)
		<-p.zdone
		p.forker.close()
		return nil, fmt.Errorf("bridge: starting %d workers: %w", cfg.Workers, err)
	}
	for i, s := range p.slots {
		l := p.life(s)
		ready(&s.supervisor, l, procs[i])
		p.wg.Go(func() { supervise(&s.supervisor, l, procs[i]) })
	}
	go func() {
		p.wg.Wait()
		close(p.zclosing) // no worker is left for the zygote to reap
		<-p.zdone
		p.forker.close() // no supervisor is left to spawn, no worker runs
		close(p.done)
	}()
	return p, nil
}

// workerEnv is the inherited environment plus what a worker needs; later
// entries win, so cfg.Env may override the tuning variables.
func workerEnv(cfg Config, dir string) []string {
	env := os.Environ()
	env = append(env,
		"PYTHONUNBUFFERED=1",
		"PYTHONSAFEPATH=1", // the working directory must not shadow signet_worker
		"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1",
		"TOKENIZERS_PARALLELISM=false",
		"LITELLM_LOCAL_MODEL_COST_MAP=True", // no network fetch of the price table at import
		"SIGNET_WORKER_THREADS="+strconv.Itoa(cfg.Threads),
	)
	if cfg.SpanPayload > 0 {
		env = append(env, "SIGNET_SPAN_PAYLOAD="+strconv.FormatInt(cfg.SpanPayload, 10))
	}
	if cfg.Workspace != "" {
		env = append(env, "SIGNET_DSPY_CACHEDIR="+filepath.Join(cfg.Workspace, "dspy-cache"))
	}
	if vars := cfg.Redact.Vars(); len(vars) > 0 {
		env = append(env, "SIGNET_SECRET_ENVS="+strings.Join(vars, ","))
	}
	env = append(env, cfg.Env...)
	pp := dir
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PYTHONPATH="); ok {
			if v != "" {
				pp += string(os.PathListSeparator) + v
			}
			break
		}
	}
	return append(env, "PYTHONPATH="+pp)
}

// life is how slot s's supervisor starts, watches and installs workers.
func (p *Pool) life(s *slot) life[*proc] {
	return life[*proc]{
		spawn: func() (*proc, error) { return p.spawn(p.ctx, s.id) },
		watch: func(pr *proc) (bool, string) {
			failed := p.monitor(s, pr)
			if d := pr.deathErr; d != nil && (failed || pr.killed()) {
				return failed, d.Error()
			}
			return failed, ""
		},
		attach: func(pr *proc) {
			// Requests made while there was no process are met by this fresh one.
			select {
			case <-s.recycle:
			default:
			}
			select {
			case <-s.restart:
			default:
			}
			s.proc = pr
		},
		detach: func() { s.proc = nil },
	}
}

// StateChanged is closed at the next change of a worker's state (not of
// its load, which changes with every request). Take it again after it
// fires.
func (p *Pool) StateChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.states
}

// broadcastLocked tells everyone that something changed: every waiting
// call looks again.
func (p *Pool) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
	close(p.states)
	p.states = make(chan struct{})
	for _, w := range p.waiters {
		w <- struct{}{}
	}
	p.waiters = p.waiters[:0]
}

// freedLocked says one request slot came free: the first waiting call gets
// it (waking them all would have each of them race for one place).
func (p *Pool) freedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
	if len(p.waiters) > 0 {
		p.waiters[0] <- struct{}{}
		p.waiters = p.waiters[1:]
	}
}

// monitor watches one process until it has exited: health pings, memory,
// recycling, restarts and shutdown. It says whether the end counts as a
// failure of the slot.
func (p *Pool) monitor(s *slot, pr *proc) (failed bool) {
	ticker := time.NewTicker(p.cfg.PingInterval)
	defer ticker.Stop()
	var sample <-chan time.Time
	if p.cfg.MaxRSS > 0 {
		t := time.NewTicker(p.cfg.MemoryInterval)
		defer t.Stop()
		sample = t.C
	}
	var (
		pingDone    <-chan struct{}
		pingTimeout <-chan time.Time
		killAt      <-chan time.Time // the grace after a shutdown frame
		closeDone   <-chan struct{}  // Close's context
		draining    bool
		shutdown    bool
		closing     = p.closing
		recycle     = s.recycle
		restart     = s.restart
	)
	sendShutdown := func(grace time.Duration) {
		shutdown = true
		if _, err := pr.send(wire.MethodShutdown, nil, true, nil); err != nil {
			pr.kill("could not send shutdown: "+err.Error(), false)
		}
		if grace > 0 {
			killAt = time.After(grace)
		}
	}
	for {
		var changed <-chan struct{}
		if draining && !shutdown {
			p.mu.Lock()
			n, ch := pr.inflight, p.changed
			p.mu.Unlock()
			if n == 0 {
				sendShutdown(shutdownGrace)
			} else {
				changed = ch
			}
		}
		select {
		case <-pr.exited:
			return !shutdown && pr.failure()
		case <-closing:
			closing, recycle, restart = nil, nil, nil
			// The worker finishes what it runs, then exits; Close's context
			// (or shutdownGrace without a deadline) bounds the wait.
			var bound <-chan time.Time
			closeDone, bound = stopBounds(p.closeCtx, shutdownGrace)
			if !shutdown {
				sendShutdown(0)
			}
			if killAt == nil {
				killAt = bound
			}
		case <-closeDone:
			closeDone = nil
			pr.kill("Close's context ended before the worker exited", false)
		case <-recycle:
			recycle = nil
			draining = true
			s.set(StateDraining)
			p.logf(s.id, pr.pid, "recycling: draining, then replacing")
		case <-restart:
			restart = nil
			pr.kill("restart requested", false)
		case <-changed:
		case <-ticker.C:
			if pingDone == nil && !shutdown {
				if c, err := pr.send(wire.MethodPing, nil, true, nil); err == nil {
					pingDone = c.done
					pingTimeout = time.After(p.cfg.PingTimeout)
				}
			}
		case <-sample:
			// Killed, not drained: what it runs is what grows it.
			if n, err := rss(pr.pid); err == nil && n > p.cfg.MaxRSS {
				sample = nil
				p.mu.Lock()
				inflight := pr.inflight
				p.mu.Unlock()
				pr.overMemory(fmt.Sprintf("its resident memory (%d MiB) went over the worker_memory cap of %d MiB",
					n>>20, p.cfg.MaxRSS>>20), inflight)
			}
		case <-pingDone:
			pingDone, pingTimeout = nil, nil
		case <-pingTimeout:
			pingDone, pingTimeout = nil, nil
			pr.kill(fmt.Sprintf("health ping unanswered after %s", p.cfg.PingTimeout), true)
		case <-killAt:
			killAt = nil
			pr.kill("did not exit after shutdown", false)
		}
	}
}

// acquire picks the ready worker with the fewest requests in flight, below
// its thread count, and counts the request. When none is free it waits its
// turn: calls are served in arrival order.
func (p *Pool) acquire(ctx context.Context) (*proc, error) {
	woken := false
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		// A new call queues behind those already waiting.
		if woken || len(p.waiters) == 0 {
			if pr, ok := p.pickLocked(); ok {
				p.mu.Unlock()
				return pr, nil
			}
		}
		if err := p.unavailableLocked(); err != nil {
			p.mu.Unlock()
			return nil, err
		}
		w := make(chan struct{}, 1)
		if woken { // it lost its place to nothing: keep it at the front
			p.waiters = slices.Insert(p.waiters, 0, w)
		} else {
			p.waiters = append(p.waiters, w)
		}
		p.mu.Unlock()
		select {
		case <-w:
			woken = true
		case <-ctx.Done():
			p.mu.Lock()
			if i := slices.Index(p.waiters, w); i >= 0 {
				p.waiters = slices.Delete(p.waiters, i, i+1)
			} else if len(p.waiters) > 0 {
				// It was woken as it gave up: pass the turn on.
				p.waiters[0] <- struct{}{}
				p.waiters = p.waiters[1:]
			}
			p.mu.Unlock()
			e := &Error{Code: CodeCancelled, Message: "cancelled while waiting for a free worker", Err: ctx.Err()}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				e.Code, e.Retryable, e.Message = CodeTimeout, true, "timed out waiting for a free worker"
			}
			return nil, e
		}
	}
}

func (p *Pool) pickLocked() (*proc, bool) {
	var best *slot
	n := len(p.slots)
	for i := range n {
		s := p.slots[(p.rr+i)%n]
		pr := s.proc
		if s.state != StateReady || pr == nil || pr.gone || pr.inflight >= pr.threads {
			continue
		}
		if best == nil || pr.inflight < best.proc.inflight {
			best = s
		}
	}
	if best == nil {
		return nil, false
	}
	pr := best.proc
	pr.inflight++
	pr.assigned++
	p.rr = best.id % n // the next search starts after this one, to spread ties
	if p.cfg.MaxRequests > 0 && pr.assigned >= p.cfg.MaxRequests {
		// Exactly MaxRequests go to this process; then it drains.
		best.state = StateDraining
		p.broadcastLocked()
		select {
		case best.recycle <- struct{}{}:
		default:
		}
	}
	return pr, true
}

// unavailableLocked is the error for a call when no worker can ever take
// it: every slot has been given up.
func (p *Pool) unavailableLocked() error {
	var last []string
	for _, s := range p.slots {
		if s.state != StateFailed {
			return nil
		}
		last = append(last, fmt.Sprintf("worker %d: %s", s.id, s.lastErr))
	}
	return &Error{Code: CodeWorkerDied, Message: "every worker has failed and been given up (Restart revives one):\n" + strings.Join(last, "\n")}
}

// release undoes acquire for a request that never reached the worker.
func (p *Pool) release(pr *proc) {
	p.mu.Lock()
	if !pr.gone {
		pr.inflight--
		pr.assigned--
		p.freedLocked()
	}
	p.mu.Unlock()
}

func (p *Pool) requestEnded(pr *proc) {
	p.mu.Lock()
	if !pr.gone {
		pr.inflight--
		pr.served++
		p.freedLocked()
	}
	p.mu.Unlock()
}

func (p *Pool) procDied(pr *proc) {
	p.mu.Lock()
	pr.gone = true
	pr.inflight = 0
	p.broadcastLocked()
	p.mu.Unlock()
}

// Call sends one request to the least busy worker and waits for its end,
// handing its events to onEvent (in order, on the caller's goroutine,
// before Call returns). When ctx ends first the worker is asked to cancel
// the request and Call returns a cancelled or timeout *Error at once; a
// worker that has not ended the request CancelGrace later is killed and
// replaced.
func (p *Pool) Call(ctx context.Context, method string, params any, onEvent func(wire.Event)) (json.RawMessage, error) {
	return p.call(ctx, method, params, 0, onEvent, nil)
}

// call is Call with a time limit on the request once a worker has it
// (0: none) and a budget gate for its LM calls (nil: none). Past the limit
// the request is cancelled as by ctx, with the worker replaced if it does
// not let go, and fails with CodeTimeout, not retryable. Time spent waiting
// for a free worker does not count.
func (p *Pool) call(ctx context.Context, method string, params any, limit time.Duration, onEvent func(wire.Event), g Gate) (json.RawMessage, error) {
	raw, _, err := p.callAt(ctx, method, params, limit, onEvent, g)
	return raw, err
}

// callAt is call, also saying which worker slot took the request (0 when
// none did).
func (p *Pool) callAt(ctx context.Context, method string, params any, limit time.Duration, onEvent func(wire.Event), g Gate) (json.RawMessage, int, error) {
	if method == wire.MethodCancel || method == wire.MethodShutdown {
		return nil, 0, fmt.Errorf("bridge: %s is the pool's own to send", method)
	}
	// Encoded once, not once per dispatch attempt.
	var raw any
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, 0, fmt.Errorf("bridge: encoding params of %s: %w", method, err)
		}
		raw = wire.Marshalled(b)
	}
	pr, c, err := p.dispatch(ctx, method, raw, onEvent, g)
	if err != nil {
		return nil, 0, err
	}
	res, err := p.await(ctx, pr, c, limit)
	return res, pr.slot, err
}

// dispatch sends one encoded request to the least busy worker; with a gate,
// its reserve and settle events go there.
func (p *Pool) dispatch(ctx context.Context, method string, raw any, onEvent func(wire.Event), g Gate) (*proc, *call, error) {
	var to *proc
	var sent *call
	if g != nil {
		onEvent = p.gated(ctx, g, onEvent, &to, &sent)
	}
	for {
		pr, err := p.acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		c, err := pr.send(method, raw, false, onEvent)
		if errors.Is(err, errGone) {
			p.release(pr) // it died between dispatch and send: nothing reached it, try another
			continue
		}
		if err != nil {
			p.release(pr)
			return nil, nil, fmt.Errorf("bridge: worker %d (pid %d): %w", pr.slot, pr.pid, err)
		}
		to, sent = pr, c
		return pr, c, nil
	}
}

func (p *Pool) await(ctx context.Context, pr *proc, c *call, limit time.Duration) (json.RawMessage, error) {
	var expired <-chan time.Time
	if limit > 0 {
		expired = p.cfg.clock.After(limit)
	}
	ended := func() (json.RawMessage, error) {
		if c.onEvent != nil {
			c.deliver()
		}
		return c.result, c.err
	}
	// stop ends the wait on a limit or a cancel, unless the request ended
	// anyway: its result is worth more than either.
	stop := func(why func() error) (json.RawMessage, error) {
		select {
		case <-c.done:
			return ended()
		default:
		}
		c.abandon()
		p.cancelRequest(pr, c)
		return nil, why()
	}
	for {
		select {
		case <-expired:
			return stop(func() error {
				p.logf(pr.slot, pr.pid, "%s #%d timed out after %s: cancelled", c.method, c.id, limit)
				return &Error{Code: CodeTimeout, Message: "timed out after " + limit.String(), Worker: pr.slot, PID: pr.pid,
					Method: c.method, Request: c.id, Err: context.DeadlineExceeded}
			})
		case <-c.notify:
			c.deliver()
		case <-c.done:
			return ended()
		case <-ctx.Done():
			return stop(func() error { return ctxError(ctx.Err(), pr, c) })
		}
	}
}

// cancelRequest asks the worker to stop c and kills it if it has not ended
// c within the grace: an LM call in flight cannot be interrupted.
func (p *Pool) cancelRequest(pr *proc, c *call) {
	if _, err := pr.send(wire.MethodCancel, map[string]uint64{"target": c.id}, true, nil); err != nil {
		return // the worker is gone: nothing runs any more
	}
	grace := p.cfg.CancelGrace
	p.cfg.clock.AfterFunc(grace, func() {
		if pr.isPending(c.id) {
			pr.kill(fmt.Sprintf("%s #%d did not end within %s of its cancel", c.method, c.id, grace), false)
		}
	})
}

// Ping pings every worker at once; the error names each worker that did
// not answer, or is not running.
func (p *Pool) Ping(ctx context.Context) error {
	_, err := p.pingAll(ctx, false)
	return err
}

// pingAll pings every running worker at once: the results of those that
// answered, and an error naming each that did not, or is not running.
// readyOnly leaves out, without an error, a worker not ready (starting,
// restarting, draining): one still starting would answer only once started.
func (p *Pool) pingAll(ctx context.Context, readyOnly bool) ([]pingResult, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	var procs []*proc
	var errs []error
	for _, s := range p.slots {
		switch {
		case readyOnly && (s.state != StateReady || s.proc == nil || s.proc.gone):
		case s.proc == nil || s.proc.gone:
			errs = append(errs, fmt.Errorf("worker %d is %s", s.id, s.state))
		default:
			procs = append(procs, s.proc)
		}
	}
	p.mu.Unlock()
	raws := make([]json.RawMessage, len(procs))
	perr := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, pr := range procs {
		wg.Go(func() { raws[i], perr[i] = pr.roundTrip(ctx, wire.MethodPing, nil) })
	}
	wg.Wait()
	var out []pingResult
	for i, raw := range raws {
		if perr[i] == nil {
			out = append(out, pingResult{slot: procs[i].slot, raw: raw})
		}
	}
	return out, errors.Join(append(errs, perr...)...)
}

// pingResult is one worker's answer to a ping.
type pingResult struct {
	slot int
	raw  json.RawMessage
}

// Status is a snapshot of every worker slot.
func (p *Pool) Status() []WorkerStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]WorkerStatus, 0, len(p.slots))
	for _, s := range p.slots {
		ws := WorkerStatus{ID: s.id, State: s.state, Restarts: s.restarts, LastError: s.lastErr}
		if pr := s.proc; pr == nil || pr.gone {
			if ws.State == StateReady || ws.State == StateDraining {
				// Its process has died and the supervisor has not yet
				// said so: it is being restarted, not ready.
				ws.State = StateRestarting
			}
		} else {
			ws.PID, ws.Started, ws.Served, ws.Inflight = pr.pid, pr.started, pr.served, pr.inflight
			ws.DSPy, ws.Python = pr.hello.DSPy, pr.hello.Python
			ws.Current = pr.current()
			if ws.State == StateReady && pr.inflight > 0 {
				ws.State = StateBusy
			}
		}
		out = append(out, ws)
	}
	return out
}

// Restart kills worker id (its running requests fail as worker_died,
// retryable) and returns once its replacement is ready. It also revives a
// failed worker.
func (p *Pool) Restart(ctx context.Context, id int) error {
	return p.replace(ctx, id, false)
}

// Recycle replaces worker id gracefully: it takes no new work, finishes
// what it runs, exits, and a fresh process takes its place. It returns once
// the replacement is ready.
func (p *Pool) Recycle(ctx context.Context, id int) error {
	return p.replace(ctx, id, true)
}

func (p *Pool) replace(ctx context.Context, id int, graceful bool) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if id < 1 || id > len(p.slots) {
		p.mu.Unlock()
		return fmt.Errorf("bridge: no worker %d (the pool has workers 1 to %d)", id, len(p.slots))
	}
	s := p.slots[id-1]
	if s.state == StateFailed {
		if graceful {
			p.mu.Unlock()
			return fmt.Errorf("bridge: worker %d has failed (%s): restart it instead", id, s.lastErr)
		}
		s.state = StateRestarting // so that a later failed means a new failure
		p.broadcastLocked()
	}
	gen := s.gen
	ch := s.restart
	if graceful {
		ch = s.recycle
	}
	p.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default: // one is already asked for; its replacement serves this call too
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		st, g, last := s.state, s.gen, s.lastErr
		changed := p.changed
		p.mu.Unlock()
		switch {
		case g > gen && st != StateStarting && st != StateRestarting:
			return nil
		case st == StateFailed:
			return fmt.Errorf("bridge: worker %d failed to come back: %s", id, last)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("bridge: waiting for worker %d to be replaced: %w", id, ctx.Err())
		}
	}
}

// Close sends every worker a shutdown frame, waits for them to finish what
// they run and exit (until ctx ends, or 10s when ctx has no deadline),
// kills the process groups that remain, and returns when every process has
// been reaped. It is idempotent; requests after it fail with ErrClosed.
func (p *Pool) Close(ctx context.Context) error {
	// No new call may pick a worker that is about to get its shutdown.
	p.mu.Lock()
	p.closed = true
	p.broadcastLocked()
	p.mu.Unlock()
	return p.close(ctx, p.cancel)
}

func (p *Pool) logf(slot, pid int, format string, args ...any) {
	p.log.printf("worker "+strconv.Itoa(slot), pid, format, args...)
}
