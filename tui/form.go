package tui

import (
	"slices"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
)

// fieldForm is a small form of text and choice fields, one focused: the
// new-run forms of optimizations and evaluations.
type fieldForm struct {
	title  string
	fields []choiceField
	focus  int
	err    string
	note   string // a line under the fields
}

type choiceField struct {
	label   string
	value   string
	choices []string // a choice field cycles with left/right (and can still be typed)
	help    string
}

// formEvent is what a key did to a form.
type formEvent int

const (
	formNone   formEvent = iota
	formSubmit           // ctrl+s, or enter on the last field
	formCancel           // esc
)

func (f *fieldForm) value(label string) string {
	for _, fl := range f.fields {
		if fl.label == label {
			return strings.TrimSpace(fl.value)
		}
	}
	return ""
}

// key edits the form; it reports a submit or a cancel for the caller to act on.
func (f *fieldForm) key(km keys.Map, msg tea.KeyPressMsg) formEvent {
	fl := &f.fields[f.focus]
	switch {
	case msg.Code == tea.KeyEscape:
		return formCancel
	case key.Matches(msg, km.Save) || msg.Code == tea.KeyEnter && f.focus == len(f.fields)-1:
		return formSubmit
	case msg.Code == tea.KeyTab || msg.Code == tea.KeyDown || msg.Code == tea.KeyEnter:
		f.focus = (f.focus + 1) % len(f.fields)
	case msg.Code == tea.KeyUp || msg.String() == "shift+tab":
		f.focus = (f.focus + len(f.fields) - 1) % len(f.fields)
	case (msg.Code == tea.KeyLeft || msg.Code == tea.KeyRight) && len(fl.choices) > 0:
		i := slices.Index(fl.choices, fl.value)
		if msg.Code == tea.KeyRight {
			i = (i + 1) % len(fl.choices)
		} else {
			i = (i + len(fl.choices) - 1) % len(fl.choices)
			if i < 0 {
				i = len(fl.choices) - 1
			}
		}
		fl.value = fl.choices[i]
	case msg.Code == tea.KeyBackspace:
		if fl.value != "" {
			_, n := utf8.DecodeLastRuneInString(fl.value)
			fl.value = fl.value[:len(fl.value)-n]
		}
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		fl.value += msg.Text
	}
	return formNone
}

func (f *fieldForm) render(s *themes.Styles, w, h int) string {
	lines := []string{s.Title.Render(f.title) + s.Muted.Render(" · tab/↑↓ move · ←/→ choose · ctrl+s start · esc cancel"), ""}
	for i, fl := range f.fields {
		label := layout.PadRight(fl.label, 11)
		val := fl.value
		if i == f.focus {
			label = s.Accent.Render("▌" + label)
			val += s.Accent.Render("█")
		} else {
			label = " " + s.Muted.Render(label)
		}
		if len(fl.choices) > 0 {
			val = "‹ " + val + " ›"
		}
		line := label + " " + val
		if fl.help != "" {
			line += "  " + s.Muted.Render(fl.help)
		}
		lines = append(lines, line)
	}
	if f.err != "" {
		lines = append(lines, "", s.Error.Render(f.err))
	}
	if f.note != "" {
		lines = append(lines, "", s.Muted.Render(ansi.Wrap(f.note, max(w-2, 10), " ")))
	}
	return layout.Fit(strings.Join(lines, "\n"), w, h)
}
