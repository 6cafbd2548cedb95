package runs

// The trace view (issue 7): the span tree of one execution, live while it
// runs, with a detail pane for the selected span and the token-cost pane.
// It holds 100k spans: rows are laid out only for the lines on screen, and
// spans are paged from the API as the cursor nears the end of those loaded.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/spantree"
)

// tracePage is how many spans one request reads (the API's maximum).
const tracePage = 1000

// traceScreen is the trace of one execution: its span tree (spantree) on
// the left, the selected span's detail and the cost pane on the right.
type traceScreen struct {
	page.Defaults
	scr    *Screens
	styles *themes.Styles

	id          model.ID
	exec        *model.Execution
	execErr     error
	startedHere bool

	tree *spantree.Tree

	complete bool // every stored span is loaded
	loading  bool // a span request is out
	spanErr  error
	started  bool   // enter has loaded once
	tickGen  uint64 // the poll tick expected; older ones are dropped
	frame    int

	focusDetail bool
	detailOff   int
	errorShown  bool     // the failed run's error has been opened once
	keys        keys.Map // as the user bound them, for the help

	showCost bool
	cost     *app.CostReport // the month of costProgram
	costProg string
	costErr  error

	width, height int
}

// Messages of the trace screen.
type (
	traceSpansMsg struct {
		spans []model.Span
		next  uint64
		live  bool // a poll of a running execution, not a page
		err   error
	}
	traceExecMsg struct {
		exec *model.Execution
		err  error
	}
	traceTickMsg struct{ tick uint64 }
	traceCostMsg struct {
		cost    *app.CostReport
		program string
		err     error
	}
	// traceProgramMsg brings the program of the trace's execution, for a
	// replay or an iteration started from it.
	traceProgramMsg struct {
		program *model.Program
		action  string // "replay" or "iterate"
		node    int32
		err     error
	}
)

func newTraceScreen(scr *Screens, id model.ID) *traceScreen {
	return &traceScreen{scr: scr, styles: scr.styles, id: id, tree: spantree.New()}
}

func (t *traceScreen) Typing() bool { return false }

func (t *traceScreen) SetSize(w, h int) {
	t.width, t.height = w, h
	t.tree.SetHeight(t.treeHeight())
}

// live says whether the execution runs (its state is known and not final).
func (t *traceScreen) live() bool { return t.exec != nil && !t.exec.State.Terminal() }

// enter loads the first page, the execution and the cost, and (re)starts
// the poll of a live execution.
func (t *traceScreen) Enter(e *page.Env) tea.Cmd {
	t.keys = e.Keys
	var cmds []tea.Cmd
	if !t.started {
		t.started = true
		cmds = append(cmds, t.loadSpans(e, 0, false), t.loadExec(e))
		if t.showCost {
			cmds = append(cmds, t.loadCost(e))
		}
	}
	if t.live() {
		cmds = append(cmds, t.tick(e))
	}
	return tea.Batch(cmds...)
}

func (t *traceScreen) tick(e *page.Env) tea.Cmd {
	t.tickGen++
	tk := t.tickGen
	return e.After(pollEvery, func(time.Time) tea.Msg { return traceTickMsg{tick: tk} })
}

func (t *traceScreen) loadSpans(e *page.Env, after uint64, live bool) tea.Cmd {
	if t.loading {
		return nil
	}
	t.loading = true
	r, ctx, id := t.scr.runner, e.Ctx, t.id
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return traceSpansMsg{err: fmt.Errorf("no runner configured"), live: live}
		}
		pg, err := r.Spans(ctx, id, after, tracePage)
		if err != nil {
			return traceSpansMsg{live: live, err: err}
		}
		return traceSpansMsg{spans: pg.Spans, next: pg.Next, live: live}
	})
}

func (t *traceScreen) loadExec(e *page.Env) tea.Cmd {
	r, ctx, id := t.scr.runner, e.Ctx, t.id
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return traceExecMsg{err: fmt.Errorf("no runner configured")}
		}
		x, err := r.Execution(ctx, id)
		return traceExecMsg{exec: x, err: err}
	})
}

