package tui

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// fakeRunner is an in-memory Runner: executions, their spans (generated
// for the big traces) and the calls made.
type fakeRunner struct {
	mu      sync.Mutex
	execs   map[model.ID]*model.Execution
	spans   map[model.ID][]model.Span
	gen     map[model.ID]int // a generated flat trace of that many spans
	submits []RunRequest
	saved   []*model.Program
	cancels []model.ID
	pages   int // Spans calls
	// onSubmit builds the execution of a submit (default: pending).
	onSubmit func(req RunRequest) (*model.Execution, []model.Span)
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{execs: map[model.ID]*model.Execution{}, spans: map[model.ID][]model.Span{}, gen: map[model.ID]int{}}
}

var traceT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func traceID(n byte) model.ID { return model.ID{0x01, 0x93, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n} }

func (f *fakeRunner) Submit(ctx context.Context, req RunRequest) (*model.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submits = append(f.submits, req)
	x := &model.Execution{ID: traceID(byte(100 + len(f.submits))), Program: req.Program, Version: max(req.Version, 1),
		State: model.Pending, Inputs: req.Inputs, Variant: req.Variant, CreatedAt: traceT0}
	var spans []model.Span
	if f.onSubmit != nil {
		x, spans = f.onSubmit(req)
		x.ID = traceID(byte(100 + len(f.submits)))
		for i := range spans {
			spans[i].Execution = x.ID
		}
	}
	f.execs[x.ID] = x
	f.spans[x.ID] = spans
	c := *x
	return &c, nil
}

func (f *fakeRunner) Cancel(ctx context.Context, id model.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id)
	return nil
}

func (f *fakeRunner) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.execs[id]
	if !ok {
		return nil, fmt.Errorf("no execution %s", id)
	}
	c := *x
	return &c, nil
}

func (f *fakeRunner) Spans(ctx context.Context, id model.ID, after uint64, limit int) ([]model.Span, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages++
	if n, ok := f.gen[id]; ok {
		var out []model.Span
		for seq := after + 1; seq <= uint64(n) && len(out) < limit; seq++ {
			out = append(out, genSpan(id, seq))
		}
		var next uint64
		if len(out) == limit {
			next = out[len(out)-1].Seq
		}
		return out, next, nil
	}
	var out []model.Span
	for _, s := range f.spans[id] {
		if s.Seq > after && len(out) < limit {
			out = append(out, s)
		}
	}
	var next uint64
	if len(out) == limit {
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// genSpan is span seq of a generated trace: a root, then LM calls under it.
func genSpan(id model.ID, seq uint64) model.Span {
	s := model.Span{Execution: id, Seq: seq, ID: fmt.Sprint(seq), Kind: model.SpanLM, Name: "signet/test",
		Module: "answer", Start: traceT0, End: traceT0.Add(time.Millisecond), Usage: model.Usage{Calls: 1, PromptTokens: 10, CompletionTokens: 2}}
	if seq == 1 {
		s.Kind, s.Name, s.Module = model.SpanModule, "big", ""
		s.End = traceT0.Add(time.Minute)
	} else {
		s.Parent = "1"
	}
	return s
}

func (f *fakeRunner) Render(ctx context.Context, req RunRequest, module string) ([]RenderedPrompt, error) {
	return []RenderedPrompt{{Module: "answer", Messages: []model.Message{{Role: "system", Content: "Your input fields are: question."}, {Role: "user", Content: fmt.Sprint(req.Inputs["question"])}}}}, nil
}

func (f *fakeRunner) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	return qaProgram(), nil
}

func (f *fakeRunner) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, p)
	c := *p
	c.Version = 1 + len(f.saved)
	return &c, nil
}

func (f *fakeRunner) Cost(ctx context.Context, program string) (*CostSummary, error) {
	return &CostSummary{Program: program, Month: "2026-11", Cost: 0.0123, Tokens: 4567, Budget: 1, HasBudget: true,
		Days: []float64{0, 0.001, 0.002, 0, 0.004, 0.003, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0023}}, nil
}

func qaProgram() *model.Program {
	return &model.Program{Name: "qa", Version: 1, LM: "test", Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Answer the question."},
	}}
}

