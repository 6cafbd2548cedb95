package runs

// Package runs is what running a program from the workbench opens over the
// pages (issue 7): the run form generated from a program's input fields
// and its dataset example picker, the trace of an execution (live while it
// runs, its span tree in package spantree), prompt iteration on a module
// with its side-by-side diff, and the render preview. Screens opens them;
// Runner is the service they use (the owner's API, in cmd), and Session
// sums what the runs started in this TUI cost.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// Runner starts and follows executions: app.Service's methods, only ever
// called from a tea.Cmd, never from Update.
type Runner interface {
	// Run starts one execution of a stored version, or of an unsaved
	// variant of it (a prompt iteration, a module replay).
	Run(ctx context.Context, req app.RunRequest) (*model.Execution, error)
	CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error)
	Execution(ctx context.Context, id model.ID) (*model.Execution, error)
	// Spans is a page of an execution's spans after seq after; Next is the
	// after of the following page, 0 when this was the last.
	Spans(ctx context.Context, id model.ID, after uint64, limit int) (*app.SpanPage, error)
	// Render is the render preview: the messages each module (or only
	// req.Module) would send for the inputs, without calling the LM.
	Render(ctx context.Context, req app.RenderRequest) (*app.RenderResult, error)
	Program(ctx context.Context, name string, version int) (*model.Program, error)
	SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	// Cost is what LM calls cost: the cost pane shows a program's month.
	Cost(ctx context.Context, q app.CostQuery) (*app.CostReport, error)
	// LMProfiles are the profiles the run form offers.
	LMProfiles(ctx context.Context) ([]app.LMProfile, error)
}

// Screens opens the views that runs lead to: a program's run form, an
// execution's trace. It holds what they need; every view opened from
// another shares it.
type Screens struct {
	runner   Runner
	examples Examples
	session  *Session
	styles   *themes.Styles

	// What the run forms and iterations of each program held, for the
	// session: leaving one and coming back shows it again.
	inputs     map[string]map[string]string // program → input field → text
	iterations map[iterKey]*iterateScreen
}

// iterKey is what an iteration screen iterates on: a program's module,
// from its run form (exec zero) or from the trace of an execution.
type iterKey struct {
	program string
	module  int
	exec    model.ID
}

// iterate is the iteration screen on module mod of p, the one kept from
// earlier in the session when there is one (its iterations, its draft).
func (s *Screens) iterate(p *model.Program, mod int, inputs map[string]any, base *model.Execution, baseMsgs []model.Message) *iterateScreen {
	k := iterKey{program: p.Name, module: mod}
	if base != nil {
		k.exec = base.ID
	}
	if it, ok := s.iterations[k]; ok {
		return it
	}
	it := newIterateScreen(s, p, mod, inputs, base, baseMsgs)
	if s.iterations == nil {
		s.iterations = map[iterKey]*iterateScreen{}
	}
	s.iterations[k] = it
	return it
}

// Examples is where the run form's example picker finds examples (the
// Datasets page's repository).
type Examples interface {
	ListDatasets(ctx context.Context) ([]*model.Dataset, error)
	ListExamples(ctx context.Context, q app.ExampleQuery) (*app.ExamplePage, error)
}

// NewScreens opens views over runner, the example picker reading examples.
func NewScreens(s *themes.Styles, runner Runner, examples Examples) *Screens {
	return &Screens{runner: runner, examples: examples, session: &Session{}, styles: s}
}

// Session sums the runs started from these views.
func (s *Screens) Session() *Session { return s.session }

// Styles are the styles the views draw with.
func (s *Screens) Styles() *themes.Styles { return s.styles }

// RunForm is the run form of p.
func (s *Screens) RunForm(p *model.Program) page.Dialog { return newRunForm(s, p) }

// Trace is the trace of execution id.
func (s *Screens) Trace(id model.ID) page.Dialog { return newTraceScreen(s, id) }

// StartedHere says whether execution id was started from these views (a
// list shows it selected when it comes).
func (s *Screens) StartedHere(id model.ID) bool {
	_, ok := s.session.runs[id]
	return ok
}

// pollEvery is how often a live execution's spans and state are read.
const pollEvery = 150 * time.Millisecond

// Session sums the executions started in this TUI, for the cost pane.
// It is shared by pointer by every screen.
type Session struct {
	runs map[model.ID]*model.Execution
}

func (s *Session) track(x *model.Execution) {
	if s == nil || x == nil {
		return
	}
	if s.runs == nil {
		s.runs = map[model.ID]*model.Execution{}
	}
	s.runs[x.ID] = x
}

// update replaces a tracked execution's snapshot; others are ignored.
func (s *Session) update(x *model.Execution) {
	if s == nil || x == nil {
		return
	}
	if _, ok := s.runs[x.ID]; ok {
		s.runs[x.ID] = x
	}
}

