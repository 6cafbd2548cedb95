package dialog

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// Text shows text whole over the pages, wrapped and scrollable: a cell a
// list cut short, an error with its traceback. y copies all of it.
type Text struct {
	page.Defaults
	styles   *themes.Styles
	title    string
	sections []page.Section
	lines    []string // wrapped at the width
	off      int
	copyKey  key.Binding
	width    int
	height   int
}

// NewText shows sections under title.
func NewText(s *themes.Styles, title string, sections ...page.Section) *Text {
	t := &Text{styles: s, title: title, sections: sections}
	t.SetSize(80, 20)
	return t
}

func (t *Text) Typing() bool { return false }

func (t *Text) SetSize(w, h int) {
	t.width, t.height = w, h
	t.lines = t.lines[:0]
	s := t.styles
	for i, sec := range t.sections {
		if i > 0 {
			t.lines = append(t.lines, "")
		}
		if sec.Heading != "" {
			t.lines = append(t.lines, s.Subtitle.Render("── "+sec.Heading+" "+strings.Repeat("─", max(w-len(sec.Heading)-6, 0))))
		}
		st := lipgloss.NewStyle()
		if sec.Error {
			st = s.Error
		}
		for _, l := range layout.WrapLines(strings.ReplaceAll(sec.Body, "\t", "    "), max(w-2, 10)) {
			t.lines = append(t.lines, st.Render(l))
		}
	}
	t.off = min(t.off, t.maxOff())
}

func (t *Text) body() int   { return max(t.height-1, 1) } // under the title line
func (t *Text) maxOff() int { return max(len(t.lines)-t.body(), 0) }

// Plain is the text as it is copied: each heading, then its text whole.
func (t *Text) Plain() string {
	var b strings.Builder
	for i, sec := range t.sections {
		if i > 0 {
			b.WriteString("\n\n")
		}
		if sec.Heading != "" {
			b.WriteString(sec.Heading + ":\n")
		}
		b.WriteString(sec.Body)
	}
	return b.String()
}

func (t *Text) Bindings() []key.Binding {
	return []key.Binding{keys.Hint("j/k", "scroll"), keys.Hint("pgup/pgdn", "page"), t.copyKey, keys.Hint("esc", "back")}
}

// Enter takes the copy key as the user bound it, for the help.
func (t *Text) Enter(e *page.Env) tea.Cmd {
	t.copyKey = keys.As(e.Keys.Copy, "copy all")
	return nil
}

func (t *Text) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.Copy):
		return page.Copy(t.title, t.Plain())
	default:
		t.off, _ = components.Move(msg, km, t.off, t.body(), t.maxOff())
	}
	t.off = max(min(t.off, t.maxOff()), 0)
	return nil
}

func (t *Text) Mouse(_ *page.Env, msg tea.MouseMsg, _, _ int) tea.Cmd {
	if w, ok := msg.(tea.MouseWheelMsg); ok {
		if w.Button == tea.MouseWheelUp {
			t.off--
		} else {
			t.off++
		}
		t.off = max(min(t.off, t.maxOff()), 0)
	}
	return nil
}

// Render draws the text over the whole body: what it hides is not drawn.
func (t *Text) Render(func() string) string {
	s := t.styles
	head := s.Title.Render(t.title)
	if len(t.lines) > t.body() {
		head += s.Muted.Render(fmt.Sprintf("  lines %d-%d of %d", t.off+1, min(t.off+t.body(), len(t.lines)), len(t.lines)))
	}
	end := min(t.off+t.body(), len(t.lines))
	out := []string{layout.Fit(head, t.width, 1)}
	for _, l := range t.lines[t.off:end] {
		out = append(out, " "+l)
	}
	return layout.Fit(strings.Join(out, "\n"), t.width, t.height)
}
