package tui

import (
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
)

// filterBar is the `/` prompt every list page shares: the pattern typed
// and whether the prompt has the keyboard. Pages embed it.
type filterBar struct {
	filtering bool   // the prompt has the keyboard
	pattern   string // what was typed (the list shows it once its result arrives)
}

// filterEvent says what a key did to the prompt.
type filterEvent int

const (
	filterNone    filterEvent = iota
	filterChanged             // the pattern changed: run the filter
	filterClosed              // enter closed the prompt, keeping the pattern: the layout changes
	filterOpened              // `/` opened the prompt: the layout changes
	filterCleared             // esc cleared the pattern and closed the prompt: both
)

// showFilterLine reports whether the prompt takes a line.
func (f *filterBar) showFilterLine() bool { return f.filtering || f.pattern != "" }

// filterInput applies a key to the prompt; up and down move l's cursor so
// the user can pick a match without leaving the prompt.
func (f *filterBar) filterInput(msg tea.KeyPressMsg, l *components.List) filterEvent {
	switch {
	case msg.Code == tea.KeyEscape:
		f.filtering, f.pattern = false, ""
		return filterCleared
	case msg.Code == tea.KeyEnter:
		f.filtering = false
		return filterClosed
	case msg.Code == tea.KeyUp:
		l.Up()
	case msg.Code == tea.KeyDown:
		l.Down()
	case msg.Code == tea.KeyBackspace:
		if f.pattern == "" {
			return filterNone
		}
		_, size := utf8.DecodeLastRuneInString(f.pattern)
		f.pattern = f.pattern[:len(f.pattern)-size]
		return filterChanged
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		f.pattern += msg.Text
		return filterChanged
	}
	return filterNone
}

// filterListKey handles the prompt's keys on a list whose prompt is
// closed: the filter key opens it, back clears a pattern kept after enter.
// ok is false for every other key (and back with no pattern), which the
// page handles itself.
func (f *filterBar) filterListKey(msg tea.KeyPressMsg, km keys.Map) (ev filterEvent, ok bool) {
	switch {
	case key.Matches(msg, km.Filter):
		f.filtering = true
		return filterOpened, true
	case key.Matches(msg, km.Back) && f.pattern != "":
		f.pattern = ""
		return filterCleared, true
	}
	return filterNone, false
}

// filterLine draws the prompt, with a note while the result for what was
// typed is still being computed (applied is the list's current pattern).
func (f *filterBar) filterLine(s *themes.Styles, applied string, w int) string {
	line := s.Accent.Render("/") + f.pattern
	if f.filtering {
		line += s.Accent.Render("█")
	}
	if f.pattern != applied {
		line += s.Muted.Render("  filtering…")
	}
	return fit(line, w, 1)
}
