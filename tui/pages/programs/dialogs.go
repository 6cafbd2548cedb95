package programs

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// writeKind says what a programWrittenMsg answers.
type writeKind int

const (
	writeSave writeKind = iota
	writeStatus
	writeCreate
	writeDelete
)

// programWrittenMsg answers a write (save, status, create, delete) and
// carries the list as it is after it, read in the same command. The page
// gets it from its own writes (status, delete, a save from $EDITOR) and as
// the result of the dialogs that write (the module editor, new program).
type programWrittenMsg struct {
	kind     writeKind
	name     string
	program  *model.Program // the version written (not for delete)
	err      error
	programs []*model.Program
	listErr  error
}

// writeProgram runs a write and then lists the programs, in one command.
func writeProgram(e *page.Env, repo Programs, kind writeKind, name string, write func(context.Context, Programs) (*model.Program, error)) tea.Cmd {
	ctx := e.Ctx
	return e.Cmd(func() tea.Msg {
		pr, err := write(ctx, repo)
		if err != nil {
			return programWrittenMsg{kind: kind, name: name, err: err}
		}
		ps, lerr := repo.ListPrograms(ctx)
		return programWrittenMsg{kind: kind, name: name, program: pr, programs: ps, listErr: lerr}
	})
}

func (p *Page) write(e *page.Env, kind writeKind, name string, write func(context.Context, Programs) (*model.Program, error)) tea.Cmd {
	return writeProgram(e, p.repo, kind, name, write)
}

// applyWritten applies a write: the fresh list, the views moved onto the
// new version (or closed, for a delete), and a notice.
func (p *Page) applyWritten(e *page.Env, msg programWrittenMsg) tea.Cmd {
	if msg.err != nil {
		if msg.kind == writeStatus {
			p.undoing = false // u may be pressed again
		}
		return page.NoticeErr(msg.err)
	}
	p.recordUndo(msg)
	var cmds []tea.Cmd
	if msg.listErr == nil && msg.programs != nil {
		p.setPrograms(msg.programs)
		if p.Pattern != "" {
			cmds = append(cmds, p.filterCmd(e))
		}
	}
	pr := msg.program
	var text string
	switch msg.kind {
	case writeSave:
		text = fmt.Sprintf("saved %s v%d", pr.Name, pr.Version)
	case writeStatus:
		text = fmt.Sprintf("%s is now %s (v%d)", pr.Name, pr.Status, pr.Version)
	case writeCreate:
		p.versions, p.diff = nil, nil
		p.openDetail(pr)
		p.reselect(pr.Name)
		text = fmt.Sprintf("created %s v%d", pr.Name, pr.Version)
	case writeDelete:
		if p.detail != nil && p.detail.Name == msg.name {
			p.detail = nil
		}
		if p.versions != nil && p.versions.name == msg.name {
			p.versions, p.diff = nil, nil
		}
		text = "deleted " + msg.name
	}
	if pr != nil && p.detail != nil && p.detail.Name == pr.Name {
		p.detail = pr
		p.selectModule(p.module)
	}
	if pr != nil && p.versions != nil && p.versions.name == pr.Name {
		// The history grew: reload it (the diff, if open, stays as it was).
		cmds = append(cmds, p.reloadVersions(e))
	}
	cmds = append(cmds, p.loadSummaries(e), page.Notice(text))
	var out tea.Cmd
	for i := len(cmds) - 1; i >= 0; i-- {
		out = page.Then(cmds[i], out)
	}
	return out
}

// reloadVersions reloads the open history, keeping the view.
func (p *Page) reloadVersions(e *page.Env) tea.Cmd {
	p.seq++
	p.versions.seq = p.seq
	return p.loadVersions(e, p.versions.name)
}

var programStatuses = []model.ProgramStatus{model.Draft, model.Testing, model.Production}

// statusDialog picks a program's status; its result is a setStatusMsg.
type statusDialog struct {
	page.Defaults
	styles  *themes.Styles
	keys    keys.Map
	program *model.Program
	cursor  int

	width, height int
}

func newStatusDialog(s *themes.Styles, km keys.Map, pr *model.Program) *statusDialog {
	d := &statusDialog{styles: s, keys: km, program: pr}
	for i, st := range programStatuses {
		if st == pr.Status {
			d.cursor = i
		}
	}
	return d
}

func (d *statusDialog) Typing() bool     { return true }
func (d *statusDialog) SetSize(w, h int) { d.width, d.height = w, h }

func (d *statusDialog) Bindings() []key.Binding {
	return []key.Binding{d.keys.Up, d.keys.Down,
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "set status")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
}

func (d *statusDialog) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case msg.String() == "esc":
		e.Close(nil)
	case key.Matches(msg, d.keys.Down):
		d.cursor = min(d.cursor+1, len(programStatuses)-1)
	case key.Matches(msg, d.keys.Up):
		d.cursor = max(d.cursor-1, 0)
	case msg.String() == "enter":
		st := programStatuses[d.cursor]
		if st == d.program.Status {
			e.Close(nil)
			return page.Notice(fmt.Sprintf("%s is already %s", d.program.Name, st))
		}
		e.Close(setStatusMsg{name: d.program.Name, status: st})
	}
	return nil
}

