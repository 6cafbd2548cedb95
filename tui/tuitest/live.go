package tuitest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/live"
)

// Executions serves a fixed history, newest first; the cursor is the
// index of the next execution.
type Executions struct {
	Mu        sync.Mutex
	List      []*model.Execution // newest first
	calls     []string           // "state@cursor/limit" of each ListExecutions
	Cancelled []model.ID
	CostCalls int
	Month     float64 // the month's cost, at Now
	CancelErr error
}

func (f *Executions) ListExecutions(_ context.Context, q app.ExecutionQuery) (*app.ExecutionPage, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	state, cursor, limit := q.State, q.Cursor, q.Limit
	f.calls = append(f.calls, fmt.Sprintf("%s@%s/%d", state, cursor, limit))
	var match []*model.Execution
	for _, x := range f.List {
		if state == "" || x.State == state {
			match = append(match, x)
		}
	}
	from := 0
	if cursor != "" {
		from, _ = strconv.Atoi(cursor)
	}
	to := min(from+limit, len(match))
	next := ""
	if to < len(match) {
		next = strconv.Itoa(to)
	}
	return &app.ExecutionPage{Executions: match[from:to], Next: next}, nil
}

func (f *Executions) CancelExecution(_ context.Context, id model.ID) (*model.Execution, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Cancelled = append(f.Cancelled, id)
	if f.CancelErr != nil {
		return nil, f.CancelErr
	}
	for _, x := range f.List {
		if x.ID == id {
			y := *x
			y.Move(model.Cancelled, Now)
			return &y, nil
		}
	}
	return nil, errors.New("not found")
}

// Cost is the workspace's month, what the status bar shows: Month's
// total when q asks for it, nothing of any other month.
func (f *Executions) Cost(_ context.Context, q app.CostQuery) (*app.CostReport, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.CostCalls++
	if q.Month != Now.Format("2006-01") {
		return &app.CostReport{Month: q.Month}, nil
	}
	return &app.CostReport{Month: q.Month, Total: f.Month}, nil
}

func (f *Executions) CallList() []string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Pool records the pool actions.
type Pool struct {
	Mu    sync.Mutex
	Calls []string
	// Status is what Pool answers, Err its error; Asked counts its calls.
	Status *app.PoolStatus
	Err    error
	Asked  int
}

func (f *Pool) record(s string) (*app.PoolStatus, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Calls = append(f.Calls, s)
	return SamplePool(), nil
}

func (f *Pool) RestartWorker(_ context.Context, id int) (*app.PoolStatus, error) {
	return f.record(fmt.Sprint("restart ", id))
}

func (f *Pool) RecycleWorker(_ context.Context, id int) (*app.PoolStatus, error) {
	return f.record(fmt.Sprint("recycle ", id))
}

func (f *Pool) StartPool(context.Context) (*app.PoolStatus, error) { return f.record("start") }

// Pool answers Status, or Err; with neither, nothing (the tests that do
// not set them follow the pool by its events alone).
func (f *Pool) Pool(context.Context) (*app.PoolStatus, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Asked++
	return f.Status, f.Err
}

// NoStream is an event source without a stream: the feed ends at once,
// and the tests hand the live messages to Update themselves.
type NoStream struct{}

func (NoStream) Subscribe(context.Context) (<-chan app.Event, error) {
	return nil, errors.ErrUnsupported
}

// exec makes an execution created i minutes before Now.
func Exec(i int, program string, state model.RunState) *model.Execution {
	at := Now.Add(-time.Duration(i) * time.Minute)
	x := &model.Execution{ID: model.NewIDAt(at), Program: program, Version: 1 + i%3, State: model.Pending, CreatedAt: at}
	if state == model.Pending {
		return x
	}
	x.Move(model.Running, at.Add(time.Second))
	switch state {
	case model.Completed:
		x.Move(model.Completed, at.Add(2500*time.Millisecond))
		x.Usage = map[string]model.Usage{"openai/gpt-4o-mini": {Calls: 1, PromptTokens: 120 + i, CompletionTokens: 14}}
		x.Cost = 0.000042 * float64(1+i)
	case model.Failed:
		x.Move(model.Failed, at.Add(4*time.Second))
		x.ErrorCode, x.Error = "lm_error", "rate limited by the provider\nretry later"
	case model.Cancelled:
		x.Move(model.Cancelled, at.Add(3*time.Second))
	}
	return x
}

