package tui

// What the external tests (package tui_test) read of the workbench's
// insides: the types of its pages and dialogs, and accessors for the
// state the tests check.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/page"
)

type (
	ExecutionsPage    = executionsPage
	OptimizationsPage = optimizationsPage
	WorkersPage       = workersPage
	OptRunForm        = optRunForm
	CompareView       = compareView
	Palette           = palette
	HelpView          = helpView
)

// The shell.

func (m Model) Styles() *themes.Styles { return m.env.Styles }
func (m Model) Options() Options       { return m.opts }

// ToTop is msg addressed to the top dialog, as the answer to one of its
// commands.
func (m Model) ToTop(msg tea.Msg) tea.Msg {
	e, _ := m.stack.Top()
	return page.Routed{To: e.Addr(), Msg: msg}
}

// ToPage is msg addressed to page p.
func ToPage(p Page, msg tea.Msg) tea.Msg { return page.Routed{To: p.addr(), Msg: msg} }

// CallTop calls f on the top dialog with an Env addressed to it.
func (m Model) CallTop(f func(*page.Env) tea.Cmd) (Model, tea.Cmd) {
	e, _ := m.stack.Top()
	cmd := m.call(e.Addr(), f)
	return m, cmd
}

func KeyPress(name string) tea.KeyPressMsg { return keyPress(name) }

func (p *palette) Pattern() string { return p.pattern }
func (p *palette) Len() int        { return p.list.Len() }
func (p *palette) Titles() []string {
	out := make([]string, len(p.actions))
	for i, a := range p.actions {
		out[i] = a.title
	}
	return out
}

// Executions and workers.

func (p *executionsPage) Execs() []*model.Execution  { return p.execs }
func (p *executionsPage) List() *components.List     { return &p.list }
func (p *executionsPage) State() model.RunState      { return p.state }
func (p *executionsPage) RowAt(pos int) int          { return p.rowAt(pos) }
func (p *executionsPage) Selected() *model.Execution { return p.selected() }
func (p *workersPage) SelectedID() int               { return p.selectedID() }

const ExecPrefetch = execPrefetch

var ExecStates = execStates

func ExecShortID(id model.ID) string { return execShortID(id) }

// Optimizations.

func (p *optimizationsPage) Runs() []*model.Optimization { return p.runs }
func (p *optimizationsPage) Loaded() bool                { return p.loaded }
func (p *optimizationsPage) Polling() bool               { return p.polling }
func (p *optimizationsPage) Marked() int                 { return len(p.marked) }
func (c *compareView) Comparison() *model.Comparison     { return c.cmp }

// OptTick is the Optimizations page's poll tick.
func OptTick() tea.Msg { return ToPage(PageOptimizations, optTickMsg{}) }
