package runs

// Prompt iteration (issue 7): edit a module's instructions, signature or
// demos, re-run the same inputs as an unsaved variant, and compare old and
// new outputs, prompts and costs side by side with the changed words
// highlighted; every run is kept in a list to go back to, and a good one is
// saved as the program's next version.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// iteration is one run of the module's program: the original (0) or a
// variant.
type iteration struct {
	n       int
	program *model.Program
	change  string // what differs from the original, in words
	exec    *model.Execution
	prompt  []model.Message
	err     error
	done    bool // ended, and its prompt read
}

// What an editable part of a module is.
const (
	editInstructions = iota
	editSignature
	editDemos
)

// editPart is one editable text: of the module itself (predictor "") or
// of one of its predictors (instructions and demos).
type editPart struct {
	predictor string
	what      int
}

func (p editPart) name() string {
	what := [...]string{"instructions", "signature", "demos (JSON)"}[p.what]
	if p.predictor == "" {
		return what
	}
	if p.what == editInstructions {
		what += " (empty: as DSPy's constructor makes them)"
	}
	return "predictor " + p.predictor + " " + what
}

// parts lists the module's editable texts: its own, then each predictor's
// (those it stores, and those its type is known to have).
func (it *iterateScreen) parts() []editPart {
	out := []editPart{{"", editInstructions}, {"", editSignature}, {"", editDemos}}
	m := it.module()
	names := model.PredictorNames(m.Type)
	for _, p := range m.Predictors {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	for _, n := range names {
		out = append(out, editPart{n, editInstructions}, editPart{n, editDemos})
	}
	return out
}

type iterateScreen struct {
	page.Defaults
	scr    *Screens
	styles *themes.Styles

	base   *model.Program // the stored version the variants derive from
	mod    int            // module index
	inputs map[string]any
	lm     string
	draft  *model.Program

	iters   []*iteration
	sel     int
	editing bool
	part    int
	area    textarea.Model
	editErr error
	scroll  int
	tickGen uint64
	started bool
	saving  bool

	width, height int
}

// Messages of the iteration screen.
type (
	iterStartedMsg struct {
		n    int
		exec *model.Execution
		err  error
	}
	iterExecMsg struct {
		n    int
		exec *model.Execution
		err  error
	}
	iterSpansMsg struct {
		n     int
		spans []model.Span
		err   error
	}
	iterTickMsg  struct{ tick uint64 }
	iterSavedMsg struct {
		program *model.Program
		err     error
	}
)

func cloneProgram(p *model.Program) *model.Program {
	b, err := json.Marshal(p)
	if err != nil {
		panic("tui: program does not encode: " + err.Error())
	}
	var out model.Program
	if err := json.Unmarshal(b, &out); err != nil {
		panic("tui: program does not decode: " + err.Error())
	}
	return &out
}

// newIterateScreen iterates on module mod of program p with these inputs.
// base is the execution to compare with (its prompt in baseMsgs); without
// one, the original is run first.
func newIterateScreen(scr *Screens, p *model.Program, mod int, inputs map[string]any, base *model.Execution, baseMsgs []model.Message) *iterateScreen {
	it := &iterateScreen{scr: scr, styles: scr.styles, base: p, mod: mod, inputs: inputs, draft: cloneProgram(p)}
	it.area = textarea.New()
	it.area.ShowLineNumbers = false
	it.area.SetStyles(components.TextAreaStyles(scr.styles)) // a steady cursor, the theme's colours
	if base != nil {
		it.lm = base.LM
		it.iters = append(it.iters, &iteration{n: 0, program: p, change: "original", exec: base, prompt: baseMsgs,
			done: base.State.Terminal()})
	}
	return it
}

func (it *iterateScreen) module() *model.Module { return &it.draft.Modules[it.mod] }

func (it *iterateScreen) Typing() bool { return it.editing }

// Restyle picks up a theme switched in place.
func (it *iterateScreen) Restyle() { it.area.SetStyles(components.TextAreaStyles(it.styles)) }

func (it *iterateScreen) SetSize(w, h int) {
	it.width, it.height = w, h
	it.area.SetWidth(max(w-2, 10))
	it.area.SetHeight(max(h-4, 3))
}

func (it *iterateScreen) Enter(e *page.Env) tea.Cmd {
	var cmds []tea.Cmd
	if !it.started {
		it.started = true
		if len(it.iters) == 0 {
			cmds = append(cmds, it.run(e, true))
		} else if !it.iters[0].done {
			cmds = append(cmds, it.fetchSpans(e, 0))
		}
	}
	cmds = append(cmds, it.tick(e))
	return tea.Batch(cmds...)
}

func (it *iterateScreen) tick(e *page.Env) tea.Cmd {
	it.tickGen++
	tk := it.tickGen
	return e.After(pollEvery, func(time.Time) tea.Msg { return iterTickMsg{tick: tk} })
}

// run starts an iteration: the original program (first) or the draft.
func (it *iterateScreen) run(e *page.Env, original bool) tea.Cmd {
	n := len(it.iters)
	req := app.RunRequest{Program: it.base.Name, Version: it.base.Version, Inputs: it.inputs, LM: it.lm}
	itn := &iteration{n: n, program: it.base, change: "original"}
	if !original {
		v := cloneProgram(it.draft)
		v.Note = fmt.Sprintf("iteration #%d of module %s", n, v.Modules[it.mod].Name)
		itn.program, itn.change = v, describeChange(&it.base.Modules[it.mod], &v.Modules[it.mod])
		req.Variant = v
	}
	it.iters = append(it.iters, itn)
	it.sel, it.scroll = n, 0
	r, ctx := it.scr.runner, e.Ctx
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return iterStartedMsg{n: n, err: fmt.Errorf("no runner configured")}
		}
		x, err := r.Run(ctx, req)
		return iterStartedMsg{n: n, exec: x, err: err}
	})
}

