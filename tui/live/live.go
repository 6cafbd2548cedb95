// Package live follows the owner's event stream (DESIGN.md section 6): one
// subscriber goroutine reads it and hands what it reads to the program
// through a coalescing buffer; a Listen command waits for the buffer to
// have something and returns it as one Msg, and the shell issues the next
// Listen when it has handed one to its subscribers. Execution state changes
// are never dropped (several changes of one execution collapse to its
// latest state); spans, which come in floods, collapse to the latest per
// execution and are dropped past MaxSpans executions; the pool keeps only
// its latest state.
package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// Events is the owner's event stream: app.Service's Subscribe, which the
// workbench holds as it is (a client's stream must not hold the owner:
// the workbench is a plain client, not api.Client.Holding).
type Events interface {
	// Subscribe streams events until ctx ends or the owner goes (then the
	// channel closes); the first is the pool's state. The feed subscribes
	// again, with backoff, when the channel closes or Subscribe fails,
	// unless its error is errors.ErrUnsupported: a source with no stream
	// at all, which is not retried.
	Subscribe(ctx context.Context) (<-chan app.Event, error)
}

// PoolIdle reports whether no pool runs: the engine is idle or has no workers.
func PoolIdle(ps *app.PoolStatus) bool { return ps.Engine != "running" || len(ps.Pool) == 0 }

// PoolSummary is the pool's state in a few words, for the status bar:
// "4/4 ready", "idle", "3/4 · 1 restarting".
func PoolSummary(ps *app.PoolStatus) string {
	if PoolIdle(ps) {
		return "idle"
	}
	up := 0
	other := map[string]int{}
	var order []string
	for _, w := range ps.Pool {
		switch w.State {
		case "ready", "busy":
			up++
		default:
			if other[w.State] == 0 {
				order = append(order, w.State)
			}
			other[w.State]++
		}
	}
	s := fmt.Sprintf("%d/%d", up, len(ps.Pool))
	if len(order) == 0 {
		return s + " ready"
	}
	for _, st := range order {
		s += fmt.Sprintf(" · %d %s", other[st], st)
	}
	return s
}

// MaxSpans bounds the executions whose latest span one Msg carries; spans
// of more executions than that are dropped (and counted).
const MaxSpans = 64

// Reconnection backoff after the stream ends.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 5 * time.Second
)

// Conn is the state of the connection to the owner's stream.
type Conn struct {
	Up bool
	// Session counts the connections so far: up and down again between two
	// Msgs still shows as a new session, so nothing missed goes unseen.
	Session int
	Err     error         // why it went down
	Retry   time.Duration // when down: the wait before the next attempt
}

// Msg is everything that arrived since the previous one.
type Msg struct {
	Execs   []*model.Execution // latest state of each execution that changed, in order of first change
	Spans   []model.Span       // latest span of each execution, at most MaxSpans
	Dropped int                // spans dropped for lack of room
	Pool    *app.PoolStatus    // nil: unchanged
	PoolAt  time.Time          // when Pool arrived: its workers' uptimes are as of then
	Conn    *Conn              // nil: unchanged
	// Programs and Datasets are the names of those changed (written by
	// anyone), each once: a view that shows one reads it again. A program
	// an optimization saved its result into is among them.
	Programs []string
	Datasets []string
	// Optimizations says some optimization changed state (its progress
	// reports are not followed: the views that show it poll).
	Optimizations bool
	// Indexes are the names of the indexes built or deleted, each once;
	// IndexProgress is the latest progress of each build still running
	// (reported after its name's last build or delete in Indexes).
	Indexes       []string
	IndexProgress map[string]app.IndexProgress
}

// Feed is the buffer between the subscriber goroutine and the program. It
// is shared by pointer between copies of the model.
type Feed struct {
	src  Events
	ctx  context.Context
	now  func() time.Time
	once sync.Once
	wake chan struct{} // cap 1: something is waiting in the buffer
	done chan struct{} // closed when the subscriber has stopped for good

	mu        sync.Mutex
	execs     []*model.Execution
	execAt    map[model.ID]int
	spans     map[model.ID]model.Span
	spanOrder []model.ID
	dropped   int
	pool      *app.PoolStatus
	poolAt    time.Time
	conn      *Conn
	sessions  int
	programs  []string
	datasets  []string
	opts      bool
	indexes   []string
	indexProg map[string]app.IndexProgress

	// sleep waits between reconnection attempts; tests record it.
	sleep func(ctx context.Context, d time.Duration)
}

