package tui

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// TestLiveCoalescing: a flood of spans around an execution's state changes
// collapses to one span per execution (at most maxLiveSpans), while every
// execution's latest state is kept.
func TestLiveCoalescing(t *testing.T) {
	f := newLiveFeed(context.Background(), nil)
	x := testExec(1, "qa", model.Running)
	f.push(Event{Kind: EventExecution, Execution: x})
	ids := make([]model.ID, 500)
	for i := range ids {
		ids[i] = model.NewIDAt(testNow.Add(time.Duration(i) * time.Millisecond))
	}
	for i := range 10_000 {
		f.push(Event{Kind: EventSpan, Span: &model.Span{Execution: ids[i%len(ids)], Seq: uint64(i)}})
	}
	done := *x
	done.Move(model.Completed, testNow)
	f.push(Event{Kind: EventExecution, Execution: &done})
	other := testExec(2, "qa", model.Failed)
	f.push(Event{Kind: EventExecution, Execution: other})
	f.push(Event{Kind: EventPool, Pool: &PoolStatus{Engine: "running"}})
	msg := f.take()
	if len(msg.execs) != 2 || msg.execs[0].State != model.Completed || msg.execs[1].ID != other.ID {
		t.Fatalf("executions %v: want the completed one then the failed one", msg.execs)
	}
	if len(msg.spans) != maxLiveSpans {
		t.Errorf("%d spans, want %d", len(msg.spans), maxLiveSpans)
	}
	if msg.dropped == 0 || msg.pool == nil {
		t.Errorf("dropped %d, pool %v", msg.dropped, msg.pool)
	}
	// The latest span of an execution wins.
	if s := msg.spans[0]; s.Execution != ids[0] || s.Seq != 9_500 {
		t.Errorf("span seq %d is not the latest of its execution", s.Seq)
	}
	if again := f.take(); len(again.execs)+len(again.spans) != 0 || again.pool != nil {
		t.Errorf("take did not empty the buffer")
	}
}

// floodEvents streams a flood of spans with execution changes in between,
// then ends the stream.
type floodEvents struct {
	mu    sync.Mutex
	calls int
	execs []*model.Execution
}

func (f *floodEvents) Subscribe(ctx context.Context, fn func(Event)) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	fn(Event{Kind: EventPool, Pool: &PoolStatus{Engine: "running"}})
	for i, x := range f.execs {
		for j := range 2000 {
			fn(Event{Kind: EventSpan, Span: &model.Span{Execution: x.ID, Seq: uint64(i*2000 + j)}})
		}
		fn(Event{Kind: EventExecution, Execution: x})
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestLiveListenDeliversEveryExecution runs the real goroutine and listen
// loop: every execution event arrives however many spans surround it.
func TestLiveListenDeliversEveryExecution(t *testing.T) {
	src := &floodEvents{}
	for i := range 50 {
		src.execs = append(src.execs, testExec(i, "qa", model.Completed))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newLiveFeed(ctx, src)
	seen := map[model.ID]bool{}
	deadline := time.After(10 * time.Second)
	msgs := 0
	for len(seen) < len(src.execs) {
		select {
		case m := <-listenOnce(f):
			msgs++
			for _, x := range m.execs {
				seen[x.ID] = true
			}
			if len(m.spans) > maxLiveSpans {
				t.Fatalf("%d spans in one message", len(m.spans))
			}
		case <-deadline:
			t.Fatalf("only %d of %d executions arrived", len(seen), len(src.execs))
		}
	}
	if msgs > len(src.execs)*2000/10 {
		t.Errorf("%d messages for %d events: spans are not coalesced", msgs, len(src.execs)*2001)
	}
}

// dropEvents fails its first subscriptions, then works.
type dropEvents struct {
	mu    sync.Mutex
	fails int
	calls int
}

func (d *dropEvents) Subscribe(ctx context.Context, fn func(Event)) error {
	d.mu.Lock()
	d.calls++
	fail := d.calls <= d.fails
	d.mu.Unlock()
	if fail {
		return errors.New("no owner answers on the socket")
	}
	fn(Event{Kind: EventPool, Pool: &PoolStatus{Engine: "idle"}})
	return nil // the owner went away again
}

func TestLiveReconnectsWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &dropEvents{fails: 3}
	f := newLiveFeed(ctx, src)
	var mu sync.Mutex
	var waits []time.Duration
	f.sleep = func(ctx context.Context, d time.Duration) {
		mu.Lock()
		waits = append(waits, d)
		n := len(waits)
		mu.Unlock()
		if n >= 6 {
			<-ctx.Done()
		}
	}
	// Read until the connection comes up after the failures.
	deadline := time.After(5 * time.Second)
	var ups, downs int
	for ups == 0 {
		select {
		case m := <-listenOnce(f):
			switch {
			case m.conn == nil:
			case m.conn.session > 0:
				ups++ // up, or up and down again since the last message
			default:
				downs++
				if m.conn.up || m.conn.err == nil || m.conn.retry <= 0 {
					t.Errorf("a failed connection without its reason or retry: %+v", m.conn)
				}
			}
		case <-deadline:
			t.Fatal("never reconnected")
		}
	}
	_ = downs // the failures may coalesce into the connection that follows
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(waits) < 4 {
		t.Fatalf("waits %v", waits)
	}
	// Doubling while it fails, back to the minimum after a connection.
	if waits[0] != liveBackoffMin || waits[1] != 2*liveBackoffMin || waits[2] != 4*liveBackoffMin || waits[3] != liveBackoffMin {
		t.Errorf("backoff %v", waits)
	}
}

// listenOnce runs one listen command in a goroutine, as tea.Program would,
// and delivers its message.
func listenOnce(f *liveFeed) <-chan liveMsg {
	got := make(chan liveMsg, 1)
	go func() {
		if m, ok := f.listen()().(liveMsg); ok {
			got <- m
		}
	}()
	return got
}
