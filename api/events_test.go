package api

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// eventSource is a service whose every subscriber is sent the same events,
// then the end of the stream.
type eventSource struct {
	app.Service
	events []app.Event
	wants  chan bool      // what each Subscribe's ctx asked: spans or not
	ended  chan bool      // and ended executions only or not
	feed   chan app.Event // when set, the stream instead: what the test sends, as it sends it
}

func (s eventSource) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	s.wants <- app.WantsSpans(ctx)
	if s.ended != nil {
		s.ended <- app.WantsEndedOnly(ctx)
	}
	if s.feed != nil {
		return s.feed, nil
	}
	ch := make(chan app.Event, len(s.events))
	for _, ev := range s.events {
		ch <- ev
	}
	close(ch)
	return ch, nil
}

// A stream asked for WithoutSpans is sent every event but the spans, in
// order, and the service is told (so the owner publishes none to it); a
// plain stream every event.
func TestEventsWithoutSpans(t *testing.T) {
	x := &model.Execution{ID: model.NewID(), Program: "qa", State: model.Completed}
	src := eventSource{events: []app.Event{
		{Kind: app.EventExecution, Execution: &model.Execution{ID: x.ID, Program: "qa", State: model.Running}},
		{Kind: app.EventSpan, Span: &model.Span{ID: "s1", Name: "answer"}},
		{Kind: app.EventSpan, Span: &model.Span{ID: "s1", Name: "answer"}},
		{Kind: app.EventExecution, Execution: x},
		{Kind: app.EventSpan, Span: &model.Span{ID: "s2", Name: "late"}},
	}, wants: make(chan bool, 2)}
	sock := serveEvents(t, src)

	kinds := func(ctx context.Context, cl *Client) []app.EventKind {
		t.Helper()
		ch, err := cl.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []app.EventKind
		for ev := range ch {
			got = append(got, ev.Kind)
		}
		return got
	}
	cl := NewClient(sock)
	if got := kinds(context.Background(), cl); len(got) != 5 || got[1] != app.EventSpan {
		t.Fatalf("a plain stream: %v, want all 5 events", got)
	}
	if !<-src.wants {
		t.Fatal("a plain stream told the service it wants no spans")
	}
	got := kinds(app.WithoutSpans(context.Background()), cl.Holding())
	if len(got) != 2 || got[0] != app.EventExecution || got[1] != app.EventExecution {
		t.Fatalf("a stream without spans: %v, want the 2 execution events", got)
	}
	if <-src.wants {
		t.Fatal("a stream without spans: the service was not told")
	}
}

// A stream asked for EndedOnly tells the service so, which then sends an
// execution's event only once it has ended.
func TestEventsEndedOnlyIsAsked(t *testing.T) {
	src := eventSource{events: []app.Event{{Kind: app.EventPool, Pool: &app.PoolStatus{Engine: "idle"}}},
		wants: make(chan bool, 2), ended: make(chan bool, 2)}
	sock := serveEvents(t, src)
	for _, want := range []bool{false, true} {
		ctx := context.Background()
		if want {
			ctx = app.EndedOnly(ctx)
		}
		ch, err := NewClient(sock).Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range ch {
		}
		<-src.wants
		if got := <-src.ended; got != want {
			t.Fatalf("EndedOnly %v reached the service as %v", want, got)
		}
	}
}

// A stream of ended jobs, whose writes are paced, delivers an event that
// came right after a write (it waits for the pace) as well as a lone one,
// each before the next is sent.
func TestEventsEndedPaced(t *testing.T) {
	src := eventSource{feed: make(chan app.Event), wants: make(chan bool, 1), ended: make(chan bool, 1)}
	ch, err := NewClient(serveEvents(t, src)).Subscribe(app.EndedOnly(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		x := &model.Execution{ID: model.NewID(), Program: "qa", State: model.Completed, Attempts: i}
		src.feed <- app.Event{Kind: app.EventExecution, Execution: x}
		if ev := <-ch; ev.Execution == nil || ev.Execution.ID != x.ID {
			t.Fatalf("event %d: got %+v", i, ev)
		}
	}
	close(src.feed)
	if ev, ok := <-ch; ok {
		t.Fatalf("after the stream's end: %+v", ev)
	}
}

// serveEvents serves src on a socket until the test ends.
func serveEvents(t *testing.T, src eventSource) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), SocketName)
	ln, err := Listen(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(src)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return sock
}
