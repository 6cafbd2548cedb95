package runs_test

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/runs"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// runnerModel is the workbench with f behind its run views (scr). Its
// clock sets no timers, so the polls of live views wait for a tick the
// test sends.
func runnerModel(t testing.TB, f *tuitest.Runner, w, h int) (tui.Model, *runs.Screens) {
	t.Helper()
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: tuitest.SampleDatasets(), Runner: f}, w, h)
	return m, m.Runs()
}

func darkStyles(t testing.TB) *themes.Styles {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	return themes.New(p)
}

// open shows d over the page, as the page that opens it would.
func open(t testing.TB, m tui.Model, d page.Dialog) tui.Model {
	t.Helper()
	m, cmd := m.Open(d)
	return tuitest.Run(t, m, cmd)
}

// openTrace opens the trace of id over the page, as enter on the
// Executions page does.
func openTrace(t testing.TB, f *tuitest.Runner, id model.ID, w, h int) (tui.Model, *runs.TraceScreen) {
	t.Helper()
	m, scr := runnerModel(t, f, w, h)
	m = open(t, m, scr.Trace(id))
	return m, tuitest.TopAs[*runs.TraceScreen](t, m)
}

func selectedSpan(t *testing.T, ts *runs.TraceScreen) *model.Span {
	t.Helper()
	n := ts.Tree().Selected()
	if n < 0 {
		t.Fatal("no span selected")
	}
	return &ts.Tree().Node(n).Span
}

func TestTraceNextPrevCall(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithQATrace(1)
	m, ts := openTrace(t, f, id, 100, 30)
	if ts.Tree().Len() != 7 || ts.Tree().Rows() != 7 {
		t.Fatalf("loaded %d spans, %d rows; want 7, 7", ts.Tree().Len(), ts.Tree().Rows())
	}
	want := []struct {
		key string
		seq uint64
	}{{"n", 4}, {"n", 7}, {"n", 7}, {"p", 4}, {"p", 4}, {"j", 5}, {"n", 7}}
	for i, w := range want {
		m = tuitest.Send(t, m, tuitest.Key(w.key))
		if got := selectedSpan(t, ts).Seq; got != w.seq {
			t.Fatalf("step %d (%s): on span %d, want %d", i, w.key, got, w.seq)
		}
	}
	// Collapsing the first module hides its calls from n/p.
	m = tuitest.Send(t, m, tuitest.Key("g"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeySpace, 0))
	if ts.Tree().Rows() != 4 {
		t.Fatalf("after collapsing m1: %d rows, want 4", ts.Tree().Rows())
	}
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if got := selectedSpan(t, ts).Seq; got != 7 {
		t.Fatalf("n after collapse: on span %d, want 7", got)
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if tuitest.Top(m) != nil {
		t.Fatal("esc does not close the trace")
	}
}

func TestTracePaging100k(t *testing.T) {
	f := tuitest.NewRunner()
	id := tuitest.TraceID(9)
	f.Execs[id] = &model.Execution{ID: id, Program: "big", Version: 1, State: model.Completed, CreatedAt: tuitest.TraceT0}
	f.Generated[id] = 100_000
	m, ts := openTrace(t, f, id, 120, 40)
	if ts.Tree().Len() != runs.TracePage {
		t.Fatalf("opened with %d spans loaded, want the first page (%d)", ts.Tree().Len(), runs.TracePage)
	}
	if !strings.Contains(tuitest.Screen(m), "1,000 spans+") {
		t.Errorf("title does not say more spans are to come:\n%s", tuitest.Screen(m))
	}
	// Paging down the whole trace loads it page by page, never all at once.
	for i := 0; i < 100_000/ts.TreeHeight()+10 && ts.Tree().Cursor() < 99_999; i++ {
		before := f.Pages
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyPgDown, 0))
		if f.Pages-before > 1 {
			t.Fatalf("one key read %d pages", f.Pages-before)
		}
	}
	if ts.Tree().Len() != 100_000 || !ts.Complete() {
		t.Fatalf("after paging to the end: %d spans, complete %v", ts.Tree().Len(), ts.Complete())
	}
	if f.Pages != 100 && f.Pages != 101 {
		t.Errorf("read %d pages of spans, want 100 (+1 empty)", f.Pages)
	}
	if c := ts.Tree().Cursor(); c != 99_999 {
		t.Errorf("cursor at %d, want the last row", c)
	}
	out := tuitest.Screen(m)
	if !strings.Contains(out, "100,000 spans") || strings.Contains(out, "spans+") {
		t.Errorf("title after the last page:\n%s", out)
	}
}

