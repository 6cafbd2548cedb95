package dialog

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// Placement is where a confirmation is drawn over what is below it.
type Placement int

const (
	// Centre is a box over the middle of what is below.
	Centre Placement = iota
	// TopLine replaces the first line of what is below.
	TopLine
	// BottomLine replaces the last line of what is below.
	BottomLine
)

// Choice is one answer to a confirmation.
type Choice struct {
	// Keys choose it; their help is what the help and the hint show.
	Keys key.Binding
	// Result is delivered to the asker when it is chosen: the asker's own
	// typed message (deleteProgram{name}). Nil: nothing is delivered (a
	// cancel).
	Result tea.Msg
}

// Confirm asks a question with a few answers. It has the keyboard while it
// is open (q is not a quit, digits do not switch pages); a key that
// chooses nothing is ignored.
type Confirm struct {
	page.Defaults
	prompt  []string
	choices []Choice
	where   Placement
	styles  *themes.Styles
	width   int
	height  int
}

// NewConfirm asks prompt (lines already styled; a one-line placement draws
// the first) with choices, drawn at where.
func NewConfirm(s *themes.Styles, where Placement, prompt []string, choices ...Choice) *Confirm {
	return &Confirm{prompt: prompt, choices: choices, where: where, styles: s}
}

func (c *Confirm) Typing() bool { return true }

func (c *Confirm) SetSize(w, h int) { c.width, c.height = w, h }

func (c *Confirm) Bindings() []key.Binding {
	out := make([]key.Binding, len(c.choices))
	for i, ch := range c.choices {
		out[i] = ch.Keys
	}
	return out
}

func (c *Confirm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	for _, ch := range c.choices {
		if key.Matches(msg, ch.Keys) {
			e.Close(ch.Result)
			return nil
		}
	}
	return nil
}

func (c *Confirm) Render(below func() string) string {
	switch c.where {
	case TopLine, BottomLine:
		line := ""
		if len(c.prompt) > 0 {
			line = layout.Fit(c.prompt[0], c.width, 1)
		}
		at := 0
		if c.where == BottomLine {
			at = -1
		}
		return layout.ReplaceLine(below(), line, at)
	}
	box := layout.BoxLines(c.prompt, c.styles, min(c.width-4, 72))
	return layout.Overlay(below(), box, c.width, c.height)
}

// Hint is the choices' keys and what they do, on one line: "y delete ·
// n/esc keep it".
func Hint(s *themes.Styles, choices ...Choice) string {
	parts := make([]string, len(choices))
	for i, ch := range choices {
		h := ch.Keys.Help()
		parts[i] = s.HelpKey.Render(h.Key) + s.HelpDesc.Render(" "+h.Desc)
	}
	return strings.Join(parts, s.HelpDesc.Render(" · "))
}