func (t *traceScreen) loadCost(e *page.Env) tea.Cmd {
	if t.exec == nil {
		return nil
	}
	r, ctx, prog := t.scr.runner, e.Ctx, t.exec.Program
	q := app.CostQuery{Program: prog, Month: format.Month(e.Now()), Days: true}
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return traceCostMsg{program: prog, err: fmt.Errorf("no runner configured")}
		}
		c, err := r.Cost(ctx, q)
		return traceCostMsg{cost: c, program: prog, err: err}
	})
}

func (t *traceScreen) treeHeight() int { return max(t.height-2, 1) } // title line and header

// maybePage asks for the next page when the cursor is within a screenful
// of the end of what is loaded.
func (t *traceScreen) maybePage(e *page.Env) tea.Cmd {
	if t.complete || t.loading || t.live() || t.spanErr != nil {
		return nil
	}
	if t.tree.Cursor()+2*t.treeHeight() < t.tree.Rows() {
		return nil
	}
	return t.loadSpans(e, t.tree.LastSeq(), false)
}

func (t *traceScreen) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case traceSpansMsg:
		t.loading = false
		if msg.err != nil {
			t.spanErr = msg.err
			return nil
		}
		t.spanErr = nil
		t.tree.Merge(msg.spans)
		if !msg.live {
			t.complete = msg.next == 0
		}
		if msg.next != 0 && (msg.live || t.live()) {
			return t.loadSpans(e, msg.next, true) // more are waiting: read on
		}
		return t.maybePage(e)
	case traceExecMsg:
		if msg.err != nil {
			t.execErr = msg.err
			return nil
		}
		return t.applyExec(e, msg.exec)
	case traceTickMsg:
		if msg.tick != t.tickGen || !t.live() {
			return nil
		}
		t.frame++
		return tea.Batch(t.tick(e), t.loadSpans(e, t.tree.PollAfter(false), true), t.loadExec(e))
	case traceCostMsg:
		t.cost, t.costProg, t.costErr = msg.cost, msg.program, msg.err
	case traceProgramMsg:
		if msg.err != nil {
			return page.NoticeErr(msg.err)
		}
		return t.withProgram(e, msg)
	case traceCopyMsg:
		return t.copy(msg.what)
	case replayStartedMsg:
		if msg.err != nil {
			return page.NoticeErr(msg.err)
		}
		t.scr.session.track(msg.exec)
		r := newTraceScreen(t.scr, msg.exec.ID)
		r.exec, r.startedHere, r.showCost = msg.exec, true, t.showCost
		e.Push(r) // esc from the replay comes back here
	}
	return nil
}

// Live applies the owner's event stream, when it runs: spans and state
// changes are applied at once; the stream may drop spans, so the poll
// still reads what was missed.
func (t *traceScreen) Live(e *page.Env, msg live.Msg) tea.Cmd {
	for _, sp := range msg.Spans {
		// A span whose parent has not been read yet is left to the
		// poll, which reads spans in start order, parents first.
		if sp.Execution == t.id && t.live() && (t.tree.Has(sp.Seq) || sp.Parent == "" || t.tree.Knows(sp.Parent)) {
			t.tree.Merge([]model.Span{sp})
		}
	}
	var cmds []tea.Cmd
	for _, x := range msg.Execs {
		if x.ID == t.id {
			cmds = append(cmds, t.applyExec(e, x))
		}
	}
	return tea.Batch(cmds...)
}

// applyExec takes a new state of the execution; at its end it reads every
// span that may have changed since the last poll (root included) and the
// program's cost again.
func (t *traceScreen) applyExec(e *page.Env, x *model.Execution) tea.Cmd {
	if x == nil {
		return nil
	}
	was := t.live()
	hadExec := t.exec != nil
	t.exec, t.execErr = x, nil
	t.scr.session.update(x)
	var cmds []tea.Cmd
	if x.State == model.Failed && !t.errorShown {
		// A failed run opens on its error: what went wrong comes first.
		t.errorShown = true
		title, secs, _ := t.Whole()
		e.Push(dialog.NewText(t.styles, title, secs...))
	}
	if !hadExec && t.showCost {
		cmds = append(cmds, t.loadCost(e))
	}
	if !was && t.live() {
		cmds = append(cmds, t.tick(e)) // first seen running: poll it
	}
	if was && !t.live() {
		t.loading = false
		t.complete = false
		cmds = append(cmds, t.loadSpans(e, t.tree.PollAfter(true), true))
		if t.showCost {
			cmds = append(cmds, t.loadCost(e))
		}
	}
	return tea.Batch(cmds...)
}