var statusHelp = map[model.ProgramStatus]string{
	model.Draft:      "being written; not for use",
	model.Testing:    "being evaluated",
	model.Production: "in use",
}

func (d *statusDialog) Render(below func() string) string {
	s := d.styles
	body := []string{s.Title.Render("Status of " + d.program.Name), ""}
	for i, st := range programStatuses {
		line := fmt.Sprintf("%-11s %s", st, s.Muted.Render(statusHelp[st]))
		if st == d.program.Status {
			line += s.Muted.Render(" (now)")
		}
		if i == d.cursor {
			line = s.Accent.Render("▸ ") + line
		} else {
			line = "  " + line
		}
		body = append(body, line)
	}
	body = append(body, "", s.Muted.Render("A change is recorded as a new version."),
		s.HelpKey.Render("enter")+s.HelpDesc.Render(" set · ")+s.HelpKey.Render("esc")+s.HelpDesc.Render(" cancel"))
	return layout.Overlay(below(), layout.BoxLines(body, s, min(d.width-4, 72)), d.width, d.height)
}

// programTemplate is a starting point for a new program.
type programTemplate struct {
	title   string
	program *model.Program
}

// progBuiltinTemplates are the templates the TUI always offers.
func progBuiltinTemplates() []programTemplate {
	return []programTemplate{
		{"Predict · question answering", &model.Program{
			Description: "Answer a question directly.",
			Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer",
				Instructions: "Answer the question in a few words."}},
		}},
		{"ChainOfThought · reasoned answer", &model.Program{
			Description: "Reason step by step, then answer.",
			Modules: []model.Module{{Name: "answer", Type: model.ChainOfThought, Signature: "question -> answer",
				Instructions: "Think the question through step by step, then give a short answer."}},
		}},
		{"RAG · retrieve, then answer", &model.Program{
			Description: "Retrieve passages with your retriever, then answer from them.",
			Modules: []model.Module{
				{Name: "retrieve", Type: model.Retrieve, Signature: "question -> passages: list[str]",
					Source: "retriever.py:search", Config: map[string]any{"k": 3}},
				{Name: "answer", Type: model.ChainOfThought, Signature: "question, passages: list[str] -> answer",
					Instructions: "Answer the question using only the passages. Say so if they do not contain the answer."},
			},
		}},
		{"Classify · one label", &model.Program{
			Description: "Give a text one of a fixed set of labels.",
			Modules: []model.Module{{Name: "classify", Type: model.Predict,
				Signature:    "text -> label: Literal['positive', 'negative', 'neutral']",
				Instructions: "Classify the text."}},
		}},
	}
}

// templateDialog creates a program from a template: pick one, type a name.
// It creates it itself and ends with the write's answer, which the page
// applies (the new program's detail opens).
type templateDialog struct {
	styles    *themes.Styles
	repo      Programs
	templates []programTemplate
	cursor    int
	name      string
	err       string
	creating  bool
	existing  map[string]bool

	width, height int
}

// newTemplateDialog offers the built-in templates, then extra.
func newTemplateDialog(s *themes.Styles, repo Programs, programs, extra []*model.Program) *templateDialog {
	d := &templateDialog{styles: s, repo: repo, templates: progBuiltinTemplates(), existing: map[string]bool{}}
	for _, t := range extra {
		d.templates = append(d.templates, programTemplate{title: "Example · " + t.Name, program: t})
	}
	for _, pr := range programs {
		d.existing[pr.Name] = true
	}
	return d
}

func (d *templateDialog) Enter(*page.Env) tea.Cmd { return nil }

func (d *templateDialog) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case programWrittenMsg:
		d.creating = false
		if msg.err != nil {
			d.err = msg.err.Error()
			return nil
		}
		e.Close(msg)
	}
	return nil
}

func (d *templateDialog) Mouse(*page.Env, tea.MouseMsg, int, int) tea.Cmd { return nil }
func (d *templateDialog) Typing() bool                                    { return true }
func (d *templateDialog) SetSize(w, h int)                                { d.width, d.height = w, h }

func (d *templateDialog) Bindings() []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose template")),
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "create")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// nameError checks a new program's name: "" when it is good.
func (d *templateDialog) nameError() string {
	if d.name == "" {
		return "type a name"
	}
	if err := model.ValidName("program", d.name); err != nil {
		return fmt.Sprintf("%q is not a valid name: letters, digits, '_', '.', '-', starting with a letter or digit", d.name)
	}
	if d.existing[d.name] {
		return fmt.Sprintf("a program named %s exists", d.name)
	}
	return ""
}

