package executions_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/pages/executions"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func execs(m tui.Model) *executions.Page { return m.PageView(tui.PageExecutions).(*executions.Page) }

func selectedExec(m tui.Model) *model.Execution { return execs(m).Selected() }

func TestExecutionsFirstPageOnly(t *testing.T) {
	fx := &tuitest.Executions{}
	for i := range 1000 {
		fx.List = append(fx.List, tuitest.Exec(i, "qa", model.Completed))
	}
	m := tuitest.NewLive(t, 80, 24, fx, &tuitest.Pool{})
	if calls := fx.CallList(); len(calls) != 0 {
		t.Fatalf("executions listed before the page was opened: %v", calls)
	}
	m = tuitest.Send(t, m, tuitest.Key("3"))
	if calls := fx.CallList(); len(calls) != 1 || calls[0] != "@/100" {
		t.Fatalf("opening the page: calls %v, want one first page of 100", calls)
	}
	if execs(m).List().Total() != 100 || selectedExec(m).ID != fx.List[0].ID {
		t.Fatalf("%d rows, newest first expected", execs(m).List().Total())
	}
	// Walking down to within executions.ExecPrefetch of the end fetches the next page.
	for range 100 - executions.ExecPrefetch - 1 {
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	if n := len(fx.CallList()); n != 1 {
		t.Fatalf("fetched %d pages before nearing the end", n)
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	if calls := fx.CallList(); len(calls) != 2 || calls[1] != "@100/100" {
		t.Fatalf("calls %v, want the second page", calls)
	}
	if execs(m).List().Total() != 200 {
		t.Fatalf("%d rows after the second page", execs(m).List().Total())
	}
	// Back on the page: nothing is fetched again.
	_ = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("1")), tuitest.Key("3"))
	if n := len(fx.CallList()); n != 2 {
		t.Errorf("coming back refetched: %d calls", n)
	}
}

func TestExecutionsLiveEvents(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions(), Month: 1.5}
	m := tuitest.NewLive(t, 120, 30, fx, &tuitest.Pool{})
	m = tuitest.Send(t, m, tuitest.Key("3"))
	m = tuitest.Send(t, m, tuitest.Key("j")) // on the second row
	onRow := selectedExec(m).ID
	costCalls := fx.CostCalls

	// A run started elsewhere appears at the top; the cursor stays put.
	x := tuitest.Exec(0, "sentiment", model.Pending)
	x.ID = model.NewIDAt(tuitest.Now.Add(time.Second))
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{x}, Conn: tuitest.Connected()} })
	if got := execs(m).Execs()[0]; got.ID != x.ID {
		t.Fatalf("the new execution is not the first row: %s", got.Program)
	}
	if selectedExec(m).ID != onRow {
		t.Errorf("the cursor moved off its execution")
	}
	if !strings.Contains(tuitest.Screen(m), "sentiment") {
		t.Errorf("the new execution is not on screen:\n%s", tuitest.Screen(m))
	}

	// It runs and completes: the row follows, and the month's cost is
	// fetched again, which the status bar shows.
	y := *x
	y.Move(model.Running, tuitest.Now)
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&y}} })
	if execs(m).Execs()[0].State != model.Running {
		t.Fatalf("state %s, want running", execs(m).Execs()[0].State)
	}
	fx.Mu.Lock()
	fx.Month = 2.25
	fx.Mu.Unlock()
	z := y
	z.Move(model.Completed, tuitest.Now.Add(1200*time.Millisecond))
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&z}} })
	if execs(m).Execs()[0].State != model.Completed || execs(m).List().Total() != len(fx.List)+1 {
		t.Fatalf("after completion: state %s, %d rows", execs(m).Execs()[0].State, execs(m).List().Total())
	}
	if fx.CostCalls != costCalls+1 {
		t.Errorf("cost fetched %d times after a completion, want once", fx.CostCalls-costCalls)
	}
	s := tuitest.Screen(m)
	if !strings.Contains(tuitest.LastLines(s, 2), "month $2.25") {
		t.Errorf("the status bar does not show the new month-to-date cost:\n%s", s)
	}
	if !strings.Contains(s, "1.2s") {
		t.Errorf("the completed row has no duration:\n%s", s)
	}
}

