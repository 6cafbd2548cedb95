// Package api is the local JSON API of a workspace's owner (DESIGN.md
// section 8): HTTP over a unix socket inside the workspace, mode 0600. The
// owner is the one process holding the workspace's store; every other Signet
// process on that workspace is its client, either by forwarding its command
// line (POST /v1/cli, so that output and exit codes are the owner's own) or
// through the resource routes and the event stream. docs/api.md is the
// reference; this file holds the wire types both sides share.
package api

import (
	"errors"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/store"
)

// Version is the API version: every route is under /v1/.
const Version = "v1"

// Status is GET /v1/status: who owns the workspace and how busy it is.
type Status struct {
	API       string    `json:"api"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Uptime    float64   `json:"uptime_s"`
	Workspace string    `json:"workspace"`
	Version   string    `json:"version"`
	Command   string    `json:"command"` // what the owner was started as: "serve", "run", ...
	Engine    string    `json:"engine"`  // "running", or "idle" until something needs the workers
	Pool      []Worker  `json:"pool"`
	Queue     Queue     `json:"queue"`
	Clients   int       `json:"clients"` // commands of other processes running in the owner now
}

// Queue counts the executions that are not finished.
type Queue struct {
	Pending int `json:"pending"`
	Running int `json:"running"`
	Depth   int `json:"depth"` // pending + running
}

// Worker is one slot of the worker pool.
type Worker struct {
	ID        int     `json:"id"`
	State     string  `json:"state"`
	PID       int     `json:"pid,omitempty"`
	Uptime    float64 `json:"uptime_s,omitempty"`
	Served    int     `json:"served"`
	Restarts  int     `json:"restarts"`
	Inflight  int     `json:"inflight"`
	Current   string  `json:"current,omitempty"`
	LastError string  `json:"last_error,omitempty"`
	DSPy      string  `json:"dspy,omitempty"`
	Python    string  `json:"python,omitempty"`
}

// Workers converts the pool's status for the wire.
func Workers(ws []bridge.WorkerStatus) []Worker {
	out := make([]Worker, 0, len(ws))
	for _, w := range ws {
		x := Worker{ID: w.ID, State: string(w.State), PID: w.PID, Served: w.Served, Restarts: w.Restarts,
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

// CLIRequest is POST /v1/cli: a command line to run in the owner as if it
// were run in the client. API keys are never part of it: runs use the
// owner's environment.
type CLIRequest struct {
	Args      []string          `json:"args"`
	Cwd       string            `json:"cwd"`       // relative paths in args resolve here
	Workspace string            `json:"workspace"` // as the client resolved it
	Env       map[string]string `json:"env,omitempty"`
	Stdin     []byte            `json:"stdin,omitempty"` // for `-f -`; base64 in JSON
	StdoutTTY bool              `json:"stdout_tty,omitempty"`
	StderrTTY bool              `json:"stderr_tty,omitempty"` // progress bars are drawn only on a terminal
}

// Frame is one line of the POST /v1/cli response: output on a stream, or
// the exit code, which is the last line.
type Frame struct {
	Stream string `json:"stream,omitempty"` // "stdout" or "stderr"
	Data   string `json:"data,omitempty"`   // the bytes, when they are valid UTF-8
	Bytes  []byte `json:"bytes,omitempty"`  // else the bytes in base64
	Exit   *int   `json:"exit,omitempty"`
}

// Event is one line of GET /v1/events.
type Event struct {
	Kind      string           `json:"kind"` // EventExecution, EventSpan, EventPool
	Execution *model.Execution `json:"execution,omitempty"`
	Span      *model.Span      `json:"span,omitempty"`
	Pool      []Worker         `json:"pool,omitempty"`
	Engine    string           `json:"engine,omitempty"` // with EventPool
	// Optimization is a run's record with EventOptimization; Progress is
	// set on a progress report (droppable), nil on a state change.
	Optimization *model.Optimization `json:"optimization,omitempty"`
	Progress     *model.OptProgress  `json:"progress,omitempty"`
	// Evaluation is an evaluation's record with EventEvaluation.
	Evaluation *model.Evaluation `json:"evaluation,omitempty"`
}

// Event kinds.
const (
	EventExecution = engine.EventExecution // a state change; never dropped
	EventSpan      = engine.EventSpan      // a span started or ended; dropped when the client is far behind
	EventPool      = "pool"                // the pool changed (sent first, then when it changes)
	// EventOptimization is an optimization run's state change (never
	// dropped) or progress report (dropped when the client is far behind).
	EventOptimization = engine.EventOptimization
	// EventEvaluation is an evaluation's record, sent as each example ends
	// and at each state change; never dropped.
	EventEvaluation = engine.EventEvaluation
)

// SubmitRequest is POST /v1/executions.
type SubmitRequest struct {
	Program string         `json:"program"`
	Version int            `json:"version,omitempty"` // 0 = latest
	Inputs  map[string]any `json:"inputs"`
	LM      string         `json:"lm,omitempty"`
	NoCache bool           `json:"no_cache,omitempty"`
	Wait    bool           `json:"wait,omitempty"` // answer once the execution has ended
	// Variant is an optional unsaved program to run instead of the stored
	// version (a prompt iteration or a module replay): named like Program,
	// derived from Version, recorded on the execution, never cached.
	Variant *model.Program `json:"variant,omitempty"`
}

// ExecutionPage is GET /v1/executions.
type ExecutionPage struct {
	Executions []*model.Execution `json:"executions"`
	Next       string             `json:"next_cursor,omitempty"`
}

// SpanPage is GET /v1/executions/{id}/spans.
type SpanPage struct {
	Spans []model.Span `json:"spans"`
	Next  uint64       `json:"next_after,omitempty"` // pass as after= for the next page; 0 at the end
}

// ExamplePage is GET /v1/datasets/{name}/examples.
type ExamplePage struct {
	Examples []*model.Example `json:"examples"`
	Next     string           `json:"next_cursor,omitempty"`
}

// Cost is GET /v1/cost.
type Cost struct {
	Month    string             `json:"month,omitempty"` // "" = every month
	Programs []CostRow          `json:"programs"`
	Total    float64            `json:"total"`
	Budgets  map[string]float64 `json:"budgets,omitempty"` // by program; the workspace's under ""
}

// CostRow is one program in one month.
type CostRow struct {
	Program    string      `json:"program"`
	Month      string      `json:"month"`
	Executions int         `json:"executions"`
	Usage      model.Usage `json:"usage"`
	Cost       float64     `json:"cost"`
}

// Error codes of ErrorBody.
const (
	CodeNotFound    = "not_found"
	CodeExists      = "exists"
	CodeBadRequest  = "bad_request"
	CodeFinished    = "finished"
	CodeBudget      = "budget"
	CodeRegressed   = "regressed"   // a promote without force of a result that scored below its baseline
	CodeUnavailable = "unavailable" // the owner is stopping
	CodeInternal    = "internal"
)

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error is an error response as the client sees it. Its message is the
// owner's error text, so a client prints what the owner would have; Is maps
// codes back to the sentinel errors of store and engine.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is lets errors.Is(err, store.ErrNotFound) and the like work across the socket.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeNotFound:
		return target == store.ErrNotFound
	case CodeExists:
		return target == store.ErrExists
	case CodeFinished:
		return target == engine.ErrFinished
	case CodeUnavailable:
		return target == engine.ErrClosed
	case CodeRegressed:
		return target == optimize.ErrRegressed
	}
	return false
}

// ErrNoOwner says that a request could not connect to an owner: no socket
// file, a file left by an owner that is gone (connection refused), or
// another failure to connect. The request did not run.
var ErrNoOwner = errors.New("no owner answers on the socket")