// withProgram carries out a replay or an iteration once the program of the
// execution is known.
func (t *traceScreen) withProgram(e *page.Env, msg traceProgramMsg) tea.Cmd {
	if msg.node < 0 || int(msg.node) >= t.tree.Len() {
		return nil
	}
	mod := t.tree.SpanModule(msg.node)
	idx := moduleIndex(msg.program, mod)
	if idx < 0 {
		return page.NoticeErr(fmt.Errorf("program %s has no module %q", msg.program.Name, mod))
	}
	switch msg.action {
	case "replay":
		return t.replay(e, msg.program, idx, &t.tree.Node(msg.node).Span)
	case "iterate":
		var inputs map[string]any
		if t.exec != nil {
			inputs = t.exec.Inputs
		}
		e.Push(t.scr.iterate(msg.program, idx, inputs, t.exec, t.tree.ModuleMessages(mod)))
	case "preview":
		// The module alone, with the inputs recorded on its span: exactly
		// the prompt it sent, rendered again without calling the LM.
		req := app.RenderRequest{Program: msg.program.Name, Version: msg.program.Version,
			Variant: replayProgram(msg.program, idx, t.tree.Node(msg.node).Span.ID), Inputs: moduleInputs(msg.program.Modules[idx], t.tree.Node(msg.node).Span.Inputs),
			Module: mod}
		if t.exec != nil {
			req.LM = t.exec.LM
		}
		e.Push(newPreviewScreen(t.scr, req))
	}
	return nil
}

