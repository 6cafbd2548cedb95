// Package page holds the contracts between the shell (package tui) and
// what it shows: a Page is one tab; a Dialog is anything pushed over the
// pages (a picker, a confirmation, a form, a full-screen view such as a
// trace), kept on one stack (package dialog). Every call gets an Env: the
// context, key map, styles and clock, and the ways to act beyond the
// callee itself: address a command's result back to the one who asked,
// push a dialog, and end one with a typed result for whoever pushed it.
//
// Nothing here does I/O; pages and dialogs render strings at the size the
// shell gives them (DESIGN.md section 6).
package page

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// View is what pages and dialogs have in common.
type View interface {
	// Enter is called when the view comes (back) on screen: a page when its
	// tab is chosen, a dialog when it is pushed and when the one over it
	// ends. It returns what loads or refreshes what the view shows.
	Enter(e *Env) tea.Cmd
	// Update handles a message addressed to the view: the result of one of
	// its commands (Env.Cmd), the typed result of a dialog it pushed, or an
	// input that is not a key or the mouse (a paste) while it has the focus.
	Update(e *Env, msg tea.Msg) tea.Cmd
	// Key handles a key press while the view has the keyboard.
	Key(e *Env, msg tea.KeyPressMsg) tea.Cmd
	// Mouse handles a click or a wheel event; y is relative to the body.
	Mouse(e *Env, msg tea.MouseMsg, x, y int) tea.Cmd
	// Typing reports whether a text input has the keyboard: then every key
	// but ctrl+c goes to Key, none to the shell's shortcuts (?, q, tabs).
	Typing() bool
	// Bindings are the view's own keys as it is now, for the help and the
	// command palette.
	Bindings() []key.Binding
	// SetSize gives the view the body's size.
	SetSize(w, h int)
}

// Page is one top-level page (a tab).
type Page interface {
	View
	// Render draws the page in exactly its size.
	Render() string
}

// Dialog is a view pushed over the pages. While it is on top it has the
// keyboard and the mouse; it ends with Env.Close, which hands its result
// to whoever pushed it.
type Dialog interface {
	View
	// Render draws the dialog in exactly the body's size. below draws what
	// is under it (the dialog below, or the page): a box or a one-line
	// prompt draws itself over that; a full-screen view never calls it, so
	// what it hides is not drawn at all.
	Render(below func() string) string
}

// Defaults are the no-op Enter, Update and Mouse of a view that needs none
// of them: views embed it.
type Defaults struct{}

func (Defaults) Enter(*Env) tea.Cmd                         { return nil }
func (Defaults) Update(*Env, tea.Msg) tea.Cmd               { return nil }
func (Defaults) Mouse(*Env, tea.MouseMsg, int, int) tea.Cmd { return nil }

// Unsaved is a view holding changes that ending it would lose: an editor,
// a form. It asks before esc throws them away (dialog.Leave), and the shell
// asks the same before it quits or switches pages with it open.
type Unsaved interface {
	// Dirty reports changes not saved.
	Dirty() bool
	// Editing names what is edited, for the question: "example 3 of qa".
	Editing() string
}

// Saver is an Unsaved view that can save what it holds: the question then
// offers "save" too. Save starts saving (one command, whose answer comes
// back to the view: it ends when saved, else stays open saying why); it
// is called with the view's own Env.
type Saver interface {
	Unsaved
	Save(e *Env) tea.Cmd
}

// Leaver is a page that asks for something only while it is on screen
// (a poll): Leave is called when another page is chosen.
type Leaver interface {
	Leave()
}

// Whole is a view whose selection can be opened whole (the key map's
// Whole): every cell a column cut short, an error with its traceback, read
// in full. ok is false when nothing is selected.
type Whole interface {
	Whole() (title string, secs []Section, ok bool)
}

// Section is one part of a text shown whole: a heading and its text.
type Section struct {
	Heading string
	Body    string
	Error   bool // drawn in the error style
}

// Cells are a row's cells as sections headed by their columns' titles.
func Cells(titles, cells []string) []Section {
	out := make([]Section, len(cells))
	for i, c := range cells {
		out[i] = Section{Heading: titles[i], Body: c}
	}
	return out
}
