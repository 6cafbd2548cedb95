package tui

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
)

// programsDialog is a small dialog over the Programs page: new program
// from a template, status, delete. While one is open it has the keyboard.
type programsDialog interface {
	bindings(km keys.Map) []key.Binding
	// render draws the dialog at most w cells wide.
	render(s *themes.Styles, w int) string
}

// writeKind says what a programWrittenMsg answers.
type writeKind int

const (
	writeSave writeKind = iota
	writeStatus
	writeCreate
	writeDelete
)

// programWrittenMsg answers a write (save, status, create, delete) and
// carries the list as it is after it, read in the same command.
type programWrittenMsg struct {
	kind     writeKind
	seq      int
	name     string
	program  *model.Program // the version written (not for delete)
	err      error
	programs []*model.Program
	listErr  error
}

// writeCmd runs a write and then lists the programs, in one command.
func (p *programsPage) writeCmd(e *env, kind writeKind, name string, write func(context.Context, Programs) (*model.Program, error)) tea.Cmd {
	p.seq++
	repo, ctx, seq := e.deps.Programs, e.ctx, p.seq
	return func() tea.Msg {
		pr, err := write(ctx, repo)
		if err != nil {
			return programWrittenMsg{kind: kind, seq: seq, name: name, err: err}
		}
		ps, lerr := repo.ListPrograms(ctx)
		return programWrittenMsg{kind: kind, seq: seq, name: name, program: pr, programs: ps, listErr: lerr}
	}
}

// applyWritten applies the answer to a write: the fresh list, the views
// moved onto the new version (or closed, for a delete), and a notice.
func (p *programsPage) applyWritten(e *env, msg programWrittenMsg) tea.Cmd {
	if msg.err != nil {
		if msg.kind == writeSave && p.edit != nil && p.edit.seq == msg.seq {
			p.edit.saving, p.edit.err = false, "not saved: "+msg.err.Error()
			return nil
		}
		if d, ok := p.dialog.(*templateDialog); ok && msg.kind == writeCreate {
			d.creating, d.err = false, msg.err.Error()
			return nil
		}
		return noticeErr(msg.err)
	}
	var cmds []tea.Cmd
	if msg.listErr == nil && msg.programs != nil {
		p.setPrograms(msg.programs)
		if p.Pattern != "" {
			cmds = append(cmds, p.filterCmd(e.ctx))
		}
	}
	pr := msg.program
	var text string
	switch msg.kind {
	case writeSave:
		if p.edit != nil && p.edit.seq == msg.seq {
			p.edit = nil
		}
		text = fmt.Sprintf("saved %s v%d", pr.Name, pr.Version)
	case writeStatus:
		text = fmt.Sprintf("%s is now %s (v%d)", pr.Name, pr.Status, pr.Version)
	case writeCreate:
		p.dialog = nil
		p.versions, p.diff, p.edit = nil, nil, nil
		p.openDetail(pr)
		p.reselect(pr.Name)
		text = fmt.Sprintf("created %s v%d", pr.Name, pr.Version)
	case writeDelete:
		if p.detail != nil && p.detail.Name == msg.name {
			p.detail, p.edit = nil, nil
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
	// The notice goes last: a message chained before another command is
	// delivered to the pages only, and the notice is the root's.
	cmds = append(cmds, p.loadSummaries(e), notice(text))
	var out tea.Cmd
	for i := len(cmds) - 1; i >= 0; i-- {
		out = progSequence(cmds[i], out)
	}
	return out
}

// reloadVersions reloads the open history, keeping the view.
func (p *programsPage) reloadVersions(e *env) tea.Cmd {
	p.seq++
	p.versions.seq = p.seq
	repo, ctx, seq, name := e.deps.Programs, e.ctx, p.seq, p.versions.name
	return func() tea.Msg {
		vs, err := repo.ProgramVersions(ctx, name)
		return programVersionsMsg{seq: seq, name: name, versions: vs, err: err}
	}
}

// dialogKey handles a key while a dialog is open.
func (p *programsPage) dialogKey(e *env, msg tea.KeyPressMsg) tea.Cmd {
	switch d := p.dialog.(type) {
	case *deleteDialog:
		switch msg.String() {
		case "y", "Y":
			p.dialog = nil
			name := d.program.Name
			return p.writeCmd(e, writeDelete, name, func(ctx context.Context, r Programs) (*model.Program, error) {
				return nil, r.DeleteProgram(ctx, name)
			})
		case "n", "N", "esc", "q":
			p.dialog = nil
		}
	case *statusDialog:
		switch {
		case msg.String() == "esc":
			p.dialog = nil
		case key.Matches(msg, e.keys.Down):
			d.cursor = min(d.cursor+1, len(programStatuses)-1)
		case key.Matches(msg, e.keys.Up):
			d.cursor = max(d.cursor-1, 0)
		case msg.String() == "enter":
			p.dialog = nil
			st := programStatuses[d.cursor]
			if st == d.program.Status {
				return notice(fmt.Sprintf("%s is already %s", d.program.Name, st))
			}
			name := d.program.Name
			return p.writeCmd(e, writeStatus, name, func(ctx context.Context, r Programs) (*model.Program, error) {
				return r.SetProgramStatus(ctx, name, st, "")
			})
		}
	case *templateDialog:
		return p.templateKey(e, d, msg)
	}
	return nil
}

// deleteDialog asks before a program and its history are deleted.
type deleteDialog struct{ program *model.Program }

func (d *deleteDialog) bindings(keys.Map) []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "delete")),
		key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "keep it")),
	}
}

