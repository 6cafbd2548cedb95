package flips

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// pairSide is one half of the side-by-side traces: a side's trace, or
// why there is none.
type pairSide struct {
	label string
	pass  *bool
	trace page.Dialog // nil: the side recorded no execution
}

// sideMsg carries a message of one half's trace back to it: both halves
// answer to the pair's address, and a trace's messages do not say which
// execution they are for.
type sideMsg struct {
	side int
	msg  tea.Msg
}

// pair is two traces of one example side by side; [ and ] move the
// keyboard between them, and each keeps its own keys.
type pair struct {
	page.Defaults
	styles  *themes.Styles
	example string
	sides   []pairSide
	focus   int

	width, height int
}

func newPair(s *themes.Styles, example string, sides []pairSide) *pair {
	p := &pair{styles: s, example: example, sides: sides}
	for i, sd := range sides { // the keyboard starts on a side with a trace
		if sd.trace != nil {
			p.focus = i
			break
		}
	}
	return p
}

func (p *pair) Typing() bool {
	if t := p.sides[p.focus].trace; t != nil {
		return t.Typing()
	}
	return false
}

func (p *pair) halfWidth(i int) int {
	if len(p.sides) == 1 {
		return p.width
	}
	left := (p.width - 1) / 2
	if i == 0 {
		return left
	}
	return p.width - 1 - left
}

func (p *pair) SetSize(w, h int) {
	p.width, p.height = w, h
	for i, sd := range p.sides {
		if sd.trace != nil {
			sd.trace.SetSize(p.halfWidth(i), max(h-1, 1))
		}
	}
}

// each calls f on every side's trace, its commands' answers tagged with
// the side.
func (p *pair) each(f func(i int, t page.Dialog) tea.Cmd) tea.Cmd {
	var cmds []tea.Cmd
	for i, sd := range p.sides {
		if sd.trace != nil {
			cmds = append(cmds, tag(i, f(i, sd.trace)))
		}
	}
	return tea.Batch(cmds...)
}

func (p *pair) Enter(e *page.Env) tea.Cmd {
	return p.each(func(_ int, t page.Dialog) tea.Cmd { return t.Enter(e) })
}

func (p *pair) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	m, ok := msg.(sideMsg)
	if !ok || m.side >= len(p.sides) || p.sides[m.side].trace == nil {
		return nil
	}
	return tag(m.side, p.sides[m.side].trace.Update(e, m.msg))
}

// Live hands the event stream to the traces that follow it (a running
// execution's).
func (p *pair) Live(e *page.Env, msg live.Msg) tea.Cmd {
	return p.each(func(_ int, t page.Dialog) tea.Cmd {
		if l, ok := t.(interface {
			Live(*page.Env, live.Msg) tea.Cmd
		}); ok {
			return l.Live(e, msg)
		}
		return nil
	})
}

func (p *pair) Bindings() []key.Binding {
	out := []key.Binding{keys.Hint("[/]", "the left/right trace")}
	if t := p.sides[p.focus].trace; t != nil {
		out = append(out, t.Bindings()...)
	}
	return out
}

func (p *pair) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "[":
		p.focus = 0
		return nil
	case "]":
		p.focus = len(p.sides) - 1
		return nil
	}
	t := p.sides[p.focus].trace
	if t == nil {
		if key.Matches(msg, e.Keys.Back) {
			e.Close(nil)
		}
		return nil
	}
	return tag(p.focus, t.Key(e, msg))
}

func (p *pair) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	i := 0
	if len(p.sides) > 1 && x > p.halfWidth(0) {
		i = 1
	}
	p.focus = i
	if t := p.sides[i].trace; t != nil && y >= 1 {
		if i == 1 {
			x -= p.halfWidth(0) + 1
		}
		return tag(i, t.Mouse(e, msg, x, y-1))
	}
	return nil
}

// Render draws a title over the two halves, a rule between them.
func (p *pair) Render(func() string) string {
	s := p.styles
	h := max(p.height-1, 1)
	title := s.Title.Render("Example "+p.example) + s.Muted.Render(" · [ ] move between the traces · esc back")
	halves := make([][]string, len(p.sides))
	for i, sd := range p.sides {
		w := p.halfWidth(i)
		var body string
		if sd.trace != nil {
			body = sd.trace.Render(func() string { return "" })
		} else {
			body = s.Muted.Render(ansi.Wrap("No execution of this example is stored for "+sd.label+
				": an optimizer runs its trials inside DSPy, without executions.", max(w-2, 10), " "))
		}
		head := fmt.Sprintf("%s · %s", sd.label, passWord(sd.pass))
		st := s.Muted
		if i == p.focus {
			st = s.Accent
		}
		lines := strings.Split(layout.Fit(body, w, h-1), "\n")
		halves[i] = append([]string{layout.Fit(st.Render(ansi.Truncate(head, w, "…")), w, 1)}, lines...)
	}
	out := []string{layout.Fit(title, p.width, 1)}
	for r := range h {
		line := halves[0][r]
		if len(halves) > 1 {
			line += s.Muted.Render("│") + halves[1][r]
		}
		out = append(out, line)
	}
	return layout.Fit(strings.Join(out, "\n"), p.width, p.height)
}

func passWord(p *bool) string {
	switch {
	case p == nil:
		return "not evaluated"
	case *p:
		return "pass"
	}
	return "fail"
}

// tag rewrites the answers of a trace's command, which are addressed to
// the pair, so that they name the side they belong to.
func tag(side int, cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg { return retag(side, cmd()) }
}

func retag(side int, msg tea.Msg) tea.Msg {
	switch m := msg.(type) {
	case page.Routed:
		if _, ok := m.Msg.(page.NoticeMsg); ok {
			return m
		}
		m.Msg = sideMsg{side: side, msg: m.Msg}
		return m
	case tea.BatchMsg:
		out := make(tea.BatchMsg, len(m))
		for i, c := range m {
			out[i] = tag(side, c)
		}
		return out
	case page.Chain:
		return page.Chain{Msg: retag(side, m.Msg), Next: tag(side, m.Next)}
	}
	return msg
}
