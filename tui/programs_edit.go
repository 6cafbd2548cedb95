package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
)

// moduleEdit edits one module's signature and instructions in place: two
// textareas, tab between them, the signature checked as it is typed with
// the error shown under its column, ctrl+s saving a new version.
type moduleEdit struct {
	styles  *themes.Styles
	program *model.Program // the version being edited
	index   int            // of the module in program.Modules
	base    model.Module   // the module the two fields are applied to

	sig, instr textarea.Model
	focus      int // 0: signature, 1: instructions

	origSig, origInstr string
	// dirty from the start: opened with text from $EDITOR that differs
	// from the version.
	preDirty bool

	sigErr  *model.SignatureError // the signature as typed does not parse
	err     string                // another validation error, or the save's
	confirm bool                  // "discard your changes?" is asked
	saving  bool
	seq     int // of the save in flight

	width, height int
}

const editPrompt = "│ "

func newModuleEdit(s *themes.Styles, pr *model.Program, index, w, h int) *moduleEdit {
	m := pr.Modules[index]
	return newModuleEditWith(s, pr, index, m, m.Signature, m.Instructions, w, h)
}

// newModuleEditWith opens the editor on module index of pr with base as the
// module and the given texts in the two fields.
func newModuleEditWith(s *themes.Styles, pr *model.Program, index int, base model.Module, sig, instr string, w, h int) *moduleEdit {
	orig := pr.Modules[index]
	e := &moduleEdit{styles: s, program: pr, index: index, base: base,
		origSig: orig.Signature, origInstr: orig.Instructions}
	e.sig = progEditArea(s, "question, context: list[str] -> answer")
	e.sig.KeyMap.InsertNewline.SetEnabled(false) // a signature is one line
	e.instr = progEditArea(s, "What the module should do, for the LM.")
	e.sig.SetValue(sig)
	e.instr.SetValue(instr)
	e.sig.MoveToEnd()
	e.instr.MoveToBegin()
	e.preDirty = !progSameModule(base, orig)
	e.setSize(w, h)
	e.check()
	return e
}

func progEditArea(s *themes.Styles, placeholder string) textarea.Model {
	t := textarea.New()
	t.Prompt = editPrompt
	t.ShowLineNumbers = false
	t.Placeholder = placeholder
	t.CharLimit = 0
	t.MaxHeight = 0
	t.SetStyles(components.TextAreaStyles(s))
	return t
}

func (e *moduleEdit) restyle(s *themes.Styles) {
	e.styles = s
	e.sig.SetStyles(components.TextAreaStyles(s))
	e.instr.SetStyles(components.TextAreaStyles(s))
}

func progSameModule(a, b model.Module) bool {
	return len(model.DiffPrograms(&model.Program{Modules: []model.Module{a}}, &model.Program{Modules: []model.Module{b}})) == 0 &&
		a.Signature == b.Signature
}

// focusCmd focuses the field that has the keyboard.
func (e *moduleEdit) focusCmd() tea.Cmd {
	if e.focus == 0 {
		e.instr.Blur()
		return e.sig.Focus()
	}
	e.sig.Blur()
	return e.instr.Focus()
}

// Layout: title, blank, signature label, signature (sigLines), caret line,
// message line, instructions label, instructions, footer.
const editFixedLines = 7

func (e *moduleEdit) sigLines() int {
	w := max(e.width-ansi.StringWidth(editPrompt)-1, 1)
	return min(max((ansi.StringWidth(e.sig.Value())+w)/w, 1), 3)
}

func (e *moduleEdit) setSize(w, h int) {
	e.width, e.height = w, h
	e.sig.SetWidth(w)
	e.instr.SetWidth(w)
	e.sig.SetHeight(e.sigLines())
	e.instr.SetHeight(max(h-editFixedLines-e.sigLines(), 1))
}

func (e *moduleEdit) dirty() bool {
	return e.preDirty || e.sig.Value() != e.origSig || e.instr.Value() != e.origInstr
}

// check parses the signature as typed; the error (with its column) is drawn
// under it.
func (e *moduleEdit) check() {
	e.sigErr = nil
	if _, err := model.ParseSignature(e.sig.Value()); err != nil {
		var se *model.SignatureError
		if errors.As(err, &se) {
			e.sigErr = se
		} else {
			e.sigErr = &model.SignatureError{Col: 1, Msg: err.Error()}
		}
	}
}

