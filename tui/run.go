package tui

// Live runs from the TUI (issue 7): the Runner the screens use, the screen
// notion the root opens over the pages, the session's running cost and the
// run form generated from a program's input fields.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
)

// RunRequest asks for one execution: a stored program version, or an
// unsaved Variant of it (a prompt iteration, a module replay).
type RunRequest struct {
	Program string
	Version int            // 0 = latest
	Variant *model.Program // run instead of the stored version; nil = the stored one
	Inputs  map[string]any
	LM      string // profile; "" = the program's or the default
}

// RenderedPrompt is one predictor's prompt as the render preview shows it;
// Placeholders are the inputs known only during a run, shown as {name}.
type RenderedPrompt struct {
	Module       string
	Predictor    string // "self", "predict", "extract.predict"; "" for a module without predictors
	Messages     []model.Message
	Placeholders []string
	Note         string
}

// CostSummary is a program's cost this month, for the token-cost pane.
type CostSummary struct {
	Program   string
	Month     string // "2006-01"
	Cost      float64
	Tokens    int
	Budget    float64 // the program's cap (or the workspace's); meaningful when HasBudget
	HasBudget bool
	Days      []float64 // cost per day of the month so far; index 0 is day 1
}

// Runner starts and follows executions (the owner's API, in cmd). It is only
// ever called from a tea.Cmd, never from Update.
type Runner interface {
	Submit(ctx context.Context, req RunRequest) (*model.Execution, error)
	Cancel(ctx context.Context, id model.ID) error
	Execution(ctx context.Context, id model.ID) (*model.Execution, error)
	// Spans is a page of an execution's spans after seq after; next is the
	// after of the following page, 0 when this was the last.
	Spans(ctx context.Context, id model.ID, after uint64, limit int) (spans []model.Span, next uint64, err error)
	// Render is the render preview: the messages each module (or only
	// module) would send for the inputs, without calling the LM.
	Render(ctx context.Context, req RunRequest, module string) ([]RenderedPrompt, error)
	Program(ctx context.Context, name string, version int) (*model.Program, error)
	SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	Cost(ctx context.Context, program string) (*CostSummary, error)
}

// runProgramMsg opens the run form of a program (the Programs page sends it
// on `r`).
type runProgramMsg struct{ program *model.Program }

func runProgram(p *model.Program) tea.Cmd {
	if p == nil {
		return nil
	}
	return func() tea.Msg { return runProgramMsg{program: p} }
}

// screen is a full-screen view opened over the pages: a run form, a trace,
// an iteration, a preview. While the root has one it takes the body, the
// keys and the mouse. key and update return the screen to show next: the
// same one, another one (which keeps a way back), or nil to close back to
// the page.
type overlay interface {
	// enter is called each time the screen comes (back) on screen.
	enter(e *env) tea.Cmd
	update(e *env, msg tea.Msg) (overlay, tea.Cmd)
	key(e *env, msg tea.KeyPressMsg) (overlay, tea.Cmd)
	mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd
	typing() bool
	bindings() []key.Binding
	setSize(w, h int)
	render() string
}

// screenGen numbers screens, so that results for a screen since closed are
// recognised and dropped.
var screenGen atomic.Uint64

// pollEvery is how often a live execution's spans and state are read.
const pollEvery = 150 * time.Millisecond

// pollTick schedules a poll; tests replace it to deliver ticks by hand.
var pollTick = tea.Tick

// runSession sums the executions started in this TUI, for the cost pane.
// It is shared by pointer by every screen.
type runSession struct {
	runs map[model.ID]*model.Execution
}

func (s *runSession) track(x *model.Execution) {
	if s == nil || x == nil {
		return
	}
	if s.runs == nil {
		s.runs = map[model.ID]*model.Execution{}
	}
	s.runs[x.ID] = x
}