func (d *deleteDialog) render(s *themes.Styles, w int) string {
	versions := "its version"
	if d.program.Version > 1 {
		versions = fmt.Sprintf("all %d versions", d.program.Version)
	}
	body := []string{
		s.Error.Render("Delete program " + d.program.Name + "?"),
		"",
		fmt.Sprintf("This deletes %s and %s.", d.program.Name, versions),
		"Its executions stay, as history.",
		"",
		s.HelpKey.Render("y") + s.HelpDesc.Render(" delete · ") + s.HelpKey.Render("n/esc") + s.HelpDesc.Render(" keep it"),
	}
	return layout.BoxLines(body, s, w)
}

var programStatuses = []model.ProgramStatus{model.Draft, model.Testing, model.Production}

// statusDialog picks a program's status.
type statusDialog struct {
	program *model.Program
	cursor  int
}

func newStatusDialog(pr *model.Program) *statusDialog {
	d := &statusDialog{program: pr}
	for i, st := range programStatuses {
		if st == pr.Status {
			d.cursor = i
		}
	}
	return d
}

func (d *statusDialog) bindings(km keys.Map) []key.Binding {
	return []key.Binding{km.Up, km.Down,
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "set status")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
}

var statusHelp = map[model.ProgramStatus]string{
	model.Draft:      "being written; not for use",
	model.Testing:    "being evaluated",
	model.Production: "in use",
}

func (d *statusDialog) render(s *themes.Styles, w int) string {
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
	return layout.BoxLines(body, s, w)
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

// programTemplatesMsg carries the repository's extra templates.
type programTemplatesMsg struct {
	templates []*model.Program
	err       error
}

// templateDialog creates a program from a template: pick one, type a name.
type templateDialog struct {
	templates []programTemplate
	cursor    int
	name      string
	err       string
	creating  bool
	loading   bool
	existing  map[string]bool
}

func (p *programsPage) openTemplates(e *env) tea.Cmd {
	d := &templateDialog{templates: progBuiltinTemplates(), loading: true, existing: map[string]bool{}}
	for _, pr := range p.programs {
		d.existing[pr.Name] = true
	}
	p.dialog = d
	repo, ctx := e.deps.Programs, e.ctx
	return func() tea.Msg {
		ts, err := repo.ProgramTemplates(ctx)
		return programTemplatesMsg{templates: ts, err: err}
	}
}

func (d *templateDialog) addTemplates(msg programTemplatesMsg) {
	if !d.loading {
		return
	}
	d.loading = false
	for _, t := range msg.templates {
		d.templates = append(d.templates, programTemplate{title: "Example · " + t.Name, program: t})
	}
}

func (d *templateDialog) bindings(keys.Map) []key.Binding {
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

func (p *programsPage) templateKey(e *env, d *templateDialog, msg tea.KeyPressMsg) tea.Cmd {
	if d.creating {
		return nil
	}
	switch {
	case msg.Code == tea.KeyEscape:
		p.dialog = nil
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
		return p.writeCmd(e, writeCreate, q.Name, func(ctx context.Context, r Programs) (*model.Program, error) {
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

func (d *templateDialog) render(s *themes.Styles, w int) string {
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
	if d.loading {
		body = append(body, s.Muted.Render("  loading the examples…"))
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
	return layout.Box(strings.Join(body, "\n"), min(w, inner+4), len(body)+2, s)
}
