package workers_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/pages/workers"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func TestWorkersTableFollowsPoolEvents(t *testing.T) {
	clk := tuitest.NewClock()
	m := tuitest.NewLive(t, 120, 30, &tuitest.Executions{}, &tuitest.Pool{}, tuitest.WithClock(clk))
	m = tuitest.Send(t, m, tuitest.Key("5"))
	if s := tuitest.Screen(m); !strings.Contains(s, "Waiting for the owner's pool status") {
		t.Fatalf("before the first pool event:\n%s", s)
	}
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: tuitest.SamplePool(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()}
	})
	s := tuitest.Screen(m)
	for _, want := range []string{"41201", "busy", "execute #1893 (+1)", "restarting", "worker died: signal: killed", "3h12m", "52s", "recycled: 512 MiB"} {
		if !strings.Contains(s, want) {
			t.Errorf("worker table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "(stderr tail)") {
		t.Errorf("a last error's second line shows")
	}
	// The selection stays on the same worker when the pool changes.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Key("j"))
	if id := wkrs(m).SelectedID(); id != 3 {
		t.Fatalf("selected worker %d", id)
	}
	next := tuitest.SamplePool()
	next.Pool[2].State, next.Pool[2].PID, next.Pool[2].Uptime = "ready", 42001, 0
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: next, PoolAt: tuitest.Now} })
	if id := wkrs(m).SelectedID(); id != 3 {
		t.Errorf("selection moved to worker %d", id)
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "42001") || strings.Contains(s, "worker died") == false {
		t.Errorf("table not updated:\n%s", s)
	}
	// Uptimes move on with the clock.
	clk.Set(tuitest.Now.Add(time.Minute))
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{} })
	if s := tuitest.Screen(m); !strings.Contains(s, "1m00s") {
		t.Errorf("the new worker's uptime did not advance:\n%s", s)
	}
}

func TestWorkersRestartRecycle(t *testing.T) {
	fp := &tuitest.Pool{}
	m := tuitest.NewLive(t, 120, 30, &tuitest.Executions{}, fp)
	m = tuitest.Send(t, m, tuitest.Key("5"))
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: tuitest.SamplePool(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()}
	})
	m = tuitest.Send(t, m, tuitest.Key("j")) // worker 2

	// R asks first; esc gives up.
	m = tuitest.Send(t, m, tuitest.Key("R"))
	if !tuitest.Typing(m) || !strings.Contains(tuitest.Screen(m), "Restart worker 2?") {
		t.Fatalf("R does not ask:\n%s", tuitest.Screen(m))
	}
	if _, cmd := m.Update(tuitest.Key("q")); cmd != nil { // not a quit while asking
		t.Fatal("q while asking returned a command")
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if len(fp.Calls) != 0 || tuitest.Typing(m) {
		t.Fatalf("esc: calls %v", fp.Calls)
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("R")), tuitest.Key("y"))
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("c")), tuitest.Key("y"))
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("c")), tuitest.Key("a"))
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("R")), tuitest.Key("a"))
	want := []string{"restart 2", "recycle 2", "recycle 0", "restart 0"}
	if strings.Join(fp.Calls, ",") != strings.Join(want, ",") {
		t.Errorf("pool calls %v, want %v", fp.Calls, want)
	}
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "every worker: restarted") {
		t.Errorf("no notice of the restart:\n%s", tuitest.LastLines(s, 2))
	}
	// r starts nothing while the pool runs.
	_ = tuitest.Send(t, m, tuitest.Key("r"))
	if len(fp.Calls) != 4 {
		t.Errorf("r with a running pool called %v", fp.Calls[4:])
	}
}

