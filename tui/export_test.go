package tui

// What the external tests (package tui_test) read of the workbench's
// insides: the types of its pages and dialogs, and accessors for the
// state the tests check.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/page"
)

type (
	Palette  = palette
	HelpView = helpView
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
