package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// testNow is the fixed clock of the live pages' tests and goldens.
var testNow = time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)

// fakeExecutions serves a fixed history, newest first; the cursor is the
// index of the next execution.
type fakeExecutions struct {
	mu        sync.Mutex
	execs     []*model.Execution // newest first
	calls     []string           // "state@cursor/limit" of each ListExecutions
	cancelled []model.ID
	costCalls int
	cost      float64
	cancelErr error
}

func (f *fakeExecutions) ListExecutions(_ context.Context, state model.RunState, cursor string, limit int) ([]*model.Execution, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s@%s/%d", state, cursor, limit))
	var match []*model.Execution
	for _, x := range f.execs {
		if state == "" || x.State == state {
			match = append(match, x)
		}
	}
	from := 0
	if cursor != "" {
		from, _ = strconv.Atoi(cursor)
	}
	to := min(from+limit, len(match))
	next := ""
	if to < len(match) {
		next = strconv.Itoa(to)
	}
	return match[from:to], next, nil
}

func (f *fakeExecutions) CancelExecution(_ context.Context, id model.ID) (*model.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	if f.cancelErr != nil {
		return nil, f.cancelErr
	}
	for _, x := range f.execs {
		if x.ID == id {
			y := *x
			y.Move(model.Cancelled, testNow)
			return &y, nil
		}
	}
	return nil, errors.New("not found")
}

func (f *fakeExecutions) MonthCost(context.Context) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.costCalls++
	return f.cost, nil
}

func (f *fakeExecutions) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fakePool records the pool actions.
type fakePool struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakePool) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return nil
}
func (f *fakePool) RestartWorker(_ context.Context, id int) error {
	return f.record(fmt.Sprint("restart ", id))
}
func (f *fakePool) RecycleWorker(_ context.Context, id int) error {
	return f.record(fmt.Sprint("recycle ", id))
}
func (f *fakePool) StartPool(context.Context) error { return f.record("start") }

// noStream is an event source without a stream: the feed ends at once,
// and the tests hand the live messages to Update themselves.
type noStream struct{}

func (noStream) Subscribe(context.Context, func(live.Event)) error { return errors.ErrUnsupported }

// testClock is a clock the tests set; it sets no timers, so nothing waits.
type testClock struct{ now time.Time }

func (c *testClock) clock() *page.Clock {
	return &page.Clock{Now: func() time.Time { return c.now }, Location: time.UTC}
}

// exec makes an execution created i minutes before testNow.
func testExec(i int, program string, state model.RunState) *model.Execution {
	at := testNow.Add(-time.Duration(i) * time.Minute)
	x := &model.Execution{ID: model.NewIDAt(at), Program: program, Version: 1 + i%3, State: model.Pending, CreatedAt: at}
	if state == model.Pending {
		return x
	}
	x.Move(model.Running, at.Add(time.Second))
	switch state {
	case model.Completed:
		x.Move(model.Completed, at.Add(2500*time.Millisecond))
		x.Usage = map[string]model.Usage{"openai/gpt-4o-mini": {Calls: 1, PromptTokens: 120 + i, CompletionTokens: 14}}
		x.Cost = 0.000042 * float64(1+i)
	case model.Failed:
		x.Move(model.Failed, at.Add(4*time.Second))
		x.ErrorCode, x.Error = "lm_error", "rate limited by the provider\nretry later"
	case model.Cancelled:
		x.Move(model.Cancelled, at.Add(3*time.Second))
	}
	return x
}

func sampleExecutions() []*model.Execution {
	progs := []string{"qa", "rag-support", "summarize", "classify_intent"}
	states := []model.RunState{model.Running, model.Completed, model.Completed, model.Failed, model.Completed, model.Pending, model.Cancelled, model.Completed}
	var xs []*model.Execution
	for i := range 40 {
		xs = append(xs, testExec(i*7+1, progs[i%len(progs)], states[i%len(states)]))
	}
	return xs
}

// newLiveModel is newTestModel with the live services faked: a history, a
// pool control and an event stream whose messages the test sends itself.
func newLiveModel(t *testing.T, w, h int, fx *fakeExecutions, fp *fakePool) Model {
	t.Helper()
	return newLiveModelAt(t, w, h, fx, fp, &testClock{now: testNow})
}