// Totals are the runs tracked, their tokens and their cost.
func (s *Session) Totals() (runs int, tokens int, cost float64) {
	if s == nil {
		return 0, 0, 0
	}
	for _, x := range s.runs {
		tokens += x.TotalUsage().Total()
		cost += x.Cost
	}
	return len(s.runs), tokens, cost
}

// --- the run form -------------------------------------------------------------------------------

// runForm asks for a program's inputs and runs it; the trace of the run
// takes its place.
type runForm struct {
	page.Defaults
	scr     *Screens
	program *model.Program
	fields  []model.Field
	inputs  []textinput.Model
	focus   int  // field with the cursor
	editing bool // the focused field has the keyboard
	err     error
	busy    string // "submitting…" while a request is out
	lm      lmChoice

	width, height int
}

// Messages of the run form and its example picker.
type (
	runSubmittedMsg struct {
		exec *model.Execution
		err  error
	}
	runExamplesMsg struct {
		examples []*model.Example
		err      error
	}
	// examplePickedMsg is the example picker's result.
	examplePickedMsg struct{ ex *model.Example }
)

func newRunForm(scr *Screens, p *model.Program) *runForm {
	f := &runForm{scr: scr, program: p, fields: p.Inputs(), editing: true}
	for i, fd := range f.fields {
		ti := textinput.New()
		ti.Prompt = ""
		ti.Placeholder = fieldType(fd)
		st := ti.Styles()
		st.Cursor.Blink = false // a steady cursor: no tick messages
		ti.SetStyles(st)
		if i == 0 {
			ti.Focus()
		}
		ti.SetValue(scr.inputs[p.Name][fd.Name]) // as it was left this session
		f.inputs = append(f.inputs, ti)
	}
	if len(f.fields) == 0 {
		f.editing = false
	}
	return f
}

// keep remembers the inputs as typed, for the next run form of the
// program this session.
func (f *runForm) keep() {
	kept := make(map[string]string, len(f.fields))
	for i, fd := range f.fields {
		kept[fd.Name] = f.inputs[i].Value()
	}
	if f.scr.inputs == nil {
		f.scr.inputs = map[string]map[string]string{}
	}
	f.scr.inputs[f.program.Name] = kept
}

func fieldType(f model.Field) string {
	if f.Type == "" {
		return "str"
	}
	return f.Type
}

func (f *runForm) Typing() bool { return f.editing }

func (f *runForm) SetSize(w, h int) {
	f.width, f.height = w, h
	for i := range f.inputs {
		f.inputs[i].SetWidth(max(w-22, 10))
	}
}

func (f *runForm) Bindings() []key.Binding {
	k := keys.Hint
	return []key.Binding{k("enter", "next field / run"), k("tab", "next field"), k("ctrl+e", "dataset example"),
		k("esc", "leave field / close"), k(lmKey, "next LM profile"), k("r", "run"), k("i", "iterate on a module"), k("w", "render preview")}
}

// values reads the form: a field whose type is not str, or whose text
// looks like JSON (an object, list, number, true/false), is decoded as
// JSON when it can be.
func (f *runForm) values() map[string]any {
	out := make(map[string]any, len(f.fields))
	for i, fd := range f.fields {
		out[fd.Name] = parseFieldValue(fd, f.inputs[i].Value())
	}
	return out
}

func parseFieldValue(fd model.Field, text string) any {
	if fd.Type == "" || fd.Type == "str" {
		return text
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err == nil {
		return v
	}
	return text
}

func (f *runForm) submit(e *page.Env) tea.Cmd {
	r, ctx := f.scr.runner, e.Ctx
	req := app.RunRequest{Program: f.program.Name, Version: f.program.Version, Inputs: f.values(), LM: f.lm.chosen()}
	f.busy, f.err = "submitting…", nil
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return runSubmittedMsg{err: fmt.Errorf("no runner configured")}
		}
		x, err := r.Run(ctx, req)
		return runSubmittedMsg{exec: x, err: err}
	})
}

func (f *runForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	defer f.keep()
	switch msg := msg.(type) {
	case runSubmittedMsg:
		f.busy = ""
		if msg.err != nil {
			f.err = msg.err
			return nil
		}
		f.scr.session.track(msg.exec)
		t := newTraceScreen(f.scr, msg.exec.ID)
		t.exec = msg.exec
		t.startedHere, t.showCost = true, true
		e.Close(nil) // the trace takes the form's place: esc goes back to the page
		e.Push(t)
		return nil
	case runProfilesMsg:
		f.lm.set(msg)
		return nil
	case examplePickedMsg:
		for i, fd := range f.fields {
			f.inputs[i].SetValue(model.ValueText(msg.ex.Data[fd.Name]))
		}
		return nil
	}
	if f.Typing() && len(f.inputs) > 0 { // a paste
		var cmd tea.Cmd
		f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
		return e.Wrap(cmd)
	}
	return nil
}

