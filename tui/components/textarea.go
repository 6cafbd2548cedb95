package components

import (
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/signet-dspy/signet/themes"
)

// TextAreaStyles are the theme's styles for an editing textarea, with a
// steady cursor: no blink ticks, and stable snapshots.
func TextAreaStyles(s *themes.Styles) textarea.Styles {
	st := textarea.Styles{
		Focused: textarea.StyleState{Text: s.Base, Prompt: s.Accent, Placeholder: s.Muted, Selection: s.RowSelected},
		Blurred: textarea.StyleState{Text: s.Muted, Prompt: s.Muted, Placeholder: s.Muted, Selection: s.RowSelected},
	}
	st.Cursor.Color = lipgloss.Color(s.Palette.Accent)
	st.Cursor.Shape = tea.CursorBlock
	st.Cursor.Blink = false
	return st
}
