package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/evaluate"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/store"
)

// owner is the one process that holds a workspace (DESIGN.md section 8):
// its store, and, from the first command that needs them, the worker pool
// and the execution engine. It serves the local API so that every other
// Signet process on the workspace works through it. It is shut down in
// reverse order: API, engine, pool, store.
type owner struct {
	dir    string
	sock   string
	info   api.Owner
	st     *store.Store
	log    io.Writer // the workspace log file
	closeS func()
	srv    *api.Server
	served chan struct{} // closed when the API server has stopped

	startMu sync.Mutex                    // serialises the lazy start of env, pool and engine
	closing bool                          // under startMu: nothing starts any more
	env     *runEnv                       // under startMu
	eng     atomic.Pointer[engine.Engine] // once it runs
	pool    atomic.Pointer[bridge.Pool]
	opt     atomic.Pointer[optimize.Runner] // once it runs, on optPool (see opt_owner.go)
	optPool *bridge.Pool                    // under startMu
	evals   atomic.Pointer[evaluate.Runner] // started with the engine (see startEngine)
	// events is the engine from its creation, before it starts; the API's
	// event streams that came before it wait in subs and are subscribed
	// then, so that none misses an event of it.
	subMu  sync.Mutex
	events *engine.Engine // under subMu
	subs   map[chan api.Subscription]int

	leftPending int // executions pending when the store closed, for serve's last words
}

// errLocked is Badger's directory lock held by another process.
var errLocked = errors.New("workspace locked")

// ownerWait bounds how long a process waits for a workspace whose lock is
// held by a process that does not answer on the socket (one starting up or
// shutting down answers within moments).
const ownerWait = 30 * time.Second

