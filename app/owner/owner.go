// Package owner is the application service as the workspace's owner runs
// it: the one process that holds a workspace's store (Badger lets one
// process open it), its worker pool and its job kernel, and serves the
// service to every other Signet process on its socket (DESIGN.md section 8).
//
// Owner implements app.Service directly; Acquire gives any process the
// workspace's service: this process as the owner, or a client of the owner
// that runs (package api), behind the same interface.
package owner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
	"github.com/signet-dspy/signet/store"
)

// Workspace layout: one Badger database and one log file per workspace,
// and, while an owner runs, its socket and owner.json (package api).
const (
	DBDir   = "db"
	LogFile = "signet.log"
)

// ErrLocked is Badger's directory lock held by another process.
var ErrLocked = errors.New("workspace locked")

// Options say which workspace to own and how to start its pool.
type Options struct {
	Dir     string // the workspace directory
	Create  bool   // create the workspace if it does not exist (init, demo)
	Command string // what this process runs as ("serve", "run", ...), for status
	Version string // Signet's version, for status
	// Python and Workers choose the pool's interpreter and size when this
	// process starts it (the flags of the command that does); 0 workers is
	// the config's, else DefaultWorkers; below 0, none (only with NATS:
	// pools that join serve the queue).
	Python         string
	Workers        int
	DefaultWorkers int
	Concurrency    int // executions at once; 0: the config's
	// WarmLocal starts the local LM server with the pool when the default
	// profile is the local model (a serving owner; see config's
	// owner: warm_local).
	WarmLocal bool
	// Notify, when set, hears what the owner does on its own: recovery of
	// an earlier owner's jobs, waiting for clients before stopping.
	Notify io.Writer
	// Spawn, when set, starts an owner in the background for a process
	// that finds none, before it would become the owner itself: the
	// channel yields nil once that owner listens (or it found another one
	// and left), else why it did not start; then this process owns the
	// workspace itself after all, and says why on Notify.
	Spawn func(ctx context.Context) (<-chan error, error)
	// NATS, when set, puts executions on a NATS JetStream queue that pools
	// on other machines serve too (queue.go).
	NATS *NATSOptions
}

// Owner holds a workspace and implements app.Service over it. Its pool and
// job kernel start with the first request that needs them.
type Owner struct {
	opts Options
	// poolEvery is how often subscribers hear of the workers' load (their
	// states go out as they change); 0 is a second.
	poolEvery time.Duration
	dir       string
	info      api.Owner
	st        *store.Store
	log       *os.File  // the workspace log file
	logw      io.Writer // log, through redact
	// redact removes the config's key values and key shapes from what the
	// owner writes itself (its log, datasets); the rest goes through Env's.
	redact *redact.Redactor
	srv    *api.Server
	ln     *api.Listener
	served chan struct{} // closed when the API server has stopped

	startMu sync.Mutex // serialises the lazy start of env, pools and kernel
	closing bool       // under startMu: nothing starts any more
	// stopping is set as Close begins: a wait it interrupts is not a
	// caller leaving its run.
	stopping atomic.Bool
	env      *Env // under startMu
	kern     atomic.Pointer[jobs.Kernel]
	pool     atomic.Pointer[bridge.Pool]
	lms      atomic.Pointer[LMs] // the environment's, once it exists: status reads its local LM without startMu
	optPool  *bridge.Pool        // under startMu: the optimization worker, started by the first run
	queue    *queue              // under startMu: the NATS queue, when Options.NATS

	// The kernel's event stream exists from the kernel's creation; a
	// subscription made before waits in subs and is joined to it then.
	changes changeFeed // programs and datasets changed
	subMu   sync.Mutex
	events  *jobs.Kernel // under subMu
	subs    map[chan kernelSub]subWants

	indexMu sync.Mutex // one index build or delete at a time: they share indexes/

	leftPending int // executions pending when the store closed, for serve's last words

	idle atomic.Pointer[idleState] // set by IdleExit: a background owner

	authFails authFailures // failed authentications not yet in the audit trail
}

// subWants is what a subscription waiting for the kernel asks of it.
type subWants struct {
	buffer int
	filter jobs.Filter
}

// subscribe subscribes to k as w asks.
func (w subWants) subscribe(k *jobs.Kernel) (<-chan jobs.Event, func()) {
	return k.SubscribeWith(w.buffer, w.filter)
}

type kernelSub struct {
	c    <-chan jobs.Event
	stop func()
}

var _ app.Service = (*Owner)(nil)