func TestExecutionsEventsDuringLoad(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions()}
	m := tuitest.NewLive(t, 120, 30, fx, &tuitest.Pool{})
	// The page opens; before its first page arrives, the first (running)
	// execution completes and a new one starts.
	nm, cmd := m.Update(tuitest.Key("3"))
	m = nm.(tui.Model)
	done := *fx.List[0]
	done.Move(model.Completed, tuitest.Now)
	fresh := tuitest.Exec(0, "sentiment", model.Running)
	fresh.ID = model.NewIDAt(tuitest.Now.Add(time.Second))
	m = tuitest.Update(t, m, live.Msg{Execs: []*model.Execution{&done, fresh}})
	m = tuitest.Run(t, m, cmd)
	if got := execs(m).Execs(); got[0].ID != fresh.ID || got[1].ID != done.ID || got[1].State != model.Completed {
		t.Fatalf("events during the load were lost: first rows %s/%s, %s/%s", got[0].Program, got[0].State, got[1].Program, got[1].State)
	}
}

func TestExecutionsStateFilterRemovesRows(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions()}
	m := tuitest.NewLive(t, 120, 30, fx, &tuitest.Pool{})
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("3")), tuitest.Key("s"))
	if calls := fx.CallList(); calls[len(calls)-1] != "running@/100" {
		t.Fatalf("s: last call %q, want the running ones", calls[len(calls)-1])
	}
	for _, x := range execs(m).Execs() {
		if x.State != model.Running {
			t.Fatalf("a %s execution under the running filter", x.State)
		}
	}
	n := execs(m).List().Total()
	done := *execs(m).Execs()[0]
	done.Move(model.Completed, tuitest.Now)
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&done}} })
	if execs(m).List().Total() != n-1 {
		t.Errorf("a completed execution stays under the running filter")
	}
	if !strings.Contains(tuitest.Screen(m), "running") {
		t.Errorf("the header does not name the state filter")
	}
	// The cycle comes back to every state.
	for range len(executions.ExecStates) - 1 {
		m = tuitest.Send(t, m, tuitest.Key("s"))
	}
	if execs(m).State() != "" || execs(m).List().Total() != len(fx.List) {
		t.Errorf("after a full cycle: state %q, %d rows", execs(m).State(), execs(m).List().Total())
	}
}

func TestExecutionsCancel(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions()}
	m := tuitest.NewLive(t, 120, 30, fx, &tuitest.Pool{})
	m = tuitest.Send(t, m, tuitest.Key("3"))
	if selectedExec(m).State != model.Running {
		t.Fatal("the first sample execution should be running")
	}
	id := selectedExec(m).ID
	m = tuitest.Send(t, m, tuitest.Key("x"))
	if len(fx.Cancelled) != 1 || fx.Cancelled[0] != id {
		t.Fatalf("x cancelled %v, want %s", fx.Cancelled, id)
	}
	if selectedExec(m).State != model.Cancelled {
		t.Errorf("the row shows %s after the cancel", selectedExec(m).State)
	}
	if !strings.Contains(tuitest.Screen(m), "cancelled "+executions.ExecShortID(id)) {
		t.Errorf("no notice of the cancel:\n%s", tuitest.Screen(m))
	}
	// A finished one is not sent to the owner.
	m = tuitest.Send(t, m, tuitest.Key("x"))
	if len(fx.Cancelled) != 1 {
		t.Errorf("x on a finished execution called the owner")
	}
	if !strings.Contains(tuitest.Screen(m), "has already cancelled") {
		t.Errorf("no notice that it has finished:\n%s", tuitest.Screen(m))
	}
	// An error from the owner is a notice.
	fx.CancelErr = errors.New("owner says no")
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Key("x")) // the third sample row is completed: no call
	m = tuitest.Send(t, m, tuitest.Key("G"))
	for selectedExec(m).State.Terminal() {
		m = tuitest.Send(t, m, tuitest.Key("k"))
	}
	m = tuitest.Send(t, m, tuitest.Key("x"))
	if s := tuitest.Screen(m); !strings.Contains(s, "owner says no") {
		t.Errorf("the cancel error is not shown:\n%s", s)
	}
}

func TestExecutionsEnterOpensTrace(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions()}
	m := tuitest.NewLive(t, 80, 24, fx, &tuitest.Pool{})
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("3")), tuitest.Key("j"))
	nm, _ := m.Update(tuitest.Code(tea.KeyEnter, 0))
	m = nm.(tui.Model)
	if title := strings.Split(tuitest.Screen(m), "\n")[1]; len(m.Dialogs()) != 1 || !strings.HasPrefix(title, "Trace") || !strings.Contains(title, fx.List[1].ID.String()) {
		t.Errorf("enter opened %q, want the trace of %s", title, fx.List[1].ID)
	}
}