func TestWorkersIdleStartsPool(t *testing.T) {
	fp := &tuitest.Pool{}
	m := tuitest.NewLive(t, 100, 24, &tuitest.Executions{}, fp)
	m = tuitest.Send(t, m, tuitest.Key("5"))
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: &app.PoolStatus{Engine: "idle"}, PoolAt: tuitest.Now, Conn: tuitest.Connected()}
	})
	s := tuitest.Screen(m)
	if !strings.Contains(s, "The worker pool is not started") || !strings.Contains(s, "Press r to start it now") {
		t.Fatalf("idle pool:\n%s", s)
	}
	m = tuitest.Send(t, m, tuitest.Key("R"))
	if len(fp.Calls) != 0 || tuitest.Typing(m) {
		t.Errorf("R on an idle pool asked or called: %v", fp.Calls)
	}
	m = tuitest.Send(t, m, tuitest.Key("r"))
	if len(fp.Calls) != 1 || fp.Calls[0] != "start" {
		t.Fatalf("r: calls %v", fp.Calls)
	}
	if s := tuitest.LastLines(tuitest.Screen(m), 2); !strings.Contains(s, "worker pool started") {
		t.Errorf("no notice:\n%s", tuitest.LastLines(s, 2))
	}
}

func wkrs(m tui.Model) *workers.Page { return m.PageView(tui.PageWorkers).(*workers.Page) }

func TestLiveGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			fx := &tuitest.Executions{List: tuitest.SampleExecutions(), Month: 3.1416}
			base := tuitest.NewLive(t, sz[0], sz[1], fx, &tuitest.Pool{})
			base = tuitest.Run(t, base, func() tea.Msg {
				return live.Msg{Pool: tuitest.SamplePool(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected(),
					Spans: []model.Span{{Execution: fx.List[0].ID, Module: "retrieve", Name: "Retrieve.forward"}}}
			})
			idle := tuitest.Run(t, base, func() tea.Msg { return live.Msg{Pool: &app.PoolStatus{Engine: "idle"}, PoolAt: tuitest.Now} })
			beyond := tuitest.Run(t, base, func() tea.Msg { return live.Msg{Pool: tuitest.SampleBeyond(), PoolAt: tuitest.PoolAt} })
			// An owner whose own pool is not started, with pools serving its queue.
			idleBeyond := tuitest.SampleBeyond()
			idleBeyond.Engine, idleBeyond.Pool, idleBeyond.Remote = "idle", nil, idleBeyond.Remote[1:]
			idleRemote := tuitest.Run(t, base, func() tea.Msg { return live.Msg{Pool: idleBeyond, PoolAt: tuitest.PoolAt} })
			screens := map[string]tui.Model{
				"workers":             tuitest.Send(t, base, tuitest.Key("5")),
				"workers-confirm":     tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, base, tuitest.Key("5")), tuitest.Key("j")), tuitest.Key("R")),
				"workers-idle":        tuitest.Send(t, idle, tuitest.Key("5")),
				"workers-beyond":      tuitest.Send(t, beyond, tuitest.Key("5")),
				"workers-beyond-idle": tuitest.Send(t, idleRemote, tuitest.Key("5")),
			}
			for name, m := range screens {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Screen(m)))
				})
			}
		})
	}
}

// TestWorkersShowTheZygote: the header names the process the workers fork
// from and its state, as pool events bring it.
func TestWorkersShowTheZygote(t *testing.T) {
	m := tuitest.NewLive(t, 120, 24, &tuitest.Executions{}, &tuitest.Pool{})
	m = tuitest.Send(t, m, tuitest.Key("5"))
	pool := tuitest.SamplePool()
	pool.Zygote = &app.Zygote{State: "ready", PID: 4242}
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: pool, PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()} })
	if s := tuitest.Screen(m); !strings.Contains(s, "zygote ready (pid 4242)") {
		t.Fatalf("no zygote in the header:\n%s", s)
	}
	down := tuitest.SamplePool()
	down.Zygote = &app.Zygote{State: "restarting"}
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: down, PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()} })
	if s := tuitest.Screen(m); !strings.Contains(s, "zygote restarting") || strings.Contains(s, "pid 4242") {
		t.Fatalf("a restarting zygote:\n%s", s)
	}
}