func moduleIndex(p *model.Program, name string) int {
	for i, m := range p.Modules {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// replayProgram is the one-module program a module replay runs: the module
// alone, fed the inputs recorded on its span.
func replayProgram(p *model.Program, idx int, spanID string) *model.Program {
	v := *p
	v.Modules = []model.Module{p.Modules[idx]}
	v.Note = fmt.Sprintf("replay of module %s (span %s)", p.Modules[idx].Name, spanID)
	return &v
}

// replay re-runs one module with its recorded inputs; its trace opens over
// this one.
func (t *traceScreen) replay(e *page.Env, p *model.Program, idx int, sp *model.Span) tea.Cmd {
	inputs := sp.Inputs
	r, ctx := t.scr.runner, e.Ctx
	v := replayProgram(p, idx, sp.ID)
	in := moduleInputs(p.Modules[idx], inputs)
	lm := ""
	if t.exec != nil {
		lm = t.exec.LM
	}
	req := app.RunRequest{Program: p.Name, Version: p.Version, Variant: v, Inputs: in, LM: lm}
	return e.Cmd(func() tea.Msg {
		x, err := r.Run(ctx, req)
		return replayStartedMsg{exec: x, err: err}
	})
}

// moduleInputs keeps the recorded inputs a module's signature reads (all
// of them when it has none).
func moduleInputs(mod model.Module, inputs map[string]any) map[string]any {
	sig, err := model.ParseSignature(mod.Signature)
	if err != nil || mod.Signature == "" {
		return inputs
	}
	in := map[string]any{}
	for _, f := range sig.Inputs {
		if val, ok := inputs[f.Name]; ok {
			in[f.Name] = val
		}
	}
	return in
}

type replayStartedMsg struct {
	exec *model.Execution
	err  error
}

func (t *traceScreen) program(e *page.Env, action string, node int32) tea.Cmd {
	r, ctx := t.scr.runner, e.Ctx
	x := t.exec
	if x == nil || r == nil {
		return nil
	}
	return e.Cmd(func() tea.Msg {
		if x.Variant != nil {
			return traceProgramMsg{program: x.Variant, action: action, node: node}
		}
		p, err := r.Program(ctx, x.Program, x.Version)
		return traceProgramMsg{program: p, action: action, node: node, err: err}
	})
}

func (t *traceScreen) Bindings() []key.Binding {
	k := keys.Hint
	return []key.Binding{k("j/k", "move"), k("space", "expand/collapse"), k("n/p", "next/previous LM call"),
		k("tab", "tree/detail focus"), k("x", "cancel run"), k("i", "iterate on the module"),
		k("P", "replay the module"), k("w", "render preview"), k("S", "cost pane"),
		keys.As(t.keys.Whole, t.wholeHelp()), keys.As(t.keys.Copy, "copy prompt/completion/outputs/error"), k("esc", "back")}
}

func (t *traceScreen) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	if key.Matches(msg, km.Back) {
		e.Close(nil)
		return nil
	}
	if msg.String() == "tab" {
		t.focusDetail = !t.focusDetail
		return nil
	}
	if t.focusDetail {
		switch {
		case key.Matches(msg, km.Down):
			t.detailOff++
		case key.Matches(msg, km.Up):
			t.detailOff--
		case key.Matches(msg, km.PageDown):
			t.detailOff += t.height / 2
		case key.Matches(msg, km.PageUp):
			t.detailOff -= t.height / 2
		case key.Matches(msg, km.Top):
			t.detailOff = 0
		}
		t.detailOff = max(t.detailOff, 0)
		if !key.Matches(msg, km.NextCall) && !key.Matches(msg, km.PrevCall) {
			return t.actionKey(e, msg)
		}
	}
	tr := t.tree
	prev := tr.Cursor()
	switch {
	case key.Matches(msg, km.Down):
		tr.Move(1)
	case key.Matches(msg, km.Up):
		tr.Move(-1)
	case key.Matches(msg, km.PageDown):
		tr.Page(1)
	case key.Matches(msg, km.PageUp):
		tr.Page(-1)
	case key.Matches(msg, km.Top):
		tr.Top()
	case key.Matches(msg, km.Bottom):
		tr.Bottom()
	case key.Matches(msg, km.NextCall):
		tr.NextCall(1)
	case key.Matches(msg, km.PrevCall):
		tr.NextCall(-1)
	case key.Matches(msg, km.Expand), key.Matches(msg, km.Open):
		tr.Toggle()
	default:
		return t.actionKey(e, msg)
	}
	if tr.Cursor() != prev {
		t.detailOff = 0
	}
	return t.maybePage(e)
}

// actionKey handles the keys that act on the selected span.
func (t *traceScreen) actionKey(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	switch {
	case key.Matches(msg, km.Cancel):
		if !t.live() || t.exec == nil {
			return page.Notice("the execution has ended")
		}
		r, ctx, id := t.scr.runner, e.Ctx, t.id
		return func() tea.Msg { // a notice, for the shell
			if _, err := r.CancelExecution(ctx, id); err != nil {
				return page.NoticeMsg{Text: err.Error(), Err: true}
			}
			return page.NoticeMsg{Text: "cancelled " + id.String()}
		}
	case key.Matches(msg, km.Copy):
		e.Push(t.copyChoice(km))
	case key.Matches(msg, km.Stats):
		t.showCost = !t.showCost
		if t.showCost {
			return t.loadCost(e)
		}
	case key.Matches(msg, km.Replay), key.Matches(msg, km.Edit), key.Matches(msg, km.Preview):
		n := t.tree.Selected()
		mn := int32(-1)
		if n >= 0 {
			mn = t.tree.ModuleNode(n)
		}
		if mn < 0 {
			return page.Notice("select a span inside a program module")
		}
		switch {
		case key.Matches(msg, km.Replay):
			return t.program(e, "replay", mn)
		case key.Matches(msg, km.Edit):
			return t.program(e, "iterate", mn)
		default:
			return t.program(e, "preview", mn)
		}
	}
	return nil
}

func (t *traceScreen) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		d := components.WheelLines
		if msg.Button == tea.MouseWheelUp {
			d = -d
		}
		if x >= t.treeWidth() {
			t.detailOff = max(t.detailOff+d, 0)
			return nil
		}
		t.tree.Scroll(d)
	case tea.MouseClickMsg:
		if x < t.treeWidth() && y >= 2 {
			if pos := t.tree.Offset() + y - 2; pos < t.tree.Rows() {
				t.tree.SetCursor(pos)
				t.detailOff = 0
			}
		}
	}
	return t.maybePage(e)
}

