// Package remote spreads the job kernel's executions over pools of Python
// workers on other machines through NATS JetStream (issue 21,
// docs/scale.md).
//
// The owner's Dispatcher is the kernel's Executor: each execution attempt
// becomes one message on a JetStream work-queue stream (at most one
// consumer per message, removed once acked). Pools (`signet worker --join`,
// and the owner's own workers when it runs any) pull from the stream's one
// durable consumer as they have free capacity, and for each delivery:
//
//  1. ask the owner whether to run it (start.<key>): the owner says "go"
//     to the delivery it is waiting for and "drop" to anything else (a job
//     it no longer waits for: cancelled, already ended, from an owner that
//     restarted), so a result is applied at most once;
//  2. run it on their bridge.Pool, sending spans, budget reservations (a
//     request the owner answers, the kernel's one gate), settlements and
//     the result on out.<key>, in order, from one connection;
//  3. ack the message once the owner has answered the result, and meanwhile
//     say "in progress" every third of the ack wait.
//
// A pool killed mid-job stops saying "in progress": JetStream delivers the
// message again after the ack wait, to whichever pool pulls next, and the
// owner tells that delivery to go, ends the spans the lost one left open
// (their cost unknown: the provider may have billed them) and from then on
// ignores the lost one. Pools announce themselves on pools every second
// (capacity, running, their workers); the owner sets the kernel's
// concurrency to the capacity of the pools it hears from.
package remote

import (
	"encoding/json"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// Names on the NATS server: one workspace per account (or server).
const (
	Stream        = "SIGNET_JOBS" // the work-queue stream of execution jobs
	Consumer      = "workers"     // its durable pull consumer, shared by every pool
	CodeBucket    = "SIGNET_CODE" // object store of shipped user code, by SHA-256
	jobsSubject   = "signet.jobs"
	startPrefix   = "signet.start."  // + key: a pool asks whether to run a delivery
	outPrefix     = "signet.out."    // + key: spans, reserve, settle, result
	cancelPrefix  = "signet.cancel." // + key: the owner stopped waiting
	poolsSubject  = "signet.pools"   // heartbeats
	flowSubject   = "signet.flow"    // a custom module's data flow, asked of any pool
	poolsQueue    = "pools"          // the queue group that answers flow
	maxDeliveries = 3                // deliveries of one attempt before the kernel is told its workers died
)

// Defaults.
const (
	DefaultAckWait   = 30 * time.Second
	DefaultHeartbeat = time.Second
	// lostAfter heartbeats missed, a pool is shown lost (its capacity no
	// longer counted); forgetAfter, it leaves the list.
	lostAfter   = 3
	forgetAfter = 60
)

// CodeMode says how the user code a program names (custom modules, ReAct
// tools, metrics) reaches remote workers: explicitly, one or the other.
type CodeMode string

const (
	// CodeShip sends each file a program names with its jobs, by content
	// (the CodeBucket object store), so pools need nothing but Signet and
	// DSPy. Only the named file goes: code that imports its siblings needs
	// CodeRequire.
	CodeShip CodeMode = "ship"
	// CodeRequire sends only the references: each pool resolves them
	// against its own code directory (signet worker --code-dir).
	CodeRequire CodeMode = "require"
)

// ParseCodeMode reads --nats-code.
func ParseCodeMode(s string) (CodeMode, bool) {
	switch m := CodeMode(s); m {
	case CodeShip, CodeRequire:
		return m, true
	}
	return "", false
}

// job is one execution attempt as the stream carries it: what
// bridge.ExecuteRequest says, but the Gate (a flag: the pool asks the
// owner) and the indexes (they live in the owner's workspace: such runs
// stay on its own workers).
type job struct {
	Key       string                   `json:"key"`
	Program   json.RawMessage          `json:"program"`
	Inputs    map[string]any           `json:"inputs"`
	LM        bridge.LMSpec            `json:"lm"`
	ModuleLMs map[string]bridge.LMSpec `json:"module_lms,omitempty"`
	State     json.RawMessage          `json:"state,omitempty"`
	Trace     bool                     `json:"trace"`
	Metric    *bridge.MetricSpec       `json:"metric,omitempty"`
	Labels    map[string]any           `json:"labels,omitempty"`
	Metrics   []bridge.MetricSpec      `json:"metrics,omitempty"`
	TimeoutMS int64                    `json:"timeout_ms,omitempty"`
	Gate      bool                     `json:"gate,omitempty"`
	// Code maps each user-code path the program and metrics name (as
	// written) to the SHA-256 of its bytes in CodeBucket; empty under
	// CodeRequire.
	Code      map[string]string `json:"code,omitempty"`
	AckWaitMS int64             `json:"ack_wait_ms"`
}

// start is a pool's question before it runs a delivery; verdict the answer.
type start struct {
	Pool     string `json:"pool"`
	Delivery uint64 `json:"delivery"`
}

type verdict struct {
	Go bool `json:"go"`
	// Superseded: a later delivery of the job runs now; the pool must not
	// ack (that would take the job from under it), only let it go.
	Superseded bool `json:"superseded,omitempty"`
}

// Kinds of out message.
const (
	outSpan    = "span"
	outReserve = "reserve"
	outSettle  = "settle"
	outResult  = "result"
)

// out is one message of a delivery to the owner.
type out struct {
	T        string      `json:"t"`
	Delivery uint64      `json:"d"`
	Span     *model.Span `json:"span,omitempty"`
	Call     string      `json:"call,omitempty"`
	Estimate float64     `json:"estimate,omitempty"`
	Cost     float64     `json:"cost,omitempty"`
	Known    bool        `json:"known,omitempty"`
	// Result is the pool's own, as its workers gave it (Go field names on
	// the wire: one type, so a field added to it travels too).
	Result *bridge.ExecuteResult `json:"result,omitempty"`
	Error  *wireError            `json:"error,omitempty"`
}

// admit answers a reserve.
type admit struct {
	Admit   bool   `json:"admit"`
	Message string `json:"message,omitempty"`
}

// wireError is a *bridge.Error on the wire.
type wireError struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Retryable bool           `json:"retryable,omitempty"`
	Detail    map[string]any `json:"detail,omitempty"`
	Pool      string         `json:"pool,omitempty"`
	Worker    int            `json:"worker,omitempty"`
	PID       int            `json:"pid,omitempty"`
}

// Heartbeat is what a pool says of itself every interval.
type Heartbeat struct {
	Name     string                `json:"name"`
	Host     string                `json:"host"`
	PID      int                   `json:"pid"`
	Started  time.Time             `json:"started"`
	EveryMS  int64                 `json:"every_ms"`
	Capacity int                   `json:"capacity"`
	Running  int                   `json:"running"`
	Served   int                   `json:"served"`
	Workers  []bridge.WorkerStatus `json:"workers"`
	// Leaving: the pool stops (its capacity goes at once, not after the
	// missed heartbeats).
	Leaving bool `json:"leaving,omitempty"`
}

// flowAsk asks a pool for a program's data flow; flowAnswer is its answer.
type flowAsk struct {
	Program json.RawMessage   `json:"program"`
	Code    map[string]string `json:"code,omitempty"`
}

type flowAnswer struct {
	Flow  *model.Flow `json:"flow,omitempty"`
	Error string      `json:"error,omitempty"`
}
