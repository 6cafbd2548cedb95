package tui

import (
	"context"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
)

// env is what every page needs to do its work: the context its commands
// run under, the services, the key map and the styles. The styles are
// shared by pointer, so a theme switched from the palette reaches every
// page at once.
type env struct {
	ctx    context.Context
	deps   Deps
	keys   keys.Map
	styles *themes.Styles
}

// page is one top-level page. The root owns the chrome (tabs, status bar,
// help, palette) and routes to the page on screen; each page lives in its
// own file and adds itself in Model.pageAt.
type page interface {
	// enter is called each time the page comes on screen; it returns the
	// command that loads or refreshes what the page shows, if any.
	enter(e *env) tea.Cmd
	// update handles a message that is not a key press or a mouse event.
	// Every page sees every such message and ignores what is not its own,
	// so a result that arrives after the user moved on still lands.
	update(e *env, msg tea.Msg) tea.Cmd
	// key handles a key press while the page is on screen.
	key(e *env, msg tea.KeyPressMsg) tea.Cmd
	// mouse handles a click or wheel event; y is relative to the page body.
	mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd
	// typing reports whether a text input of the page has the keyboard:
	// then every key but ctrl+c goes to key, none to the shell's shortcuts.
	typing() bool
	// bindings are the page's own keys in its current view, for the help
	// and the command palette.
	bindings() []key.Binding
	setSize(w, h int)
	// render draws the page in exactly its size.
	render() string
}

// Messages pages send each other through the root.

// gotoPageMsg shows a page (from the palette, a page or a click on a tab).
type gotoPageMsg struct{ page Page }

// noticeMsg shows a one-line notice in the status bar until the next key:
// "saved qa v4", or an error a page wants the user to see.
type noticeMsg struct {
	text string
	err  bool
}

func notice(text string) tea.Cmd { return func() tea.Msg { return noticeMsg{text: text} } }

func noticeErr(err error) tea.Cmd {
	return func() tea.Msg { return noticeMsg{text: err.Error(), err: true} }
}
