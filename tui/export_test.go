package tui

// What the external tests (package tui_test) read of the workbench's
// insides: the types of its pages and dialogs, and accessors for the
// state the tests check.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
)

type (
	Palette  = palette
	HelpView = helpView
)

// The shell.

func (m Model) Styles() *themes.Styles { return m.env.Styles }
func (m Model) Options() Options       { return m.opts }

func KeyPress(name string) tea.KeyPressMsg { return keyPress(name) }

func (p *palette) Pattern() string { return p.pattern }
func (p *palette) Len() int        { return p.list.Len() }