func (f *runForm) setFocus(i int) tea.Cmd {
	if len(f.inputs) == 0 {
		return nil
	}
	f.inputs[f.focus].Blur()
	f.focus = (i + len(f.inputs)) % len(f.inputs)
	if f.editing {
		return f.inputs[f.focus].Focus()
	}
	return nil
}

func (f *runForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	defer f.keep()
	km := e.Keys
	if msg.String() == "ctrl+e" {
		e.Push(newExamplePicker(f.scr, f.title(), f.fields))
		return nil
	}
	if msg.String() == lmKey {
		f.lm.next()
		return nil
	}
	if f.editing {
		switch msg.String() {
		case "esc":
			f.editing = false
			f.inputs[f.focus].Blur()
			return nil
		case "tab", "down":
			return e.Wrap(f.setFocus(f.focus + 1))
		case "shift+tab", "up":
			return e.Wrap(f.setFocus(f.focus - 1))
		case "enter":
			if f.focus < len(f.inputs)-1 {
				return e.Wrap(f.setFocus(f.focus + 1))
			}
			return f.submit(e)
		}
		var cmd tea.Cmd
		f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
		return e.Wrap(cmd)
	}
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.Open), key.Matches(msg, km.Run):
		if f.busy == "" {
			return f.submit(e)
		}
	case msg.String() == "tab" && len(f.inputs) > 0:
		f.editing = true
		return e.Wrap(f.setFocus(f.focus))
	case key.Matches(msg, km.Down):
		return e.Wrap(f.setFocus(f.focus + 1))
	case key.Matches(msg, km.Up):
		return e.Wrap(f.setFocus(f.focus - 1))
	case key.Matches(msg, km.Edit):
		e.Push(f.scr.iterate(f.program, 0, f.values(), nil, nil))
	case key.Matches(msg, km.Preview):
		e.Push(newPreviewScreen(f.scr, app.RenderRequest{Program: f.program.Name, Version: f.program.Version, Inputs: f.values()}))
	}
	return nil
}

func (f *runForm) title() string {
	s := f.scr.styles
	return s.Title.Render("Run "+f.program.Name) + s.Muted.Render(fmt.Sprintf("  v%d · %s · esc back", f.program.Version, format.Count(len(f.fields), "input field")))
}

func (f *runForm) Render(func() string) string {
	s := f.scr.styles
	var b strings.Builder
	b.WriteString(f.title() + "\n\n")
	if len(f.fields) == 0 {
		b.WriteString(s.Muted.Render("This program takes no inputs.") + "\n")
	}
	for i, fd := range f.fields {
		lab := fmt.Sprintf("%-18s", layout.Truncate(fd.Name, 17))
		mark := "  "
		if i == f.focus {
			mark = s.Accent.Render("▸ ")
			lab = s.Accent.Render(lab)
		} else {
			lab = s.Subtitle.Render(lab)
		}
		b.WriteString(mark + lab + f.inputs[i].View() + "\n")
		b.WriteString(s.Muted.Render(fmt.Sprintf("  %-18s%s", "", fieldType(fd))) + "\n")
	}
	b.WriteString("  " + s.Subtitle.Render(fmt.Sprintf("%-18s", "LM profile")) + f.lm.render(s) + "\n")
	b.WriteString("\n")
	switch {
	case f.busy != "":
		b.WriteString(s.Muted.Render(f.busy))
	case f.err != nil:
		b.WriteString(s.Error.Render("Could not run: ") + format.Line(f.err.Error()))
	case f.editing:
		b.WriteString(s.Muted.Render("enter next field · enter on the last runs · ctrl+e pick a dataset example · esc leave the field"))
	default:
		b.WriteString(s.Muted.Render("r/enter run · tab edit fields · i iterate on a module · w render preview · ctrl+e example · esc close"))
	}
	return layout.Fit(b.String(), f.width, f.height)
}

// examplePicker picks a dataset example that has every input field of a
// program; its result fills the run form. `/` filters it.
type examplePicker struct {
	page.Defaults
	components.FilterBar
	scr      *Screens
	title    string // the run form's
	fields   []model.Field
	examples []*model.Example
	list     components.List
	loaded   bool
	err      error

	width, height int
}

// Messages of the example picker.
type examplesFilterMsg struct{ res components.FilterResult }

var examplePickerColumns = []components.Column{
	{Title: "DATASET", Fit: true, MaxWidth: 24},
	{Title: "SPLIT", Fit: true},
	{Title: "INPUTS", Flex: 1, MinWidth: 10},
}