func newLiveModelAt(t *testing.T, w, h int, fx *fakeExecutions, fp *fakePool, clk *testClock) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}, Datasets: sampleDatasets(),
		Executions: fx, Pool: fp, Events: noStream{}}, Options{
		Workspace: "/home/ada/signet-workspace", LMProfile: "local-smollm2", Styles: themes.New(p), Clock: clk.clock(),
	})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return run(t, m, m.Init())
}

func samplePool() *live.PoolStatus {
	return &live.PoolStatus{Engine: "running", At: testNow.Add(-5 * time.Second), Workers: []live.Worker{
		{ID: 1, State: "ready", PID: 41201, Uptime: 3*time.Hour + 12*time.Minute, Served: 1834, Restarts: 0},
		{ID: 2, State: "busy", PID: 41202, Uptime: 3*time.Hour + 12*time.Minute, Served: 1790, Inflight: 2, Current: "execute #1893"},
		{ID: 3, State: "restarting", Restarts: 2, LastError: "worker died: signal: killed\n(stderr tail)"},
		{ID: 4, State: "ready", PID: 41977, Uptime: 47 * time.Second, Served: 12, Restarts: 1, LastError: "recycled: 512 MiB resident"},
	}}
}

func connected() *live.Conn { return &live.Conn{Up: true, Session: 1} }

func selectedExec(m Model) *model.Execution { return m.executions.selected() }

func TestExecutionsFirstPageOnly(t *testing.T) {
	fx := &fakeExecutions{}
	for i := range 1000 {
		fx.execs = append(fx.execs, testExec(i, "qa", model.Completed))
	}
	m := newLiveModel(t, 80, 24, fx, &fakePool{})
	if calls := fx.callList(); len(calls) != 0 {
		t.Fatalf("executions listed before the page was opened: %v", calls)
	}
	m = send(t, m, keyText("3"))
	if calls := fx.callList(); len(calls) != 1 || calls[0] != "@/100" {
		t.Fatalf("opening the page: calls %v, want one first page of 100", calls)
	}
	if m.executions.list.Total() != 100 || selectedExec(m).ID != fx.execs[0].ID {
		t.Fatalf("%d rows, newest first expected", m.executions.list.Total())
	}
	// Walking down to within execPrefetch of the end fetches the next page.
	for range 100 - execPrefetch - 1 {
		m = send(t, m, keyText("j"))
	}
	if n := len(fx.callList()); n != 1 {
		t.Fatalf("fetched %d pages before nearing the end", n)
	}
	m = send(t, m, keyText("j"))
	if calls := fx.callList(); len(calls) != 2 || calls[1] != "@100/100" {
		t.Fatalf("calls %v, want the second page", calls)
	}
	if m.executions.list.Total() != 200 {
		t.Fatalf("%d rows after the second page", m.executions.list.Total())
	}
	// Back on the page: nothing is fetched again.
	m = send(t, send(t, m, keyText("1")), keyText("3"))
	if n := len(fx.callList()); n != 2 {
		t.Errorf("coming back refetched: %d calls", n)
	}
}