func TestExecutionsFilter(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions()}
	m := tuitest.NewLive(t, 120, 30, fx, &tuitest.Pool{})
	m = tuitest.Type(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("3")), tuitest.Key("/")), "summ")
	if !execs(m).Typing() {
		t.Fatal("/ does not take the keyboard")
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	if execs(m).List().Len() != 10 {
		t.Fatalf("/summ: %d rows, want the 10 summarize runs", execs(m).List().Len())
	}
	for pos := range execs(m).List().Len() {
		if x := execs(m).Execs()[execs(m).RowAt(pos)]; x.Program != "summarize" {
			t.Fatalf("row %d is %s", pos, x.Program)
		}
	}
	// A live update keeps the filter; the state badge drawn on each row is
	// the row's own (rowAt follows the filter).
	first := *execs(m).Execs()[execs(m).RowAt(0)]
	first.Move(model.Running, tuitest.Now)
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&first}} })
	if execs(m).List().Len() != 10 {
		t.Errorf("a live update undid the filter: %d rows", execs(m).List().Len())
	}
	lines := strings.Split(tuitest.Screen(m), "\n")
	for _, l := range lines {
		if strings.Contains(l, "classify_intent") || strings.Contains(l, "rag-support") {
			t.Errorf("filtered-out program on screen: %q", l)
		}
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if execs(m).List().Len() != len(fx.List) {
		t.Errorf("esc did not clear the filter")
	}
}

func TestLiveGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			fx := &tuitest.Executions{List: tuitest.SampleExecutions(), Month: 3.1416}
			base := tuitest.NewLive(t, sz[0], sz[1], fx, &tuitest.Pool{})
			base = tuitest.Run(t, base, func() tea.Msg {
				return live.Msg{Pool: tuitest.SamplePool(), PoolAt: tuitest.PoolAt, Conn: tuitest.Connected(),
					Spans: []model.Span{{Execution: fx.List[0].ID, Module: "retrieve", Name: "Retrieve.forward"}}}
			})
			execs := tuitest.Send(t, base, tuitest.Key("3"))
			screens := map[string]tui.Model{
				"executions":         execs,
				"executions-failed":  tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, execs, tuitest.Key("s")), tuitest.Key("s")), tuitest.Key("s")), tuitest.Key("s")),
				"executions-filter":  tuitest.Type(t, tuitest.Send(t, execs, tuitest.Key("/")), "rag"),
				"executions-offline": tuitest.Run(t, execs, func() tea.Msg { return live.Msg{Conn: &live.Conn{Err: errors.New("EOF"), Retry: 2 * time.Second}} }),
			}
			for name, m := range screens {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Screen(m)))
				})
			}
		})
	}
}

// TestExecutionsSelectsRunStartedHere: a run started from this
// workbench's run form is selected when it comes into the list; one
// started elsewhere leaves the cursor where it was.
func TestExecutionsSelectsRunStartedHere(t *testing.T) {
	fx := &tuitest.Executions{List: tuitest.SampleExecutions(), Month: 1.5}
	f := tuitest.NewRunner()
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: tuitest.SampleDatasets(),
		Executions: fx, Pool: &tuitest.Pool{}, Events: tuitest.NoStream{}, Runner: f}, 120, 30)
	m = tuitest.Send(t, m, tuitest.Key("3"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	onRow := selectedExec(m).ID
	other := tuitest.Exec(0, "sentiment", model.Pending)
	other.ID = model.NewIDAt(tuitest.Now.Add(time.Second))
	m = tuitest.Deliver(t, m, live.Msg{Execs: []*model.Execution{other}, Conn: tuitest.Connected()})
	if selectedExec(m).ID != onRow {
		t.Fatal("a run started elsewhere moved the cursor")
	}
	nm, cmd := m.Open(m.Runs().RunForm(tuitest.QAProgram()))
	m = tuitest.Run(t, nm, cmd)
	m = tuitest.Type(t, m, "Who wrote Hamlet?")
	m = tuitest.Send(t, m, tuitest.Enter()) // runs; the trace opens
	m = tuitest.Send(t, m, tuitest.Esc())
	if len(f.Submits) != 1 {
		t.Fatalf("%d runs submitted", len(f.Submits))
	}
	mine := *f.Execs[tuitest.TraceID(101)]
	mine.CreatedAt = tuitest.Now.Add(2 * time.Second)
	m = tuitest.Deliver(t, m, live.Msg{Execs: []*model.Execution{&mine}})
	if got := selectedExec(m); got == nil || got.ID != mine.ID {
		t.Fatalf("selected %v, want the run started here %s", got, mine.ID)
	}
}