// describeChange says what a variant changed in its module, in words:
// "instructions, react demos edited".
func describeChange(a, b *model.Module) string {
	var parts []string
	for _, c := range model.DiffPrograms(&model.Program{Modules: []model.Module{*a}}, &model.Program{Modules: []model.Module{*b}}) {
		rest := strings.TrimPrefix(c.Path, "modules."+a.Name+".")
		what := strings.SplitN(rest, ".", 2)[0]
		if what == "predictors" { // predictors.<name>.<what>: name may hold dots
			tail := strings.TrimPrefix(rest, "predictors.")
			for _, k := range []string{".instructions", ".fields.", ".demos", ".other"} {
				if i := strings.Index(tail, k); i >= 0 {
					what = tail[:i] + " " + strings.Trim(strings.SplitN(k, ".", 3)[1], ".")
					break
				}
			}
		}
		what = strings.SplitN(what, "[", 2)[0]
		if !slices.Contains(parts, what) {
			parts = append(parts, what)
		}
	}
	if len(parts) == 0 {
		return "unchanged"
	}
	return strings.Join(parts, ", ") + " edited"
}

func (it *iterateScreen) fetchExec(e *page.Env, n int) tea.Cmd {
	r, ctx, id := it.scr.runner, e.Ctx, it.iters[n].exec.ID
	return e.Cmd(func() tea.Msg {
		x, err := r.Execution(ctx, id)
		return iterExecMsg{n: n, exec: x, err: err}
	})
}

func (it *iterateScreen) fetchSpans(e *page.Env, n int) tea.Cmd {
	r, ctx, id := it.scr.runner, e.Ctx, it.iters[n].exec.ID
	return e.Cmd(func() tea.Msg {
		pg, err := r.Spans(ctx, id, 0, tracePage)
		if err != nil {
			return iterSpansMsg{n: n, err: err}
		}
		return iterSpansMsg{n: n, spans: pg.Spans}
	})
}

func (it *iterateScreen) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case iterStartedMsg:
		if msg.n >= len(it.iters) {
			return nil
		}
		itn := it.iters[msg.n]
		if msg.err != nil {
			itn.err, itn.done = msg.err, true
			return nil
		}
		itn.exec = msg.exec
		it.scr.session.track(msg.exec)
		if msg.exec.State.Terminal() {
			return it.fetchSpans(e, msg.n)
		}
	case iterExecMsg:
		if msg.n >= len(it.iters) || msg.err != nil {
			return nil
		}
		itn := it.iters[msg.n]
		itn.exec = msg.exec
		it.scr.session.update(msg.exec)
		if msg.exec.State.Terminal() {
			return it.fetchSpans(e, msg.n)
		}
	case iterSpansMsg:
		if msg.n >= len(it.iters) {
			return nil
		}
		itn := it.iters[msg.n]
		itn.done = true
		if msg.err != nil {
			itn.err = msg.err
			return nil
		}
		name := it.base.Modules[it.mod].Name
		for i := range msg.spans {
			if sp := &msg.spans[i]; sp.Kind == model.SpanLM && sp.Module == name {
				itn.prompt = sp.Messages
				break
			}
		}
	case iterTickMsg:
		if msg.tick != it.tickGen {
			return nil
		}
		cmds := []tea.Cmd{}
		for _, itn := range it.iters {
			if itn.exec != nil && !itn.exec.State.Terminal() {
				cmds = append(cmds, it.fetchExec(e, itn.n))
			}
		}
		if len(cmds) > 0 || it.pending() {
			cmds = append(cmds, it.tick(e))
		}
		return tea.Batch(cmds...)
	case iterSavedMsg:
		it.saving = false
		if msg.err != nil {
			return page.NoticeErr(msg.err)
		}
		it.base = msg.program
		return page.Notice(fmt.Sprintf("saved %s v%d", msg.program.Name, msg.program.Version))
	}
	if it.editing { // a paste
		var cmd tea.Cmd
		it.area, cmd = it.area.Update(msg)
		return e.Wrap(cmd)
	}
	return nil
}