func TestExecutionsLiveEvents(t *testing.T) {
	fx := &fakeExecutions{execs: sampleExecutions(), cost: 1.5}
	m := newLiveModel(t, 120, 30, fx, &fakePool{})
	m = send(t, m, keyText("3"))
	m = send(t, m, keyText("j")) // on the second row
	onRow := selectedExec(m).ID
	costCalls := fx.costCalls

	// A run started elsewhere appears at the top; the cursor stays put.
	x := testExec(0, "sentiment", model.Pending)
	x.ID = model.NewIDAt(testNow.Add(time.Second))
	m = run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{x}, Conn: connected()} })
	if got := m.executions.execs[0]; got.ID != x.ID {
		t.Fatalf("the new execution is not the first row: %s", got.Program)
	}
	if selectedExec(m).ID != onRow {
		t.Errorf("the cursor moved off its execution")
	}
	if !strings.Contains(screen(m), "sentiment") {
		t.Errorf("the new execution is not on screen:\n%s", screen(m))
	}

	// It runs and completes: the row follows, and the month's cost is
	// fetched again, which the status bar shows.
	y := *x
	y.Move(model.Running, testNow)
	m = run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&y}} })
	if m.executions.execs[0].State != model.Running {
		t.Fatalf("state %s, want running", m.executions.execs[0].State)
	}
	fx.mu.Lock()
	fx.cost = 2.25
	fx.mu.Unlock()
	z := y
	z.Move(model.Completed, testNow.Add(1200*time.Millisecond))
	m = run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&z}} })
	if m.executions.execs[0].State != model.Completed || m.executions.list.Total() != len(fx.execs)+1 {
		t.Fatalf("after completion: state %s, %d rows", m.executions.execs[0].State, m.executions.list.Total())
	}
	if fx.costCalls != costCalls+1 {
		t.Errorf("cost fetched %d times after a completion, want once", fx.costCalls-costCalls)
	}
	s := screen(m)
	if !strings.Contains(lastLines(s, 2), "month $2.25") {
		t.Errorf("the status bar does not show the new month-to-date cost:\n%s", s)
	}
	if !strings.Contains(s, "1.2s") {
		t.Errorf("the completed row has no duration:\n%s", s)
	}
}

func TestExecutionsEventsDuringLoad(t *testing.T) {
	fx := &fakeExecutions{execs: sampleExecutions()}
	m := newLiveModel(t, 120, 30, fx, &fakePool{})
	// The page opens; before its first page arrives, the first (running)
	// execution completes and a new one starts.
	nm, cmd := m.Update(keyText("3"))
	m = nm.(Model)
	done := *fx.execs[0]
	done.Move(model.Completed, testNow)
	fresh := testExec(0, "sentiment", model.Running)
	fresh.ID = model.NewIDAt(testNow.Add(time.Second))
	m = update(t, m, live.Msg{Execs: []*model.Execution{&done, fresh}})
	m = run(t, m, cmd)
	if got := m.executions.execs; got[0].ID != fresh.ID || got[1].ID != done.ID || got[1].State != model.Completed {
		t.Fatalf("events during the load were lost: first rows %s/%s, %s/%s", got[0].Program, got[0].State, got[1].Program, got[1].State)
	}
}

func TestExecutionsStateFilterRemovesRows(t *testing.T) {
	fx := &fakeExecutions{execs: sampleExecutions()}
	m := newLiveModel(t, 120, 30, fx, &fakePool{})
	m = send(t, send(t, m, keyText("3")), keyText("s"))
	if calls := fx.callList(); calls[len(calls)-1] != "running@/100" {
		t.Fatalf("s: last call %q, want the running ones", calls[len(calls)-1])
	}
	for _, x := range m.executions.execs {
		if x.State != model.Running {
			t.Fatalf("a %s execution under the running filter", x.State)
		}
	}
	n := m.executions.list.Total()
	done := *m.executions.execs[0]
	done.Move(model.Completed, testNow)
	m = run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&done}} })
	if m.executions.list.Total() != n-1 {
		t.Errorf("a completed execution stays under the running filter")
	}
	if !strings.Contains(screen(m), "running") {
		t.Errorf("the header does not name the state filter")
	}
	// The cycle comes back to every state.
	for range len(execStates) - 1 {
		m = send(t, m, keyText("s"))
	}
	if m.executions.state != "" || m.executions.list.Total() != len(fx.execs) {
		t.Errorf("after a full cycle: state %q, %d rows", m.executions.state, m.executions.list.Total())
	}
}

