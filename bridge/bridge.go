// Package bridge runs DSPy in a supervised pool of long-lived Python worker
// processes and talks to them over the line protocol of docs/protocol.md
// (framing in bridge/wire). It imports only model: cmd wires it to the store
// and the TUI.
package bridge

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"time"

	"github.com/signet-dspy/signet/model/redact"
)

// Config says how to run the workers. Only Python is required.
type Config struct {
	Python       string        // interpreter path (required)
	Name         string        // the pool's name in ExecuteResult.Worker, default "local"
	Workers      int           // default max(2, runtime.NumCPU())
	Threads      int           // concurrent requests per worker (SIGNET_WORKER_THREADS), default 8
	Workspace    string        // DSPy's cache goes to <Workspace>/dspy-cache (SIGNET_DSPY_CACHEDIR)
	Env          []string      // extra environment (the rest is inherited, so API key variables reach workers)
	Log          io.Writer     // worker stderr lines and pool events, prefixed with worker id and pid; never the terminal
	StartTimeout time.Duration // handshake, default 60s (importing dspy takes seconds)
	PingInterval time.Duration // health pings, default 10s
	PingTimeout  time.Duration // a ping unanswered this long kills the worker, default 5s
	MaxRequests  int           // recycle a worker after this many requests (0 = never)
	MaxRSS       int64         // kill a worker above this resident size in bytes (0 = never); its requests fail CodeWorkerMemory
	// MemoryInterval is how often each worker's resident size is sampled
	// against MaxRSS (default 1s).
	MemoryInterval time.Duration
	SpanPayload    int64         // longest payload field a span keeps, in bytes (SIGNET_SPAN_PAYLOAD); 0: the worker's default
	CancelGrace    time.Duration // after sending cancel, wait this long before killing the process group (default 3s)
	WorkerDir      string        // PYTHONPATH dir holding signet_worker (default: the embedded copy, see WorkerDir)
	// Redact removes secrets from every frame a worker sends and every line
	// of its stderr, before anything reads them; its variables go to the
	// workers (SIGNET_SECRET_ENVS), which redact their stderr and error
	// messages with them; their frames are redacted here only. nil: key
	// shapes only.
	Redact *redact.Redactor
	// NoZygote starts each worker as its own `python -m signet_worker`
	// rather than forking it from a zygote that has imported DSPy once
	// (SIGNET_ZYGOTE=0 says the same; macOS always does).
	NoZygote bool
	// PreloadLiteLLM has the zygote import LiteLLM too, for pools whose LM
	// profiles go through it: each worker's first call then skips the import.
	PreloadLiteLLM bool

	backoff time.Duration // first restart delay; tests shorten it
	clock   clock         // tests hold or fire the supervision's timers; nil: the real clock
}

// Defaults that Config leaves to us.
const (
	DefaultThreads      = 8
	DefaultStartTimeout = 60 * time.Second
	DefaultPingInterval = 10 * time.Second
	DefaultPingTimeout  = 5 * time.Second
	DefaultCancelGrace  = 3 * time.Second
	// DefaultMemoryInterval: a worker allocating fast can grow by a few
	// hundred MiB within one sample, so the cap holds to about that.
	DefaultMemoryInterval = time.Second
	// shutdownGrace bounds how long a worker may take to exit after a
	// shutdown frame when recycling, or when Close's context has no deadline.
	shutdownGrace = 10 * time.Second
)

func (c Config) withDefaults() (Config, error) {
	if c.Python == "" {
		return c, errors.New("bridge: Config.Python (the interpreter path) is required")
	}
	if c.Workers <= 0 {
		c.Workers = max(2, runtime.NumCPU())
	}
	if c.Name == "" {
		c.Name = "local"
	}
	if c.Threads <= 0 {
		c.Threads = DefaultThreads
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.backoff <= 0 {
		c.backoff = backoffBase
	}
	if c.MemoryInterval <= 0 {
		c.MemoryInterval = DefaultMemoryInterval
	}
	if c.CancelGrace <= 0 {
		c.CancelGrace = DefaultCancelGrace
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	return c, nil
}

// Error codes made on the Go side; the others come from the worker's error
// frames (docs/protocol.md, "Errors").
const (
	CodeWorkerDied = "worker_died" // the worker exited mid-request (retryable)
	CodeProtocol   = "protocol"    // handshake or framing failure (retryable)
	CodeCancelled  = "cancelled"   // the caller's context was cancelled
	CodeTimeout    = "timeout"     // the caller's context deadline passed (retryable), or the request's limit (not)
	// CodeWorkerMemory: the worker went over MaxRSS and was killed with
	// its requests (retryable: which of them grew it is unknown).
	CodeWorkerMemory = "worker_memory"
)

// ErrClosed is returned by calls on a closed pool.
var ErrClosed = errors.New("bridge: pool is closed")

// Error is a failed call: from a worker's error frame or made on the Go side.
type Error struct {
	Code      string
	Message   string
	Retryable bool
	Detail    map[string]any
	Worker    int    // the worker's id in the pool; 0 when no worker took the call
	Pool      string // the pool's name (Config.Name), set by Execute with Worker
	PID       int    // the worker's process id
	Method    string // the request's method, when the error is about one request
	Request   uint64 // the request's id on that worker
	Err       error  // the cause, such as context.DeadlineExceeded or a *wire.DecodeError
	// Sole, with CodeWorkerMemory: the request was the only one its worker
	// ran, so it is what grew the worker.
	Sole bool
}

func (e *Error) Error() string {
	s := ""
	if e.Worker != 0 {
		s = fmt.Sprintf("worker %d (pid %d): ", e.Worker, e.PID)
	}
	if e.Method != "" {
		s += fmt.Sprintf("%s #%d: ", e.Method, e.Request)
	}
	return s + e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WorkerName is "POOL/ID" of the worker that failed the call, as
// ExecuteResult.Worker names one; "" when no worker of a named pool took it.
func (e *Error) WorkerName() string { return workerName(e.Pool, e.Worker) }

// workerName is "POOL/SLOT", or "" without both.
func workerName(pool string, slot int) string {
	if slot == 0 || pool == "" {
		return ""
	}
	return pool + "/" + strconv.Itoa(slot)
}

// IsRetryable says whether err is an *Error that a retry may cure.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// State is where a worker slot is in its life.
type State string

const (
	StateStarting   State = "starting"   // first start, waiting for the hello
	StateReady      State = "ready"      // running, idle
	StateBusy       State = "busy"       // running, with requests in flight
	StateDraining   State = "draining"   // being recycled: takes no new work, finishing what it has
	StateRestarting State = "restarting" // between a process and its replacement (backoff, handshake)
	StateFailed     State = "failed"     // too many quick failures: given up until Restart
	StateStopped    State = "stopped"    // the pool is closed
	StatePriming    State = "priming"    // the local LM only: ready, and being sent the prompt most likely to come first
)

// WorkerStatus is one worker slot as Status sees it.
type WorkerStatus struct {
	ID        int
	State     State
	PID       int       // 0 when no process runs
	Started   time.Time // when the current process said hello; uptime is time.Since(Started)
	Served    int       // requests the current process has ended
	Restarts  int       // processes this slot has had after its first
	Inflight  int
	Current   *Job // one running request, nil when idle
	LastError string
	DSPy      string // versions the worker stated in its hello
	Python    string
}

// Job names one running request.
type Job struct {
	Method  string
	Request uint64
	Since   time.Time
}

func (j *Job) String() string { return fmt.Sprintf("%s #%d", j.Method, j.Request) }