// pending says whether some iteration has not ended yet.
func (it *iterateScreen) pending() bool {
	for _, itn := range it.iters {
		if !itn.done {
			return true
		}
	}
	return false
}

func (it *iterateScreen) Bindings() []key.Binding {
	k := keys.Hint
	if it.editing {
		return []key.Binding{k("tab", "next part"), k("esc", "done editing")}
	}
	return []key.Binding{k("i", "edit the module"), k("r", "re-run the same inputs"), k("j/k", "iteration"),
		k("pgup/pgdown", "scroll"), k("ctrl+s", "save as new version"), k("w", "render preview"), k("esc", "back")}
}

// partText is the draft's text of an editable part.
func (it *iterateScreen) partText(p editPart) string {
	m := it.module()
	instructions, demos := m.Instructions, m.Demos
	if p.predictor != "" {
		instructions, demos = "", nil
		if st := m.Predictor(p.predictor); st != nil {
			instructions, demos = st.Instructions, st.Demos
		}
	}
	switch p.what {
	case editInstructions:
		return instructions
	case editSignature:
		return m.Signature
	}
	if len(demos) == 0 {
		return "[]"
	}
	b, _ := json.MarshalIndent(demos, "", "  ")
	return string(b)
}

// commit writes the textarea back into the draft when it changed; a
// signature that does not parse or demos that are not a JSON list of
// objects are refused. New module instructions make DSPy's constructor
// derive its predictors' instructions again (model.Module.SetInstructions).
func (it *iterateScreen) commit() error {
	m := it.module()
	p := it.parts()[it.part]
	v := it.area.Value()
	if v == it.partText(p) {
		return nil
	}
	switch {
	case p.what == editSignature:
		if _, err := model.ParseSignature(v); err != nil {
			return err
		}
		m.Signature = strings.TrimSpace(v)
	case p.what == editInstructions && p.predictor == "":
		m.SetInstructions(v)
	case p.what == editInstructions:
		m.SetPredictorInstructions(p.predictor, v)
	default:
		var ds []map[string]any
		if err := json.Unmarshal([]byte(v), &ds); err != nil {
			return fmt.Errorf("demos: want a JSON list of objects: %w", err)
		}
		if p.predictor == "" {
			m.Demos = ds
		} else {
			m.SetPredictorDemos(p.predictor, ds)
		}
	}
	return nil
}

func (it *iterateScreen) startEdit(p int) tea.Cmd {
	it.part, it.editing, it.editErr = p, true, nil
	it.area.SetValue(it.partText(it.parts()[p]))
	return it.area.Focus()
}

func (it *iterateScreen) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	if it.editing {
		switch msg.String() {
		case "esc":
			if err := it.commit(); err != nil {
				it.editErr = err
				return nil
			}
			it.editing, it.editErr = false, nil
			it.area.Blur()
			return nil
		case "tab":
			if err := it.commit(); err != nil {
				it.editErr = err
				return nil
			}
			return e.Wrap(it.startEdit((it.part + 1) % len(it.parts())))
		}
		var cmd tea.Cmd
		it.area, cmd = it.area.Update(msg)
		return e.Wrap(cmd)
	}
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.Edit):
		return e.Wrap(it.startEdit(0))
	case key.Matches(msg, km.Run):
		return tea.Batch(it.run(e, false), it.tick(e))
	case key.Matches(msg, km.Down):
		it.sel, it.scroll = min(it.sel+1, max(len(it.iters)-1, 0)), 0
	case key.Matches(msg, km.Up):
		it.sel, it.scroll = max(it.sel-1, 0), 0
	case key.Matches(msg, km.PageDown):
		it.scroll += max(it.height/2, 1)
	case key.Matches(msg, km.PageUp):
		it.scroll = max(it.scroll-max(it.height/2, 1), 0)
	case key.Matches(msg, km.Save):
		return it.save(e)
	case key.Matches(msg, km.Preview):
		e.Push(newPreviewScreen(it.scr, app.RenderRequest{Program: it.base.Name, Version: it.base.Version, Variant: cloneProgram(it.draft),
			Inputs: it.inputs, LM: it.lm, Module: it.base.Modules[it.mod].Name}))
	}
	return nil
}