// TestLiveRun runs a program from its form and watches its trace grow
// through polls, then cancels another run.
func TestTraceLiveRun(t *testing.T) {
	f := tuitest.NewRunner()
	m, scr := runnerModel(t, f, 100, 30)
	m = open(t, m, scr.RunForm(tuitest.QAProgram()))
	form, ok := tuitest.Top(m).(*runs.RunForm)
	if !ok || !form.Typing() {
		t.Fatalf("%T on top, typing %v: want the run form with the first field focused", tuitest.Top(m), ok && form.Typing())
	}
	m = tuitest.Type(t, m, "What is the capital of France?")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnter, 0))
	if len(f.Submits) != 1 || f.Submits[0].Inputs["question"] != "What is the capital of France?" || f.Submits[0].Program != "qa" {
		t.Fatalf("submits: %+v", f.Submits)
	}
	ts, ok := tuitest.Top(m).(*runs.TraceScreen)
	if !ok || len(m.Dialogs()) != 1 {
		t.Fatalf("after submit %T is on top (of %d dialogs), want the trace in the form's place", tuitest.Top(m), len(m.Dialogs()))
	}
	id := ts.ID()
	// The run makes progress: two spans open, then all of them ended.
	x, spans := tuitest.QATrace(id)
	f.Mu.Lock()
	f.Execs[id].State = model.Running
	open := []model.Span{spans[0], spans[1]}
	open[0].End, open[1].End = time.Time{}, time.Time{}
	f.Traces[id] = open
	f.Mu.Unlock()
	// The tick comes to whoever has the keyboard: the trace.
	tick := func() { m = tuitest.Run(t, m, func() tea.Msg { return ts.Tick() }) }
	tick()
	if ts.Tree().Len() != 2 || !ts.IsLive() {
		t.Fatalf("after a poll: %d spans, live %v", ts.Tree().Len(), ts.IsLive())
	}
	if !strings.Contains(tuitest.Screen(m), "running") {
		t.Errorf("no running state on screen:\n%s", tuitest.Screen(m))
	}
	f.Mu.Lock()
	f.Traces[id] = spans
	f.Execs[id] = x
	f.Mu.Unlock()
	tick()
	if ts.IsLive() || ts.Tree().Len() != 7 {
		t.Fatalf("after the end: live %v, %d spans", ts.IsLive(), ts.Tree().Len())
	}
	if ts.Tree().Node(0).Span.End.IsZero() || ts.Tree().Node(1).Span.End.IsZero() {
		t.Error("spans that ended after they were read are still open: the final read missed them")
	}
	if n, _, cost := scr.Session().Totals(); n != 1 || cost != x.Cost {
		t.Errorf("session: %d runs, cost %v; want 1, %v", n, cost, x.Cost)
	}
	// x cancels a running execution.
	f.Mu.Lock()
	f.Execs[id].State = model.Running
	f.Mu.Unlock()
	ts.Exec().State = model.Running
	m = tuitest.Send(t, m, tuitest.Key("x"))
	if len(f.Cancels) != 1 || f.Cancels[0] != id {
		t.Errorf("cancels: %v", f.Cancels)
	}
}

// TestLiveEventsApplied feeds the trace span events from the event stream.
func TestTraceLiveEvents(t *testing.T) {
	f := tuitest.NewRunner()
	id := tuitest.TraceID(3)
	f.Execs[id] = &model.Execution{ID: id, Program: "qa", Version: 1, State: model.Running, CreatedAt: tuitest.TraceT0}
	m, ts := openTrace(t, f, id, 100, 30)
	_, spans := tuitest.QATrace(id)
	for _, sp := range spans {
		m = tuitest.Update(t, m, live.Msg{Spans: []model.Span{sp}})
	}
	if ts.Tree().Len() != len(spans) {
		t.Fatalf("%d spans from events, want %d", ts.Tree().Len(), len(spans))
	}
	done := *f.Execs[id]
	done.State = model.Completed
	_ = tuitest.Update(t, m, live.Msg{Execs: []*model.Execution{&done}})
	if ts.IsLive() {
		t.Fatal("the execution's final state was not applied")
	}
}

func openIteration(t *testing.T, f *tuitest.Runner, w, h int) (tui.Model, *runs.IterateScreen) {
	t.Helper()
	id := f.WithQATrace(1)
	m, _ := openTrace(t, f, id, w, h)
	m = tuitest.Send(t, m, tuitest.Key("n")) // an LM call inside module answer
	m = tuitest.Send(t, m, tuitest.Key("i"))
	return m, tuitest.TopAs[*runs.IterateScreen](t, m)
}

