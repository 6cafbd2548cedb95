package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui/live"
)

func TestWorkersTableFollowsPoolEvents(t *testing.T) {
	clk := &testClock{now: testNow}
	m := newLiveModelAt(t, 120, 30, &fakeExecutions{}, &fakePool{}, clk)
	m = send(t, m, keyText("5"))
	if s := screen(m); !strings.Contains(s, "Waiting for the owner's pool status") {
		t.Fatalf("before the first pool event:\n%s", s)
	}
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: samplePool(), Conn: connected()} })
	s := screen(m)
	for _, want := range []string{"41201", "busy", "execute #1893 (+1)", "restarting", "worker died: signal: killed", "3h12m", "52s", "recycled: 512 MiB"} {
		if !strings.Contains(s, want) {
			t.Errorf("worker table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "(stderr tail)") {
		t.Errorf("a last error's second line shows")
	}
	// The selection stays on the same worker when the pool changes.
	m = send(t, send(t, m, keyText("j")), keyText("j"))
	if id := m.workers.selectedID(); id != 3 {
		t.Fatalf("selected worker %d", id)
	}
	next := samplePool()
	next.Workers[2].State, next.Workers[2].PID, next.Workers[2].Uptime = "ready", 42001, 0
	next.At = testNow
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: next} })
	if id := m.workers.selectedID(); id != 3 {
		t.Errorf("selection moved to worker %d", id)
	}
	if s := screen(m); !strings.Contains(s, "42001") || strings.Contains(s, "worker died") == false {
		t.Errorf("table not updated:\n%s", s)
	}
	// Uptimes move on with the clock.
	clk.now = testNow.Add(time.Minute)
	m = run(t, m, func() tea.Msg { return live.Msg{} })
	if s := screen(m); !strings.Contains(s, "1m00s") {
		t.Errorf("the new worker's uptime did not advance:\n%s", s)
	}
}

func TestWorkersRestartRecycle(t *testing.T) {
	fp := &fakePool{}
	m := newLiveModel(t, 120, 30, &fakeExecutions{}, fp)
	m = send(t, m, keyText("5"))
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: samplePool(), Conn: connected()} })
	m = send(t, m, keyText("j")) // worker 2

	// R asks first; esc gives up.
	m = send(t, m, keyText("R"))
	if !typingNow(m) || !strings.Contains(screen(m), "Restart worker 2?") {
		t.Fatalf("R does not ask:\n%s", screen(m))
	}
	if _, cmd := m.Update(keyText("q")); cmd != nil { // not a quit while asking
		t.Fatal("q while asking returned a command")
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if len(fp.calls) != 0 || typingNow(m) {
		t.Fatalf("esc: calls %v", fp.calls)
	}
	m = send(t, send(t, m, keyText("R")), keyText("y"))
	m = send(t, send(t, m, keyText("c")), keyText("y"))
	m = send(t, send(t, m, keyText("c")), keyText("a"))
	m = send(t, send(t, m, keyText("R")), keyText("a"))
	want := []string{"restart 2", "recycle 2", "recycle 0", "restart 0"}
	if strings.Join(fp.calls, ",") != strings.Join(want, ",") {
		t.Errorf("pool calls %v, want %v", fp.calls, want)
	}
	if s := lastLines(screen(m), 2); !strings.Contains(s, "every worker: restarted") {
		t.Errorf("no notice of the restart:\n%s", lastLines(s, 2))
	}
	// r starts nothing while the pool runs.
	m = send(t, m, keyText("r"))
	if len(fp.calls) != 4 {
		t.Errorf("r with a running pool called %v", fp.calls[4:])
	}
}

func TestWorkersIdleStartsPool(t *testing.T) {
	fp := &fakePool{}
	m := newLiveModel(t, 100, 24, &fakeExecutions{}, fp)
	m = send(t, m, keyText("5"))
	m = run(t, m, func() tea.Msg {
		return live.Msg{Pool: &live.PoolStatus{Engine: "idle", At: testNow}, Conn: connected()}
	})
	s := screen(m)
	if !strings.Contains(s, "The worker pool is not started") || !strings.Contains(s, "Press r to start it now") {
		t.Fatalf("idle pool:\n%s", s)
	}
	m = send(t, m, keyText("R"))
	if len(fp.calls) != 0 || typingNow(m) {
		t.Errorf("R on an idle pool asked or called: %v", fp.calls)
	}
	m = send(t, m, keyText("r"))
	if len(fp.calls) != 1 || fp.calls[0] != "start" {
		t.Fatalf("r: calls %v", fp.calls)
	}
	if s := lastLines(screen(m), 2); !strings.Contains(s, "worker pool started") {
		t.Errorf("no notice:\n%s", lastLines(s, 2))
	}
}