// build is the program with the edited module, validated.
func (e *moduleEdit) build() (*model.Program, error) {
	return progApplyModule(e.program, e.index, e.base, e.sig.Value(), e.instr.Value())
}

// progApplyModule is pr with module index replaced by m with the given
// signature and instructions, validated: a bad signature is a
// *model.SignatureError (its column is the signature's), anything else a
// *model.FieldError.
func progApplyModule(pr *model.Program, index int, m model.Module, sig, instr string) (*model.Program, error) {
	if index < 0 || index >= len(pr.Modules) {
		return nil, fmt.Errorf("program %s has no module %d", pr.Name, index+1)
	}
	m.Signature = sig
	if instr != m.Instructions {
		// Shares nothing with pr: SetInstructions writes into the predictors.
		m.Predictors = slices.Clone(m.Predictors)
		m.SetInstructions(instr)
	}
	if m.Type != model.Custom || sig != "" {
		if _, err := model.ParseSignature(sig); err != nil {
			return nil, err
		}
	}
	q := *pr
	q.Modules = append([]model.Module(nil), pr.Modules...)
	q.Modules[index] = m
	q.Version, q.CreatedAt, q.Note, q.CompiledFrom = 0, q.CreatedAt.UTC(), "", ""
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}

func (e *moduleEdit) bindings(km keys.Map) []key.Binding {
	if e.confirm {
		return []key.Binding{
			key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "discard changes")),
			key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "keep editing")),
		}
	}
	return []key.Binding{
		km.Save,
		key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field")),
		keys.As(km.Back, "cancel editing"),
	}
}

// updateOther hands the focused field what is not a key (paste, cursor).
func (e *moduleEdit) updateOther(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	if e.focus == 0 {
		e.sig, cmd = e.sig.Update(msg)
		e.check()
		e.setSize(e.width, e.height)
	} else {
		e.instr, cmd = e.instr.Update(msg)
	}
	return cmd
}

// editKey handles a key while the module editor is open.
func (p *programsPage) editKey(ev *env, msg tea.KeyPressMsg) tea.Cmd {
	e := p.edit
	km := ev.keys
	if e.confirm {
		switch msg.String() {
		case "y", "Y":
			p.edit = nil
		case "n", "N", "esc":
			e.confirm = false
		}
		return nil
	}
	if e.saving {
		return nil // the answer closes the editor or shows why not
	}
	switch {
	case key.Matches(msg, km.Back):
		if e.dirty() {
			e.confirm = true
			return nil
		}
		p.edit = nil
		return nil
	case key.Matches(msg, km.Save):
		return p.saveEdit(ev)
	case msg.Code == tea.KeyTab && (msg.Mod == 0 || msg.Mod == tea.ModShift):
		e.focus = 1 - e.focus
		return e.focusCmd()
	}
	e.err = ""
	var cmd tea.Cmd
	if e.focus == 0 {
		before := e.sig.Value()
		e.sig, cmd = e.sig.Update(msg)
		if e.sig.Value() != before {
			e.check()
			e.setSize(e.width, e.height)
		}
	} else {
		e.instr, cmd = e.instr.Update(msg)
	}
	return cmd
}

// saveEdit validates the edit and, if it is good, saves it as a new version.
func (p *programsPage) saveEdit(ev *env) tea.Cmd {
	e := p.edit
	e.check()
	if e.sigErr != nil {
		e.focus = 0
		e.err = "fix the signature first"
		return e.focusCmd()
	}
	if !e.dirty() {
		p.edit = nil
		return notice(fmt.Sprintf("no changes: %s stays at v%d", e.program.Name, e.program.Version))
	}
	q, err := e.build()
	if err != nil {
		e.err = err.Error()
		return nil
	}
	p.seq++
	e.seq, e.saving, e.err = p.seq, true, ""
	return p.saveCmd(ev, q, e.seq, "")
}