func SampleExecutions() []*model.Execution {
	progs := []string{"qa", "rag-support", "summarize", "classify_intent"}
	states := []model.RunState{model.Running, model.Completed, model.Completed, model.Failed, model.Completed, model.Pending, model.Cancelled, model.Completed}
	var xs []*model.Execution
	for i := range 40 {
		xs = append(xs, Exec(i*7+1, progs[i%len(progs)], states[i%len(states)]))
	}
	return xs
}

// SamplePool is a pool of four workers as reported at PoolAt.
func SamplePool() *app.PoolStatus {
	return &app.PoolStatus{Engine: "running", Pool: []app.Worker{
		{ID: 1, State: "ready", PID: 41201, Uptime: (3*time.Hour + 12*time.Minute).Seconds(), Served: 1834, Restarts: 0},
		{ID: 2, State: "busy", PID: 41202, Uptime: (3*time.Hour + 12*time.Minute).Seconds(), Served: 1790, Inflight: 2, Current: "execute #1893"},
		{ID: 3, State: "restarting", Restarts: 2, LastError: "worker died: signal: killed\n(stderr tail)"},
		{ID: 4, State: "ready", PID: 41977, Uptime: 47, Served: 12, Restarts: 1, LastError: "recycled: 512 MiB resident"},
	}}
}

// SampleBeyond is SamplePool with what the owner reports beyond its own
// pool: two endpoints of an LM profile's pool (one ejected), the NATS queue
// it runs, and the pools serving it: its own, a ready remote one and a lost
// one.
func SampleBeyond() *app.PoolStatus {
	ps := SamplePool()
	ps.LMEndpoints = []app.LMEndpoint{
		{Profile: "team", APIBase: "http://gpu-a.lan:8000/v1", State: "healthy", Workers: 4, Inflight: 2, Calls: 1520,
			PromptTokens: 912_400, CompletionTokens: 48_210, Latency: 0.412},
		{Profile: "team", APIBase: "http://gpu-b.lan:8000/v1", State: "ejected", Workers: 4, Ejected: 2, Calls: 301, Errors: 17,
			RateLimited: 5, PromptTokens: 180_600, CompletionTokens: 9_030, Latency: 1.93, LastError: "APIConnectionError: connection refused\n(traceback)"},
	}
	ps.NATS = &app.NATS{URL: "nats://10.0.0.2:4222", Embedded: true, Stream: "SIGNET_JOBS", Waiting: 3, AckWait: 30, Redelivered: 1}
	ps.Remote = []app.RemotePool{
		{Name: "local", Host: "ada-laptop", PID: 40001, State: "ready", LastSeen: 1, Capacity: 4, Running: 1, Served: 3636, Workers: ps.Pool},
		{Name: "gpu-box", Host: "gpu-box.lan", PID: 7312, State: "ready", LastSeen: 2, Capacity: 2, Running: 1, Served: 212, Workers: []app.Worker{
			{ID: 1, State: "busy", PID: 7320, Uptime: 5400, Served: 120, Inflight: 1, Current: "execute #1901"},
			{ID: 2, State: "ready", PID: 7321, Uptime: 5400, Served: 92},
		}},
		{Name: "old-mac", Host: "old-mac.lan", PID: 991, State: "lost", LastSeen: 95, Capacity: 1, Served: 7, Workers: []app.Worker{
			{ID: 1, State: "busy", PID: 995, Uptime: 600, Served: 7, Inflight: 1, Current: "execute #1899"},
		}},
	}
	return ps
}

// PoolAt is when SamplePool was reported.
var PoolAt = Now.Add(-5 * time.Second)

func Connected() *live.Conn { return &live.Conn{Up: true, Session: 1} }
