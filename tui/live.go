package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
)

// Live updates (DESIGN.md section 6): one subscriber goroutine follows the
// owner's event stream and hands what it reads to the program through a
// coalescing buffer; a "listen" command waits for the buffer to have
// something and returns it as one liveMsg, and the Executions page issues
// the next listen when it applies one. Execution state changes are never
// dropped (several changes of one execution collapse to its latest state);
// spans, which come in floods, collapse to the latest per execution and are
// dropped past maxLiveSpans executions; the pool keeps only its latest state.

// Events is the owner's event stream (the API's GET /v1/events, in cmd).
type Events interface {
	// Subscribe calls fn for each event, in order, from the goroutine that
	// called it, until ctx ends or the stream ends (the owner went away); the
	// error says why it ended. The first event of a stream is the pool's
	// state. Subscribe is called again, with backoff, after it returns.
	Subscribe(ctx context.Context, fn func(Event)) error
}

// EventKind says what an Event carries.
type EventKind int

const (
	EventExecution EventKind = iota + 1 // Execution changed state; never dropped
	EventSpan                           // a span of a running execution started or ended
	EventPool                           // the worker pool changed
)

// Event is one event of the owner's stream.
type Event struct {
	Kind      EventKind
	Execution *model.Execution // EventExecution
	Span      *model.Span      // EventSpan
	Pool      *PoolStatus      // EventPool
}

// PoolStatus is the worker pool as the owner reported it.
type PoolStatus struct {
	Engine  string    // "running", or "idle" until something needs the workers
	Workers []Worker  // empty while no pool runs
	At      time.Time // when it was reported: uptimes are as of then
}

// Worker is one slot of the worker pool.
type Worker struct {
	ID        int
	State     string // starting, ready, busy, draining, restarting, failed, stopped
	PID       int
	Uptime    time.Duration // as of PoolStatus.At
	Served    int
	Restarts  int
	Inflight  int
	Current   string // the running request, "" when idle
	LastError string
}

// maxLiveSpans bounds the executions whose latest span one liveMsg carries;
// spans of more executions than that are dropped (and counted).
const maxLiveSpans = 64

// Reconnection backoff after the stream ends.
const (
	liveBackoffMin = 250 * time.Millisecond
	liveBackoffMax = 5 * time.Second
)

// liveConn is the state of the connection to the owner's stream.
type liveConn struct {
	up bool
	// session counts the connections so far: up and down again between two
	// liveMsgs still shows as a new session, so nothing missed goes unseen.
	session int
	err     error         // why it went down
	retry   time.Duration // when down: the wait before the next attempt
}

// liveMsg is everything that arrived since the previous one.
type liveMsg struct {
	execs   []*model.Execution // latest state of each execution that changed, in order of first change
	spans   []model.Span       // latest span of each execution, at most maxLiveSpans
	dropped int                // spans dropped for lack of room
	pool    *PoolStatus        // nil: unchanged
	conn    *liveConn          // nil: unchanged
}

// liveFeed is the buffer between the subscriber goroutine and the program.
// It is shared by pointer between copies of the model.
type liveFeed struct {
	src  Events
	ctx  context.Context
	once sync.Once
	wake chan struct{} // cap 1: something is waiting in the buffer

	mu        sync.Mutex
	execs     []*model.Execution
	execAt    map[model.ID]int
	spans     map[model.ID]model.Span
	spanOrder []model.ID
	dropped   int
	pool      *PoolStatus
	conn      *liveConn
	sessions  int

	// sleep waits between reconnection attempts; tests shorten it.
	sleep func(ctx context.Context, d time.Duration)
}

func newLiveFeed(ctx context.Context, src Events) *liveFeed {
	return &liveFeed{src: src, ctx: ctx, wake: make(chan struct{}, 1), execAt: map[model.ID]int{},
		spans: map[model.ID]model.Span{}, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// listen returns the command that starts the subscriber (the first time)
// and waits for the next liveMsg. It returns nil once the context ends.
func (f *liveFeed) listen() tea.Cmd {
	if f == nil {
		return nil
	}
	return func() tea.Msg {
		f.once.Do(func() { go f.run() })
		select {
		case <-f.wake:
		case <-f.ctx.Done():
			return nil
		}
		return f.take()
	}
}

// run follows the stream, reconnecting with backoff when it ends: the
// owner stopped, crashed, or handed over to another process.
func (f *liveFeed) run() {
	delay := liveBackoffMin
	for f.ctx.Err() == nil {
		connected := false
		err := f.src.Subscribe(f.ctx, func(ev Event) {
			if !connected {
				connected = true
				f.mu.Lock()
				f.sessions++
				n := f.sessions
				f.mu.Unlock()
				f.setConn(liveConn{up: true, session: n})
			}
			f.push(ev)
		})
		if f.ctx.Err() != nil {
			return
		}
		if connected {
			delay = liveBackoffMin
		}
		f.mu.Lock()
		n := f.sessions
		f.mu.Unlock()
		f.setConn(liveConn{err: err, retry: delay, session: n})
		f.sleep(f.ctx, delay)
		delay = min(2*delay, liveBackoffMax)
	}
}

func (f *liveFeed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *liveFeed) setConn(c liveConn) {
	f.mu.Lock()
	f.conn = &c
	f.mu.Unlock()
	f.signal()
}

// push adds an event to the buffer.
func (f *liveFeed) push(ev Event) {
	f.mu.Lock()
	switch ev.Kind {
	case EventExecution:
		if ev.Execution == nil {
			break
		}
		if i, ok := f.execAt[ev.Execution.ID]; ok {
			f.execs[i] = ev.Execution
		} else {
			f.execAt[ev.Execution.ID] = len(f.execs)
			f.execs = append(f.execs, ev.Execution)
		}
	case EventSpan:
		if ev.Span == nil {
			break
		}
		id := ev.Span.Execution
		if _, ok := f.spans[id]; !ok {
			if len(f.spanOrder) >= maxLiveSpans {
				f.dropped++
				break
			}
			f.spanOrder = append(f.spanOrder, id)
		}
		f.spans[id] = *ev.Span
	case EventPool:
		f.pool = ev.Pool
	}
	f.mu.Unlock()
	f.signal()
}

// take empties the buffer into a liveMsg.
func (f *liveFeed) take() liveMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	msg := liveMsg{execs: f.execs, dropped: f.dropped, pool: f.pool, conn: f.conn}
	for _, id := range f.spanOrder {
		msg.spans = append(msg.spans, f.spans[id])
	}
	f.execs, f.execAt = nil, map[model.ID]int{}
	f.spans, f.spanOrder = map[model.ID]model.Span{}, nil
	f.dropped, f.pool, f.conn = 0, nil, nil
	return msg
}
