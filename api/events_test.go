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
}

func (s eventSource) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	ch := make(chan app.Event, len(s.events))
	for _, ev := range s.events {
		ch <- ev
	}
	close(ch)
	return ch, nil
}

// A client WithoutSpans is sent every event but the spans, in order; a
// plain client every event.
func TestEventsWithoutSpans(t *testing.T) {
	x := &model.Execution{ID: model.NewID(), Program: "qa", State: model.Completed}
	src := eventSource{events: []app.Event{
		{Kind: app.EventExecution, Execution: &model.Execution{ID: x.ID, Program: "qa", State: model.Running}},
		{Kind: app.EventSpan, Span: &model.Span{ID: "s1", Name: "answer"}},
		{Kind: app.EventSpan, Span: &model.Span{ID: "s1", Name: "answer"}},
		{Kind: app.EventExecution, Execution: x},
		{Kind: app.EventSpan, Span: &model.Span{ID: "s2", Name: "late"}},
	}}
	sock := filepath.Join(t.TempDir(), SocketName)
	ln, err := Listen(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(src)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	kinds := func(cl *Client) []app.EventKind {
		t.Helper()
		ch, err := cl.Subscribe(context.Background())
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
	if got := kinds(cl); len(got) != 5 || got[1] != app.EventSpan {
		t.Fatalf("a plain stream: %v, want all 5 events", got)
	}
	got := kinds(cl.WithoutSpans().Holding())
	if len(got) != 2 || got[0] != app.EventExecution || got[1] != app.EventExecution {
		t.Fatalf("a stream without spans: %v, want the 2 execution events", got)
	}
}