// qaTrace is a finished two-call trace: program → module → format, LM,
// parse; then a second module call with its own LM call.
func qaTrace(id model.ID) (*model.Execution, []model.Span) {
	x := &model.Execution{ID: id, Program: "qa", Version: 1, LM: "test", State: model.Completed,
		Inputs:  map[string]any{"question": "What is the capital of France?"},
		Outputs: map[string]any{"answer": "France"}, Cost: 0.00042, CreatedAt: traceT0, Duration: 120 * time.Millisecond,
		Usage: map[string]model.Usage{"signet/test": {Calls: 2, PromptTokens: 120, CompletionTokens: 6}}}
	msgs := []model.Message{
		{Role: "system", Content: "Your input fields are:\n1. `question` (str)\nYour output fields are:\n1. `answer` (str)\nIn adhering to this structure, your objective is: Answer the question."},
		{Role: "user", Content: "[[ ## question ## ]]\nWho wrote Hamlet?"},
		{Role: "assistant", Content: "[[ ## answer ## ]]\nShakespeare"},
		{Role: "user", Content: "[[ ## question ## ]]\nWhat is the capital of France?"},
	}
	ms := func(n int) time.Time { return traceT0.Add(time.Duration(n) * time.Millisecond) }
	spans := []model.Span{
		{Seq: 1, ID: "r", Kind: model.SpanModule, Name: "qa", Start: ms(0), End: ms(120), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 2, ID: "m1", Parent: "r", Kind: model.SpanModule, Name: "Predict", Module: "answer", Start: ms(1), End: ms(60), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 3, ID: "f1", Parent: "m1", Kind: model.SpanAdapter, Name: "ChatAdapter.format", Module: "answer", Start: ms(2), End: ms(3), Messages: msgs},
		{Seq: 4, ID: "l1", Parent: "m1", Kind: model.SpanLM, Name: "signet/test", Model: "signet/test", Module: "answer", Start: ms(3), End: ms(50), Messages: msgs,
			Completion: "[[ ## answer ## ]]\nFrance\n\n[[ ## completed ## ]]", Usage: model.Usage{Calls: 1, PromptTokens: 60, CompletionTokens: 3}, Cost: 0.00021},
		{Seq: 5, ID: "p1", Parent: "m1", Kind: model.SpanAdapter, Name: "ChatAdapter.parse", Module: "answer", Start: ms(50), End: ms(51), Outputs: x.Outputs},
		{Seq: 6, ID: "m2", Parent: "r", Kind: model.SpanModule, Name: "Predict", Module: "answer", Start: ms(61), End: ms(119), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 7, ID: "l2", Parent: "m2", Kind: model.SpanLM, Name: "signet/test", Model: "signet/test", Module: "answer", Start: ms(62), End: ms(118), Messages: msgs,
			Completion: "[[ ## answer ## ]]\nFrance", CacheHit: true},
	}
	for i := range spans {
		spans[i].Execution = id
	}
	return x, spans
}

// runnerModel is the workbench over f; its clock sets no timers, so the
// polls of live screens wait for a tick the test sends.
func runnerModel(t testing.TB, f *fakeRunner, w, h int) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}, Datasets: sampleDatasets(), Runner: f}, Options{
		Workspace: "/home/ada/signet-workspace", LMProfile: "local-smollm2", Styles: themes.New(p),
		Clock: &page.Clock{Now: time.Now, Location: time.UTC},
	})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return run(t, m, m.Init())
}

// openTrace opens the trace of id over the page, as enter on the
// Executions page does.
func openTrace(t testing.TB, m Model, f *fakeRunner, id model.ID) (Model, *traceScreen) {
	t.Helper()
	m = open(t, m, m.screens.Trace(id))
	return m, topAs[*traceScreen](t, m)
}

func withQATrace(f *fakeRunner, n byte) model.ID {
	id := traceID(n)
	x, spans := qaTrace(id)
	f.execs[id], f.spans[id] = x, spans
	return id
}

func selectedSpan(t *testing.T, ts *traceScreen) *model.Span {
	t.Helper()
	n := ts.tree.Selected()
	if n < 0 {
		t.Fatal("no span selected")
	}
	return &ts.tree.Node(n).Span
}

