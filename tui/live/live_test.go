package live

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

var t0 = time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)

// now is the feed's clock: the pool's reports are stamped with it.
func now() time.Time { return t0 }

// execution is one created i minutes before t0, in state.
func execution(i int, state model.RunState) *model.Execution {
	at := t0.Add(-time.Duration(i) * time.Minute)
	x := &model.Execution{ID: model.NewIDAt(at), Program: "qa", Version: 1, State: model.Pending, CreatedAt: at}
	if state != model.Pending {
		x.Move(model.Running, at.Add(time.Second))
	}
	if state.Terminal() {
		x.Move(state, at.Add(2*time.Second))
	}
	return x
}

// TestCoalescing: a flood of spans around an execution's state changes
// collapses to one span per execution (at most MaxSpans), while every
// execution's latest state is kept.
func TestCoalescing(t *testing.T) {
	f := NewFeed(context.Background(), nil, now)
	x := execution(1, model.Running)
	f.push(app.Event{Kind: app.EventExecution, Execution: x})
	ids := make([]model.ID, 500)
	for i := range ids {
		ids[i] = model.NewIDAt(t0.Add(time.Duration(i) * time.Millisecond))
	}
	for i := range 10_000 {
		f.push(app.Event{Kind: app.EventSpan, Span: &model.Span{Execution: ids[i%len(ids)], Seq: uint64(i)}})
	}
	done := *x
	done.Move(model.Completed, t0)
	f.push(app.Event{Kind: app.EventExecution, Execution: &done})
	other := execution(2, model.Failed)
	f.push(app.Event{Kind: app.EventExecution, Execution: other})
	f.push(app.Event{Kind: app.EventPool, Pool: &app.PoolStatus{Engine: "running"}})
	msg := f.take()
	if len(msg.Execs) != 2 || msg.Execs[0].State != model.Completed || msg.Execs[1].ID != other.ID {
		t.Fatalf("executions %v: want the completed one then the failed one", msg.Execs)
	}
	if len(msg.Spans) != MaxSpans {
		t.Errorf("%d spans, want %d", len(msg.Spans), MaxSpans)
	}
	if msg.Dropped == 0 || msg.Pool == nil || !msg.PoolAt.Equal(t0) {
		t.Errorf("dropped %d, pool %v at %v", msg.Dropped, msg.Pool, msg.PoolAt)
	}
	// The latest span of an execution wins.
	if s := msg.Spans[0]; s.Execution != ids[0] || s.Seq != 9_500 {
		t.Errorf("span seq %d is not the latest of its execution", s.Seq)
	}
	if again := f.take(); len(again.Execs)+len(again.Spans) != 0 || again.Pool != nil {
		t.Errorf("take did not empty the buffer")
	}
}

// floodEvents streams a flood of spans with execution changes in between,
// then waits for the end of the context.
type floodEvents struct {
	execs []*model.Execution
}