// TestWorkersBeyondTheLocalPool: the LM endpoints, the NATS queue and the
// pools serving it show under the local workers, live; the cursor, restart
// and recycle stay on the local workers.
func TestWorkersBeyondTheLocalPool(t *testing.T) {
	clk := tuitest.NewClock()
	fp := &tuitest.Pool{}
	m := tuitest.NewLive(t, 160, 30, &tuitest.Executions{}, fp, tuitest.WithClock(clk))
	m = tuitest.Send(t, m, tuitest.Key("5"))
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: tuitest.SampleBeyond(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()}
	})
	s := tuitest.Screen(m)
	for _, want := range []string{
		"LM endpoints (2)", "gpu-a.lan:8000/v1", "healthy", "1,520", "912.4k/48.2k", "412ms",
		"gpu-b.lan:8000/v1", "ejected", "17/5", "APIConnectionError: connection",
		"queue nats://10.0.0.2:4222 · 3 waiting · 1 redelivered · ack wait 30s · embedded · stream SIGNET_JOBS",
		"pool local  ready  1/4 running · 3,636 served · seen 6s ago · ada-laptop pid 40001 · its workers are above",
		"pool gpu-box  ready  1/2 running · 212 served · seen 7s ago · gpu-box.lan pid 7312 ",
		"7320", "execute #1901", "pool old-mac  lost  0/1 running · 7 served · seen 1m ago", "execute #1899",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "(traceback)") || strings.Count(s, "41201") != 1 {
		t.Errorf("an error's second line, or the local workers listed twice:\n%s", s)
	}

	// The cursor goes over the local workers only.
	for range 10 {
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	if id := wkrs(m).SelectedID(); id != 4 {
		t.Fatalf("selected worker %d after going down past the local pool, want 4", id)
	}
	m = tuitest.Send(t, m, tuitest.Key("R"))
	if s := tuitest.Screen(m); !strings.Contains(s, "Restart worker 4?") {
		t.Fatalf("R does not ask about local worker 4:\n%s", s)
	}
	m = tuitest.Send(t, m, tuitest.Key("a"))
	if strings.Join(fp.Calls, ",") != "restart 0" {
		t.Errorf("pool calls %v", fp.Calls)
	}
	// A click on a remote worker's row selects nothing.
	rows := strings.Split(tuitest.Screen(m), "\n")
	for y, line := range rows {
		if strings.Contains(line, "7320") {
			m = tuitest.Run(t, m, func() tea.Msg { return tea.MouseClickMsg{X: 10, Y: y, Button: tea.MouseLeft} })
		}
	}
	if id := wkrs(m).SelectedID(); id != 4 {
		t.Errorf("a click on a remote worker selected worker %d", id)
	}

	// Last seen moves on with the clock; the next status replaces the last.
	clk.Set(tuitest.Now.Add(2 * time.Minute))
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{} })
	if s := tuitest.Screen(m); !strings.Contains(s, "seen 2m ago · gpu-box.lan") {
		t.Errorf("last seen did not move on:\n%s", s)
	}
	next := tuitest.SampleBeyond()
	next.Remote = next.Remote[:2]
	next.NATS, next.LMEndpoints = nil, nil
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: next, PoolAt: clk.Now()} })
	s = tuitest.Screen(m)
	if strings.Contains(s, "old-mac") || strings.Contains(s, "LM endpoints") || strings.Contains(s, "queue nats") || !strings.Contains(s, "gpu-box") {
		t.Errorf("after the pool forgot old-mac and the queue:\n%s", s)
	}
	// Without anything beyond the local pool, the page is the local pool.
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: tuitest.SamplePool(), PoolAt: clk.Now()} })
	if s := tuitest.Screen(m); strings.Contains(s, "── ") || !strings.Contains(s, "41977") {
		t.Errorf("the local pool alone:\n%s", s)
	}
}

// TestWorkersBeyondInAShortTerminal: when the sections do not fit, each
// remote pool's workers are summed up on its line, the local list keeps
// half the page (its cursor in sight), and what is still cut is said.
func TestWorkersBeyondInAShortTerminal(t *testing.T) {
	m := tuitest.NewLive(t, 100, 19, &tuitest.Executions{}, &tuitest.Pool{})
	m = tuitest.Send(t, m, tuitest.Key("5"))
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: tuitest.SampleBeyond(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()}
	})
	s := tuitest.Screen(m)
	for _, want := range []string{"pool gpu-box  ready", "workers 2/2 ready", "pool old-mac  lost", "workers 1/1 ready", "LM endpoints (2)", "queue nats://"} {
		if !strings.Contains(s, want) {
			t.Errorf("the short page lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "7320") {
		t.Errorf("a remote pool's workers listed in a short terminal:\n%s", s)
	}
	m = tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Key("j")), tuitest.Key("j"))
	if s := tuitest.Screen(m); wkrs(m).SelectedID() != 4 || !strings.Contains(s, "41977") {
		t.Errorf("the selected worker 4 is not in sight:\n%s", s)
	}
	// Shorter still: the sections are cut, and the page says so.
	m = tuitest.Run(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 14} })
	if s := tuitest.Screen(m); !strings.Contains(s, "more lines: signet status lists them all") {
		t.Errorf("no marker of what is cut:\n%s", s)
	}
}

