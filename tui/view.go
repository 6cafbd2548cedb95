package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
)

// render draws the whole screen in exactly m.width x m.height cells.
func (m Model) render() string {
	w := m.width
	parts := []string{
		layout.Fit(m.renderTabs(), w, 1),
		m.renderBody(),
		layout.Fit(m.renderStatus(), w, 1),
		layout.Fit(m.help.ShortHelpView(m.footerKeys()), w, 1),
	}
	return layout.Fit(strings.Join(parts, "\n"), w, m.height)
}

// footerKeys are the help key, then the keys of what has the keyboard
// (the top dialog, else the page on screen, as it is now): the line shows
// what the keys do here, and ? shows every key.
func (m Model) footerKeys() []key.Binding {
	var out []key.Binding
	if !m.Focus().Typing() {
		out = append(out, m.env.Keys.Help)
	}
	return append(out, m.Focus().Bindings()...)
}

func (m Model) renderTabs() string {
	s := m.env.Styles
	var b strings.Builder
	title, tabs := tabBar(m.width)
	end := 0 // the column after what is written
	if title {
		b.WriteString(s.Title.Render(tabTitle))
		end = len(tabTitle)
	}
	for i, t := range tabs {
		b.WriteString(strings.Repeat(" ", t.x-end))
		end = t.x + ansi.StringWidth(t.label)
		if Page(i) == m.page {
			b.WriteString(s.Accent.Reverse(true).Render(t.label))
		} else {
			b.WriteString(s.TabIdle.Render(t.label))
		}
	}
	return b.String()
}

const tabTitle = " signet "

// tab is one page's tab: its label and the column it starts at.
type tab struct {
	label string
	x     int
}

// tabBar lays the tab bar out in width cells: the title and a space
// between tabs, or, when that is too wide, neither, so every tab shows.
// renderTabs draws it and tabAt reads it.
func tabBar(width int) (title bool, tabs []tab) {
	lay := func(x, gap int) int {
		tabs = tabs[:0]
		for i, name := range pageNames {
			label := fmt.Sprintf(" %d %s ", i+1, name)
			x += gap
			tabs = append(tabs, tab{label: label, x: x})
			x += ansi.StringWidth(label)
		}
		return x
	}
	if lay(len(tabTitle), 1) <= width {
		return true, tabs
	}
	lay(0, 0)
	return false, tabs
}

// renderBody is the page on screen under the dialogs over it.
func (m Model) renderBody() string {
	return m.stack.Render(func() string { return m.pageAt(m.page).Render() })
}

func (m Model) renderStatus() string {
	s := m.env.Styles
	lm := m.opts.LMProfile
	if lm == "" {
		lm = "-"
	}
	seg := func(k, v string) string { return s.StatusKey.Render(k) + s.StatusValue.Render(v) }
	// Segments in the order shown; when the line is too narrow the one with
	// the highest drop goes first. The workspace path is flexible: it gets
	// what is left, at least wsMin cells, cut from the left so its end (the
	// directory name) stays visible.
	type segment struct {
		text string
		drop int
	}
	const wsDrop, wsMin = 4, 16
	segs := []segment{{seg("programs", m.programs.Count()), 3}, {seg("lm", lm), 2}}
	if m.feed != nil {
		pool := "…"
		switch c := m.conn; {
		case c != nil && !c.Up:
			pool = "owner unreachable"
		case m.pool != nil:
			pool = live.PoolSummary(m.pool)
		}
		segs = append(segs, segment{seg("pool", pool), 0})
	}
	if usd, ok := m.executions.MonthCost(); ok {
		segs = append(segs, segment{seg("month", format.USD(usd)), 1})
	}
	// What the runs started in this TUI cost so far (the cost pane has the detail).
	if n, tokens, cost := m.screens.Session().Totals(); n > 0 {
		segs = append(segs, segment{seg("session", fmt.Sprintf("%s · %s tok", format.USD(cost), format.Thousands(tokens))), 2})
	}
	notice := ""
	if m.notice.Text != "" {
		st := s.Accent
		if m.notice.Err {
			st = s.Error
		}
		notice = st.Render(" " + m.notice.Text + " ")
	}
	wsKey := seg("workspace", "")
	avail := m.width - ansi.StringWidth(notice)
	showWS := true
	for {
		used := 0
		for _, g := range segs {
			used += ansi.StringWidth(g.text)
		}
		if showWS {
			used += ansi.StringWidth(wsKey) + wsMin
		}
		if used <= avail || (len(segs) == 0 && !showWS) {
			break
		}
		worst, at := -1, -1
		for i, g := range segs {
			if g.drop > worst {
				worst, at = g.drop, i
			}
		}
		if showWS && wsDrop > worst {
			showWS = false
			continue
		}
		if at < 0 {
			break
		}
		segs = append(segs[:at], segs[at+1:]...)
	}
	line := notice
	for _, g := range segs {
		line += g.text
	}
	if showWS {
		room := avail - ansi.StringWidth(line[len(notice):]+wsKey)
		ws := m.opts.Workspace
		if ws == "" {
			ws = "-"
		}
		if room > 1 && ansi.StringWidth(ws) > room {
			ws = "…" + ansi.TruncateLeft(ws, ansi.StringWidth(ws)-room+1, "")
		}
		line += seg("workspace", ws)
	}
	if pad := m.width - ansi.StringWidth(line); pad > 0 {
		line += s.StatusBar.Render(strings.Repeat(" ", pad))
	}
	return line
}