func (f *floodEvents) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	ch := make(chan app.Event, 256) // as the API client's

	go func() {
		defer close(ch)
		send := func(ev app.Event) bool {
			select {
			case ch <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !send(app.Event{Kind: app.EventPool, Pool: &app.PoolStatus{Engine: "running"}}) {
			return
		}
		for i, x := range f.execs {
			for j := range 2000 {
				if !send(app.Event{Kind: app.EventSpan, Span: &model.Span{Execution: x.ID, Seq: uint64(i*2000 + j)}}) {
					return
				}
			}
			if !send(app.Event{Kind: app.EventExecution, Execution: x}) {
				return
			}
		}
		<-ctx.Done()
	}()
	return ch, nil
}

// TestListenDeliversEveryExecution runs the real goroutine and listen
// loop: every execution event arrives however many spans surround it.
func TestListenDeliversEveryExecution(t *testing.T) {
	src := &floodEvents{}
	for i := range 50 {
		src.execs = append(src.execs, execution(i, model.Completed))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := NewFeed(ctx, src, now)
	seen := map[model.ID]bool{}
	deadline := time.After(10 * time.Second) // a bound on a failure, not a wait
	msgs := 0
	for len(seen) < len(src.execs) {
		select {
		case m := <-listenOnce(f):
			msgs++
			for _, x := range m.Execs {
				seen[x.ID] = true
			}
			if len(m.Spans) > MaxSpans {
				t.Fatalf("%d spans in one message", len(m.Spans))
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

func (d *dropEvents) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	d.mu.Lock()
	d.calls++
	fail := d.calls <= d.fails
	d.mu.Unlock()
	if fail {
		return nil, errors.New("no owner answers on the socket")
	}
	ch := make(chan app.Event, 1)
	ch <- app.Event{Kind: app.EventPool, Pool: &app.PoolStatus{Engine: "idle"}}
	close(ch) // the owner went away again
	return ch, nil
}

func TestReconnectsWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &dropEvents{fails: 3}
	f := NewFeed(ctx, src, now)
	var waits []time.Duration
	fourth := make(chan []time.Duration, 1)
	// The sleeps are the feed goroutine's own: they record their waits and
	// hand the first four to the test, then hold the feed until the end.
	f.sleep = func(ctx context.Context, d time.Duration) {
		waits = append(waits, d)
		if len(waits) == 4 {
			fourth <- append([]time.Duration(nil), waits...)
			<-ctx.Done()
		}
	}
	// The connection comes up after the failures.
	deadline := time.After(5 * time.Second) // a bound on a failure, not a wait
	for up := false; !up; {
		select {
		case m := <-listenOnce(f):
			switch {
			case m.Conn == nil:
			case m.Conn.Session > 0:
				up = true // up, or up and down again since the last message
			case m.Conn.Up || m.Conn.Err == nil || m.Conn.Retry <= 0:
				t.Errorf("a failed connection without its reason or retry: %+v", m.Conn)
			}
		case <-deadline:
			t.Fatal("never reconnected")
		}
	}
	var got []time.Duration
	select {
	case got = <-fourth:
	case <-deadline:
		t.Fatal("fewer than four waits")
	}
	// Doubling while it fails, back to the minimum after a connection.
	if got[0] != backoffMin || got[1] != 2*backoffMin || got[2] != 4*backoffMin || got[3] != backoffMin {
		t.Errorf("backoff %v", got)
	}
}

// noStream is a source without a stream at all.
type noStream struct{ calls int }

func (n *noStream) Subscribe(context.Context) (<-chan app.Event, error) {
	n.calls++
	return nil, errors.ErrUnsupported
}

// TestNoStreamEnds: a source that has no stream is not retried, and
// listening to it ends at once.
func TestNoStreamEnds(t *testing.T) {
	src := &noStream{}
	f := NewFeed(context.Background(), src, now)
	f.sleep = func(context.Context, time.Duration) { t.Error("a source without a stream was retried") }
	if msg := f.Listen()(); msg != nil {
		t.Fatalf("listen gave %#v, want nothing", msg)
	}
	if msg := f.Listen()(); msg != nil || src.calls != 1 {
		t.Fatalf("listen again gave %#v after %d subscriptions", msg, src.calls)
	}
}

func TestPoolSummary(t *testing.T) {
	for _, tc := range []struct {
		states []string
		want   string
	}{
		{[]string{"ready", "busy", "ready", "ready"}, "4/4 ready"},
		{[]string{"ready", "restarting", "busy", "ready"}, "3/4 · 1 restarting"},
		{[]string{"failed", "restarting", "failed", "starting"}, "0/4 · 2 failed · 1 restarting · 1 starting"},
		{nil, "idle"},
	} {
		ps := &app.PoolStatus{Engine: "running"}
		for i, s := range tc.states {
			ps.Pool = append(ps.Pool, app.Worker{ID: i + 1, State: s})
		}
		if got := PoolSummary(ps); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.states, got, tc.want)
		}
	}
}

// listenOnce runs one listen command in a goroutine, as tea.Program would,
// and delivers its message.
func listenOnce(f *Feed) <-chan Msg {
	got := make(chan Msg, 1)
	go func() {
		if m, ok := f.Listen()().(Msg); ok {
			got <- m
		}
	}()
	return got
}

// TestChangesByName: programs and datasets changed come once each by
// name; an optimization's state change (not its progress) is flagged, and
// one that saved a result version changes its program.
func TestChangesByName(t *testing.T) {
	f := NewFeed(context.Background(), nil, now)
	for _, n := range []string{"qa", "sentiment", "qa"} {
		f.push(app.Event{Kind: app.EventProgram, Program: n})
	}
	f.push(app.Event{Kind: app.EventDataset, Dataset: "caps"})
	f.push(app.Event{Kind: app.EventOptimization, Optimization: &model.Optimization{Program: "geo", State: model.Running},
		Progress: &model.OptProgress{}})
	if msg := f.take(); !slices.Equal(msg.Programs, []string{"qa", "sentiment"}) || !slices.Equal(msg.Datasets, []string{"caps"}) ||
		msg.Optimizations {
		t.Fatalf("programs %v, datasets %v, optimizations %v", msg.Programs, msg.Datasets, msg.Optimizations)
	}
	f.push(app.Event{Kind: app.EventOptimization, Optimization: &model.Optimization{Program: "geo", State: model.Completed, ResultVersion: 3}})
	if msg := f.take(); !msg.Optimizations || !slices.Equal(msg.Programs, []string{"geo"}) {
		t.Fatalf("a completed run: programs %v, optimizations %v", msg.Programs, msg.Optimizations)
	}
	if msg := f.take(); msg.Programs != nil || msg.Optimizations {
		t.Fatal("take did not empty the changes")
	}
}

// TestIndexEvents: a build's progress keeps its latest report; a build
// that ends (or a delete) names the index and drops the progress reported
// before it, not one reported after (the next build's).
func TestIndexEvents(t *testing.T) {
	f := NewFeed(context.Background(), nil, now)
	f.push(app.Event{Kind: app.EventIndex, IndexName: "corpus", IndexProgress: &app.IndexProgress{Done: 10, Total: 300}})
	f.push(app.Event{Kind: app.EventIndex, IndexName: "corpus", IndexProgress: &app.IndexProgress{Done: 120, Total: 300}})
	f.push(app.Event{Kind: app.EventIndex, IndexName: "faq", IndexProgress: &app.IndexProgress{Done: 1, Total: 9}})
	msg := f.take()
	want := map[string]app.IndexProgress{"corpus": {Done: 120, Total: 300}, "faq": {Done: 1, Total: 9}}
	if msg.Indexes != nil || !maps.Equal(msg.IndexProgress, want) {
		t.Fatalf("progress: indexes %v, progress %v", msg.Indexes, msg.IndexProgress)
	}
	f.push(app.Event{Kind: app.EventIndex, IndexName: "corpus", IndexProgress: &app.IndexProgress{Done: 300, Total: 300}})
	f.push(app.Event{Kind: app.EventIndex, IndexName: "corpus", Index: &model.Index{Name: "corpus"}})
	f.push(app.Event{Kind: app.EventIndex, IndexName: "faq"}) // deleted
	f.push(app.Event{Kind: app.EventIndex, IndexName: "faq", IndexProgress: &app.IndexProgress{Done: 2, Total: 9}})
	msg = f.take()
	want = map[string]app.IndexProgress{"faq": {Done: 2, Total: 9}}
	if !slices.Equal(msg.Indexes, []string{"corpus", "faq"}) || !maps.Equal(msg.IndexProgress, want) {
		t.Fatalf("ends: indexes %v, progress %v", msg.Indexes, msg.IndexProgress)
	}
	if msg := f.take(); msg.Indexes != nil || msg.IndexProgress != nil {
		t.Fatal("take did not empty the index changes")
	}
}
