package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/bridge/wire"
)

// errGone says a request was not sent because its worker is dead; the pool
// may safely send it to another worker.
var errGone = errors.New("worker is gone")

// proc is one worker process: a child whose stdout carries the protocol.
type proc struct {
	*child
	pool *Pool
	slot int

	wmu    sync.Mutex // one writer of stdin at a time: a frame is one write
	nextID atomic.Uint64

	hello   wire.Hello
	threads int
	started time.Time
	helloCh chan helloMsg // the reader's first frame, sent once

	mu       sync.Mutex
	pending  map[uint64]*call
	dead     bool   // pending is closed: the process has been reaped
	protoErr error  // the framing failure that ended it
	memErr   string // why it was killed for its memory
	memSole  bool   // it then ran one request
	deathErr *Error

	// Guarded by Pool.mu.
	inflight int  // requests sent (not control) that the worker has not ended
	assigned int  // requests ever dispatched here, for MaxRequests
	served   int  // requests the worker ended
	gone     bool // died: take no work, ignore releases
}

type helloMsg struct {
	hello wire.Hello
	err   error
}

// call is one request waiting for its end. Events queue here and are
// handed to onEvent on the caller's goroutine, so a slow callback never
// stalls the reader (and with it every other request of the worker).
type call struct {
	id      uint64
	method  string
	control bool // ping, cancel, shutdown: answered at once, not counted as work
	onEvent func(wire.Event)
	start   time.Time

	notify chan struct{} // cap 1: events are queued
	done   chan struct{} // closed when result or err is set

	mu        sync.Mutex
	queue     []wire.Event
	abandoned bool
	result    json.RawMessage
	err       error
}

func newCall(id uint64, method string, control bool, onEvent func(wire.Event)) *call {
	return &call{id: id, method: method, control: control, onEvent: onEvent, start: time.Now(),
		notify: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *call) push(e wire.Event) {
	c.mu.Lock()
	if c.abandoned || c.onEvent == nil {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, e)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *call) finish(result json.RawMessage, err error) {
	c.mu.Lock()
	c.result, c.err = result, err
	c.mu.Unlock()
	close(c.done)
}

// deliver hands queued events to onEvent; only the waiting goroutine calls it.
func (c *call) deliver() {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, e := range q {
		c.onEvent(e)
	}
}

func (c *call) abandon() {
	c.mu.Lock()
	c.abandoned = true
	c.queue = nil
	c.mu.Unlock()
}

// spawn starts one worker process and waits for its hello.
func (p *Pool) spawn(ctx context.Context, slot int) (*proc, error) {
	begin := time.Now()
	pr := &proc{pool: p, slot: slot, helloCh: make(chan helloMsg, 1), pending: map[uint64]*call{}}
	pr.child = newChild(childSpec{
		path: p.cfg.Python, args: []string{"-m", "signet_worker"}, env: p.env, stdin: true,
		stdout: pr.readLoop,
		line: func(s string) bool {
			p.logf(slot, pr.pid, "stderr: %s", s)
			return true
		},
		redact: p.cfg.Redact,
		logf:   func(format string, args ...any) { p.logf(slot, pr.pid, format, args...) },
		exited: pr.die,
	})
	how := "started " + p.cfg.Python + " -m signet_worker"
	err := errNoZygote
	if z := p.zygote(); z != nil {
		if err = pr.start(z); err != nil {
			p.logf(slot, 0, "%v; starting it the plain way", err)
		} else {
			how = fmt.Sprintf("forked from the zygote (pid %d)", z.pid)
		}
	}
	if err != nil {
		if err := pr.start(p.forker); err != nil {
			return nil, fmt.Errorf("worker %d: %w", slot, err)
		}
	}
	p.logf(slot, pr.pid, "%s", how)

	timer := time.NewTimer(p.cfg.StartTimeout)
	defer timer.Stop()
	fail := func(e *Error) (*proc, error) {
		pr.kill("handshake failed: "+e.Message, true)
		<-pr.exited
		if tail := pr.tail.last(5); tail != "" && e.Detail == nil {
			e.Message += "; its last stderr lines:\n" + tail
			e.Detail = map[string]any{"stderr": pr.tail.last(stderrTail)}
		}
		p.logf(slot, pr.pid, "%s", e.Message)
		return nil, e
	}
	perr := func(format string, args ...any) *Error {
		return &Error{Code: CodeProtocol, Retryable: true, Worker: slot, PID: pr.pid, Message: fmt.Sprintf(format, args...)}
	}
	var m helloMsg
	select {
	case m = <-pr.helloCh:
	case <-pr.exited:
		select {
		case m = <-pr.helloCh: // it said hello and exited; judge the hello first
			if m.err == nil && m.hello.Protocol == wire.Protocol {
				return fail(perr("exited right after its hello (%s)", pr.exitText()))
			}
		default:
			return fail(perr("exited before its hello (%s)", pr.exitText()))
		}
	case <-timer.C:
		return fail(perr("no hello within %s (start timeout)", p.cfg.StartTimeout))
	case <-ctx.Done():
		e := perr("start abandoned: %v", ctx.Err())
		e.Err = ctx.Err()
		return fail(e)
	}
	if m.err != nil {
		e := perr("bad hello: %v", m.err)
		e.Err = m.err
		return fail(e)
	}
	if m.hello.Protocol != wire.Protocol {
		e := perr("protocol version mismatch: the worker speaks protocol %d, this signet speaks protocol %d (worker package in %s)",
			m.hello.Protocol, wire.Protocol, p.dir)
		e.Retryable = false
		e.Detail = map[string]any{"worker_protocol": m.hello.Protocol, "protocol": wire.Protocol}
		return fail(e)
	}
	pr.hello = m.hello
	pr.threads = p.cfg.Threads
	if m.hello.Threads > 0 && m.hello.Threads < pr.threads {
		pr.threads = m.hello.Threads
	}
	pr.started = time.Now()
	p.logf(slot, pr.pid, "ready in %s: protocol %d, dspy %s, python %s, %d threads",
		time.Since(begin).Round(time.Millisecond), m.hello.Protocol, m.hello.DSPy, m.hello.Python, m.hello.Threads)
	return pr, nil
}

// readLoop decodes the protocol stream until it ends or breaks.
func (pr *proc) readLoop(stdout io.Reader) {
	r := wire.NewReader(stdout)
	greeted := false
	for {
		line, err := r.ReadLine()
		if err != nil {
			// A clean end, or a line cut by the process dying, is the
			// waiter's to explain; anything else breaks the protocol.
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, os.ErrClosed) {
				pr.breakProtocol(err)
			}
			return
		}
		// Everything a worker says passes here, and is redacted here only:
		// the worker leaves its frames to this one pass (docs/protocol.md).
		f, err := wire.Decode(pr.pool.cfg.Redact.Bytes(line))
		if !greeted {
			// The handshake judges the first line, whatever it is.
			greeted = true
			var h wire.Hello
			if err == nil {
				h, err = wire.DecodeHello(f)
			}
			pr.helloCh <- helloMsg{h, err}
			if err != nil {
				return
			}
			continue
		}
		if err != nil {
			pr.breakProtocol(err)
			return
		}
		if err := pr.route(f); err != nil {
			pr.breakProtocol(err)
			return
		}
	}
}