// update replaces a tracked execution's snapshot; others are ignored.
func (s *runSession) update(x *model.Execution) {
	if s == nil || x == nil {
		return
	}
	if _, ok := s.runs[x.ID]; ok {
		s.runs[x.ID] = x
	}
}

func (s *runSession) totals() (runs int, tokens int, cost float64) {
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

type runForm struct {
	styles  *themes.Styles
	session *runSession
	gen     uint64
	program *model.Program
	fields  []model.Field
	inputs  []textinput.Model
	focus   int  // field with the cursor
	editing bool // the focused field has the keyboard
	err     error
	busy    string // "submitting…" while a request is out

	// The dataset example chooser (ctrl+e).
	choosing bool
	examples []*model.Example
	exCursor int
	exErr    error

	width, height int
}

type runSubmittedMsg struct {
	gen  uint64
	exec *model.Execution
	err  error
}

type runExamplesMsg struct {
	gen      uint64
	examples []*model.Example
	err      error
}

func newRunForm(s *themes.Styles, session *runSession, p *model.Program) *runForm {
	f := &runForm{styles: s, session: session, gen: screenGen.Add(1), program: p, fields: p.Inputs(), editing: true}
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
		f.inputs = append(f.inputs, ti)
	}
	if len(f.fields) == 0 {
		f.editing = false
	}
	return f
}

func fieldType(f model.Field) string {
	if f.Type == "" {
		return "str"
	}
	return f.Type
}

func (f *runForm) enter(e *env) tea.Cmd { return nil }
func (f *runForm) typing() bool         { return f.editing && !f.choosing }

func (f *runForm) setSize(w, h int) {
	f.width, f.height = w, h
	for i := range f.inputs {
		f.inputs[i].SetWidth(max(w-22, 10))
	}
}