// --- rendering ----------------------------------------------------------------------------------

func (t *traceScreen) treeWidth() int {
	if t.width >= 120 {
		return t.width * 2 / 5
	}
	return max(t.width*9/20, 20)
}

func (t *traceScreen) Render(func() string) string { return t.render() }

func (t *traceScreen) render() string {
	s := t.styles
	tw := t.treeWidth()
	rw := max(t.width-tw-1, 10)
	title := t.titleLine()
	tree := t.renderTree(tw, t.height-1)
	var right string
	if t.showCost && t.height >= 14 {
		ch := min(9, t.height/2)
		right = t.renderDetail(rw, t.height-1-ch) + "\n" + t.renderCost(rw, ch)
	} else {
		right = t.renderDetail(rw, t.height-1)
	}
	tl, rl := strings.Split(tree, "\n"), strings.Split(right, "\n")
	var b strings.Builder
	b.WriteString(layout.Fit(title, t.width, 1))
	sep := s.Muted.Render("│")
	for i := 0; i < t.height-1; i++ {
		b.WriteByte('\n')
		var l, r string
		if i < len(tl) {
			l = tl[i]
		}
		if i < len(rl) {
			r = rl[i]
		}
		b.WriteString(l + sep + r)
	}
	return layout.Fit(b.String(), t.width, t.height)
}

func (t *traceScreen) titleLine() string {
	s := t.styles
	name, state := "…", "loading"
	var extra []string
	if x := t.exec; x != nil {
		name = fmt.Sprintf("%s v%d", x.Program, x.Version)
		state = string(x.State)
		if x.Variant != nil {
			if strings.HasPrefix(x.Variant.Note, "replay") {
				extra = append(extra, s.Warning.Render("REPLAY: "+x.Variant.Note))
			} else {
				extra = append(extra, s.Warning.Render("unsaved variant"))
			}
		}
	}
	st := s.Muted
	switch {
	case t.exec != nil && t.exec.State == model.Failed:
		st = s.Error
	case t.exec != nil && t.exec.State == model.Completed:
		st = s.Success
	case t.live():
		state += " " + layout.Spinner(t.frame)
		st = s.Accent
	}
	line := s.Title.Render("Trace "+name) + " " + st.Render(state) + s.Muted.Render(" · "+t.id.String())
	n := " · " + format.Count(t.tree.Len(), "span")
	if !t.complete && !t.live() {
		n += "+"
	}
	line += s.Muted.Render(n)
	if x := t.exec; x != nil {
		line += s.Muted.Render(fmt.Sprintf(" · %s tok · %s", format.Thousands(x.TotalUsage().Total()), format.USD(x.Cost)))
		if x.Worker != "" {
			line += s.Muted.Render(" · on " + format.Line(x.Worker))
		}
	}
	for _, e := range extra {
		line += "  " + e
	}
	if t.execErr != nil {
		line += "  " + s.Error.Render(format.Line(t.execErr.Error()))
	}
	return line
}

func (t *traceScreen) renderTree(w, h int) string {
	s := t.styles
	var b strings.Builder
	head := " SPANS"
	if t.focusDetail {
		head += "  (tab: back to the tree)"
	}
	b.WriteString(s.Header.Render(layout.Fit(head, w, 1)))
	body := max(h-1, 0)
	tr := t.tree
	rows, off, cur := tr.Rows(), tr.Offset(), tr.Cursor()
	if rows == 0 {
		msg := "Loading spans…"
		switch {
		case t.spanErr != nil:
			msg = "Could not load spans: " + t.spanErr.Error()
		case !t.loading && t.started:
			msg = "No spans yet."
		}
		b.WriteString("\n" + layout.Fit(s.Muted.Render(" "+msg), w, 1))
		body--
		for range max(body, 0) {
			b.WriteString("\n" + strings.Repeat(" ", w))
		}
		return b.String()
	}
	for k := range body {
		b.WriteByte('\n')
		pos := off + k
		if pos >= rows {
			if pos == rows && !t.complete && !t.live() {
				b.WriteString(layout.Fit(s.Muted.Render(" loading more…"), w, 1))
			} else {
				b.WriteString(strings.Repeat(" ", w))
			}
			continue
		}
		b.WriteString(t.treeRow(tr.Row(pos), pos == cur, w))
	}
	return b.String()
}