// Dirty, Editing and Save make the screen a page.Saver. Esc keeps it for
// the session (Screens.iterate), so only the shell asks, before it quits:
// the draft differs from the stored version.
func (it *iterateScreen) Dirty() bool {
	if it.editing && it.area.Value() != it.partText(it.parts()[it.part]) {
		return true
	}
	return len(model.DiffPrograms(it.base, it.draft)) > 0
}

func (it *iterateScreen) Editing() string {
	return fmt.Sprintf("the iteration on %s, module %s", it.base.Name, it.base.Modules[it.mod].Name)
}

// Save stores the draft, with the text being edited, as the next version.
func (it *iterateScreen) Save(e *page.Env) tea.Cmd {
	if it.editing {
		if err := it.commit(); err != nil {
			it.editErr = err
			return nil
		}
		it.editing = false
		it.area.Blur()
	}
	return it.saveProgram(e, it.draft)
}

// save stores the selected iteration's program (the draft when the
// original is selected) as the program's next version.
func (it *iterateScreen) save(e *page.Env) tea.Cmd {
	p := it.draft
	if it.sel > 0 && it.sel < len(it.iters) {
		p = it.iters[it.sel].program
	}
	return it.saveProgram(e, p)
}

func (it *iterateScreen) saveProgram(e *page.Env, p *model.Program) tea.Cmd {
	if it.saving {
		return nil
	}
	v := cloneProgram(p)
	v.Version, v.Note = 0, fmt.Sprintf("saved from a TUI iteration on module %s", v.Modules[it.mod].Name)
	it.saving = true
	r, ctx := it.scr.runner, e.Ctx
	return e.Cmd(func() tea.Msg {
		out, err := r.SaveProgram(ctx, v)
		return iterSavedMsg{program: out, err: err}
	})
}

func (it *iterateScreen) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if w, ok := msg.(tea.MouseWheelMsg); ok && !it.editing {
		if w.Button == tea.MouseWheelUp {
			it.scroll = max(it.scroll-components.WheelLines, 0)
		} else if w.Button == tea.MouseWheelDown {
			it.scroll += components.WheelLines
		}
	}
	return nil
}

func (it *iterateScreen) Render(func() string) string {
	s := it.styles
	mod := it.base.Modules[it.mod]
	title := s.Title.Render("Iterate "+it.base.Name) + s.Muted.Render(fmt.Sprintf(" v%d · module %s (%s)", it.base.Version, mod.Name, mod.Type))
	if it.sel > 0 {
		title += s.Muted.Render(fmt.Sprintf(" · #%d vs #%d", it.sel, it.sel-1))
	}
	title += s.Muted.Render(" · esc back")
	if it.editing {
		var b strings.Builder
		b.WriteString(layout.Fit(title, it.width, 1) + "\n")
		b.WriteString(layout.Fit(s.Subtitle.Render("Editing "+it.parts()[it.part].name())+s.Muted.Render("  tab: next part · esc: done"), it.width, 1) + "\n")
		if it.editErr != nil {
			b.WriteString(layout.Fit(s.Error.Render(format.Line(it.editErr.Error())), it.width, 1))
		}
		b.WriteString("\n" + it.area.View())
		return layout.Fit(b.String(), it.width, it.height)
	}
	listW := 20
	if it.width >= 120 {
		listW = 26
	}
	colW := max((it.width-listW-2)/2, 10)
	h := it.height - 1
	list := it.renderList(listW, h)
	var left, right []string
	if it.sel < len(it.iters) {
		cur := it.iters[it.sel]
		if it.sel > 0 {
			left, right = sideBySide(s, it.iters[it.sel-1], cur, colW-1)
		} else {
			_, right = sideBySide(s, nil, cur, colW-1)
			left = []string{s.Muted.Render("The original run."), "", s.Muted.Render("i edit the module,"), s.Muted.Render("r re-run the inputs,"), s.Muted.Render("then compare here.")}
			left, right = right, left
		}
	}
	maxLen := max(len(left), len(right))
	off := min(it.scroll, max(maxLen-h, 0))
	it.scroll = off
	sep := s.Muted.Render("│")
	ll := strings.Split(list, "\n")
	var b strings.Builder
	b.WriteString(layout.Fit(title, it.width, 1))
	for i := range h {
		b.WriteByte('\n')
		l := ""
		if i < len(ll) {
			l = ll[i]
		}
		b.WriteString(l + sep + layout.Fit(lineAt(left, off+i), colW, 1) + sep + layout.Fit(lineAt(right, off+i), colW, 1))
	}
	return layout.Fit(b.String(), it.width, it.height)
}