func TestIterationList(t *testing.T) {
	f := tuitest.IterateRunner()
	m, it := openIteration(t, f, 120, 36)
	if its := it.Iterations(); len(its) != 1 || its[0].Change != "original" || its[0].Prompt != 4 {
		t.Fatalf("iterations at open: %+v", its)
	}
	// Before any re-run the original's outputs and prompt are shown.
	if out := tuitest.Screen(m); !strings.Contains(out, "answer: France") || !strings.Contains(out, "[system]") {
		t.Fatalf("the original run's outputs and prompt are not shown:\n%s", out)
	}
	m = tuitest.Send(t, m, tuitest.Key("i"))
	if !it.Typing() {
		t.Fatal("i does not start editing")
	}
	it.SetText("")
	m = tuitest.Type(t, m, "Answer in uppercase.")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if it.Typing() || it.Draft().Modules[0].Instructions != "Answer in uppercase." {
		t.Fatalf("after esc: typing %v, instructions %q", it.Typing(), it.Draft().Modules[0].Instructions)
	}
	m = tuitest.Send(t, m, tuitest.Key("r"))
	if len(f.Submits) != 1 || f.Submits[0].Variant == nil || f.Submits[0].Variant.Modules[0].Instructions != "Answer in uppercase." {
		t.Fatalf("re-run submitted %+v", f.Submits)
	}
	if its := it.Iterations(); len(its) != 2 || it.Selected() != 1 || !its[1].Done || its[1].Outputs["answer"] != "FRANCE" {
		t.Fatalf("iterations after a run: %+v, sel %d", its, it.Selected())
	}
	out := tuitest.Screen(m)
	if !strings.Contains(out, "FRANCE") || !strings.Contains(out, "#1 vs #0") {
		t.Errorf("side by side does not show the new output:\n%s", out)
	}
	// A second iteration, then back through the list.
	m = tuitest.Send(t, m, tuitest.Key("r"))
	if len(it.Iterations()) != 3 || it.Selected() != 2 {
		t.Fatalf("after a second run: %d iterations, sel %d", len(it.Iterations()), it.Selected())
	}
	m = tuitest.Send(t, m, tuitest.Key("k"))
	m = tuitest.Send(t, m, tuitest.Key("k"))
	m = tuitest.Send(t, m, tuitest.Key("k"))
	if it.Selected() != 0 {
		t.Fatalf("k went to %d, want the original", it.Selected())
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Saved) != 1 || f.Saved[0].Modules[0].Instructions != "Answer in uppercase." || f.Saved[0].Version != 0 {
		t.Fatalf("saved %+v", f.Saved)
	}
	if !strings.Contains(m.Notice().Text, "saved qa v2") {
		t.Errorf("notice %q", m.Notice().Text)
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if !tuitest.IsTop[*runs.TraceScreen](m) {
		t.Fatalf("esc from the iteration goes to %T, want the trace", tuitest.Top(m))
	}
}

// Any predictor of a module can be edited: here the Predict's own ("self"),
// which the module stores no state for yet.
func TestIterationEditsAPredictor(t *testing.T) {
	f := tuitest.IterateRunner()
	m, it := openIteration(t, f, 120, 36)
	m = tuitest.Send(t, m, tuitest.Key("i"))
	for range 3 { // module instructions, signature, demos, then predictor self's instructions
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	}
	if pred, instr := it.EditingPart(); pred != "self" || !instr {
		t.Fatalf("after three tabs editing %q (instructions %v)", pred, instr)
	}
	if !strings.Contains(tuitest.Screen(m), "Editing predictor self instructions") {
		t.Fatalf("the part being edited is not named:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Type(t, m, "Stored.")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	it.SetText(`[{"question": "q", "answer": "a", "augmented": true}]`)
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	mod := it.Draft().Modules[0]
	st := mod.Predictor("self")
	if it.Typing() || st == nil || st.Instructions != "Stored." || len(st.Demos) != 1 || mod.Instructions != "Answer the question." {
		t.Fatalf("draft module after editing predictor self: %+v", mod)
	}
	if got := runs.DescribeChange(&it.Base().Modules[0], &mod); got != "self instructions, self demos edited" {
		t.Errorf("change described as %q", got)
	}
	// New module instructions drop the predictor's stored ones: the constructor derives them again.
	m = tuitest.Send(t, m, tuitest.Key("i"))
	it.SetText("Answer in uppercase.")
	tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if st := it.Draft().Modules[0].Predictor("self"); st.Instructions != "" || len(st.Demos) != 1 {
		t.Errorf("after new module instructions: %+v", st)
	}
}

func TestReplayModule(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithQATrace(1)
	m, _ := openTrace(t, f, id, 100, 30)
	m = tuitest.Send(t, m, tuitest.Key("j")) // module answer's span
	m = tuitest.Send(t, m, tuitest.Key("P"))
	if len(f.Submits) != 1 {
		t.Fatalf("P submitted %d runs", len(f.Submits))
	}
	req := f.Submits[0]
	if req.Variant == nil || len(req.Variant.Modules) != 1 || req.Variant.Modules[0].Name != "answer" ||
		req.Inputs["question"] != "What is the capital of France?" || !strings.HasPrefix(req.Variant.Note, "replay of module answer") ||
		strings.Contains(req.Variant.Note, "(span )") {
		t.Fatalf("replay request %+v", req)
	}
	if rt, ok := tuitest.Top(m).(*runs.TraceScreen); !ok || rt.ID() == id || len(m.Dialogs()) != 2 {
		t.Fatalf("replay opens %T over %d dialogs", tuitest.Top(m), len(m.Dialogs())-1)
	}
	if out := tuitest.Screen(m); !strings.Contains(out, "REPLAY") {
		t.Errorf("the replay's trace does not say it is a replay:\n%s", out)
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if ts, ok := tuitest.Top(m).(*runs.TraceScreen); !ok || ts.ID() != id {
		t.Fatal("esc from the replay does not go back to the original trace")
	}
}

func TestRenderPreview(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithQATrace(1)
	m, _ := openTrace(t, f, id, 100, 30)
	m = tuitest.Send(t, m, tuitest.Key("n"))
	m = tuitest.Send(t, m, tuitest.Key("w"))
	if !tuitest.IsTop[*runs.PreviewScreen](m) {
		t.Fatalf("w opens %T", tuitest.Top(m))
	}
	out := tuitest.Screen(m)
	if !strings.Contains(out, "no LM called") || !strings.Contains(out, "What is the capital of France?") || !strings.Contains(out, "[system]") {
		t.Errorf("preview:\n%s", out)
	}
}

// The cost pane asks for the program's month by the clock, with its days,
// and shows that program's rows of the report against its budget.
func TestTraceCostPane(t *testing.T) {
	f := tuitest.NewRunner()
	id := f.WithQATrace(1)
	m, _ := openTrace(t, f, id, 120, 30)
	m = tuitest.Send(t, m, tuitest.Key("S"))
	want := []app.CostQuery{{Program: "qa", Month: "2026-11", Days: true}}
	if !reflect.DeepEqual(f.CostQueries, want) {
		t.Fatalf("cost queries %+v, want %+v", f.CostQueries, want)
	}
	line := tuitest.LineWith(tuitest.Screen(m), "4,567 tok")
	if !strings.Contains(line, "qa") || !strings.Contains(line, "$0.0123 of $1.00 · $0.9877 left") {
		t.Errorf("the program's month: %q\n%s", line, tuitest.Screen(m))
	}
}

func TestTraceGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := tuitest.IterateRunner()
			id := f.WithQATrace(1)
			m, ts := openTrace(t, f, id, sz[0], sz[1])
			m = tuitest.Send(t, m, tuitest.Key("S")) // the cost pane
			golden.RequireEqual(t, []byte(tuitest.Screen(m)))
			t.Run("detail", func(t *testing.T) {
				d := tuitest.Send(t, m, tuitest.Key("n"))
				d = tuitest.Send(t, d, tuitest.Code(tea.KeyTab, 0))
				d = tuitest.Send(t, d, tuitest.Key("j"))
				golden.RequireEqual(t, []byte(tuitest.Screen(d)))
			})
			t.Run("sidebyside", func(t *testing.T) {
				d := tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0)) // back to the tree from the detail's subtest
				if ts.FocusDetail() {
					d = tuitest.Send(t, d, tuitest.Code(tea.KeyTab, 0))
				}
				d = tuitest.Send(t, d, tuitest.Key("g"))
				d = tuitest.Send(t, d, tuitest.Key("n"))
				d = tuitest.Send(t, d, tuitest.Key("i"))
				it := tuitest.TopAs[*runs.IterateScreen](t, d)
				d = tuitest.Send(t, d, tuitest.Key("i"))
				it.SetText("Answer in uppercase.")
				d = tuitest.Send(t, d, tuitest.Code(tea.KeyEscape, 0))
				d = tuitest.Send(t, d, tuitest.Key("r"))
				golden.RequireEqual(t, []byte(tuitest.Screen(d)))
			})
		})
	}
}