// route hands a frame to the call it belongs to.
func (pr *proc) route(f wire.Frame) error {
	pr.mu.Lock()
	c, ok := pr.pending[f.ID]
	if !ok {
		pr.mu.Unlock()
		if f.ID == 0 {
			return errors.New("a second hello")
		}
		return fmt.Errorf("%s frame for request %d, which is not running", f.Kind, f.ID)
	}
	if f.Kind == wire.KindEvent {
		pr.mu.Unlock()
		c.push(f.AsEvent())
		return nil
	}
	delete(pr.pending, f.ID)
	pr.mu.Unlock()
	if !c.control {
		pr.pool.requestEnded(pr)
	}
	if f.Kind == wire.KindResult {
		c.finish(f.Result, nil)
		return nil
	}
	c.finish(nil, &Error{Code: f.Error.Code, Message: f.Error.Message, Retryable: f.Error.Retryable, Detail: f.Error.Detail,
		Worker: pr.slot, PID: pr.pid, Method: c.method, Request: c.id})
	return nil
}

// die fails every pending call with the reason the process ended.
func (pr *proc) die(werr error) {
	pr.mu.Lock()
	e := &Error{Code: CodeWorkerDied, Retryable: true, Worker: pr.slot, PID: pr.pid, Err: werr}
	if pr.protoErr != nil {
		e.Code, e.Err = CodeProtocol, pr.protoErr
		e.Message = "broke the protocol: " + pr.protoErr.Error()
	} else if pr.memErr != "" {
		e.Code, e.Message = CodeWorkerMemory, "killed: "+pr.memErr
		e.Sole = pr.memSole
	} else {
		e.Message = pr.endText()
	}
	if tail := pr.tail.last(stderrTail); tail != "" {
		e.Detail = map[string]any{"stderr": tail}
	}
	pr.dead = true
	pr.deathErr = e
	pending := pr.pending
	pr.pending = nil
	pr.mu.Unlock()

	pr.pool.procDied(pr)
	pr.pool.logf(pr.slot, pr.pid, "%s", e.Message)
	for _, c := range pending {
		ce := *e
		ce.Method, ce.Request = c.method, c.id
		c.finish(nil, &ce)
	}
}

