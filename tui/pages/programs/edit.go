package programs

import (
	"context"
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
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// moduleEdit edits one module's signature and instructions: two
// textareas, tab between them, the signature checked as it is typed with
// the error shown under its column, ctrl+s saving a new version. It saves
// itself, and ends with the save's answer (a programWrittenMsg) for the
// page; esc with changes asks first.
type moduleEdit struct {
	page.Defaults
	styles  *themes.Styles
	keys    keys.Map
	repo    Programs
	program *model.Program // the version being edited
	index   int            // of the module in program.Modules
	base    model.Module   // the module the two fields are applied to

	sig, instr textarea.Model
	focus      int // 0: signature, 1: instructions

	origSig, origInstr string
	// dirty from the start: opened with text from $EDITOR that differs
	// from the version.
	preDirty bool

	sigErr *model.SignatureError // the signature as typed does not parse
	err    string                // another validation error, or the save's
	saving bool

	width, height int
}

const editPrompt = "│ "

func newModuleEdit(s *themes.Styles, km keys.Map, repo Programs, pr *model.Program, index int) *moduleEdit {
	m := pr.Modules[index]
	return newModuleEditWith(s, km, repo, pr, index, m, m.Signature, m.Instructions)
}

// newModuleEditWith opens the editor on module index of pr with base as the
// module and the given texts in the two fields.
func newModuleEditWith(s *themes.Styles, km keys.Map, repo Programs, pr *model.Program, index int, base model.Module, sig, instr string) *moduleEdit {
	orig := pr.Modules[index]
	ed := &moduleEdit{styles: s, keys: km, repo: repo, program: pr, index: index, base: base,
		origSig: orig.Signature, origInstr: orig.Instructions}
	ed.sig = progEditArea(s, "question, context: list[str] -> answer")
	ed.sig.KeyMap.InsertNewline.SetEnabled(false) // a signature is one line
	ed.instr = progEditArea(s, "What the module should do, for the LM.")
	ed.sig.SetValue(sig)
	ed.instr.SetValue(instr)
	ed.sig.MoveToEnd()
	ed.instr.MoveToBegin()
	ed.preDirty = !progSameModule(base, orig)
	ed.check()
	return ed
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

// Restyle picks up a theme switched in place.
func (ed *moduleEdit) Restyle() {
	ed.sig.SetStyles(components.TextAreaStyles(ed.styles))
	ed.instr.SetStyles(components.TextAreaStyles(ed.styles))
}

func progSameModule(a, b model.Module) bool {
	return len(model.DiffPrograms(&model.Program{Modules: []model.Module{a}}, &model.Program{Modules: []model.Module{b}})) == 0 &&
		a.Signature == b.Signature
}

func (ed *moduleEdit) Enter(e *page.Env) tea.Cmd { return e.Wrap(ed.focusCmd()) }
func (ed *moduleEdit) Typing() bool              { return true }

// focusCmd focuses the field that has the keyboard.
func (ed *moduleEdit) focusCmd() tea.Cmd {
	if ed.focus == 0 {
		ed.instr.Blur()
		return ed.sig.Focus()
	}
	ed.sig.Blur()
	return ed.instr.Focus()
}

// Layout: title, blank, signature label, signature (sigLines), caret line,
// message line, instructions label, instructions, footer.
const editFixedLines = 7

func (ed *moduleEdit) sigLines() int {
	w := max(ed.width-ansi.StringWidth(editPrompt)-1, 1)
	return min(max((ansi.StringWidth(ed.sig.Value())+w)/w, 1), 3)
}

func (ed *moduleEdit) SetSize(w, h int) {
	ed.width, ed.height = w, h
	ed.sig.SetWidth(w)
	ed.instr.SetWidth(w)
	ed.sig.SetHeight(ed.sigLines())
	ed.instr.SetHeight(max(h-editFixedLines-ed.sigLines(), 1))
}

// Dirty, Editing and Save make the editor a page.Saver: esc, and the
// shell before it quits, ask before its changes are lost.
func (ed *moduleEdit) Dirty() bool {
	return ed.preDirty || ed.sig.Value() != ed.origSig || ed.instr.Value() != ed.origInstr
}

func (ed *moduleEdit) Editing() string {
	return fmt.Sprintf("%s, module %s", ed.program.Name, ed.program.Modules[ed.index].Name)
}

func (ed *moduleEdit) Save(e *page.Env) tea.Cmd { return ed.save(e) }

// check parses the signature as typed; the error (with its column) is drawn
// under it.
func (ed *moduleEdit) check() {
	ed.sigErr = nil
	if _, err := model.ParseSignature(ed.sig.Value()); err != nil {
		var se *model.SignatureError
		if errors.As(err, &se) {
			ed.sigErr = se
		} else {
			ed.sigErr = &model.SignatureError{Col: 1, Msg: err.Error()}
		}
	}
}

// build is the program with the edited module, validated.
func (ed *moduleEdit) build() (*model.Program, error) {
	return progApplyModule(ed.program, ed.index, ed.base, ed.sig.Value(), ed.instr.Value())
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

func (ed *moduleEdit) Bindings() []key.Binding {
	km := ed.keys
	return []key.Binding{
		km.Save,
		key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field")),
		keys.As(km.Back, "cancel editing"),
	}
}

// Update takes the save's answer, the discard confirmation's, and what is
// not a key (a paste) for the focused field.
func (ed *moduleEdit) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case programWrittenMsg:
		ed.saving = false
		if msg.err != nil {
			ed.err = "not saved: " + msg.err.Error()
			return nil
		}
		e.Close(msg)
		return nil
	}
	if cmd, ok := dialog.Answer(e, ed, msg); ok {
		return cmd
	}
	var cmd tea.Cmd
	if ed.focus == 0 {
		ed.sig, cmd = ed.sig.Update(msg)
		ed.check()
		ed.SetSize(ed.width, ed.height)
	} else {
		ed.instr, cmd = ed.instr.Update(msg)
	}
	return e.Wrap(cmd)
}

// Key edits; esc with changes asks before they are discarded.
func (ed *moduleEdit) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := ed.keys
	if ed.saving {
		return nil // the answer closes the editor or shows why not
	}
	switch {
	case key.Matches(msg, km.Back):
		dialog.Leave(e, ed.styles, ed)
		return nil
	case key.Matches(msg, km.Save):
		return ed.save(e)
	case msg.Code == tea.KeyTab && (msg.Mod == 0 || msg.Mod == tea.ModShift):
		ed.focus = 1 - ed.focus
		return e.Wrap(ed.focusCmd())
	}
	ed.err = ""
	var cmd tea.Cmd
	if ed.focus == 0 {
		before := ed.sig.Value()
		ed.sig, cmd = ed.sig.Update(msg)
		if ed.sig.Value() != before {
			ed.check()
			ed.SetSize(ed.width, ed.height)
		}
	} else {
		ed.instr, cmd = ed.instr.Update(msg)
	}
	return e.Wrap(cmd)
}