func lineAt(ls []string, i int) string {
	if i < len(ls) {
		return " " + ls[i]
	}
	return ""
}

func (it *iterateScreen) renderList(w, h int) string {
	s := it.styles
	var lines []string
	lines = append(lines, s.Header.Render(layout.Fit(" ITERATIONS", w, 1)))
	for i, itn := range it.iters {
		st := "…"
		switch {
		case itn.err != nil:
			st = "✗"
		case itn.exec != nil && itn.exec.State == model.Failed:
			st = "✗"
		case itn.done:
			st = "✓"
		}
		line := fmt.Sprintf(" #%d %s %s", itn.n, st, itn.change)
		if i == it.sel {
			lines = append(lines, s.RowSelected.Render(layout.Fit(line, w, 1)))
		} else {
			lines = append(lines, layout.Fit(line, w, 1))
		}
	}
	lines = append(lines, "")
	d := describeChange(&it.base.Modules[it.mod], &it.draft.Modules[it.mod])
	lines = append(lines, s.Muted.Render(layout.Fit(" draft: "+d, w, 1)))
	for _, l := range []string{"i edit · r run", "j/k pick · ctrl+s", "save · w preview"} {
		lines = append(lines, s.Muted.Render(layout.Fit(" "+l, w, 1)))
	}
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	for i := range lines {
		lines[i] = layout.Fit(lines[i], w, 1)
	}
	return strings.Join(lines[:h], "\n")
}

// sideBySide lays out two iterations as columns of w cells, the words that
// differ highlighted: removed ones in a (the older), added ones in b.
func sideBySide(s *themes.Styles, a, b *iteration, w int) (left, right []string) {
	col := func(x *iteration, outs, prompt []model.WordOp, keep model.WordOpKind) []string {
		var lines []string
		add := func(str string) { lines = append(lines, strings.Split(str, "\n")...) }
		add(s.Subtitle.Render(fmt.Sprintf("#%d %s", x.n, x.change)))
		switch {
		case x.err != nil:
			add(s.Error.Render(ansi.Wrap(format.Text(x.err.Error()), w, " ")))
			return lines
		case x.exec == nil:
			add(s.Muted.Render("submitting…"))
			return lines
		}
		ex := x.exec
		facts := fmt.Sprintf("%s · %s tok · %s · %s", ex.State, format.Thousands(ex.TotalUsage().Total()), format.USD(ex.Cost), format.Duration(ex.Duration))
		add(s.Muted.Render(ansi.Wrap(facts, w, " ")))
		if ex.Error != "" {
			add(s.Error.Render(ansi.Wrap(format.Line(ex.Error), w, " ")))
		}
		add(s.Subtitle.Render("── outputs"))
		add(RenderWordDiff(s, outs, keep, w))
		add(s.Subtitle.Render("── prompt"))
		if !x.done {
			add(s.Muted.Render("running…"))
		} else {
			add(RenderWordDiff(s, prompt, keep, w))
		}
		return lines
	}
	if a == nil { // one column: everything is unchanged text
		ops := model.WordDiff(outputsText(b), outputsText(b))
		pops := model.WordDiff(promptText(b.prompt), promptText(b.prompt))
		return nil, col(b, ops, pops, model.WordSame)
	}
	outs := model.WordDiff(outputsText(a), outputsText(b))
	prompt := model.WordDiff(promptText(a.prompt), promptText(b.prompt))
	return col(a, outs, prompt, model.WordDel), col(b, outs, prompt, model.WordAdd)
}

func outputsText(x *iteration) string {
	if x == nil || x.exec == nil {
		return ""
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(x.exec.Outputs)) {
		b.WriteString(k + ": " + model.ValueText(x.exec.Outputs[k]) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func promptText(ms []model.Message) string {
	var parts []string
	demo := model.DemoLabels(ms)
	for i, m := range ms {
		parts = append(parts, "["+m.Role+demo[i]+"]\n"+m.Content)
	}
	return strings.Join(parts, "\n")
}