func (f *runForm) bindings() []key.Binding {
	k := keys.Hint
	return []key.Binding{k("enter", "next field / run"), k("tab", "next field"), k("ctrl+e", "dataset example"),
		k("esc", "leave field / close"), k("r", "run"), k("i", "iterate on a module"), k("w", "render preview")}
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

func (f *runForm) submit(e *env) tea.Cmd {
	r, ctx, gen := e.deps.Runner, e.ctx, f.gen
	req := RunRequest{Program: f.program.Name, Version: f.program.Version, Inputs: f.values()}
	f.busy, f.err = "submitting…", nil
	return func() tea.Msg {
		if r == nil {
			return runSubmittedMsg{gen: gen, err: fmt.Errorf("no runner configured")}
		}
		x, err := r.Submit(ctx, req)
		return runSubmittedMsg{gen: gen, exec: x, err: err}
	}
}

func (f *runForm) loadExamples(e *env) tea.Cmd {
	ds, ctx, gen := e.deps.Datasets, e.ctx, f.gen
	want := f.fields
	return func() tea.Msg {
		if ds == nil {
			return runExamplesMsg{gen: gen, err: fmt.Errorf("no dataset repository configured")}
		}
		sets, err := ds.ListDatasets(ctx)
		if err != nil {
			return runExamplesMsg{gen: gen, err: err}
		}
		var out []*model.Example
		for _, d := range sets {
			exs, _, err := ds.ListExamples(ctx, d.Name, "", "", 50)
			if err != nil {
				return runExamplesMsg{gen: gen, err: err}
			}
			for _, x := range exs {
				ok := true
				for _, fd := range want {
					if _, has := x.Data[fd.Name]; !has {
						ok = false
						break
					}
				}
				if ok {
					if x.Dataset == "" {
						x.Dataset = d.Name
					}
					out = append(out, x)
				}
			}
			if len(out) >= 200 {
				break
			}
		}
		return runExamplesMsg{gen: gen, examples: out}
	}
}

func (f *runForm) update(e *env, msg tea.Msg) (overlay, tea.Cmd) {
	switch msg := msg.(type) {
	case runSubmittedMsg:
		if msg.gen != f.gen {
			return f, nil
		}
		f.busy = ""
		if msg.err != nil {
			f.err = msg.err
			return f, nil
		}
		f.session.track(msg.exec)
		t := newTraceScreen(f.styles, f.session, msg.exec.ID, nil) // esc: back to the page
		t.exec = msg.exec
		t.startedHere, t.showCost = true, true
		return t, nil
	case runExamplesMsg:
		if msg.gen != f.gen {
			return f, nil
		}
		f.examples, f.exErr, f.exCursor = msg.examples, msg.err, 0
		return f, nil
	}
	if f.typing() && len(f.inputs) > 0 {
		var cmd tea.Cmd
		f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
		return f, cmd
	}
	return f, nil
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

func (f *runForm) key(e *env, msg tea.KeyPressMsg) (overlay, tea.Cmd) {
	km := e.keys
	if f.choosing {
		return f, f.chooserKey(msg)
	}
	if msg.String() == "ctrl+e" {
		f.choosing, f.examples, f.exErr = true, nil, nil
		return f, f.loadExamples(e)
	}
	if f.editing {
		switch msg.String() {
		case "esc":
			f.editing = false
			f.inputs[f.focus].Blur()
			return f, nil
		case "tab", "down":
			return f, f.setFocus(f.focus + 1)
		case "shift+tab", "up":
			return f, f.setFocus(f.focus - 1)
		case "enter":
			if f.focus < len(f.inputs)-1 {
				return f, f.setFocus(f.focus + 1)
			}
			return f, f.submit(e)
		}
		var cmd tea.Cmd
		f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
		return f, cmd
	}
	switch {
	case key.Matches(msg, km.Back):
		return nil, nil
	case key.Matches(msg, km.Open), key.Matches(msg, km.Run):
		if f.busy == "" {
			return f, f.submit(e)
		}
	case msg.String() == "tab" && len(f.inputs) > 0:
		f.editing = true
		return f, f.setFocus(f.focus)
	case key.Matches(msg, km.Down):
		return f, f.setFocus(f.focus + 1)
	case key.Matches(msg, km.Up):
		return f, f.setFocus(f.focus - 1)
	case key.Matches(msg, km.Edit):
		it := newIterateScreen(f.styles, f.session, f.program, 0, f.values(), nil, nil, f)
		return it, nil
	case key.Matches(msg, km.Preview):
		pv := newPreviewScreen(f.styles, RunRequest{Program: f.program.Name, Version: f.program.Version, Inputs: f.values()}, "", f)
		return pv, nil
	}
	return f, nil
}

func (f *runForm) chooserKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		f.choosing = false
	case "j", "down":
		f.exCursor = min(f.exCursor+1, max(len(f.examples)-1, 0))
	case "k", "up":
		f.exCursor = max(f.exCursor-1, 0)
	case "enter":
		if f.exCursor < len(f.examples) {
			x := f.examples[f.exCursor]
			for i, fd := range f.fields {
				f.inputs[i].SetValue(model.ValueText(x.Data[fd.Name]))
			}
		}
		f.choosing = false
	}
	return nil
}

func (f *runForm) mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd { return nil }

