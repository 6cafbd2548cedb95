package components

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/charmbracelet/x/ansi"

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

// Move is at moved by the movement keys every list shares (one, a page,
// the top, the bottom), kept within 0..last; ok is false for any other key.
func Move(msg tea.KeyPressMsg, km keys.Map, at, page, last int) (to int, ok bool) {
	switch {
	case key.Matches(msg, km.Down):
		at++
	case key.Matches(msg, km.Up):
		at--
	case key.Matches(msg, km.PageDown):
		at += page
	case key.Matches(msg, km.PageUp):
		at -= page
	case key.Matches(msg, km.Top):
		at = 0
	case key.Matches(msg, km.Bottom):
		at = last
	default:
		return at, false
	}
	return min(max(at, 0), max(last, 0)), true
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

// StateColumn is the width of a column of state badges: the widest badge,
// " completed ".
const StateColumn = 11

// DrawBadges draws badges over the state column of out, the list as Render
// drew it width cells wide, the column starting at cell x: badge(pos) is
// the styled badge of the row at view position pos (ok false leaves the
// row as drawn). The list draws the plain state text; this colours it.
func (l *List) DrawBadges(out string, x, width int, badge func(pos int) (string, bool)) string {
	if width < x+StateColumn {
		return out
	}
	lines := strings.Split(out, "\n")
	off, n := l.Offset(), l.Len()
	for k := 1; k < len(lines)-1; k++ { // between the header and the footer
		pos := off + k - 1
		if pos >= n {
			break
		}
		b, ok := badge(pos)
		if !ok {
			continue
		}
		if w := ansi.StringWidth(b); w < StateColumn {
			b += strings.Repeat(" ", StateColumn-w)
		}
		lines[k] = ansi.Cut(lines[k], 0, x) + b + ansi.Cut(lines[k], x+StateColumn, width)
	}
	return strings.Join(lines, "\n")
}
