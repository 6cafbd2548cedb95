package tui

// Leaving with changes unsaved: before the shell quits (q, ctrl+c, the
// palette's Quit) or switches pages, it asks every view that holds changes
// (page.Unsaved: an editor, a form) the one question of package dialog:
// save, discard, or keep editing.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/page"
)

// leaving is what the shell is about to do: quit, or show page to.
type leaving struct {
	quit bool
	to   Page
}

type (
	// leaveAnswer is the answer to the question about the view at at.
	leaveAnswer struct {
		leaving
		at   page.Addr
		save bool // save it first; else discard it
	}
	// leaveRetry goes on leaving once the view at at has answered its save.
	leaveRetry struct {
		leaving
		at page.Addr
	}
)

// unsaved is the view with unsaved changes nearest the top: a dialog on the
// stack, else the page on screen.
func (m *Model) unsaved() (page.Unsaved, page.Addr, bool) {
	ents := m.stack.Entries()
	for i := len(ents) - 1; i >= 0; i-- {
		if u, ok := ents[i].Dialog.(page.Unsaved); ok && u.Dirty() {
			return u, ents[i].Addr(), true
		}
	}
	if u, ok := m.pageAt(m.page).(page.Unsaved); ok && u.Dirty() {
		return u, m.page.addr(), true
	}
	return nil, page.Addr{}, false
}

// leave does l, once nothing unsaved is left, asking about each view that
// has some.
func (m *Model) leave(l leaving) tea.Cmd {
	u, at, ok := m.unsaved()
	if !ok {
		if l.quit {
			return tea.Quit
		}
		return m.goTo(l.to)
	}
	var save tea.Msg
	if _, ok := u.(page.Saver); ok {
		save = leaveAnswer{leaving: l, at: at, save: true}
	}
	var note []string
	if l.quit {
		note = []string{"ctrl+c again quits without saving"}
	}
	q := dialog.AskUnsaved(m.env.Styles, u.Editing(), save, leaveAnswer{leaving: l, at: at}, note...)
	cmd := m.push(q, shell)
	if top, ok := m.stack.Top(); ok && top.Dialog == q {
		m.asking = top.ID
	}
	return cmd
}

// answerLeave acts on the answer: discard the view's changes (a dialog
// leaves the stack without a result) and go on, or save them and go on
// once the save has answered.
func (m *Model) answerLeave(a leaveAnswer) tea.Cmd {
	m.asking = 0
	if !a.save {
		switch {
		case a.quit:
			return tea.Quit // quitting discards the rest too: asked once
		case a.at.Dialog == 0:
			return m.goTo(a.to) // a page keeps its state: it is there to come back to
		}
		m.stack.Remove(a.at.Dialog)
		return m.leave(a.leaving)
	}
	sv, ok := m.viewAt(a.at).(page.Saver)
	if !ok {
		return nil
	}
	save := m.call(a.at, sv.Save)
	retry := func() tea.Msg { return page.Routed{To: shell, Msg: leaveRetry{leaving: a.leaving, at: a.at}} }
	return page.Then(save, retry)
}

// retryLeave goes on leaving after a save, unless the view saved is still
// open with its changes: the save failed, and the view says why.
func (m *Model) retryLeave(r leaveRetry) tea.Cmd {
	if u, ok := m.viewAt(r.at).(page.Unsaved); ok && u.Dirty() {
		m.notice = page.NoticeMsg{Text: "not saved: still editing " + u.Editing(), Err: true}
		return nil
	}
	return m.leave(r.leaving)
}

// viewAt is the view at a: a dialog still on the stack, or a page; nil
// for a dialog since closed.
func (m *Model) viewAt(a page.Addr) page.View {
	if a.Dialog != 0 {
		if ent, ok := m.stack.Find(a.Dialog); ok {
			return ent.Dialog
		}
		return nil
	}
	if a.Page == page.Shell {
		return nil
	}
	return m.pageAt(Page(a.Page))
}
