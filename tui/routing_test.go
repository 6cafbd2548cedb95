package tui_test

// The shell's routing, with dialogs that record what reaches them: every
// command's result goes to the view that asked and nowhere else, a
// dialog's typed result goes to whoever pushed it, an answer for a dialog
// since closed is dropped, and a dialog that comes back on top is entered
// again.

import (
	"slices"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// probe is a full-screen dialog that records what reaches it; on its keys
// it asks for a result (a), pushes another probe (p) or ends with a result
// (c).
type probe struct {
	name    string
	self    page.Addr
	entered int
	got     []tea.Msg
	child   *probe
}

type (
	answer  struct{ to string }
	outcome struct{ from string }
)

func (d *probe) Enter(e *page.Env) tea.Cmd {
	d.self = e.Self()
	d.entered++
	return nil
}

func (d *probe) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	d.got = append(d.got, msg)
	return nil
}

func (d *probe) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch msg.Text {
	case "a":
		name := d.name
		return e.Cmd(func() tea.Msg { return answer{to: name} })
	case "p":
		d.child = &probe{name: d.name + "'s child"}
		e.Push(d.child)
	case "c":
		e.Close(outcome{from: d.name})
	}
	return nil
}

func (d *probe) Mouse(*page.Env, tea.MouseMsg, int, int) tea.Cmd { return nil }
func (d *probe) Typing() bool                                    { return true }
func (d *probe) Bindings() []key.Binding                         { return nil }
func (d *probe) SetSize(int, int)                                {}
func (d *probe) Render(func() string) string                     { return d.name }

func TestResultsGoToWhoAsked(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	first := &probe{name: "first"}
	m, cmd := m.Open(first)
	m = tuitest.Run(t, m, cmd)
	m = tuitest.Send(t, m, tuitest.Key("p"))
	second := first.child
	if tuitest.Top(m) != second || second.entered != 1 {
		t.Fatalf("p did not push the child (top %T, entered %d)", tuitest.Top(m), second.entered)
	}
	// The child asks; its answer reaches it, not the dialog under it.
	m = tuitest.Send(t, m, tuitest.Key("a"))
	if !slices.Contains(second.got, tea.Msg(answer{to: "first's child"})) || len(first.got) != 0 {
		t.Fatalf("the answer went to %v (child) and %v (first)", second.got, first.got)
	}
	// It ends with its result: the first, which pushed it, gets it at once,
	// and is entered again now that it is on top.
	nm, _ := m.Update(tuitest.Key("c"))
	m = nm.(tui.Model)
	if tuitest.Top(m) != first || !slices.Contains(first.got, tea.Msg(outcome{from: "first's child"})) || first.entered != 2 {
		t.Fatalf("after the child ended: top %T, first got %v, entered %d", tuitest.Top(m), first.got, first.entered)
	}
	// An answer for the child, which has closed, goes nowhere.
	before := len(first.got)
	m = tuitest.Deliver(t, m, page.Routed{To: second.self, Msg: answer{to: "late"}})
	if len(first.got) != before || slices.Contains(second.got, tea.Msg(answer{to: "late"})) {
		t.Errorf("a stale answer was delivered: first %v, child %v", first.got, second.got)
	}
	// The first ends: its result is for the Programs page, which it leaves
	// as it was, and the page has the keyboard again.
	m = tuitest.Send(t, m, tuitest.Key("c"))
	if tuitest.Top(m) != nil || m.Page() != tui.PagePrograms {
		t.Fatalf("after the first ended: top %T on page %v", tuitest.Top(m), m.Page())
	}
}

// TestInputGoesToWhoHasTheKeyboard: a paste (an input that is not a key)
// reaches the top dialog, and only it.
func TestInputGoesToWhoHasTheKeyboard(t *testing.T) {
	m := tuitest.Sample(t, 80, 24)
	d := &probe{name: "top"}
	m, cmd := m.Open(d)
	m = tuitest.Run(t, m, cmd)
	_ = tuitest.Deliver(t, m, tea.PasteMsg{Content: "pasted"})
	if len(d.got) != 1 || d.got[0] != (tea.PasteMsg{Content: "pasted"}) {
		t.Errorf("the top dialog got %v", d.got)
	}
}