func newExamplePicker(scr *Screens, title string, fields []model.Field) *examplePicker {
	return &examplePicker{scr: scr, title: title, fields: fields,
		list: components.NewList(examplePickerColumns, 2, components.ThemeStyles(scr.styles))}
}

// Enter loads the examples, the first time.
func (x *examplePicker) Enter(e *page.Env) tea.Cmd {
	if x.loaded {
		return nil
	}
	ds, ctx, want := x.scr.examples, e.Ctx, x.fields
	return e.Cmd(func() tea.Msg {
		if ds == nil {
			return runExamplesMsg{err: fmt.Errorf("no dataset repository configured")}
		}
		sets, err := ds.ListDatasets(ctx)
		if err != nil {
			return runExamplesMsg{err: err}
		}
		var out []*model.Example
		for _, d := range sets {
			pg, err := ds.ListExamples(ctx, app.ExampleQuery{Dataset: d.Name, Limit: 50})
			if err != nil {
				return runExamplesMsg{err: err}
			}
			for _, ex := range pg.Examples {
				if hasFields(ex, want) {
					if ex.Dataset == "" {
						ex.Dataset = d.Name
					}
					out = append(out, ex)
				}
			}
			if len(out) >= 200 {
				break
			}
		}
		return runExamplesMsg{examples: out}
	})
}

func hasFields(ex *model.Example, fields []model.Field) bool {
	for _, fd := range fields {
		if _, ok := ex.Data[fd.Name]; !ok {
			return false
		}
	}
	return true
}

func (x *examplePicker) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case runExamplesMsg:
		x.examples, x.err, x.loaded = m.examples, m.err, true
		rows := make([]components.Row, len(m.examples))
		for i, ex := range m.examples {
			var parts []string
			for _, fd := range x.fields {
				parts = append(parts, fd.Name+"="+model.ValueText(ex.Data[fd.Name]))
			}
			rows[i] = components.Row{ex.Dataset, string(ex.Split), strings.Join(parts, " ")}
		}
		x.list.SetRows(rows)
		if x.Pattern != "" {
			return x.refilter(e)
		}
	case examplesFilterMsg:
		x.list.SetFilterResult(m.res)
	}
	return nil
}

func (x *examplePicker) refilter(e *page.Env) tea.Cmd {
	return e.Cmd(x.Refilter(e.Ctx, &x.list, func(r components.FilterResult) tea.Msg { return examplesFilterMsg{res: r} }))
}

func (x *examplePicker) Typing() bool { return x.Filtering }

func (x *examplePicker) SetSize(w, h int) {
	x.width, x.height = w, h
	x.list.SetHeight(x.listHeight())
}

// listHeight is what the title, the heading and the filter line leave.
func (x *examplePicker) listHeight() int {
	h := x.height - 3
	if x.ShowFilterLine() {
		h--
	}
	return max(h, 3)
}

func (x *examplePicker) Bindings() []key.Binding {
	k := keys.Hint
	return []key.Binding{k("j/k", "move"), k("/", "filter"), k("enter", "use the example"), k("esc", "back to the form")}
}

func (x *examplePicker) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	if x.Filtering {
		return x.filtered(e, x.FilterInput(msg, &x.list))
	}
	if ev, ok := x.FilterListKey(msg, km); ok {
		return x.filtered(e, ev)
	}
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.Open):
		if row, ok := x.list.Selected(); ok && row < len(x.examples) {
			e.Close(examplePickedMsg{ex: x.examples[row]})
		} else {
			e.Close(nil)
		}
	default:
		x.list.Navigate(msg, km)
	}
	return nil
}

func (x *examplePicker) filtered(e *page.Env, ev components.FilterEvent) tea.Cmd {
	if x.Follow(ev, &x.list, x.listHeight) {
		return x.refilter(e)
	}
	return nil
}

func (x *examplePicker) Render(func() string) string {
	s := x.scr.styles
	var b strings.Builder
	b.WriteString(x.title + "\n\n")
	b.WriteString(s.Subtitle.Render("Pick a dataset example") + "\n")
	if x.ShowFilterLine() {
		b.WriteString(x.FilterLine(s, x.list.Pattern(), x.width) + "\n")
	}
	switch {
	case x.err != nil:
		b.WriteString(s.Error.Render(format.Line(x.err.Error())))
	case !x.loaded:
		b.WriteString(s.Muted.Render("Loading examples…"))
	case len(x.examples) == 0:
		b.WriteString(s.Muted.Render("No dataset example has every input field of this program."))
	default:
		b.WriteString(x.list.Render(x.width, x.listHeight()))
	}
	return layout.Fit(b.String(), x.width, x.height)
}
