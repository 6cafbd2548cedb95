package dialog

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/page"
)

// The one question before changes are lost ("save / discard / keep
// editing"): asked by an editor on esc (Leave), and by the shell before it
// quits or switches pages over one.

// SaveChosen and DiscardChosen are the answers an editor gets from the
// question Leave asks; Answer acts on them.
type (
	SaveChosen    struct{}
	DiscardChosen struct{}
)

// The keys of the question.
var (
	saveKey    = key.NewBinding(key.WithKeys("s", "S", "ctrl+s"), key.WithHelp("s", "save"))
	discardKey = key.NewBinding(key.WithKeys("d", "D", "y", "Y"), key.WithHelp("d", "discard"))
	keepKey    = key.NewBinding(key.WithKeys("esc", "n", "N", "k", "K"), key.WithHelp("esc", "keep editing"))
)

// AskUnsaved asks what to do with unsaved changes in what: save (when
// save is not nil: the view can save), discard, or keep editing (nothing
// is delivered). note, if any, is a last line of the question.
func AskUnsaved(s *themes.Styles, what string, save, discard tea.Msg, note ...string) *Confirm {
	var choices []Choice
	if save != nil {
		choices = append(choices, Choice{Keys: saveKey, Result: save})
	}
	choices = append(choices, Choice{Keys: discardKey, Result: discard}, Choice{Keys: keepKey})
	prompt := []string{s.Warning.Render("Unsaved changes in " + what), "", Hint(s, choices...)}
	for _, n := range note {
		prompt = append(prompt, s.Muted.Render(n))
	}
	return NewConfirm(s, Centre, prompt, choices...)
}

// Leave is esc in an editor: it ends at once when nothing is unsaved, else
// asks first; the answer comes back to the editor for Answer.
func Leave(e *page.Env, s *themes.Styles, v page.Unsaved) {
	if !v.Dirty() {
		e.Close(nil)
		return
	}
	var save tea.Msg
	if _, ok := v.(page.Saver); ok {
		save = SaveChosen{}
	}
	e.Push(AskUnsaved(s, v.Editing(), save, DiscardChosen{}))
}

// Answer acts on the answer to Leave's question: save, or end without
// saving. It reports whether msg was that answer.
func Answer(e *page.Env, v page.Unsaved, msg tea.Msg) (tea.Cmd, bool) {
	switch msg.(type) {
	case SaveChosen:
		if sv, ok := v.(page.Saver); ok {
			return sv.Save(e), true
		}
		return nil, true
	case DiscardChosen:
		e.Close(nil)
		return nil, true
	}
	return nil, false
}