func TestExecutionsCancel(t *testing.T) {
	fx := &fakeExecutions{execs: sampleExecutions()}
	m := newLiveModel(t, 120, 30, fx, &fakePool{})
	m = send(t, m, keyText("3"))
	if selectedExec(m).State != model.Running {
		t.Fatal("the first sample execution should be running")
	}
	id := selectedExec(m).ID
	m = send(t, m, keyText("x"))
	if len(fx.cancelled) != 1 || fx.cancelled[0] != id {
		t.Fatalf("x cancelled %v, want %s", fx.cancelled, id)
	}
	if selectedExec(m).State != model.Cancelled {
		t.Errorf("the row shows %s after the cancel", selectedExec(m).State)
	}
	if !strings.Contains(screen(m), "cancelled "+execShortID(id)) {
		t.Errorf("no notice of the cancel:\n%s", screen(m))
	}
	// A finished one is not sent to the owner.
	m = send(t, m, keyText("x"))
	if len(fx.cancelled) != 1 {
		t.Errorf("x on a finished execution called the owner")
	}
	if !strings.Contains(screen(m), "has already cancelled") {
		t.Errorf("no notice that it has finished:\n%s", screen(m))
	}
	// An error from the owner is a notice.
	fx.cancelErr = errors.New("owner says no")
	m = send(t, send(t, m, keyText("j")), keyText("j"))
	m = send(t, m, keyText("x")) // the third sample row is completed: no call
	m = send(t, m, keyText("G"))
	for selectedExec(m).State.Terminal() {
		m = send(t, m, keyText("k"))
	}
	m = send(t, m, keyText("x"))
	if s := screen(m); !strings.Contains(s, "owner says no") {
		t.Errorf("the cancel error is not shown:\n%s", s)
	}
}

func TestExecutionsEnterOpensTrace(t *testing.T) {
	fx := &fakeExecutions{execs: sampleExecutions()}
	m := newLiveModel(t, 80, 24, fx, &fakePool{})
	m = send(t, send(t, m, keyText("3")), keyText("j"))
	nm, _ := m.Update(keyCode(tea.KeyEnter, 0))
	if tr, ok := top(nm.(Model)).(*traceScreen); !ok || tr.id != fx.execs[1].ID {
		t.Errorf("enter opened %T, want the trace of %s", top(nm.(Model)), fx.execs[1].ID)
	}
}

func TestExecutionsFilter(t *testing.T) {
	fx := &fakeExecutions{execs: sampleExecutions()}
	m := newLiveModel(t, 120, 30, fx, &fakePool{})
	m = typeText(t, send(t, send(t, m, keyText("3")), keyText("/")), "summ")
	if !m.executions.Typing() {
		t.Fatal("/ does not take the keyboard")
	}
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	if m.executions.list.Len() != 10 {
		t.Fatalf("/summ: %d rows, want the 10 summarize runs", m.executions.list.Len())
	}
	for pos := range m.executions.list.Len() {
		if x := m.executions.execs[m.executions.rowAt(pos)]; x.Program != "summarize" {
			t.Fatalf("row %d is %s", pos, x.Program)
		}
	}
	// A live update keeps the filter; the state badge drawn on each row is
	// the row's own (rowAt follows the filter).
	first := *m.executions.execs[m.executions.rowAt(0)]
	first.Move(model.Running, testNow)
	m = run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&first}} })
	if m.executions.list.Len() != 10 {
		t.Errorf("a live update undid the filter: %d rows", m.executions.list.Len())
	}
	lines := strings.Split(screen(m), "\n")
	for _, l := range lines {
		if strings.Contains(l, "classify_intent") || strings.Contains(l, "rag-support") {
			t.Errorf("filtered-out program on screen: %q", l)
		}
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if m.executions.list.Len() != len(fx.execs) {
		t.Errorf("esc did not clear the filter")
	}
}