func (d *templateDialog) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	if d.creating {
		return nil
	}
	switch {
	case msg.Code == tea.KeyEscape:
		e.Close(nil)
	case msg.Code == tea.KeyUp || msg.String() == "ctrl+p" || msg.String() == "ctrl+k":
		d.cursor = max(d.cursor-1, 0)
	case msg.Code == tea.KeyDown || msg.String() == "ctrl+n" || msg.String() == "ctrl+j":
		d.cursor = min(d.cursor+1, len(d.templates)-1)
	case msg.Code == tea.KeyEnter:
		if d.err = d.nameError(); d.err != "" {
			return nil
		}
		q := *d.templates[d.cursor].program
		q.Name, q.Version, q.Status = d.name, 0, ""
		q.Modules = append([]model.Module(nil), q.Modules...)
		if err := q.Validate(); err != nil {
			d.err = err.Error()
			return nil
		}
		d.creating = true
		return writeProgram(e, d.repo, writeCreate, q.Name, func(ctx context.Context, r Programs) (*model.Program, error) {
			return r.CreateProgram(ctx, &q)
		})
	case msg.Code == tea.KeyBackspace:
		if d.name != "" {
			_, size := utf8.DecodeLastRuneInString(d.name)
			d.name = d.name[:len(d.name)-size]
		}
		d.err = ""
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		d.name += msg.Text
		d.err = ""
	}
	return nil
}

func (d *templateDialog) Render(below func() string) string {
	s := d.styles
	w := min(d.width-4, 72)
	inner := max(w-4, 16)
	body := []string{s.Title.Render("New program from a template"), ""}
	for i, t := range d.templates {
		line := t.title
		if desc := t.program.Description; desc != "" {
			line += s.Muted.Render("  " + desc)
		}
		line = ansi.Truncate(line, inner-2, "…")
		if i == d.cursor {
			body = append(body, s.Accent.Render("▸ ")+line)
		} else {
			body = append(body, "  "+line)
		}
	}
	body = append(body, "", s.Subtitle.Render("Name ")+d.name+s.Accent.Render("█"))
	switch {
	case d.creating:
		body = append(body, s.Muted.Render("creating…"))
	case d.err != "":
		body = append(body, s.Error.Render(ansi.Truncate(d.err, inner, "…")))
	case d.name != "" && d.nameError() != "":
		body = append(body, s.Warning.Render(ansi.Truncate(d.nameError(), inner, "…")))
	default:
		body = append(body, s.Muted.Render("the new program starts at v1, status draft"))
	}
	body = append(body, "", s.HelpKey.Render("↑/↓")+s.HelpDesc.Render(" template · ")+s.HelpKey.Render("enter")+
		s.HelpDesc.Render(" create · ")+s.HelpKey.Render("esc")+s.HelpDesc.Render(" cancel"))
	for len(body) < 3 {
		body = append(body, "")
	}
	box := layout.Box(strings.Join(body, "\n"), min(w, inner+4), len(body)+2, s)
	return layout.Overlay(below(), box, d.width, d.height)
}

// recordUndo keeps what u can undo of a write, from the list as it was
// before it (the status the program had, the versions it had).
func (p *Page) recordUndo(msg programWrittenMsg) {
	if msg.kind == writeStatus && p.undoing {
		p.undo, p.undoing = nil, false
		return
	}
	var before *model.Program
	for _, pr := range p.programs {
		if pr.Name == msg.name {
			before = pr
		}
	}
	if before == nil {
		return
	}
	switch msg.kind {
	case writeStatus:
		p.undo = &programUndo{name: msg.name, status: before.Status}
	case writeDelete:
		p.undo = &programUndo{name: msg.name, deleted: true, versions: before.Version}
	}
}

// undoBinding is u as the help shows it: what it would undo.
func (p *Page) undoBinding() key.Binding {
	u := p.undo
	switch {
	case u == nil:
		return keys.As(p.keys.Undo, "undo (nothing to undo)")
	case u.deleted:
		return keys.As(p.keys.Undo, "undo (the delete of "+u.name+" cannot be undone)")
	}
	return keys.As(p.keys.Undo, fmt.Sprintf("undo: %s back to %s", u.name, u.status))
}

// undoLast undoes the last status change by setting the status back (a
// new version, as every status change is); a delete it cannot undo, and
// says so.
func (p *Page) undoLast(e *page.Env) tea.Cmd {
	u := p.undo
	switch {
	case u == nil:
		return page.Notice("nothing to undo: no status change or delete here this session")
	case u.deleted:
		return page.NoticeErr(fmt.Errorf("the delete of %s cannot be undone: its %d version(s) are gone from the store (its executions stay)",
			u.name, u.versions))
	}
	p.undoing = true
	note := "undo of a status change"
	return p.write(e, writeStatus, u.name, func(ctx context.Context, r Programs) (*model.Program, error) {
		return r.SetProgramStatus(ctx, u.name, u.status, note)
	})
}
