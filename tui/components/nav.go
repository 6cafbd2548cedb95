package components

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
)

// WheelLines is how many lines one notch of the mouse wheel scrolls.
const WheelLines = 3

// ThemeStyles are the list styles of a theme.
func ThemeStyles(s *themes.Styles) ListStyles {
	return ListStyles{
		Header:        s.Header,
		Row:           s.Row,
		Selected:      s.RowSelected,
		Match:         s.Match,
		SelectedMatch: s.MatchSelected,
		Footer:        s.Muted,
		Empty:         s.Muted,
	}
}

// Navigate moves the cursor for the movement keys every list shares.
func (l *List) Navigate(msg tea.KeyPressMsg, km keys.Map) {
	switch {
	case key.Matches(msg, km.Down):
		l.Down()
	case key.Matches(msg, km.Up):
		l.Up()
	case key.Matches(msg, km.Top):
		l.Top()
	case key.Matches(msg, km.Bottom):
		l.Bottom()
	case key.Matches(msg, km.PageDown):
		l.PageDown()
	case key.Matches(msg, km.PageUp):
		l.PageUp()
	}
}

// Mouse is the mouse handling every list shares: a click selects the row
// under the pointer (y counts from the list's header line), the wheel
// scrolls. It reports whether the click landed on the row that was
// already selected: a second click, which opens it.
func (l *List) Mouse(msg tea.MouseMsg, y int) (again bool) {
	switch msg := msg.(type) {
	case tea.MouseClickMsg:
		if msg.Button != tea.MouseLeft {
			return false
		}
		if pos, ok := l.PosAt(y); ok {
			again = pos == l.Cursor()
			l.SetCursor(pos)
		}
	case tea.MouseWheelMsg:
		if d := WheelDelta(msg); d != 0 {
			l.ScrollBy(d)
		}
	}
	return again
}

// WheelDelta is the lines a wheel event scrolls: negative up, positive down.
func WheelDelta(w tea.MouseWheelMsg) int {
	switch w.Button {
	case tea.MouseWheelUp:
		return -WheelLines
	case tea.MouseWheelDown:
		return WheelLines
	}
	return 0
}
