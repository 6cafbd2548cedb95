package page

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
)

// Shell is the Addr.Page of the shell itself: the palette and the help
// are its dialogs.
const Shell = -1

// Addr is who asked for something, so the answer goes there and nowhere
// else: a page (the shell's number for it), or a dialog on the stack.
type Addr struct {
	Page   int
	Dialog uint64 // the dialog's ID on the stack; 0 for the page itself
}

// Routed is a message on its way to To. The shell delivers it there alone,
// and drops it when To is a dialog no longer on the stack: an answer for a
// view since closed is stale.
type Routed struct {
	To  Addr
	Msg tea.Msg
}

// Clock is the time the views read and the timers they set; tests inject
// a fixed one.
type Clock struct {
	Now      func() time.Time
	Location *time.Location // where times of day are shown
	// Timer delivers fn's message after d, as tea.Tick does. Nil sets no
	// timers at all: a test delivers the ticks it wants itself.
	Timer func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd
}

// SystemClock is the real time and timers.
func SystemClock() Clock { return Clock{Now: time.Now, Location: time.Local, Timer: tea.Tick} }

// Env is what a view works with during one call: the context its commands
// run under, the key map, the styles (shared by pointer, so a theme
// switched in place reaches every view at once) and the clock, and what it
// asks of the shell (Push, Close), which the shell carries out when the
// call returns.
type Env struct {
	Ctx    context.Context
	Keys   keys.Map
	Styles *themes.Styles
	Clock  Clock

	self Addr
	fx   *Effects
}

// Effects are what a view asked of the shell during a call.
type Effects struct {
	Pushed []Dialog
	Closed bool    // the calling dialog ended
	Result tea.Msg // its result, for whoever pushed it; nil: none
}

// For is e for a call to the view at a: its commands answer to a, and its
// effects are collected afresh.
func (e *Env) For(a Addr) *Env {
	c := *e
	c.self, c.fx = a, &Effects{}
	return &c
}

// Self is the view being called.
func (e *Env) Self() Addr { return e.self }

// Effects are what the call asked of the shell.
func (e *Env) Effects() Effects {
	if e.fx == nil {
		return Effects{}
	}
	return *e.fx
}

// Cmd runs f off the Update loop (store reads, service calls); its message
// comes back to the caller alone.
func (e *Env) Cmd(f func() tea.Msg) tea.Cmd {
	to := e.self
	return func() tea.Msg { return Routed{To: to, Msg: f()} }
}

// Wrap addresses the message of a component's command (a text input's, a
// file picker's) to the caller, each of a batch's. It is for commands that
// return plain messages: not tea.Sequence or tea.ExecProcess, whose
// messages the runtime itself must see.
func (e *Env) Wrap(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	to := e.self
	return func() tea.Msg { return route(to, cmd()) }
}

func route(to Addr, msg tea.Msg) tea.Msg {
	switch m := msg.(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		out := make(tea.BatchMsg, len(m))
		for i, c := range m {
			if c != nil {
				out[i] = func() tea.Msg { return route(to, c()) }
			}
		}
		return out
	}
	return Routed{To: to, Msg: msg}
}

// Addressed is msg on its way to the caller, for a callback that makes a
// message later (tea.ExecProcess's).
func (e *Env) Addressed(msg tea.Msg) tea.Msg { return Routed{To: e.self, Msg: msg} }

// After delivers fn's message to the caller after d, on the clock's
// timer; nil when the clock sets no timers.
func (e *Env) After(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
	if e.Clock.Timer == nil {
		return nil
	}
	to := e.self
	return e.Clock.Timer(d, func(t time.Time) tea.Msg { return Routed{To: to, Msg: fn(t)} })
}

// Now is the clock's time.
func (e *Env) Now() time.Time { return e.Clock.Now() }

// Push shows d over everything. Its result goes to the caller, or, when
// the caller is a dialog that ends in the same call, to whoever pushed
// that one (so a form can give way to the view it leads to).
func (e *Env) Push(d Dialog) { e.fx.Pushed = append(e.fx.Pushed, d) }

// Close ends the calling dialog (and any over it) and delivers result, if
// not nil, to whoever pushed it.
func (e *Env) Close(result tea.Msg) { e.fx.Closed, e.fx.Result = true, result }

// NoticeMsg shows a one-line notice in the status bar until the next key:
// "saved qa v4", or an error a view wants the user to see. It is the
// shell's.
type NoticeMsg struct {
	Text string
	Err  bool
}

// Notice shows text in the status bar.
func Notice(text string) tea.Cmd { return func() tea.Msg { return NoticeMsg{Text: text} } }

// NoticeErr shows err in the status bar, as an error.
func NoticeErr(err error) tea.Cmd {
	return func() tea.Msg { return NoticeMsg{Text: err.Error(), Err: true} }
}

// Chain delivers Msg, then runs Next: the shell handles Msg as if it had
// arrived, and only then starts Next. (tea.Batch keeps no order.)
type Chain struct {
	Msg  tea.Msg
	Next tea.Cmd
}

// Then runs a, delivers its message, then runs b.
func Then(a, b tea.Cmd) tea.Cmd {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return func() tea.Msg { return Chain{Msg: a(), Next: b} }
}

// CopyMsg asks the shell to put Text on the terminal's clipboard (OSC 52)
// and say so in the status bar.
type CopyMsg struct {
	Text string
	What string // what was copied, for the notice: "the error"
}

// Copy copies text to the clipboard; what names it in the notice.
func Copy(what, text string) tea.Cmd {
	return func() tea.Msg { return CopyMsg{Text: text, What: what} }
}