// save validates the edit and, if it is good, saves it as a new version.
func (ed *moduleEdit) save(e *page.Env) tea.Cmd {
	ed.check()
	if ed.sigErr != nil {
		ed.focus = 0
		ed.err = "fix the signature first"
		return e.Wrap(ed.focusCmd())
	}
	if !ed.Dirty() {
		e.Close(nil)
		return page.Notice(fmt.Sprintf("no changes: %s stays at v%d", ed.program.Name, ed.program.Version))
	}
	q, err := ed.build()
	if err != nil {
		ed.err = err.Error()
		return nil
	}
	ed.saving, ed.err = true, ""
	return saveProgram(e, ed.repo, q, "")
}

// saveProgram saves q as a new version and reloads the list, in one
// command. path, if set, is an $EDITOR file to remove once saved (and to
// name in the error if not).
func saveProgram(e *page.Env, repo Programs, q *model.Program, path string) tea.Cmd {
	return writeProgram(e, repo, writeSave, q.Name, func(ctx context.Context, r Programs) (*model.Program, error) {
		saved, err := r.SaveProgram(ctx, q)
		if err != nil {
			if path != "" {
				err = fmt.Errorf("%w (your edit is kept in %s)", err, path)
			}
			return nil, err
		}
		if path != "" {
			progRemoveFile(path)
		}
		return saved, nil
	})
}

// Render draws the editor over the whole body.
func (ed *moduleEdit) Render(func() string) string {
	s := ed.styles
	w := ed.width
	mod := ed.program.Modules[ed.index]
	title := s.Title.Render("Edit "+ed.program.Name) +
		s.Muted.Render(fmt.Sprintf("  module %s (%s) · from v%d", mod.Name, mod.Type, ed.program.Version))
	if ed.Dirty() {
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
	if se := ed.sigErr; se != nil {
		caret, msgLine = ed.caret(se)
	} else if ed.sig.Value() != "" {
		msgLine = s.Success.Render("✓ ") + s.Muted.Render("signature parses")
	}
	var foot string
	switch {
	case ed.saving:
		foot = s.Muted.Render("saving…")
	case ed.err != "":
		foot = s.Error.Render(format.Line(ed.err))
	default:
		foot = s.HelpKey.Render("ctrl+s") + s.HelpDesc.Render(" save new version · ") + s.HelpKey.Render("tab") +
			s.HelpDesc.Render(" next field · ") + s.HelpKey.Render("esc") + s.HelpDesc.Render(" cancel")
	}
	parts := []string{
		layout.Fit(title, w, 1),
		"",
		layout.Fit(label("Signature", "inputs -> outputs", ed.focus == 0), w, 1),
		layout.Fit(ed.sig.View(), w, ed.sigLines()),
		layout.Fit(caret, w, 1),
		layout.Fit(msgLine, w, 1),
		layout.Fit(label("Instructions", "what the module should do", ed.focus == 1), w, 1),
		layout.Fit(ed.instr.View(), w, max(ed.height-editFixedLines-ed.sigLines(), 1)),
		layout.Fit(foot, w, 1),
	}
	return layout.Fit(strings.Join(parts, "\n"), w, ed.height)
}

// caret draws a ^ under the column of a signature error and the message.
// When the signature is one line that fits, the caret sits right under the
// textarea's text; otherwise the offending line is quoted above it.
func (ed *moduleEdit) caret(se *model.SignatureError) (caretLine, msgLine string) {
	s := ed.styles
	sig := ed.sig.Value()
	pre, line := progCaretPrefix(sig, se.Col)
	msg := s.Error.Render(fmt.Sprintf("column %d: %s", se.Col, se.Msg))
	pw := ansi.StringWidth(editPrompt)
	if !strings.Contains(sig, "\n") && ansi.StringWidth(sig) < ed.width-pw-1 {
		return strings.Repeat(" ", pw+ansi.StringWidth(pre)) + s.Error.Render("^"), msg
	}
	// A wrapped signature: quote the line, caret under it, message after.
	x := ansi.StringWidth(pre)
	start := max(x-(ed.width-pw-20), 0)
	excerpt := ansi.Cut(line, start, start+ed.width-pw-1)
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