// saveCmd saves q as a new version and reloads the list, in one command.
// path, if set, is an $EDITOR file to remove once saved.
func (p *programsPage) saveCmd(ev *env, q *model.Program, seq int, path string) tea.Cmd {
	repo, ctx := ev.deps.Programs, ev.ctx
	return func() tea.Msg {
		saved, err := repo.SaveProgram(ctx, q)
		if err != nil {
			if path != "" {
				err = fmt.Errorf("%w (your edit is kept in %s)", err, path)
			}
			return programWrittenMsg{kind: writeSave, seq: seq, name: q.Name, err: err}
		}
		if path != "" {
			progRemoveFile(path)
		}
		ps, lerr := repo.ListPrograms(ctx)
		return programWrittenMsg{kind: writeSave, seq: seq, name: q.Name, program: saved, programs: ps, listErr: lerr}
	}
}

// render draws the editor in exactly its size.
func (e *moduleEdit) render() string {
	s := e.styles
	w := e.width
	mod := e.program.Modules[e.index]
	title := s.Title.Render("Edit "+e.program.Name) +
		s.Muted.Render(fmt.Sprintf("  module %s (%s) · from v%d", mod.Name, mod.Type, e.program.Version))
	if e.dirty() {
		title += s.Warning.Render(" · modified")
	}
	label := func(name, hint string, focused bool) string {
		st := s.Muted
		if focused {
			st = s.Accent
		}
		return st.Render(name) + s.Muted.Render("  "+hint)
	}
	caret, msgLine := "", ""
	if se := e.sigErr; se != nil {
		caret, msgLine = e.caret(se)
	} else if e.sig.Value() != "" {
		msgLine = s.Success.Render("✓ ") + s.Muted.Render("signature parses")
	}
	var foot string
	switch {
	case e.confirm:
		foot = s.Warning.Render("Discard your changes? ") + s.HelpKey.Render("y") + s.HelpDesc.Render(" discard · ") +
			s.HelpKey.Render("n") + s.HelpDesc.Render(" keep editing")
	case e.saving:
		foot = s.Muted.Render("saving…")
	case e.err != "":
		foot = s.Error.Render(e.err)
	default:
		foot = s.HelpKey.Render("ctrl+s") + s.HelpDesc.Render(" save new version · ") + s.HelpKey.Render("tab") +
			s.HelpDesc.Render(" next field · ") + s.HelpKey.Render("esc") + s.HelpDesc.Render(" cancel")
	}
	parts := []string{
		layout.Fit(title, w, 1),
		"",
		layout.Fit(label("Signature", "inputs -> outputs", e.focus == 0), w, 1),
		layout.Fit(e.sig.View(), w, e.sigLines()),
		layout.Fit(caret, w, 1),
		layout.Fit(msgLine, w, 1),
		layout.Fit(label("Instructions", "what the module should do", e.focus == 1), w, 1),
		layout.Fit(e.instr.View(), w, max(e.height-editFixedLines-e.sigLines(), 1)),
		layout.Fit(foot, w, 1),
	}
	return layout.Fit(strings.Join(parts, "\n"), w, e.height)
}

// caret draws a ^ under the column of a signature error and the message.
// When the signature is one line that fits, the caret sits right under the
// textarea's text; otherwise the offending line is quoted above it.
func (e *moduleEdit) caret(se *model.SignatureError) (caretLine, msgLine string) {
	s := e.styles
	sig := e.sig.Value()
	pre, line := progCaretPrefix(sig, se.Col)
	msg := s.Error.Render(fmt.Sprintf("column %d: %s", se.Col, se.Msg))
	pw := ansi.StringWidth(editPrompt)
	if !strings.Contains(sig, "\n") && ansi.StringWidth(sig) < e.width-pw-1 {
		return strings.Repeat(" ", pw+ansi.StringWidth(pre)) + s.Error.Render("^"), msg
	}
	// A wrapped signature: quote the line, caret under it, message after.
	x := ansi.StringWidth(pre)
	start := max(x-(e.width-pw-20), 0)
	excerpt := ansi.Cut(line, start, start+e.width-pw-1)
	return s.Muted.Render(editPrompt) + excerpt, strings.Repeat(" ", pw+x-start) + s.Error.Render("^ ") + msg
}

// progCaretPrefix splits sig at 1-based character column col: the text of the
// line before the column, and the whole line the column is on.
func progCaretPrefix(sig string, col int) (pre, line string) {
	r := []rune(sig)
	i := min(max(col-1, 0), len(r))
	before := string(r[:i])
	lineStart := strings.LastIndexByte(before, '\n') + 1
	pre = before[lineStart:]
	rest := sig[lineStart:]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return pre, rest
}