// overMemory kills a worker over the memory cap; its requests fail with
// CodeWorkerMemory.
func (pr *proc) overMemory(why string, inflight int) {
	pr.mu.Lock()
	pr.memErr, pr.memSole = why, inflight == 1 // before the kill: its death reads them
	pr.mu.Unlock()
	// Over the cap with nothing to run, the cap is below what a worker
	// needs: that counts against the slot, so that the restarts back off
	// and end.
	failure := inflight == 0
	if !pr.kill(why, failure) {
		pr.mu.Lock()
		pr.memErr = "" // killed for another reason first
		pr.mu.Unlock()
	}
}

// breakProtocol kills a worker whose stream is not the protocol. The
// waiter reads protoErr once the reader (this caller) has returned.
func (pr *proc) breakProtocol(err error) {
	pr.pool.logf(pr.slot, pr.pid, "broke the protocol: %v", err)
	if pr.kill("broke the protocol", true) {
		pr.mu.Lock()
		pr.protoErr = err
		pr.mu.Unlock()
	}
}

// send writes a request and registers its call; the caller waits on it.
func (pr *proc) send(method string, params any, control bool, onEvent func(wire.Event)) (*call, error) {
	id := pr.nextID.Add(1)
	line, err := wire.EncodeRequest(id, method, params)
	if err != nil {
		return nil, err
	}
	c := newCall(id, method, control, onEvent)
	pr.mu.Lock()
	if pr.dead {
		pr.mu.Unlock()
		return nil, errGone
	}
	pr.pending[id] = c
	pr.mu.Unlock()
	pr.wmu.Lock()
	_, err = pr.stdin.Write(line)
	pr.wmu.Unlock()
	if err != nil {
		// The worker closed its stdin or is gone: it is of no more use, and
		// its death fails c with the reason.
		pr.kill(fmt.Sprintf("writing request %d: %v", id, err), true)
	}
	return c, nil
}

// isPending says whether the worker has not ended request id yet.
func (pr *proc) isPending(id uint64) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	_, ok := pr.pending[id]
	return ok
}

// current is the oldest running request, for Status.
func (pr *proc) current() *Job {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var j *Job
	for _, c := range pr.pending {
		if !c.control && (j == nil || c.id < j.Request) {
			j = &Job{Method: c.method, Request: c.id, Since: c.start}
		}
	}
	return j
}

// roundTrip sends a control request and waits for its answer.
func (pr *proc) roundTrip(ctx context.Context, method string, params any) (json.RawMessage, error) {
	c, err := pr.send(method, params, true, nil)
	if err != nil {
		if errors.Is(err, errGone) {
			return nil, &Error{Code: CodeWorkerDied, Retryable: true, Worker: pr.slot, PID: pr.pid, Method: method, Message: "the worker is gone", Err: err}
		}
		return nil, fmt.Errorf("worker %d (pid %d): %s: %w", pr.slot, pr.pid, method, err)
	}
	select {
	case <-c.done:
		return c.result, c.err
	case <-ctx.Done():
		c.abandon()
		return nil, ctxError(ctx.Err(), pr, c)
	}
}

// ContextError is a call ended by its caller's context (cause is ctx.Err()):
// cancelled, or timed out (retryable), as a pool's or a queue's call says.
func ContextError(cause error) *Error {
	if errors.Is(cause, context.DeadlineExceeded) {
		return &Error{Code: CodeTimeout, Retryable: true, Message: "the call timed out", Err: cause}
	}
	return &Error{Code: CodeCancelled, Message: "the call was cancelled", Err: cause}
}

// ctxError is the error of a call whose context ended first.
func ctxError(cause error, pr *proc, c *call) *Error {
	e := ContextError(cause)
	e.Method, e.Request = c.method, c.id
	if e.Code == CodeTimeout {
		e.Message += " after " + time.Since(c.start).Round(time.Millisecond).String()
	}
	if pr != nil {
		e.Worker, e.PID = pr.slot, pr.pid
	}
	return e
}
