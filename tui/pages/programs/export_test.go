package programs

// What the external tests (package programs_test) read of the page.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/page"
)

type (
	ModuleEdit     = moduleEdit
	TemplateDialog = templateDialog
	StatusDialog   = statusDialog
)

func (p *Page) Detail() *model.Program     { return p.detail }
func (p *Page) Module() int                { return p.module }
func (p *Page) DetailOffset() int          { return p.detailOffset }
func (p *Page) DetailLines() int           { return len(p.detailLines(p.width)) }
func (p *Page) DetailBodyHeight() int      { return p.detailBodyHeight() }
func (p *Page) List() *components.List     { return &p.list }
func (p *Page) Selected() *model.Program   { return p.selected() }
func (p *Page) Programs() []*model.Program { return p.programs }

// History is the open version history: its program, its versions (newest
// first) and whether they have loaded.
func (p *Page) History() (name string, versions []*model.Program, loaded, open bool) {
	if p.versions == nil {
		return "", nil, false, false
	}
	return p.versions.name, p.versions.versions, p.versions.loaded, true
}

// DiffVersions are the versions the open diff compares.
func (p *Page) DiffVersions() (from, to int, open bool) {
	if p.diff == nil {
		return 0, 0, false
	}
	return p.diff.from.Version, p.diff.to.Version, true
}

func (ed *moduleEdit) Index() int                    { return ed.index }
func (ed *moduleEdit) Sig() string                   { return ed.sig.Value() }
func (ed *moduleEdit) Instr() string                 { return ed.instr.Value() }
func (ed *moduleEdit) SigErr() *model.SignatureError { return ed.sigErr }

var (
	EditorCommand = progEditorCommand
	ApplyModule   = progApplyModule
)

// EditorFile is the path and the $EDITOR round trip's next message (the
// editor's exit, for the page) when msg says the module's file is written.
func EditorFile(msg tea.Msg) (path string, done tea.Msg, ok bool) {
	r, _ := msg.(page.Routed)
	f, ok := r.Msg.(editorFileMsg)
	if !ok || f.err != nil {
		return "", nil, false
	}
	return f.path, page.Routed{To: r.To, Msg: editorDoneMsg{seq: f.seq, program: f.program, index: f.index, path: f.path}}, true
}

// FilterResult is the pattern of a filter result of the list, and whom
// it is addressed to.
func FilterResult(msg tea.Msg) (pattern string, to page.Addr, ok bool) {
	r, _ := msg.(page.Routed)
	f, ok := r.Msg.(programsFilterMsg)
	if !ok {
		return "", page.Addr{}, false
	}
	return f.res.Pattern, r.To, true
}

// Traffic is the program whose traffic view is open, and whether it has
// loaded.
func (p *Page) Traffic() (name string, loaded, open bool) {
	if p.traffic == nil {
		return "", false, false
	}
	return p.traffic.name, p.traffic.loaded, true
}