// Open opens (creating it if asked) the workspace's store, binds its socket,
// replacing one a dead owner left, and serves the service there. A store
// whose lock another process holds is ErrLocked.
func Open(ctx context.Context, opts Options) (*Owner, error) {
	dir := opts.Dir
	if !opts.Create {
		if _, err := os.Stat(filepath.Join(dir, DBDir)); err != nil {
			return nil, MissingWorkspace(dir)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating workspace %s: %w", dir, err)
	}
	logf, err := OpenLog(filepath.Join(dir, LogFile))
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	// A config that does not load is the first request's error to report;
	// key shapes are redacted meanwhile.
	cfg, _ := config.Load("")
	secrets := Secrets(cfg)
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(dir, DBDir), Log: secrets.Writer(logf)})
	if err != nil {
		logf.Close()
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("workspace %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("opening workspace %s: %w", dir, err)
	}
	sock := api.SocketPath(dir)
	o := &Owner{opts: opts, dir: dir, st: st, log: logf, logw: secrets.Writer(logf), redact: secrets, served: make(chan struct{}), subs: map[chan kernelSub]subWants{},
		info: api.Owner{PID: os.Getpid(), Started: time.Now().UTC(), Workspace: dir, Version: opts.Version, Command: opts.Command, Socket: sock}}
	ln, err := api.Listen(sock, func(err error) { o.logf("api: turned a connection away: %v", err) })
	if err != nil {
		o.closeStore()
		return nil, fmt.Errorf("serving workspace %s: %w", dir, err)
	}
	if err := api.WriteOwner(dir, o.info); err != nil {
		ln.Close()
		os.Remove(sock)
		o.closeStore()
		return nil, err
	}
	o.ln = ln
	o.srv = api.NewServer(o)
	ignoreHangups()
	go func() {
		defer close(o.served)
		if err := o.srv.Serve(ln); err != nil {
			o.logf("api: %v", err)
		}
	}()
	return o, nil
}

// MissingWorkspace is the error for a workspace that was never created.
func MissingWorkspace(dir string) error {
	return app.Errorf(app.CodeNotFound, "workspace %s does not exist: run `signet init` (or `signet --workspace DIR init`) first", dir)
}

// Dir is the workspace directory.
func (o *Owner) Dir() string { return o.dir }

// Info is what owner.json says of this owner.
func (o *Owner) Info() api.Owner { return o.info }

// Clients counts the requests of other processes being served now.
func (o *Owner) Clients() int { return o.srv.Clients() }

// LeftPending is the number of executions left pending when the owner closed.
func (o *Owner) LeftPending() int { return o.leftPending }

// Close ends ownership. Unless forced, it first waits for the requests
// other processes have in flight here (serving meanwhile); ctx ending
// forces. Then the socket goes, so the next process finds no owner and takes
// the lock once it is free; the API stops; the kernel puts what runs back to
// pending; the pools and the store close.
func (o *Owner) Close(ctx context.Context, force bool) {
	o.stopping.Store(true)
	if !force && o.srv.Clients() > 0 {
		// Said only when the wait is noticeable.
		brief, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := o.srv.WaitIdle(brief)
		cancel()
		if err != nil && ctx.Err() == nil {
			if o.opts.Notify != nil {
				fmt.Fprintf(o.opts.Notify, "waiting for %d request(s) of other Signet processes to finish here (ctrl-c interrupts them)\n", o.srv.Clients())
			}
			err = o.srv.WaitIdle(ctx)
		}
		force = err != nil
	}
	// New clients find no owner from here on (and look for the next); the
	// ones that connected already are all served.
	uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := o.ln.Unlink(uctx); err != nil {
		o.logf("api: %v", err)
		os.Remove(o.info.Socket)
	}
	ucancel()
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
	o.closeRunners(sctx)
	o.startMu.Lock()
	e := o.env
	o.startMu.Unlock()
	if e != nil {
		e.Close()
	}
	if n, err := o.st.CountExecutions(sctx, store.ExecQuery{State: model.Pending}); err == nil {
		o.leftPending = n
	}
	o.closeStore()
}

func (o *Owner) closeStore() {
	o.st.Close()
	o.log.Close()
}

// logf notes what went wrong while serving in the workspace log; nobody
// is waiting for those errors on a terminal.
func (o *Owner) logf(format string, args ...any) {
	fmt.Fprintf(o.logw, "%s owner: %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), fmt.Sprintf(format, args...))
}

// Store is the workspace's store, for the commands that work on it below
// the service (backup, the workbench's benchmarks).
func (o *Owner) Store() *store.Store { return o.st }

var hangupsOnce sync.Once

// ignoreHangups keeps an owner serving when its terminal hangs up (SIGHUP)
// or whoever read its stdout or stderr went away (SIGPIPE: the write fails
// with EPIPE instead of killing the process and leaving its socket). The
// signals are handled, not ignored, so the workers it starts get the
// default dispositions back.
func ignoreHangups() {
	hangupsOnce.Do(func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP, syscall.SIGPIPE)
		go drainSignals(c)
	})
}

// drainSignals reads the hangups for as long as the process lives
// (internal/testenv tells the leak check so, by this name).
func drainSignals(c <-chan os.Signal) {
	for range c {
	}
}