// acquire finds the owner of workspace dir and returns a client of it, or
// makes this process the owner. Badger's lock decides who owns: a socket
// nobody answers on is stale only if the lock can be taken, so two
// processes racing end with exactly one owner; the other retries as a
// client once the winner listens.
func (a *cli) acquire(ctx context.Context, dir string, create bool, command string) (*api.Client, *api.Status, *owner, error) {
	sock := api.SocketPath(dir)
	cl := api.NewClient(sock)
	deadline := time.Now().Add(ownerWait)
	delay := 10 * time.Millisecond
	for {
		st, err := cl.Status(ctx)
		if err == nil {
			return cl, st, nil, nil
		}
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		o, oerr := a.becomeOwner(ctx, dir, sock, create, command)
		if oerr == nil {
			return nil, nil, o, nil
		}
		if !errors.Is(oerr, errLocked) {
			return nil, nil, nil, oerr
		}
		if time.Now().After(deadline) {
			who := "another Signet process"
			if info, rerr := api.ReadOwner(dir); rerr == nil && api.Alive(info.PID) {
				who = fmt.Sprintf("Signet process %d (signet %s)", info.PID, info.Command)
			}
			return nil, nil, nil, fmt.Errorf("workspace %s is held by %s, which does not answer on %s (%v); stop it, or wait for it to finish", dir, who, sock, err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// becomeOwner opens the store (Badger's lock: errLocked if another process
// holds it), then binds the socket, replacing one a dead owner left, and
// starts serving the API.
func (a *cli) becomeOwner(ctx context.Context, dir, sock string, create bool, command string) (*owner, error) {
	if !create {
		if _, err := os.Stat(filepath.Join(dir, dbDir)); err != nil {
			return nil, missingWorkspace(dir)
		}
	}
	st, logf, closeS, err := openWorkspace(ctx, dir)
	if err != nil {
		return nil, err
	}
	o := &owner{dir: dir, sock: sock, st: st, log: logf, closeS: closeS, served: make(chan struct{}), subs: map[chan api.Subscription]int{},
		info: api.Owner{PID: os.Getpid(), Started: time.Now().UTC(), Workspace: dir, Version: Version, Command: command, Socket: sock}}
	ln, err := api.Listen(sock)
	if err != nil {
		closeS()
		return nil, fmt.Errorf("serving workspace %s: %w", dir, err)
	}
	if err := api.WriteOwner(dir, o.info); err != nil {
		ln.Close()
		os.Remove(sock)
		closeS()
		return nil, err
	}
	o.srv = api.NewServer(o)
	go func() {
		defer close(o.served)
		if err := o.srv.Serve(ln); err != nil {
			o.logf("api: %v", err)
		}
	}()
	return o, nil
}

// environment is the run environment (config, interpreter, LM resolver,
// log), made once from the flags of the first command that needs it.
func (o *owner) environment(pf poolFlags) (*runEnv, error) {
	o.startMu.Lock()
	defer o.startMu.Unlock()
	return o.environmentLocked(pf)
}

func (o *owner) environmentLocked(pf poolFlags) (*runEnv, error) {
	if o.env == nil {
		env, err := newEnv(pf, o.dir)
		if err != nil {
			return nil, err
		}
		o.env = env
	}
	return o.env, nil
}

// startEngine starts the worker pool and the engine if they do not run yet;
// the engine first recovers what an earlier owner left pending or running.
// The flags of the command that starts them decide the pool; later
// commands share it as it is.
func (o *owner) startEngine(ctx context.Context, pf poolFlags, concurrency int, notify io.Writer) (*engine.Engine, engine.Recovered, error) {
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
		return nil, rec, fmt.Errorf("the owner of %s is stopping: %w", o.dir, engine.ErrClosed)
	}
	env, err := o.environmentLocked(pf)
	if err != nil {
		return nil, rec, err
	}
	if env.pool == nil {
		if err := env.startPool(ctx, pf); err != nil {
			return nil, rec, err
		}
		o.pool.Store(env.pool)
	}
	if concurrency <= 0 {
		concurrency = env.cfg.Concurrency
	}
	eng := engine.New(engine.Options{
		Store: o.st, Pool: env.pool, LMs: env.lms, DefaultLM: env.cfg.DefaultLM(),
		Concurrency: concurrency, CacheTTL: env.cfg.CacheTTL(), Log: env.logf,
	})
	o.subMu.Lock()
	o.events = eng
	for c, buffer := range o.subs {
		ch, stop := eng.Subscribe(buffer)
		c <- api.Subscription{C: ch, Stop: stop}
		delete(o.subs, c)
	}
	o.subMu.Unlock()
	if rec, err = eng.Start(ctx); err != nil {
		eng.Close(context.Background())
		return nil, rec, fmt.Errorf("starting the execution engine: %w", err)
	}
	// Evaluations run on the engine: their runner starts with it, so that
	// one left running by an earlier owner is taken up as its executions are.
	ev := evaluate.New(evaluate.Options{Store: o.st, Engine: eng, LMs: env.lms, DefaultLM: env.cfg.DefaultLM(), Log: env.logf,
		Flow: o.flow})
	n, err := ev.Start(ctx)
	if err != nil {
		ev.Close(context.Background())
		eng.Close(context.Background())
		return nil, rec, fmt.Errorf("starting the evaluation runner: %w", err)
	}
	if n > 0 && notify != nil {
		fmt.Fprintf(notify, "recovered %d evaluation(s) from an earlier run\n", n)
	}
	o.evals.Store(ev)
	o.eng.Store(eng)
	if n := rec.Requeued + rec.Retried + rec.Failed; n > 0 && notify != nil {
		fmt.Fprintf(notify, "recovered from an earlier run: %d pending requeued, %d interrupted retried, %d out of attempts failed\n", rec.Requeued, rec.Retried, rec.Failed)
	}
	return eng, rec, nil
}

// release ends ownership. Unless forced, it first waits for the commands
// other processes run here (and keeps serving meanwhile); ctx ending forces.
// Then the socket goes, so the next process finds no owner and takes the
// lock once it is free; the API stops (forwarded commands interrupted when
// forced); the engine puts what runs back to pending; the pool and the
// store close.
func (o *owner) release(ctx context.Context, force bool, notify io.Writer) {
	if !force && o.srv.Clients() > 0 {
		// Said only when the wait is noticeable.
		brief, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := o.srv.WaitIdle(brief)
		cancel()
		if err != nil && ctx.Err() == nil {
			if notify != nil {
				fmt.Fprintf(notify, "waiting for %d command(s) of other Signet processes to finish here (ctrl-c interrupts them)\n", o.srv.Clients())
			}
			err = o.srv.WaitIdle(ctx)
		}
		force = err != nil
	}
	os.Remove(o.sock)
	os.Remove(filepath.Join(o.dir, api.OwnerName))
	if force {
		o.srv.Interrupt()
	}
	// A client that connected just before the socket went is still served
	// in full: Shutdown waits for it.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.srv.Shutdown(sctx); err != nil {
		o.logf("api: shutdown: %v", err)
	}
	<-o.served
	o.startMu.Lock()
	o.closing = true
	o.startMu.Unlock()
	o.closeOptimizer(sctx)
	if ev := o.evals.Load(); ev != nil { // before the engine it follows
		if err := ev.Close(sctx); err != nil {
			o.logf("evaluate: %v", err)
		}
	}
	if eng := o.eng.Load(); eng != nil {
		if err := eng.Close(sctx); err != nil {
			o.logf("engine: %v", err)
		}
	}
	o.startMu.Lock()
	env := o.env
	o.startMu.Unlock()
	if env != nil {
		env.close()
	}
	if n, err := o.st.CountExecutions(sctx, store.ExecQuery{State: model.Pending}); err == nil {
		o.leftPending = n
	}
	o.closeS()
}

// flow is a program's data flow: its signatures', else a worker's reading
// of its custom modules (the pool must run).
func (o *owner) flow(ctx context.Context, p *model.Program) (model.Flow, error) {
	if f := p.StaticFlow(); len(f.Opaque) == 0 {
		return f, nil
	}
	pool := o.pool.Load()
	if pool == nil {
		return model.Flow{}, errors.New("the worker pool is not running")
	}
	return pool.Flow(ctx, p, "")
}

// logf notes what went wrong while serving in the workspace log; nobody
// is waiting for those errors on a terminal.
func (o *owner) logf(format string, args ...any) {
	fmt.Fprintf(o.log, "%s owner: %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), fmt.Sprintf(format, args...))
}

// The owner is the API's backend.
var _ api.Backend = (*owner)(nil)

func (o *owner) Store() *store.Store { return o.st }

func (o *owner) Engine(ctx context.Context) (*engine.Engine, error) {
	o.startMu.Lock()
	var log io.Writer
	if o.env != nil {
		log = o.env.logf
	}
	o.startMu.Unlock()
	eng, _, err := o.startEngine(ctx, poolFlags{defaultWorkers: serveWorkers()}, 0, log)
	return eng, err
}

func (o *owner) Started() bool { return o.eng.Load() != nil }

func (o *owner) Subscribe(buffer int) (<-chan api.Subscription, func()) {
	c := make(chan api.Subscription, 1)
	o.subMu.Lock()
	defer o.subMu.Unlock()
	if o.events != nil {
		ch, stop := o.events.Subscribe(buffer)
		c <- api.Subscription{C: ch, Stop: stop}
		return c, func() {}
	}
	o.subs[c] = buffer
	return c, func() {
		o.subMu.Lock()
		delete(o.subs, c)
		o.subMu.Unlock()
		select {
		case sub := <-c: // arrived, never taken
			sub.Stop()
		default:
		}
	}
}

func (o *owner) Pool() []bridge.WorkerStatus {
	if p := o.pool.Load(); p != nil {
		return p.Status()
	}
	return nil
}

func (o *owner) Owner() api.Owner { return o.info }

// The owner serves the evaluation routes; the runner starts with the engine.
var _ api.EvaluationBackend = (*owner)(nil)

func (o *owner) Evaluations(ctx context.Context) (*evaluate.Runner, error) {
	if _, err := o.Engine(ctx); err != nil {
		return nil, err
	}
	return o.evals.Load(), nil
}

func (o *owner) RunningEvaluations() *evaluate.Runner { return o.evals.Load() }

// CLI runs a client's command line here, against this owner's store and
// engine, with the client's working directory, stdin and terminal.
func (o *owner) CLI(ctx context.Context, req *api.CLIRequest, stdout, stderr io.Writer) int {
	if req.Workspace != o.dir {
		fmt.Fprintf(stderr, "signet: this Signet process owns workspace %s, not %s\n", o.dir, req.Workspace)
		return 1
	}
	a := &cli{stdin: bytes.NewReader(req.Stdin), stdout: stdout, stderr: stderr, cwd: req.Cwd,
		args: req.Args, shared: o, client: req}
	return a.execute(ctx)
}
