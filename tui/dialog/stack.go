// Package dialog is the one stack of everything drawn over the pages (the
// palette, the help, pickers, confirmations, forms and editors, full-screen
// views such as a trace) and the dialogs several pages share: a
// confirmation with typed answers, and the fields of a form.
//
// A dialog is pushed (page.Env.Push), has the keyboard while it is on top,
// and ends (page.Env.Close) with a result the shell hands to whoever pushed
// it; no view looks into another's state.
package dialog

import (
	"slices"
	"sync/atomic"

	"github.com/signet-dspy/signet/tui/page"
)

// Entry is one dialog on the stack.
type Entry struct {
	ID     uint64 // unique for the process: an answer for a dialog since closed never reaches another
	Owner  page.Addr
	Dialog page.Dialog
}

// Addr is the entry's address, for answers to it.
func (e Entry) Addr() page.Addr { return page.Addr{Page: e.Owner.Page, Dialog: e.ID} }

var lastID atomic.Uint64

// Stack is the dialogs over the pages, bottom first. It is a value, as the
// root model is: copies share nothing they can change under each other
// (a push or a removal makes a new slice).
type Stack struct {
	entries []Entry
}

// Push puts d on top; its result will go to owner. It returns d's entry.
func (s *Stack) Push(d page.Dialog, owner page.Addr) Entry {
	e := Entry{ID: lastID.Add(1), Owner: owner, Dialog: d}
	s.entries = append(s.entries[:len(s.entries):len(s.entries)], e)
	return e
}

// Len is the number of dialogs.
func (s *Stack) Len() int { return len(s.entries) }

// Top is the dialog on top.
func (s *Stack) Top() (Entry, bool) {
	if len(s.entries) == 0 {
		return Entry{}, false
	}
	return s.entries[len(s.entries)-1], true
}

// Find is the dialog with id, if it is on the stack.
func (s *Stack) Find(id uint64) (Entry, bool) {
	if i := s.index(id); i >= 0 {
		return s.entries[i], true
	}
	return Entry{}, false
}

func (s *Stack) index(id uint64) int {
	return slices.IndexFunc(s.entries, func(e Entry) bool { return e.ID == id })
}

// Remove takes the dialog with id off the stack, and every dialog over it
// (they were opened from it). It returns the entry removed, if it was there.
func (s *Stack) Remove(id uint64) (Entry, bool) {
	i := s.index(id)
	if i < 0 {
		return Entry{}, false
	}
	e := s.entries[i]
	s.entries = s.entries[:i:i]
	return e, true
}

// Entries are the dialogs, bottom first.
func (s *Stack) Entries() []Entry { return s.entries }

// SetSize gives every dialog the body's size.
func (s *Stack) SetSize(w, h int) {
	for _, e := range s.entries {
		e.Dialog.SetSize(w, h)
	}
}

// Render draws the body: the top dialog over what is below it, down to
// base (the page) where the dialogs let it show.
func (s *Stack) Render(base func() string) string {
	return s.renderFrom(len(s.entries)-1, base)
}

func (s *Stack) renderFrom(i int, base func() string) string {
	if i < 0 {
		return base()
	}
	return s.entries[i].Dialog.Render(func() string { return s.renderFrom(i-1, base) })
}
