package dialog

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

// Fields are a form's text and choice fields, one focused: what the forms
// that start an optimization or an evaluation are made of. The dialog that
// holds them acts on the events Key reports.
type Fields struct {
	Title  string
	Fields []Field
	Focus  int
	Err    string // shown under the fields
	Note   string // a line under the fields
	Submit string // what ctrl+s does, for the title's hint; "" is "start"

	start []string // the values before the first key: what Dirty compares with
}

// Dirty reports whether a key has changed a value (for page.Unsaved).
func (f *Fields) Dirty() bool {
	if f.start == nil {
		return false
	}
	for i, fl := range f.Fields {
		if fl.Value != f.start[i] {
			return true
		}
	}
	return false
}

// Field is one field of a form.
type Field struct {
	Label   string
	Value   string
	Choices []string // a choice field cycles with left/right (and can still be typed)
	Help    string
}

// FieldsEvent is what a key did to a form.
type FieldsEvent int

const (
	FieldsNone   FieldsEvent = iota
	FieldsSubmit             // ctrl+s, or enter on the last field
	FieldsCancel             // esc
)

// Value is the trimmed value of the field labelled label.
func (f *Fields) Value(label string) string {
	for _, fl := range f.Fields {
		if fl.Label == label {
			return strings.TrimSpace(fl.Value)
		}
	}
	return ""
}

// Key edits the form; it reports a submit or a cancel for the caller to act on.
func (f *Fields) Key(km keys.Map, msg tea.KeyPressMsg) FieldsEvent {
	if f.start == nil {
		for _, fl := range f.Fields {
			f.start = append(f.start, fl.Value)
		}
	}
	fl := &f.Fields[f.Focus]
	switch {
	case msg.Code == tea.KeyEscape:
		return FieldsCancel
	case key.Matches(msg, km.Save) || msg.Code == tea.KeyEnter && f.Focus == len(f.Fields)-1:
		return FieldsSubmit
	case msg.Code == tea.KeyTab || msg.Code == tea.KeyDown || msg.Code == tea.KeyEnter:
		f.Focus = (f.Focus + 1) % len(f.Fields)
	case msg.Code == tea.KeyUp || msg.String() == "shift+tab":
		f.Focus = (f.Focus + len(f.Fields) - 1) % len(f.Fields)
	case (msg.Code == tea.KeyLeft || msg.Code == tea.KeyRight) && len(fl.Choices) > 0:
		i := slices.Index(fl.Choices, fl.Value)
		if msg.Code == tea.KeyRight {
			i = (i + 1) % len(fl.Choices)
		} else {
			i = (i + len(fl.Choices) - 1) % len(fl.Choices)
			if i < 0 {
				i = len(fl.Choices) - 1
			}
		}
		fl.Value = fl.Choices[i]
	case msg.Code == tea.KeyBackspace:
		if fl.Value != "" {
			_, n := utf8.DecodeLastRuneInString(fl.Value)
			fl.Value = fl.Value[:len(fl.Value)-n]
		}
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		fl.Value += msg.Text
	}
	return FieldsNone
}

// Render draws the form in w x h.
func (f *Fields) Render(s *themes.Styles, w, h int) string {
	submit := f.Submit
	if submit == "" {
		submit = "start"
	}
	lines := []string{s.Title.Render(f.Title) + s.Muted.Render(" · tab/↑↓ move · ←/→ choose · ctrl+s "+submit+" · esc cancel"), ""}
	for i, fl := range f.Fields {
		label := layout.PadRight(fl.Label, 11)
		val := fl.Value
		if i == f.Focus {
			label = s.Accent.Render("▌" + label)
			val += s.Accent.Render("█")
		} else {
			label = " " + s.Muted.Render(label)
		}
		if len(fl.Choices) > 0 {
			val = "‹ " + val + " ›"
		}
		line := label + " " + val
		if fl.Help != "" {
			line += "  " + s.Muted.Render(fl.Help)
		}
		lines = append(lines, line)
	}
	if f.Err != "" {
		lines = append(lines, "") // the whole error, wrapped: it names what to fix
		for _, l := range strings.Split(ansi.Wrap(f.Err, max(w-2, 10), " /"), "\n") {
			lines = append(lines, s.Error.Render(l))
		}
	}
	if f.Note != "" {
		lines = append(lines, "", s.Muted.Render(ansi.Wrap(f.Note, max(w-2, 10), " ")))
	}
	return layout.Fit(strings.Join(lines, "\n"), w, h)
}
