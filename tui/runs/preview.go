package runs

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// The render preview (w): the exact messages each module would send for
// the inputs, without calling the LM.

type previewScreen struct {
	page.Defaults
	scr    *Screens
	styles *themes.Styles
	req    app.RenderRequest
	res    []app.RenderedPrompt
	err    error
	loaded bool
	off    int

	width, height int
}

type previewMsg struct {
	res []app.RenderedPrompt
	err error
}

// newPreviewScreen renders req: every module, or req.Module.
func newPreviewScreen(scr *Screens, req app.RenderRequest) *previewScreen {
	return &previewScreen{scr: scr, styles: scr.styles, req: req}
}

func (p *previewScreen) Enter(e *page.Env) tea.Cmd {
	if p.loaded {
		return nil
	}
	r, ctx, req := p.scr.runner, e.Ctx, p.req
	return e.Cmd(func() tea.Msg {
		if r == nil {
			return previewMsg{err: fmt.Errorf("no runner configured")}
		}
		res, err := r.Render(ctx, req)
		if err != nil {
			return previewMsg{err: err}
		}
		return previewMsg{res: res.Modules}
	})
}

func (p *previewScreen) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if m, ok := msg.(previewMsg); ok {
		p.res, p.err, p.loaded = m.res, m.err, true
	}
	return nil
}

func (p *previewScreen) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.Down):
		p.off++
	case key.Matches(msg, km.Up):
		p.off = max(p.off-1, 0)
	case key.Matches(msg, km.PageDown):
		p.off += max(p.height-2, 1)
	case key.Matches(msg, km.PageUp):
		p.off = max(p.off-max(p.height-2, 1), 0)
	case key.Matches(msg, km.Top):
		p.off = 0
	}
	return nil
}

func (p *previewScreen) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if w, ok := msg.(tea.MouseWheelMsg); ok {
		if w.Button == tea.MouseWheelUp {
			p.off = max(p.off-components.WheelLines, 0)
		} else if w.Button == tea.MouseWheelDown {
			p.off += components.WheelLines
		}
	}
	return nil
}

func (p *previewScreen) Typing() bool { return false }

func (p *previewScreen) Bindings() []key.Binding {
	return []key.Binding{keys.Hint("j/k", "scroll"), keys.Hint("esc", "back")}
}

func (p *previewScreen) SetSize(w, h int) { p.width, p.height = w, h }

func (p *previewScreen) lines() []string {
	s := p.styles
	w := max(p.width-2, 8)
	var lines []string
	add := func(str string) { lines = append(lines, strings.Split(str, "\n")...) }
	switch {
	case p.err != nil:
		add(s.Error.Render("Could not render: ") + format.Line(p.err.Error()))
		return lines
	case !p.loaded:
		add(s.Muted.Render("Rendering…"))
		return lines
	case len(p.res) == 0:
		add(s.Muted.Render("Nothing to render."))
	}
	for _, m := range p.res {
		head := "── module " + m.Module
		if m.Predictor != "" && m.Predictor != "self" {
			head += " · " + m.Predictor
		}
		add(s.Subtitle.Render(head + " " + strings.Repeat("─", max(w-ansi.StringWidth(head)-1, 0))))
		if len(m.Placeholders) > 0 {
			add(s.Warning.Render(placeholderNote(m.Placeholders)))
		}
		if m.Note != "" {
			add(s.Muted.Render(ansi.Wrap(m.Note, w, " ")))
		}
		demo := model.DemoLabels(m.Messages)
		for i, msg := range m.Messages {
			add(s.Accent.Render("[" + msg.Role + demo[i] + "]"))
			for _, para := range strings.Split(format.Text(msg.Content), "\n") {
				add(ansi.Wrap(sanitizeTabs(para), w, " -"))
			}
		}
	}
	return lines
}

// placeholderNote says which {fields} of a rendered prompt are known only
// during a run.
func placeholderNote(names []string) string {
	marked := make([]string, len(names))
	for i, n := range names {
		marked[i] = "{" + n + "}"
	}
	return strings.Join(marked, ", ") + ": known only during the run (an earlier module's output or the module's own work)"
}

func (p *previewScreen) Render(func() string) string {
	s := p.styles
	what := p.req.Program
	if p.req.Module != "" {
		what += " · module " + p.req.Module
	}
	title := s.Title.Render("Render preview "+what) + s.Muted.Render(" · the exact messages, no LM called · esc back")
	ls := p.lines()
	h := max(p.height-1, 1)
	off := min(p.off, max(len(ls)-h, 0))
	p.off = off
	body := ls[off:min(off+h, len(ls))]
	for i := range body {
		body[i] = " " + body[i]
	}
	return layout.Fit(title+"\n"+strings.Join(body, "\n"), p.width, p.height)
}