// TestWorkersAskForWhatEventsLack: pool events do not carry the LM
// endpoints' counters (they move with every call), so the page asks the
// owner for the pool when shown and again on each tick while shown; an
// event in between keeps the last answer's endpoints; a tick after the
// page was left asks nothing.
func TestWorkersAskForWhatEventsLack(t *testing.T) {
	fp := &tuitest.Pool{Status: tuitest.SampleBeyond()}
	m := tuitest.NewLive(t, 160, 40, &tuitest.Executions{}, fp)
	m = tuitest.Run(t, m, func() tea.Msg {
		return live.Msg{Pool: tuitest.SamplePool(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected()}
	})
	if fp.Asked != 0 {
		t.Fatalf("asked %d times before the page was shown", fp.Asked)
	}
	m = tuitest.Send(t, m, tuitest.Key("5"))
	if s := tuitest.Screen(m); fp.Asked != 1 || !strings.Contains(s, "1,520") || !strings.Contains(s, "pool gpu-box") {
		t.Fatalf("asked %d times; the page:\n%s", fp.Asked, s)
	}
	// An event: the workers change, the endpoints stay.
	ev := tuitest.SamplePool()
	ev.Pool[0].State = "busy"
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Pool: ev, PoolAt: tuitest.Now} })
	if s := tuitest.Screen(m); !strings.Contains(s, "1,520") || !strings.Contains(s, "queue nats://") {
		t.Errorf("an event dropped the endpoints or the queue:\n%s", s)
	}
	// The tick asks again.
	next := tuitest.SampleBeyond()
	next.LMEndpoints[0].Calls = 1600
	fp.Status = next
	m = tuitest.Deliver(t, m, page.Routed{To: page.Addr{Page: int(tui.PageWorkers)}, Msg: wkrs(m).AskTick()})
	if s := tuitest.Screen(m); fp.Asked != 2 || !strings.Contains(s, "1,600") {
		t.Errorf("asked %d times after the tick:\n%s", fp.Asked, s)
	}
	// Left: the pending tick asks nothing.
	tick := wkrs(m).AskTick()
	m = tuitest.Send(t, m, tuitest.Key("1"))
	m = tuitest.Deliver(t, m, page.Routed{To: page.Addr{Page: int(tui.PageWorkers)}, Msg: tick})
	if fp.Asked != 2 {
		t.Errorf("asked %d times after the page was left", fp.Asked)
	}
	// An answer that fails says so in the header.
	fp.Status, fp.Err = nil, errors.New("permission denied: pool")
	m = tuitest.Send(t, m, tuitest.Key("5"))
	if s := tuitest.Screen(m); fp.Asked != 3 || !strings.Contains(s, "LM endpoints not read: permission denied: pool") || !strings.Contains(s, "1,600") {
		t.Errorf("a failed asking:\n%s", s)
	}
	m = tuitest.Deliver(t, m, page.Routed{To: page.Addr{Page: int(tui.PageWorkers)}, Msg: wkrs(m).AskTick()})
	if fp.Asked != 4 {
		t.Errorf("asked %d times after a failure and a tick, want 4", fp.Asked)
	}
	// Refused: the tick does not ask again (each refusal is audited).
	fp.Err = fmt.Errorf("pool: %w", app.ErrForbidden)
	m = tuitest.Send(t, m, tuitest.Key("5"))
	m = tuitest.Deliver(t, m, page.Routed{To: page.Addr{Page: int(tui.PageWorkers)}, Msg: wkrs(m).AskTick()})
	if fp.Asked != 5 {
		t.Errorf("asked %d times after a refusal and a tick, want 5", fp.Asked)
	}
}
