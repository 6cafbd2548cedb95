package cmd

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// The workbench's tests against a real owner: the workbench as `signet
// tui` builds it over the workspace's service (tui.Services), driven key by
// key, each command run to its end and its answer fed back (tuitest).

// workbench is the workbench over svc at w x h, its clock at the real time
// (the month whose cost it asks for is this one) but setting no timers:
// the tests reload what they want to see again. Its live feed is off, as a
// stream never ends and tuitest runs each command to its end;
// TestTUIFeedFollowsTheOwner follows the feed.
func workbench(t *testing.T, svc app.Service, w, h int, opts ...tuitest.Option) tui.Model {
	t.Helper()
	deps := tui.Services(svc)
	deps.Events = nil
	clk := tuitest.NewClock()
	clk.Set(time.Now())
	return tuitest.New(t, deps, w, h, append([]tuitest.Option{tuitest.WithClock(clk)}, opts...)...)
}

// pickFile moves the file picker's cursor to the file called name and
// chooses it.
func pickFile(t *testing.T, m tui.Model, name string) tui.Model {
	t.Helper()
	for range 20 {
		if slices.Contains(strings.Fields(strings.ReplaceAll(tuitest.LineWith(tuitest.Screen(m), components.CursorMark), components.CursorMark, " ")), name) {
			return tuitest.Send(t, m, tuitest.Enter())
		}
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	t.Fatalf("%s is not in the file picker:\n%s", name, tuitest.Screen(m))
	return m
}

// fill walks a form's n fields from the first (where it has the focus) and
// back to it, replacing the value of each field set names by its index.
func fill(t *testing.T, m tui.Model, n int, set map[int]string) tui.Model {
	t.Helper()
	for i := range n {
		if v, ok := set[i]; ok {
			m = clearText(t, m)
			m = tuitest.Type(t, m, v)
		}
		m = tuitest.Send(t, m, tuitest.Tab())
	}
	return m
}

// clearText empties the focused field: end of line, then backspaces.
func clearText(t *testing.T, m tui.Model) tui.Model {
	t.Helper()
	m = tuitest.Send(t, m, tuitest.Ctrl('e'))
	for range 60 {
		m = tuitest.Send(t, m, tuitest.Backspace())
	}
	return m
}

// mustShow fails unless the screen shows every one of want.
func mustShow(t *testing.T, m tui.Model, what string, want ...string) {
	t.Helper()
	s := tuitest.Screen(m)
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Fatalf("%s: the screen lacks %q:\n%s", what, w, s)
		}
	}
}

// TestTUIFeedFollowsTheOwner: the workbench's live feed over a plain
// client follows the owner's stream, does not hold the owner (it stops
// without waiting for the workbench), says when it went, and follows the
// next owner of the workspace when one comes.
func TestTUIFeedFollowsTheOwner(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := own(t, ws)
	feed := live.NewFeed(ctx, tui.Services(api.NewClient(api.SocketPath(ws))).Events, time.Now)
	msgs := make(chan live.Msg)
	go func() {
		for {
			m, ok := feed.Listen()().(live.Msg)
			if !ok {
				return // the context ended
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	bound := time.After(time.Minute) // a bound on a failure, not a wait
	await := func(what string, ok func(live.Msg) bool) {
		t.Helper()
		for {
			select {
			case m := <-msgs:
				if ok(m) {
					return
				}
			case <-bound:
				t.Fatalf("the feed never %s", what)
			}
		}
	}
	await("reported the pool", func(m live.Msg) bool { return m.Pool != nil })

	// The owner stops without waiting for the workbench's stream.
	closed := make(chan struct{})
	go func() {
		first.Close(context.Background(), false)
		close(closed)
	}()
	select {
	case <-closed:
	case <-bound:
		t.Fatal("the owner waited for the workbench's event stream: the workbench holds it")
	}
	await("said the owner went", func(m live.Msg) bool { return m.Conn != nil && !m.Conn.Up && m.Conn.Err != nil && m.Conn.Retry > 0 })

	// The next owner of the workspace is followed, in a session of its own.
	own(t, ws)
	// One Msg may carry both the new session and its pool.
	followed := false
	await("reported the next owner's pool", func(m live.Msg) bool {
		followed = followed || (m.Conn != nil && m.Conn.Session >= 2)
		return followed && m.Pool != nil
	})
}

// endedOf are the IDs of the first n optimizations or evaluations to end,
// read from the owner's event stream evs.
func endedOf(t *testing.T, ctx context.Context, evs <-chan app.Event, kind app.EventKind, n int) []model.ID {
	t.Helper()
	var ended []model.ID
	for len(ended) < n {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("the owner's event stream ended")
			}
			var id model.ID
			switch {
			case ev.Kind != kind:
				continue
			case ev.Optimization != nil && ev.Optimization.State.Terminal() && ev.Progress == nil:
				id = ev.Optimization.ID
			case ev.Evaluation != nil && ev.Evaluation.State.Terminal():
				id = ev.Evaluation.ID
			default:
				continue
			}
			if !slices.Contains(ended, id) {
				ended = append(ended, id)
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d ended", len(ended), n)
		}
	}
	return ended
}

// subscribed is the owner's event stream, once it has begun (its first
// event, the pool, is read).
func subscribed(t *testing.T, ctx context.Context, svc app.Service) <-chan app.Event {
	t.Helper()
	evs, err := svc.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-evs:
	case <-ctx.Done():
		t.Fatal("no first event")
	}
	return evs
}
