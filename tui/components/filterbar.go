package components

import (
	"context"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
)

// FilterBar is the `/` prompt every list page shares: the pattern typed
// and whether the prompt has the keyboard. Pages embed it.
type FilterBar struct {
	Filtering bool   // the prompt has the keyboard
	Pattern   string // what was typed (the list shows it once its result arrives)
}

// FilterEvent says what a key did to the prompt.
type FilterEvent int

const (
	FilterNone    FilterEvent = iota
	FilterChanged             // the pattern changed: run the filter
	FilterClosed              // enter closed the prompt, keeping the pattern: the layout changes
	FilterOpened              // `/` opened the prompt: the layout changes
	FilterCleared             // esc cleared the pattern and closed the prompt: both
)

// Relayout reports whether the event changes the page's layout (the
// prompt's line comes or goes).
func (ev FilterEvent) Relayout() bool {
	return ev == FilterOpened || ev == FilterClosed || ev == FilterCleared
}

// Refilter reports whether the event changes the pattern to filter by.
func (ev FilterEvent) Refilter() bool { return ev == FilterChanged || ev == FilterCleared }

// Refilter returns the work of filtering l by the prompt's pattern, for
// the page to run off the Update loop; msg makes the page's message of the
// result. FilterRequest records the request in l, so that older results
// are recognised as stale.
func (f *FilterBar) Refilter(ctx context.Context, l *List, msg func(FilterResult) tea.Msg) func() tea.Msg {
	req := l.FilterRequest(f.Pattern)
	return func() tea.Msg { return msg(Filter(ctx, req)) }
}

// Follow does what ev requires of a page whose list l sits under the
// prompt: l gets height() lines when the prompt's line came or went. It
// reports whether the pattern changed, so that the page filters anew.
func (f *FilterBar) Follow(ev FilterEvent, l *List, height func() int) (refilter bool) {
	if ev.Relayout() {
		l.SetHeight(height())
	}
	return ev.Refilter()
}

// ShowFilterLine reports whether the prompt takes a line.
func (f *FilterBar) ShowFilterLine() bool { return f.Filtering || f.Pattern != "" }

// FilterInput applies a key to the prompt; up and down move l's cursor so
// the user can pick a match without leaving the prompt.
func (f *FilterBar) FilterInput(msg tea.KeyPressMsg, l *List) FilterEvent {
	switch {
	case msg.Code == tea.KeyEscape:
		f.Filtering, f.Pattern = false, ""
		return FilterCleared
	case msg.Code == tea.KeyEnter:
		f.Filtering = false
		return FilterClosed
	case msg.Code == tea.KeyUp:
		l.Up()
	case msg.Code == tea.KeyDown:
		l.Down()
	case msg.Code == tea.KeyBackspace:
		if f.Pattern == "" {
			return FilterNone
		}
		_, size := utf8.DecodeLastRuneInString(f.Pattern)
		f.Pattern = f.Pattern[:len(f.Pattern)-size]
		return FilterChanged
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		f.Pattern += msg.Text
		return FilterChanged
	}
	return FilterNone
}

// FilterListKey handles the prompt's keys on a list whose prompt is
// closed: the filter key opens it, back clears a pattern kept after enter.
// ok is false for every other key (and back with no pattern), which the
// page handles itself.
func (f *FilterBar) FilterListKey(msg tea.KeyPressMsg, km keys.Map) (ev FilterEvent, ok bool) {
	switch {
	case key.Matches(msg, km.Filter):
		f.Filtering = true
		return FilterOpened, true
	case key.Matches(msg, km.Back) && f.Pattern != "":
		f.Pattern = ""
		return FilterCleared, true
	}
	return FilterNone, false
}

// FilterLine draws the prompt, with a note while the result for what was
// typed is still being computed (applied is the list's current pattern).
func (f *FilterBar) FilterLine(s *themes.Styles, applied string, w int) string {
	line := s.Accent.Render("/") + f.Pattern
	if f.Filtering {
		line += s.Accent.Render("█")
	}
	if f.Pattern != applied {
		line += s.Muted.Render("  filtering…")
	}
	return layout.Fit(line, w, 1)
}