func (f *runForm) render() string {
	s := f.styles
	title := s.Title.Render("Run "+f.program.Name) + s.Muted.Render(fmt.Sprintf("  v%d · %d input fields · esc back", f.program.Version, len(f.fields)))
	var b strings.Builder
	b.WriteString(title + "\n\n")
	if f.choosing {
		b.WriteString(s.Subtitle.Render("Pick a dataset example") + s.Muted.Render("  j/k · enter · esc") + "\n")
		switch {
		case f.exErr != nil:
			b.WriteString(s.Error.Render(f.exErr.Error()))
		case f.examples == nil:
			b.WriteString(s.Muted.Render("Loading examples…"))
		case len(f.examples) == 0:
			b.WriteString(s.Muted.Render("No dataset example has every input field of this program."))
		}
		h := max(f.height-4, 1)
		off := max(f.exCursor-h+1, 0)
		for i := off; i < len(f.examples) && i < off+h; i++ {
			x := f.examples[i]
			var parts []string
			for _, fd := range f.fields {
				parts = append(parts, fd.Name+"="+model.ValueText(x.Data[fd.Name]))
			}
			line := fmt.Sprintf("%s %s  %s", x.Dataset, x.Split, strings.Join(parts, " "))
			if i == f.exCursor {
				line = s.RowSelected.Render("▌" + line)
			} else {
				line = " " + line
			}
			b.WriteString(line + "\n")
		}
		return layout.Fit(b.String(), f.width, f.height)
	}
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
	b.WriteString("\n")
	switch {
	case f.busy != "":
		b.WriteString(s.Muted.Render(f.busy))
	case f.err != nil:
		b.WriteString(s.Error.Render("Could not run: ") + f.err.Error())
	case f.editing:
		b.WriteString(s.Muted.Render("enter next field · enter on the last runs · ctrl+e pick a dataset example · esc leave the field"))
	default:
		b.WriteString(s.Muted.Render("r/enter run · tab edit fields · i iterate on a module · w render preview · ctrl+e example · esc close"))
	}
	return layout.Fit(b.String(), f.width, f.height)
}

// --- the root's screen handling (wired in tui.go) -----------------------------------------------

// openScreen opens the run form of a program, the trace of an execution or
// a program's evaluations over the page.
func (m Model) openScreen(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.runs == nil {
		m.runs = &runSession{}
	}
	m.showHelp = false
	switch msg := msg.(type) {
	case runProgramMsg:
		return m, m.setScreen(newRunForm(m.env.styles, m.runs, msg.program))
	case openTraceMsg:
		return m, m.setScreen(newTraceScreen(m.env.styles, m.runs, msg.id, nil))
	case evaluateProgramMsg:
		return m, m.setScreen(newEvalScreen(m.env.styles, m.runs, msg.program))
	}
	return m, nil
}

// setScreen shows s (nil: back to the page), sizing and entering it when it
// is another screen than the one shown.
func (m *Model) setScreen(s overlay) tea.Cmd {
	if s == m.screen {
		return nil
	}
	m.screen = s
	if s == nil {
		return nil
	}
	s.setSize(m.width, m.bodyHeight())
	return s.enter(&m.env)
}

func (m *Model) screenUpdate(msg tea.Msg) tea.Cmd {
	next, cmd := m.screen.update(&m.env, msg)
	return tea.Batch(cmd, m.setScreen(next))
}

// screenKey gives a key to the open screen; while it is not typing, `?`
// toggles the help and q quits as on the pages.
func (m Model) screenKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	km := m.env.keys
	if !m.screen.typing() {
		switch {
		case key.Matches(msg, km.Help):
			m.showHelp = !m.showHelp
			return m, nil
		case m.showHelp && key.Matches(msg, km.Back):
			m.showHelp = false
			return m, nil
		case m.showHelp:
			return m, nil
		case key.Matches(msg, km.Quit):
			return m, tea.Quit
		}
	}
	next, cmd := m.screen.key(&m.env, msg)
	return m, tea.Batch(cmd, m.setScreen(next))
}

// screenMouse gives the body's mouse events to the open screen, with y
// relative to the body.
func (m *Model) screenMouse(msg tea.MouseMsg) tea.Cmd {
	mo := msg.Mouse()
	if mo.Y < 1 || mo.Y > m.bodyHeight() {
		return nil
	}
	return m.screen.mouse(&m.env, msg, mo.X, mo.Y-1)
}

// bodyBindings are the keys of what the body shows, for the help.
func (m Model) bodyBindings() []key.Binding {
	if m.screen != nil {
		return m.screen.bindings()
	}
	return m.pageAt(m.page).bindings()
}