// TestLiveEventsAtRate feeds a trace 1,000 span events a second for ten
// seconds of stream (as fast as Update takes them), then the final state:
// the final state must be applied and memory stay bounded by the spans.
func TestTraceEventsAtRate(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	f := tuitest.NewRunner()
	id := tuitest.TraceID(4)
	f.Execs[id] = &model.Execution{ID: id, Program: "qa", Version: 1, State: model.Running, CreatedAt: tuitest.TraceT0}
	m, ts := openTrace(t, f, id, 120, 40)
	const spans, distinct = 10_000, 500 // each span starts and ends: the same seqs come back
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := range spans {
		sp := tuitest.GenSpan(id, uint64(i%distinct)+1)
		if i < distinct {
			sp.End = time.Time{}
		}
		nm, _ := m.Update(live.Msg{Spans: []model.Span{sp}})
		m = nm.(tui.Model)
		if i%16 == 0 {
			_ = m.View() // frames render while events arrive
		}
	}
	elapsed := time.Since(start)
	done := *f.Execs[id]
	done.State = model.Completed
	m.Update(live.Msg{Execs: []*model.Execution{&done}}) // the screen is a pointer: ts sees it
	if ts.IsLive() || ts.Exec().State != model.Completed {
		t.Fatal("the terminal execution event was not applied")
	}
	if ts.Tree().Len() != distinct {
		t.Fatalf("%d spans in the tree, want %d", ts.Tree().Len(), distinct)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MiB for %d distinct spans", grew>>20, distinct)
	}
	// The rate is measured by BenchmarkTraceLiveEvent, not asserted here.
	t.Logf("%d events in %v (%v each), heap %+d KiB", spans, elapsed, elapsed/spans, grew>>10)
}