func TestStatusBarPoolAndCost(t *testing.T) {
	fx := &fakeExecutions{cost: 12.3456}
	m := newLiveModel(t, 160, 30, fx, &fakePool{})
	if s := lastLines(screen(m), 2); !strings.Contains(s, "pool …") || !strings.Contains(s, "month $12.35") {
		t.Errorf("before any pool event the bar should say pool … and the cost:\n%s", lastLines(s, 2))
	}
	pool := samplePool()
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: pool, Conn: connected()} })
	if s := lastLines(screen(m), 2); !strings.Contains(s, "pool 3/4 · 1 restarting") {
		t.Errorf("status bar:\n%s", lastLines(s, 2))
	}
	ready := *pool
	ready.Workers = append([]live.Worker(nil), pool.Workers...)
	ready.Workers[2].State, ready.Workers[2].PID = "ready", 42000
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: &ready} })
	if s := lastLines(screen(m), 2); !strings.Contains(s, "pool 4/4 ready") {
		t.Errorf("status bar:\n%s", lastLines(s, 2))
	}
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: &live.PoolStatus{Engine: "idle"}} })
	if s := lastLines(screen(m), 2); !strings.Contains(s, "pool idle") {
		t.Errorf("status bar:\n%s", lastLines(s, 2))
	}
	m = run(t, m, func() tea.Msg { return live.Msg{Conn: &live.Conn{Err: errors.New("EOF"), Retry: time.Second}} })
	if s := lastLines(screen(m), 2); !strings.Contains(s, "pool owner unreachable") {
		t.Errorf("status bar after the owner went away:\n%s", lastLines(s, 2))
	}
	// Back: the cost is fetched again (runs may have ended meanwhile).
	calls := fx.costCalls
	m = run(t, m, func() tea.Msg { return live.Msg{Conn: &live.Conn{Up: true, Session: 2}, Pool: &ready} })
	if fx.costCalls != calls+1 {
		t.Errorf("reconnecting did not refresh the cost")
	}
}

// TestStatusBarFits80 checks the bar at 80 columns: it fits, and segments
// drop by priority (the workspace path, then the programs count, before
// the pool and the cost).
func TestStatusBarFits80(t *testing.T) {
	fx := &fakeExecutions{cost: 1234.5}
	m := newLiveModel(t, 80, 24, fx, &fakePool{})
	m = run(t, m, func() tea.Msg { return live.Msg{Pool: samplePool(), Conn: connected()} })
	lines := strings.Split(screen(m), "\n")
	if w := ansi.StringWidth(lines[len(lines)-2]); w != 80 {
		t.Fatalf("bar is %d wide", w)
	}
	bar := lastLines(screen(m), 2)
	for _, want := range []string{"pool 3/4 · 1 restarting", "month $1234.50", "lm local-smollm2"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar lacks %q: %q", want, bar)
		}
	}
	if strings.Contains(bar, "workspace") || !strings.Contains(bar, "programs 4") {
		t.Errorf("the workspace path should be the first to go at 80 columns: %q", bar)
	}
	// A long notice pushes out more, never the pool.
	m = update(t, m, page.NoticeMsg{Text: "a fairly long notice about something that happened"})
	lines = strings.Split(screen(m), "\n")
	bar = lastLines(screen(m), 2)
	if !strings.Contains(bar, "pool 3/4") || ansi.StringWidth(lines[len(lines)-2]) != 80 {
		t.Errorf("with a notice: %q", bar)
	}
}

// lastLines is the last n lines of a screen, each with its runs of spaces
// collapsed (the status bar pads its keys and values).
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	lines = lines[max(len(lines)-n, 0):]
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestLiveGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			fx := &fakeExecutions{execs: sampleExecutions(), cost: 3.1416}
			base := newLiveModel(t, sz[0], sz[1], fx, &fakePool{})
			base = run(t, base, func() tea.Msg {
				return live.Msg{Pool: samplePool(), Conn: connected(),
					Spans: []model.Span{{Execution: fx.execs[0].ID, Module: "retrieve", Name: "Retrieve.forward"}}}
			})
			execs := send(t, base, keyText("3"))
			idle := run(t, base, func() tea.Msg { return live.Msg{Pool: &live.PoolStatus{Engine: "idle", At: testNow}} })
			screens := map[string]Model{
				"executions":         execs,
				"executions-failed":  send(t, send(t, send(t, send(t, execs, keyText("s")), keyText("s")), keyText("s")), keyText("s")),
				"executions-filter":  typeText(t, send(t, execs, keyText("/")), "rag"),
				"workers":            send(t, base, keyText("5")),
				"workers-confirm":    send(t, send(t, send(t, base, keyText("5")), keyText("j")), keyText("R")),
				"workers-idle":       send(t, idle, keyText("5")),
				"executions-offline": run(t, execs, func() tea.Msg { return live.Msg{Conn: &live.Conn{Err: errors.New("EOF"), Retry: 2 * time.Second}} }),
			}
			for name, m := range screens {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screen(m)))
				})
			}
		})
	}
}