// NewFeed follows src until ctx ends, from the first Listen on; now
// stamps the pool's reports.
func NewFeed(ctx context.Context, src Events, now func() time.Time) *Feed {
	return &Feed{src: src, ctx: ctx, now: now, wake: make(chan struct{}, 1), done: make(chan struct{}),
		execAt: map[model.ID]int{}, spans: map[model.ID]model.Span{}, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Listen returns the command that starts the subscriber (the first time)
// and waits for the next Msg. Its message is nil once the context ends or
// the source has no stream; a nil feed listens to nothing.
func (f *Feed) Listen() tea.Cmd {
	if f == nil {
		return nil
	}
	return func() tea.Msg {
		f.once.Do(func() { go f.run() })
		select {
		case <-f.wake:
		case <-f.ctx.Done():
			return nil
		case <-f.done:
			select { // what came before the end is still delivered
			case <-f.wake:
			default:
				return nil
			}
		}
		return f.take()
	}
}

// errStreamEnded is why a connection that was up went down: the owner
// stopped, crashed, or handed over to another process.
var errStreamEnded = errors.New("the owner's event stream ended")

// run follows the stream, subscribing again with backoff when it ends.
func (f *Feed) run() {
	defer close(f.done)
	delay := backoffMin
	for f.ctx.Err() == nil {
		evs, err := f.src.Subscribe(f.ctx)
		if errors.Is(err, errors.ErrUnsupported) {
			return
		}
		if err == nil {
			f.mu.Lock()
			f.sessions++
			n := f.sessions
			f.mu.Unlock()
			f.setConn(Conn{Up: true, Session: n})
			if !f.follow(evs) {
				return
			}
			err, delay = errStreamEnded, backoffMin
		}
		if f.ctx.Err() != nil {
			return
		}
		f.mu.Lock()
		n := f.sessions
		f.mu.Unlock()
		f.setConn(Conn{Err: err, Retry: delay, Session: n})
		f.sleep(f.ctx, delay)
		delay = min(2*delay, backoffMax)
	}
}

// follow buffers what evs brings until it closes (true) or the context
// ends (false).
func (f *Feed) follow(evs <-chan app.Event) bool {
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				return true
			}
			f.push(ev)
		case <-f.ctx.Done():
			return false
		}
	}
}

func (f *Feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Feed) setConn(c Conn) {
	f.mu.Lock()
	f.conn = &c
	f.mu.Unlock()
	f.signal()
}

// push adds an event to the buffer. Evaluations and optimizations'
// progress are not followed here: their views poll.
func (f *Feed) push(ev app.Event) {
	f.mu.Lock()
	switch ev.Kind {
	case app.EventExecution:
		if ev.Execution == nil {
			break
		}
		if i, ok := f.execAt[ev.Execution.ID]; ok {
			f.execs[i] = ev.Execution
		} else {
			f.execAt[ev.Execution.ID] = len(f.execs)
			f.execs = append(f.execs, ev.Execution)
		}
	case app.EventSpan:
		if ev.Span == nil {
			break
		}
		id := ev.Span.Execution
		if _, ok := f.spans[id]; !ok {
			if len(f.spanOrder) >= MaxSpans {
				f.dropped++
				break
			}
			f.spanOrder = append(f.spanOrder, id)
		}
		f.spans[id] = *ev.Span
	case app.EventPool:
		if ev.Pool != nil {
			f.pool, f.poolAt = ev.Pool, f.now()
		}
	case app.EventProgram:
		f.programs = addName(f.programs, ev.Program)
	case app.EventDataset:
		f.datasets = addName(f.datasets, ev.Dataset)
	case app.EventIndex:
		if ev.IndexName == "" {
			break
		}
		if p := ev.IndexProgress; p != nil {
			if f.indexProg == nil {
				f.indexProg = map[string]app.IndexProgress{}
			}
			f.indexProg[ev.IndexName] = *p
			break
		}
		// Built or deleted: a progress reported before it is over.
		delete(f.indexProg, ev.IndexName)
		f.indexes = addName(f.indexes, ev.IndexName)
	case app.EventOptimization:
		if o := ev.Optimization; o != nil && ev.Progress == nil {
			f.opts = true
			if o.State.Terminal() && o.ResultVersion > 0 {
				f.programs = addName(f.programs, o.Program)
			}
		}
	}
	f.mu.Unlock()
	f.signal()
}

// take empties the buffer into a Msg.
func (f *Feed) take() Msg {
	f.mu.Lock()
	defer f.mu.Unlock()
	msg := Msg{Execs: f.execs, Dropped: f.dropped, Pool: f.pool, PoolAt: f.poolAt, Conn: f.conn,
		Programs: f.programs, Datasets: f.datasets, Optimizations: f.opts, Indexes: f.indexes, IndexProgress: f.indexProg}
	f.programs, f.datasets, f.opts = nil, nil, false
	f.indexes, f.indexProg = nil, nil
	for _, id := range f.spanOrder {
		msg.Spans = append(msg.Spans, f.spans[id])
	}
	f.execs, f.execAt = nil, map[model.ID]int{}
	f.spans, f.spanOrder = map[model.ID]model.Span{}, nil
	f.dropped, f.pool, f.conn = 0, nil, nil
	return msg
}

// addName adds name to names once.
func addName(names []string, name string) []string {
	if name == "" || slices.Contains(names, name) {
		return names
	}
	return append(names, name)
}