// treeRow lays out one row: indentation, expander, kind, name, and on the
// right the latency and tokens, or a spinner while the span runs.
func (t *traceScreen) treeRow(n int32, sel bool, w int) string {
	s := t.styles
	nd := t.tree.Node(n)
	sp := &nd.Span
	exp := "  "
	if len(nd.Children) > 0 {
		exp = "▾ "
		if nd.Collapsed {
			exp = "▸ "
		}
	}
	ind := strings.Repeat("  ", int(min(nd.Depth, 12)))
	var right string
	switch {
	case sp.End.IsZero() && t.live():
		right = layout.Spinner((t.frame + int(n)))
	case sp.End.IsZero():
		right = "open"
	default:
		right = format.Duration(sp.Latency())
		if r := sp.Retrieval; r != nil {
			// What was searched, how: the index is the span's name.
			right = fmt.Sprintf("%s k%d %s", r.Search, r.K, right)
		}
		if sp.Kind == model.SpanLM {
			if sp.CacheHit {
				right = "cache " + right
			} else if u := sp.Usage.Total(); u > 0 {
				right = fmt.Sprintf("%dt %s", u, right)
			}
		}
	}
	if sp.Error != "" {
		right = "✗ " + right
	}
	kind := kindTag(sp.Kind)
	left := " " + ind + exp + kind + " " + format.Line(sp.Name)
	lw := w - ansi.StringWidth(right) - 2
	if lw < 4 {
		right, lw = "", w-1
	}
	left = ansi.Truncate(left, lw, "…")
	pad := max(w-ansi.StringWidth(left)-ansi.StringWidth(right)-1, 0)
	line := left + strings.Repeat(" ", pad) + right + " "
	switch {
	case sel:
		return s.RowSelected.Render(line)
	case sp.Error != "":
		return s.Error.Render(line)
	case sp.Kind == model.SpanLM:
		return s.Accent.Render(line)
	case sp.Kind == model.SpanAdapter:
		return s.Muted.Render(line)
	case sp.Kind == model.SpanRetrieval:
		return s.Info.Render(line)
	}
	return s.Row.Render(line)
}

func kindTag(k model.SpanKind) string {
	switch k {
	case model.SpanModule:
		return "◆"
	case model.SpanAdapter:
		return "·"
	case model.SpanLM:
		return "λ"
	case model.SpanTool:
		return "⚒"
	case model.SpanRetrieval:
		return "⌕"
	}
	return "?"
}

func (t *traceScreen) renderDetail(w, h int) string {
	n := t.tree.Selected()
	var lines []string
	if n < 0 {
		lines = []string{t.styles.Muted.Render("No span selected.")}
	} else {
		lines = spanDetail(t.styles, &t.tree.Node(n).Span, max(w-2, 8))
	}
	off := min(t.detailOff, max(len(lines)-h, 0))
	t.detailOff = off
	end := min(off+h, len(lines))
	out := make([]string, 0, h)
	for _, l := range lines[off:end] {
		out = append(out, " "+l)
	}
	if t.focusDetail && len(lines) > h {
		out[0] = layout.Fit(out[0], max(w-12, 1), 1) + t.styles.Muted.Render(fmt.Sprintf(" %d/%d", off+1, len(lines)))
	}
	return layout.Fit(strings.Join(out, "\n"), w, h)
}

