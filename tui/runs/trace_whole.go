package runs

// What the trace opens whole or copies: a failed run's error with its
// Python traceback, or the selected span's prompt, completion and outputs.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/page"
)

// traceCopyMsg is the answer of the copy choice: what to copy.
type traceCopyMsg struct{ what string }

// Whole is the failed run's error and traceback; for a run that did not
// fail, the selected span's prompt, completion and outputs.
func (t *traceScreen) Whole() (string, []page.Section, bool) {
	if x := t.exec; x != nil && x.State == model.Failed {
		secs := []page.Section{{Heading: "error " + x.ErrorCode, Body: x.Error, Error: true}}
		tb := x.Traceback
		if tb == "" {
			tb = "(the worker sent no traceback: the run failed outside Python code)"
		}
		return "Failed run " + x.ID.String(), append(secs, page.Section{Heading: "Python traceback", Body: tb}), true
	}
	n := t.tree.Selected()
	if n < 0 {
		return "", nil, false
	}
	sp := &t.tree.Node(n).Span
	var secs []page.Section
	for _, what := range []string{"error", "prompt", "completion", "outputs", "passages"} {
		if body := spanPart(sp, what); body != "" {
			secs = append(secs, page.Section{Heading: what, Body: body, Error: what == "error"})
		}
	}
	if len(secs) == 0 {
		secs = []page.Section{{Heading: "span", Body: sp.Name}}
	}
	return string(sp.Kind) + " " + sp.Name, secs, true
}

func (t *traceScreen) wholeHelp() string {
	if t.exec != nil && t.exec.State == model.Failed {
		return "the error and traceback"
	}
	return "the span whole"
}

// spanPart is one part of a span as text, "" when it has none.
func spanPart(sp *model.Span, what string) string {
	switch what {
	case "error":
		return sp.Error
	case "prompt":
		var b strings.Builder
		demo := model.DemoLabels(sp.Messages)
		for i, m := range sp.Messages {
			if i > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString("[" + m.Role + demo[i] + "]\n" + m.Content)
		}
		return b.String()
	case "completion":
		return sp.Completion
	case "outputs":
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(sp.Outputs)) {
			b.WriteString(k + ": " + model.ValueText(sp.Outputs[k]) + "\n")
		}
		return strings.TrimSuffix(b.String(), "\n")
	case "passages":
		r := sp.Retrieval
		if r == nil {
			return ""
		}
		var b strings.Builder
		b.WriteString("query: " + r.Query)
		for i, p := range r.Passages {
			fmt.Fprintf(&b, "\n\n#%d %s (score %.3f)\n%s", i+1, p.ID, p.Score, p.Text)
		}
		return b.String()
	}
	return ""
}

// copyChoice asks what to copy: the selected span's prompt, completion or
// outputs, or the run's error.
func (t *traceScreen) copyChoice(km keys.Map) page.Dialog {
	ch := func(k, what string) dialog.Choice {
		return dialog.Choice{Keys: key.NewBinding(key.WithKeys(k), key.WithHelp(k, what)), Result: traceCopyMsg{what: what}}
	}
	choices := []dialog.Choice{ch("p", "prompt"), ch("c", "completion"), ch("o", "outputs")}
	if t.exec != nil && t.exec.Error != "" {
		choices = append(choices, ch("e", "error"))
	}
	choices = append(choices, dialog.Choice{Keys: keys.As(km.Back, "cancel")})
	line := t.styles.Accent.Render("Copy: ") + dialog.Hint(t.styles, choices...)
	return dialog.NewConfirm(t.styles, dialog.BottomLine, []string{line}, choices...)
}

// copy puts what was chosen on the clipboard.
func (t *traceScreen) copy(what string) tea.Cmd {
	if what == "error" && t.exec != nil {
		text := t.exec.Error
		if t.exec.Traceback != "" {
			text += "\n\n" + t.exec.Traceback
		}
		return page.Copy("the error", text)
	}
	n := t.tree.Selected()
	if n < 0 {
		return page.Notice("no span selected")
	}
	sp := &t.tree.Node(n).Span
	text := spanPart(sp, what)
	if text == "" {
		return page.Notice("the span has no " + what)
	}
	return page.Copy("the "+what+" of "+sp.Name, text)
}