// BenchmarkTraceLiveEvent is the cost of one live span event on an open
// trace (applied, with a frame drawn every 16 events, as above).
func BenchmarkTraceLiveEvent(b *testing.B) {
	f := tuitest.NewRunner()
	id := tuitest.TraceID(4)
	f.Execs[id] = &model.Execution{ID: id, Program: "qa", Version: 1, State: model.Running, CreatedAt: tuitest.TraceT0}
	m, _ := openTrace(b, f, id, 120, 40)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sp := tuitest.GenSpan(id, uint64(i%500)+1)
		if i < 500 {
			sp.End = time.Time{}
		}
		nm, _ := m.Update(live.Msg{Spans: []model.Span{sp}})
		m = nm.(tui.Model)
		if i%16 == 0 {
			_ = m.View()
		}
		i++
	}
}

func BenchmarkTrace100kOpen(b *testing.B) {
	for b.Loop() {
		bigTrace(b).Draw()
	}
}

func BenchmarkTrace100kScroll(b *testing.B) {
	ts := bigTrace(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ts.Tree().SetCursor((ts.Tree().Cursor() + ts.TreeHeight()) % ts.Tree().Rows())
		_ = ts.Draw()
	}
}

// bigTrace is a trace screen holding 100k spans.
func bigTrace(b *testing.B) *runs.TraceScreen {
	b.Helper()
	id := tuitest.TraceID(7)
	ts := runs.NewTrace(runs.NewScreens(darkStyles(b), nil, nil), id, 160, 45, true)
	spans := make([]model.Span, 0, 100_000)
	for seq := uint64(1); seq <= 100_000; seq++ {
		spans = append(spans, tuitest.GenSpan(id, seq))
	}
	ts.Tree().Merge(spans)
	ts.Tree().Rows() // laid out, as the first frame does
	return ts
}

// BenchmarkTrace100kFirstFrame is what opening a 100k-span trace costs
// before its first frame: the first page (runs.TracePage spans) merged and drawn;
// the rest is paged in as the cursor nears the end.
func BenchmarkTrace100kFirstFrame(b *testing.B) {
	scr := runs.NewScreens(darkStyles(b), nil, nil)
	id := tuitest.TraceID(8)
	page := make([]model.Span, 0, runs.TracePage)
	for seq := uint64(1); seq <= runs.TracePage; seq++ {
		page = append(page, tuitest.GenSpan(id, seq))
	}
	for b.Loop() {
		ts := runs.NewTrace(scr, id, 160, 45, false)
		ts.Tree().Merge(page)
		_ = ts.Draw()
	}
}