// spanDetail lays out a span for the detail pane: what it is, its numbers,
// its error, the rendered prompt (demos marked), the raw completion, the
// parsed outputs and the inputs.
func spanDetail(s *themes.Styles, sp *model.Span, w int) []string {
	var lines []string
	add := func(str string) { lines = append(lines, strings.Split(str, "\n")...) }
	wrap := func(text string) {
		for _, para := range strings.Split(text, "\n") {
			add(ansi.Wrap(sanitizeTabs(para), w, " -"))
		}
	}
	section := func(name string) {
		add(s.Subtitle.Render("── " + name + " " + strings.Repeat("─", max(w-len(name)-4, 0))))
	}
	add(s.Title.Render(kindTag(sp.Kind)+" "+string(sp.Kind)) + " " + format.Line(sp.Name))
	var facts []string
	if sp.Module != "" {
		facts = append(facts, "module "+sp.Module)
	}
	if sp.Model != "" && sp.Model != sp.Name {
		facts = append(facts, sp.Model)
	}
	if sp.End.IsZero() {
		facts = append(facts, "running")
	} else {
		facts = append(facts, "latency "+format.Duration(sp.Latency()))
	}
	r := sp.Retrieval
	if r != nil {
		facts = append(facts, retrievalFacts(r)...)
	}
	// A retrieval's hosted embedder is a paid call, counted like an LM's.
	if sp.Kind == model.SpanLM || (r != nil && (sp.Model != "" || sp.Usage.Calls > 0)) {
		facts = append(facts, fmt.Sprintf("tokens %d in / %d out", sp.Usage.PromptTokens, sp.Usage.CompletionTokens), "cost "+format.USDMaybe(sp.Cost, sp.CostUnknown))
	}
	if sp.Kind == model.SpanLM {
		if sp.CacheHit {
			facts = append(facts, "cache hit")
		} else {
			facts = append(facts, "no cache hit")
		}
	}
	wrap(s.Muted.Render(strings.Join(facts, " · ")))
	if sp.Error != "" {
		add(s.Error.Render("error: ") + format.Line(sp.Error))
	}
	if r != nil {
		section("query")
		wrap(format.Text(r.Query))
		section(fmt.Sprintf("passages (%d)", len(r.Passages)))
		for i, p := range r.Passages {
			add(s.Accent.Render(fmt.Sprintf("#%d", i+1)) + " " + s.Subtitle.Render(format.Line(p.ID)) + s.Muted.Render(fmt.Sprintf("  score %.3f", p.Score)))
			wrap(format.Text(p.Text))
		}
		if len(r.Passages) == 0 {
			add(s.Muted.Render("no passage found"))
		}
		// The query and k are the span's inputs: shown above already.
		return lines
	}
	if len(sp.Messages) > 0 {
		section("prompt")
		demo := model.DemoLabels(sp.Messages)
		for i, m := range sp.Messages {
			add(s.Accent.Render("[" + format.Line(m.Role) + demo[i] + "]"))
			wrap(format.Text(m.Content))
		}
	}
	if sp.Completion != "" {
		section("completion")
		wrap(format.Text(sp.Completion))
	}
	if len(sp.Outputs) > 0 {
		section("outputs")
		for _, k := range slices.Sorted(maps.Keys(sp.Outputs)) {
			wrap(s.Subtitle.Render(format.Line(k)+": ") + format.Text(model.ValueText(sp.Outputs[k])))
		}
	}
	if len(sp.Inputs) > 0 {
		section("inputs")
		for _, k := range slices.Sorted(maps.Keys(sp.Inputs)) {
			wrap(s.Subtitle.Render(format.Line(k)+": ") + format.Text(model.ValueText(sp.Inputs[k])))
		}
	}
	return lines
}

// retrievalFacts are a retrieval's settings and its embedding cache's
// counts, for the detail pane's facts line.
func retrievalFacts(r *model.Retrieval) []string {
	facts := []string{"index " + format.Line(r.Index), "search " + format.Line(r.Search), fmt.Sprintf("k %d", r.K)}
	if r.Embedder != "" {
		facts = append(facts, "embedder "+format.Line(r.Embedder))
	}
	if r.Embedder != "" || r.CacheHits+r.CacheMisses > 0 {
		facts = append(facts, "embedding cache "+cacheCounts(model.EmbedCache{Hits: r.CacheHits, Misses: r.CacheMisses}))
	}
	return facts
}

// cacheCounts is "3 hits / 1 miss".
func cacheCounts(c model.EmbedCache) string {
	misses := format.Thousands(c.Misses) + " misses"
	if c.Misses == 1 {
		misses = "1 miss"
	}
	return format.Count(c.Hits, "hit") + " / " + misses
}

func sanitizeTabs(s string) string { return strings.ReplaceAll(s, "\t", "    ") }