func TestTraceNextPrevCall(t *testing.T) {
	f := newFakeRunner()
	id := withQATrace(f, 1)
	m, ts := openTrace(t, runnerModel(t, f, 100, 30), f, id)
	if ts.tree.Len() != 7 || ts.tree.Rows() != 7 {
		t.Fatalf("loaded %d spans, %d rows; want 7, 7", ts.tree.Len(), ts.tree.Rows())
	}
	want := []struct {
		key string
		seq uint64
	}{{"n", 4}, {"n", 7}, {"n", 7}, {"p", 4}, {"p", 4}, {"j", 5}, {"n", 7}}
	for i, w := range want {
		m = send(t, m, keyText(w.key))
		if got := selectedSpan(t, ts).Seq; got != w.seq {
			t.Fatalf("step %d (%s): on span %d, want %d", i, w.key, got, w.seq)
		}
	}
	// Collapsing the first module hides its calls from n/p.
	m = send(t, m, keyText("g"))
	m = send(t, m, keyText("j"))
	m = send(t, m, keyCode(tea.KeySpace, 0))
	if ts.tree.Rows() != 4 {
		t.Fatalf("after collapsing m1: %d rows, want 4", ts.tree.Rows())
	}
	m = send(t, m, keyText("n"))
	if got := selectedSpan(t, ts).Seq; got != 7 {
		t.Fatalf("n after collapse: on span %d, want 7", got)
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if top(m) != nil {
		t.Fatal("esc does not close the trace")
	}
}

func TestTracePaging100k(t *testing.T) {
	f := newFakeRunner()
	id := traceID(9)
	f.execs[id] = &model.Execution{ID: id, Program: "big", Version: 1, State: model.Completed, CreatedAt: traceT0}
	f.gen[id] = 100_000
	m, ts := openTrace(t, runnerModel(t, f, 120, 40), f, id)
	if ts.tree.Len() != tracePage {
		t.Fatalf("opened with %d spans loaded, want the first page (%d)", ts.tree.Len(), tracePage)
	}
	if !strings.Contains(screen(m), "1000 spans+") {
		t.Errorf("title does not say more spans are to come:\n%s", screen(m))
	}
	// Paging down the whole trace loads it page by page, never all at once.
	for i := 0; i < 100_000/ts.treeHeight()+10 && ts.tree.Cursor() < 99_999; i++ {
		before := f.pages
		m = send(t, m, keyCode(tea.KeyPgDown, 0))
		if f.pages-before > 1 {
			t.Fatalf("one key read %d pages", f.pages-before)
		}
	}
	if ts.tree.Len() != 100_000 || !ts.complete {
		t.Fatalf("after paging to the end: %d spans, complete %v", ts.tree.Len(), ts.complete)
	}
	if f.pages != 100 && f.pages != 101 {
		t.Errorf("read %d pages of spans, want 100 (+1 empty)", f.pages)
	}
	if c := ts.tree.Cursor(); c != 99_999 {
		t.Errorf("cursor at %d, want the last row", c)
	}
	out := screen(m)
	if !strings.Contains(out, "100000 spans") || strings.Contains(out, "spans+") {
		t.Errorf("title after the last page:\n%s", out)
	}
}

// TestLiveRun runs a program from its form and watches its trace grow
// through polls, then cancels another run.
func TestTraceLiveRun(t *testing.T) {
	f := newFakeRunner()
	m := runnerModel(t, f, 100, 30)
	m = open(t, m, m.screens.RunForm(qaProgram()))
	form, ok := top(m).(*runForm)
	if !ok || !form.Typing() {
		t.Fatalf("%T on top, typing %v: want the run form with the first field focused", top(m), ok && form.Typing())
	}
	m = typeText(t, m, "What is the capital of France?")
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	if len(f.submits) != 1 || f.submits[0].Inputs["question"] != "What is the capital of France?" || f.submits[0].Program != "qa" {
		t.Fatalf("submits: %+v", f.submits)
	}
	ts, ok := top(m).(*traceScreen)
	if !ok || m.stack.Len() != 1 {
		t.Fatalf("after submit %T is on top (of %d dialogs), want the trace in the form's place", top(m), m.stack.Len())
	}
	id := ts.id
	// The run makes progress: two spans open, then all of them ended.
	x, spans := qaTrace(id)
	f.mu.Lock()
	f.execs[id].State = model.Running
	open := []model.Span{spans[0], spans[1]}
	open[0].End, open[1].End = time.Time{}, time.Time{}
	f.spans[id] = open
	f.mu.Unlock()
	tick := func() { m = toTop(t, m, traceTickMsg{tick: ts.tickGen}) }
	tick()
	if ts.tree.Len() != 2 || !ts.live() {
		t.Fatalf("after a poll: %d spans, live %v", ts.tree.Len(), ts.live())
	}
	if !strings.Contains(screen(m), "running") {
		t.Errorf("no running state on screen:\n%s", screen(m))
	}
	f.mu.Lock()
	f.spans[id] = spans
	f.execs[id] = x
	f.mu.Unlock()
	tick()
	if ts.live() || ts.tree.Len() != 7 {
		t.Fatalf("after the end: live %v, %d spans", ts.live(), ts.tree.Len())
	}
	if ts.tree.Node(0).Span.End.IsZero() || ts.tree.Node(1).Span.End.IsZero() {
		t.Error("spans that ended after they were read are still open: the final read missed them")
	}
	if runs, _, cost := m.runs.totals(); runs != 1 || cost != x.Cost {
		t.Errorf("session: %d runs, cost %v; want 1, %v", runs, cost, x.Cost)
	}
	// x cancels a running execution.
	f.mu.Lock()
	f.execs[id].State = model.Running
	f.mu.Unlock()
	ts.exec.State = model.Running
	m = send(t, m, keyText("x"))
	if len(f.cancels) != 1 || f.cancels[0] != id {
		t.Errorf("cancels: %v", f.cancels)
	}
}

// TestLiveEventsApplied feeds the trace span events from the event stream.
func TestTraceLiveEvents(t *testing.T) {
	f := newFakeRunner()
	id := traceID(3)
	f.execs[id] = &model.Execution{ID: id, Program: "qa", Version: 1, State: model.Running, CreatedAt: traceT0}
	m, ts := openTrace(t, runnerModel(t, f, 100, 30), f, id)
	_, spans := qaTrace(id)
	for _, sp := range spans {
		m = update(t, m, live.Msg{Spans: []model.Span{sp}})
	}
	if ts.tree.Len() != len(spans) {
		t.Fatalf("%d spans from events, want %d", ts.tree.Len(), len(spans))
	}
	done := *f.execs[id]
	done.State = model.Completed
	m = update(t, m, live.Msg{Execs: []*model.Execution{&done}})
	if ts.live() {
		t.Fatal("the execution's final state was not applied")
	}
}

func TestWordDiff(t *testing.T) {
	ops := wordDiff("answer: France is nice", "answer: FRANCE is nice")
	var got []string
	for _, op := range ops {
		got = append(got, fmt.Sprintf("%d%q", op.kind, op.text))
	}
	want := `0"answer:" 0" " 1"France" 2"FRANCE" 0" " 0"is" 0" " 0"nice"`
	if strings.Join(got, " ") != want {
		t.Fatalf("diff:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// An LCS, not only prefix/suffix: two separate changes.
	ops = wordDiff("a b c d e", "a X c d Y")
	var del, add []string
	for _, op := range ops {
		switch op.kind {
		case diffDel:
			del = append(del, op.text)
		case diffAdd:
			add = append(add, op.text)
		}
	}
	if strings.Join(del, ",") != "b,e" || strings.Join(add, ",") != "X,Y" {
		t.Fatalf("del %v add %v", del, add)
	}
	m := newTestModel(t, 80, 24)
	s := m.env.Styles
	ops = wordDiff("answer: France", "answer: FRANCE")
	right := renderDiff(s, ops, diffAdd, 40)
	left := renderDiff(s, ops, diffDel, 40)
	if !strings.Contains(right, s.DiffAdd.Render("FRANCE")) || strings.Contains(right, "France") {
		t.Errorf("new side: %q", right)
	}
	if !strings.Contains(left, s.DiffDel.Render("France")) || strings.Contains(left, "FRANCE") {
		t.Errorf("old side: %q", left)
	}
	if strings.Contains(left, s.DiffDel.Render("answer:")) {
		t.Error("an unchanged word is highlighted")
	}
}

// iterateFake answers submits with the test LM's behaviour for the rule
// the e2e test uses: "uppercase" in the instructions uppercases the answer.
func iterateFake() *fakeRunner {
	f := newFakeRunner()
	f.onSubmit = func(req RunRequest) (*model.Execution, []model.Span) {
		p := qaProgram()
		if req.Variant != nil {
			p = req.Variant
		}
		ans := "France"
		if strings.Contains(strings.ToLower(p.Modules[0].Instructions), "uppercase") {
			ans = "FRANCE"
		}
		x := &model.Execution{Program: "qa", Version: 1, LM: "test", State: model.Completed, Inputs: req.Inputs,
			Outputs: map[string]any{"answer": ans}, Variant: req.Variant, CreatedAt: traceT0, Duration: 80 * time.Millisecond,
			Usage: map[string]model.Usage{"signet/test": {Calls: 1, PromptTokens: 50, CompletionTokens: 3}}}
		sp := model.Span{Seq: 1, ID: "l", Kind: model.SpanLM, Name: "signet/test", Module: "answer", Start: traceT0, End: traceT0,
			Messages: []model.Message{{Role: "system", Content: "Your objective is: " + p.Modules[0].Instructions}, {Role: "user", Content: "What is the capital of France?"}}}
		return x, []model.Span{sp}
	}
	return f
}

func openIteration(t *testing.T, f *fakeRunner, w, h int) (Model, *iterateScreen) {
	t.Helper()
	id := withQATrace(f, 1)
	m, _ := openTrace(t, runnerModel(t, f, w, h), f, id)
	m = send(t, m, keyText("n")) // an LM call inside module answer
	m = send(t, m, keyText("i"))
	return m, topAs[*iterateScreen](t, m)
}

func TestIterationList(t *testing.T) {
	f := iterateFake()
	m, it := openIteration(t, f, 120, 36)
	if len(it.iters) != 1 || it.iters[0].change != "original" || len(it.iters[0].prompt) != 4 {
		t.Fatalf("iterations at open: %d, prompt %d messages", len(it.iters), len(it.iters[0].prompt))
	}
	// Before any re-run the original's outputs and prompt are shown.
	if out := screen(m); !strings.Contains(out, "answer: France") || !strings.Contains(out, "[system]") {
		t.Fatalf("the original run's outputs and prompt are not shown:\n%s", out)
	}
	m = send(t, m, keyText("i"))
	if !it.Typing() {
		t.Fatal("i does not start editing")
	}
	it.area.SetValue("")
	m = typeText(t, m, "Answer in uppercase.")
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if it.Typing() || it.draft.Modules[0].Instructions != "Answer in uppercase." {
		t.Fatalf("after esc: typing %v, instructions %q", it.Typing(), it.draft.Modules[0].Instructions)
	}
	m = send(t, m, keyText("r"))
	if len(f.submits) != 1 || f.submits[0].Variant == nil || f.submits[0].Variant.Modules[0].Instructions != "Answer in uppercase." {
		t.Fatalf("re-run submitted %+v", f.submits)
	}
	if len(it.iters) != 2 || it.sel != 1 || !it.iters[1].done || it.iters[1].exec.Outputs["answer"] != "FRANCE" {
		t.Fatalf("iterations after a run: %d, sel %d", len(it.iters), it.sel)
	}
	out := screen(m)
	if !strings.Contains(out, "FRANCE") || !strings.Contains(out, "#1 vs #0") {
		t.Errorf("side by side does not show the new output:\n%s", out)
	}
	// A second iteration, then back through the list.
	m = send(t, m, keyText("r"))
	if len(it.iters) != 3 || it.sel != 2 {
		t.Fatalf("after a second run: %d iterations, sel %d", len(it.iters), it.sel)
	}
	m = send(t, m, keyText("k"))
	m = send(t, m, keyText("k"))
	m = send(t, m, keyText("k"))
	if it.sel != 0 {
		t.Fatalf("k went to %d, want the original", it.sel)
	}
	m = send(t, m, keyText("j"))
	m = send(t, m, keyCode('s', tea.ModCtrl))
	if len(f.saved) != 1 || f.saved[0].Modules[0].Instructions != "Answer in uppercase." || f.saved[0].Version != 0 {
		t.Fatalf("saved %+v", f.saved)
	}
	if !strings.Contains(m.notice.Text, "saved qa v2") {
		t.Errorf("notice %q", m.notice.Text)
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if !isTop[*traceScreen](m) {
		t.Fatalf("esc from the iteration goes to %T, want the trace", top(m))
	}
}

// Any predictor of a module can be edited: here the Predict's own ("self"),
// which the module stores no state for yet.
func TestIterationEditsAPredictor(t *testing.T) {
	f := iterateFake()
	m, it := openIteration(t, f, 120, 36)
	m = send(t, m, keyText("i"))
	for range 3 { // module instructions, signature, demos, then predictor self's instructions
		m = send(t, m, keyCode(tea.KeyTab, 0))
	}
	if p := it.parts()[it.part]; p.predictor != "self" || p.what != editInstructions {
		t.Fatalf("after three tabs editing %+v", p)
	}
	if !strings.Contains(screen(m), "Editing predictor self instructions") {
		t.Fatalf("the part being edited is not named:\n%s", screen(m))
	}
	m = typeText(t, m, "Stored.")
	m = send(t, m, keyCode(tea.KeyTab, 0))
	it.area.SetValue(`[{"question": "q", "answer": "a", "augmented": true}]`)
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	mod := it.draft.Modules[0]
	st := mod.Predictor("self")
	if it.Typing() || st == nil || st.Instructions != "Stored." || len(st.Demos) != 1 || mod.Instructions != "Answer the question." {
		t.Fatalf("draft module after editing predictor self: %+v", mod)
	}
	if got := describeChange(&it.base.Modules[0], &mod); got != "self instructions, self demos edited" {
		t.Errorf("change described as %q", got)
	}
	// New module instructions drop the predictor's stored ones: the constructor derives them again.
	m = send(t, m, keyText("i"))
	it.area.SetValue("Answer in uppercase.")
	send(t, m, keyCode(tea.KeyEscape, 0))
	if st := it.draft.Modules[0].Predictor("self"); st.Instructions != "" || len(st.Demos) != 1 {
		t.Errorf("after new module instructions: %+v", st)
	}
}

func TestReplayModule(t *testing.T) {
	f := newFakeRunner()
	id := withQATrace(f, 1)
	m, _ := openTrace(t, runnerModel(t, f, 100, 30), f, id)
	m = send(t, m, keyText("j")) // module answer's span
	m = send(t, m, keyText("P"))
	if len(f.submits) != 1 {
		t.Fatalf("P submitted %d runs", len(f.submits))
	}
	req := f.submits[0]
	if req.Variant == nil || len(req.Variant.Modules) != 1 || req.Variant.Modules[0].Name != "answer" ||
		req.Inputs["question"] != "What is the capital of France?" || !strings.HasPrefix(req.Variant.Note, "replay of module answer") ||
		strings.Contains(req.Variant.Note, "(span )") {
		t.Fatalf("replay request %+v", req)
	}
	if rt, ok := top(m).(*traceScreen); !ok || rt.id == id || m.stack.Len() != 2 {
		t.Fatalf("replay opens %T over %d dialogs", top(m), m.stack.Len()-1)
	}
	if out := screen(m); !strings.Contains(out, "REPLAY") {
		t.Errorf("the replay's trace does not say it is a replay:\n%s", out)
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if ts, ok := top(m).(*traceScreen); !ok || ts.id != id {
		t.Fatal("esc from the replay does not go back to the original trace")
	}
}

func TestRenderPreview(t *testing.T) {
	f := newFakeRunner()
	id := withQATrace(f, 1)
	m, _ := openTrace(t, runnerModel(t, f, 100, 30), f, id)
	m = send(t, m, keyText("n"))
	m = send(t, m, keyText("w"))
	if !isTop[*previewScreen](m) {
		t.Fatalf("w opens %T", top(m))
	}
	out := screen(m)
	if !strings.Contains(out, "no LM called") || !strings.Contains(out, "What is the capital of France?") || !strings.Contains(out, "[system]") {
		t.Errorf("preview:\n%s", out)
	}
}

func TestTraceGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := iterateFake()
			id := withQATrace(f, 1)
			m, ts := openTrace(t, runnerModel(t, f, sz[0], sz[1]), f, id)
			ts.showCost = true
			m = onTop(t, m, ts.loadCost)
			golden.RequireEqual(t, []byte(screen(m)))
			t.Run("detail", func(t *testing.T) {
				d := send(t, m, keyText("n"))
				d = send(t, d, keyCode(tea.KeyTab, 0))
				d = send(t, d, keyText("j"))
				golden.RequireEqual(t, []byte(screen(d)))
			})
			t.Run("sidebyside", func(t *testing.T) {
				d := send(t, m, keyCode(tea.KeyTab, 0)) // back to the tree from the detail's subtest
				if ts.focusDetail {
					d = send(t, d, keyCode(tea.KeyTab, 0))
				}
				d = send(t, d, keyText("g"))
				d = send(t, d, keyText("n"))
				d = send(t, d, keyText("i"))
				it := topAs[*iterateScreen](t, d)
				d = send(t, d, keyText("i"))
				it.area.SetValue("Answer in uppercase.")
				d = send(t, d, keyCode(tea.KeyEscape, 0))
				d = send(t, d, keyText("r"))
				golden.RequireEqual(t, []byte(screen(d)))
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
	f := newFakeRunner()
	id := traceID(4)
	f.execs[id] = &model.Execution{ID: id, Program: "qa", Version: 1, State: model.Running, CreatedAt: traceT0}
	m, ts := openTrace(t, runnerModel(t, f, 120, 40), f, id)
	const spans, distinct = 10_000, 500 // each span starts and ends: the same seqs come back
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := range spans {
		sp := genSpan(id, uint64(i%distinct)+1)
		if i < distinct {
			sp.End = time.Time{}
		}
		nm, _ := m.Update(live.Msg{Spans: []model.Span{sp}})
		m = nm.(Model)
		if i%16 == 0 {
			_ = m.View() // frames render while events arrive
		}
	}
	elapsed := time.Since(start)
	done := *f.execs[id]
	done.State = model.Completed
	nm, _ := m.Update(live.Msg{Execs: []*model.Execution{&done}})
	m = nm.(Model)
	if ts.live() || ts.exec.State != model.Completed {
		t.Fatal("the terminal execution event was not applied")
	}
	if ts.tree.Len() != distinct {
		t.Fatalf("%d spans in the tree, want %d", ts.tree.Len(), distinct)
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
	f := newFakeRunner()
	id := traceID(4)
	f.execs[id] = &model.Execution{ID: id, Program: "qa", Version: 1, State: model.Running, CreatedAt: traceT0}
	m, _ := openTrace(b, runnerModel(b, f, 120, 40), f, id)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sp := genSpan(id, uint64(i%500)+1)
		if i < 500 {
			sp.End = time.Time{}
		}
		nm, _ := m.Update(live.Msg{Spans: []model.Span{sp}})
		m = nm.(Model)
		if i%16 == 0 {
			_ = m.View()
		}
		i++
	}
}

func BenchmarkTrace100kOpen(b *testing.B) {
	for b.Loop() {
		m, ts := bigTrace(b)
		ts.render()
		_ = m
	}
}

func BenchmarkTrace100kScroll(b *testing.B) {
	_, ts := bigTrace(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ts.tree.SetCursor((ts.tree.Cursor() + ts.treeHeight()) % ts.tree.Rows())
		_ = ts.render()
	}
}

// bigTrace is a trace screen holding 100k spans.
func bigTrace(b *testing.B) (Model, *traceScreen) {
	b.Helper()
	m := New(Deps{}, Options{})
	m = func() Model { nm, _ := m.Update(tea.WindowSizeMsg{Width: 160, Height: 48}); return nm.(Model) }()
	id := traceID(7)
	ts := newTraceScreen(m.screens, id)
	ts.SetSize(160, 45)
	ts.exec = &model.Execution{ID: id, Program: "big", Version: 1, State: model.Completed}
	ts.complete, ts.started = true, true
	spans := make([]model.Span, 0, 100_000)
	for seq := uint64(1); seq <= 100_000; seq++ {
		spans = append(spans, genSpan(id, seq))
	}
	ts.tree.Merge(spans)
	ts.tree.Rows() // laid out, as the first frame does
	return m, ts
}

// BenchmarkTrace100kFirstFrame is what opening a 100k-span trace costs
// before its first frame: the first page (tracePage spans) merged and drawn;
// the rest is paged in as the cursor nears the end.
func BenchmarkTrace100kFirstFrame(b *testing.B) {
	m := New(Deps{}, Options{})
	id := traceID(8)
	page := make([]model.Span, 0, tracePage)
	for seq := uint64(1); seq <= tracePage; seq++ {
		page = append(page, genSpan(id, seq))
	}
	for b.Loop() {
		ts := newTraceScreen(m.screens, id)
		ts.SetSize(160, 45)
		ts.exec = &model.Execution{ID: id, Program: "big", Version: 1, State: model.Completed}
		ts.tree.Merge(page)
		_ = ts.render()
	}
}