// renderCost draws the token-cost pane: this run, this session, the
// program month to date against its budget, and cost per day this month.
func (t *traceScreen) renderCost(w, h int) string {
	s := t.styles
	var lines []string
	lines = append(lines, " "+s.Subtitle.Render("── cost "+strings.Repeat("─", max(w-10, 0))))
	row := func(label, val string) { lines = append(lines, " "+s.Muted.Render(fmt.Sprintf("%-11s", label))+val) }
	if x := t.exec; x != nil {
		row("this run", fmt.Sprintf("%s tok  %s", format.Thousands(x.TotalUsage().Total()), format.USD(x.Cost)))
		if c := x.EmbedCache; c.Hits+c.Misses > 0 {
			row("embeddings", "cache "+cacheCounts(c))
		}
	}
	runs, tok, cost := t.scr.session.Totals()
	row("session", fmt.Sprintf("%s tok  %s  (%d runs)", format.Thousands(tok), format.USD(cost), runs))
	switch c := t.cost; {
	case t.costErr != nil:
		row("month", s.Error.Render(format.Line(t.costErr.Error())))
	case c == nil:
		row("month", s.Muted.Render("…"))
	default:
		cost, tokens := programMonth(c, t.costProg)
		v := fmt.Sprintf("%s tok  %s", format.Thousands(tokens), format.USD(cost))
		if budget, ok := programBudget(c, t.costProg); ok {
			v += fmt.Sprintf(" of %s · %s left", format.USD(budget), format.USD(math.Max(budget-cost, 0)))
		} else {
			v += " · no budget"
		}
		row(layout.Truncate(t.costProg, 10), v)
		lines = append(lines, " "+s.Muted.Render(fmt.Sprintf("%-11s", "per day"))+s.Accent.Render(sparkBars(c.Days, max(w-13, 4))))
		if len(c.Days) > 0 {
			lines = append(lines, " "+s.Muted.Render(fmt.Sprintf("%-11s", c.Month)+dayAxis(len(c.Days), max(w-13, 4))))
		}
	}
	return layout.Fit(strings.Join(lines, "\n"), w, h)
}

// programMonth is what program's LM calls cost in the report's month, and
// their tokens.
func programMonth(c *app.CostReport, program string) (cost float64, tokens int) {
	for _, row := range c.Programs {
		if row.Program == program {
			cost += row.Cost
			tokens += row.Usage.Total()
		}
	}
	return cost, tokens
}

// programBudget is the monthly cap program runs under: its own, else the
// workspace's.
func programBudget(c *app.CostReport, program string) (float64, bool) {
	if b, ok := c.Budgets[program]; ok {
		return b, true
	}
	b, ok := c.Budgets[""]
	return b, ok
}

// dayAxis labels the days under a sparkBars chart of n days in at most w
// cells: each week's first day (1, 8, 15, 22, 29) under its bar, and the
// last day, where they fit without touching.
func dayAxis(n, w int) string {
	cells := min(n, w)
	if cells <= 0 {
		return ""
	}
	line := []byte(strings.Repeat(" ", cells))
	last := strconv.Itoa(n)
	end := cells - len(last) // the last day ends under the last bar
	copy(line[max(end, 0):], last)
	free := 0 // the first cell a week's label may use
	for d := 1; d < n; d += 7 {
		lab := strconv.Itoa(d)
		at := (d - 1) * cells / n
		if at >= free && at+len(lab) < end {
			copy(line[at:], lab)
			free = at + len(lab) + 1
		}
	}
	return string(line)
}

// sparkBars draws values as a bar chart of at most w cells (one per value,
// or buckets of them when there are more values than cells).
func sparkBars(vals []float64, w int) string {
	if len(vals) == 0 || w <= 0 {
		return ""
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	vs := vals
	if len(vals) > w {
		vs = make([]float64, w)
		for i, v := range vals {
			vs[i*w/len(vals)] += v
		}
	}
	hi := 0.0
	for _, v := range vs {
		hi = math.Max(hi, v)
	}
	var b strings.Builder
	for _, v := range vs {
		switch {
		case v <= 0:
			b.WriteRune(' ')
		case hi == 0:
			b.WriteRune(bars[0])
		default:
			b.WriteRune(bars[min(int(v/hi*float64(len(bars)-1)+0.5), len(bars)-1)])
		}
	}
	return b.String()
}
