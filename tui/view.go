package tui

import (
	"fmt"

	"strings"

	"charm.land/bubbles/v2/key"

	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
)

// render draws the whole screen in exactly m.width x m.height cells.
func (m Model) render() string {
	w := m.width
	parts := []string{
		layout.Fit(m.renderTabs(), w, 1),
		m.renderBody(),
		layout.Fit(m.renderStatus(), w, 1),
		layout.Fit(m.help.ShortHelpView(m.env.keys.ShortHelp()), w, 1),
	}
	return layout.Fit(strings.Join(parts, "\n"), w, m.height)
}

func (m Model) renderTabs() string {
	s := m.env.styles
	var b strings.Builder
	b.WriteString(s.Title.Render(" signet "))
	for i, name := range pageNames {
		b.WriteString(" ")
		label := fmt.Sprintf(" %d %s ", i+1, name)
		if Page(i) == m.page {
			b.WriteString(s.Accent.Reverse(true).Render(label))
		} else {
			b.WriteString(s.TabIdle.Render(label))
		}
	}
	return b.String()
}

func (m Model) renderBody() string {
	w, h := m.width, m.bodyHeight()
	s := m.env.styles
	if m.showHelp {
		cols := m.env.keys.FullHelp()
		full := m.help.FullHelpView(cols)
		if pb := m.bodyBindings(); len(pb) > 0 { // the page's, or the open screen's (tui/run.go)
			// Beside the shell's keys when they fit, else below them in
			// columns of their own, so nothing is cut at 80 columns.
			if wide := m.help.FullHelpView(append(cols, pb)); ansi.StringWidth(lastLine(wide)) <= w && !strings.Contains(wide, "…") {
				full = wide
			} else {
				var pcols [][]key.Binding
				per := max((len(pb)+2)/3, 1)
				for i := 0; i < len(pb); i += per {
					pcols = append(pcols, pb[i:min(i+per, len(pb))])
				}
				full += "\n\n" + s.Subtitle.Render("On this page") + "\n" + m.help.FullHelpView(pcols)
			}
		}
		return layout.Fit(s.Title.Render("Keys")+s.Muted.Render("  (? or esc to close)")+"\n\n"+full, w, h)
	}
	if m.palette.open {
		return layout.Fit(m.renderPalette(), w, h)
	}
	if m.screen != nil { // a screen opened over the page (tui/run.go)
		return m.screen.render()
	}
	return m.pageAt(m.page).render()
}

func (m Model) renderStatus() string {
	s := m.env.styles
	count := "…"
	switch {
	case m.programs.err != nil:
		count = "error"
	case m.programs.loaded && m.programs.list.Pattern() != "":
		count = fmt.Sprintf("%d/%d", m.programs.list.Len(), m.programs.list.Total())
	case m.programs.loaded:
		count = fmt.Sprint(m.programs.list.Total())
	}
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
	segs := []segment{{seg("programs", count), 3}, {seg("lm", lm), 2}}
	if m.executions.live != nil {
		pool := "…"
		switch c := m.executions.conn; {
		case c != nil && !c.Up:
			pool = "owner unreachable"
		case m.workers.pool != nil:
			pool = m.workers.pool.Summary()
		}
		segs = append(segs, segment{seg("pool", pool), 0})
	}
	if m.executions.cost.known {
		segs = append(segs, segment{seg("month", format.USD(m.executions.cost.usd)), 1})
	}
	// What the runs started in this TUI cost so far (the cost pane has the detail).
	if n, tokens, cost := m.runs.totals(); n > 0 {
		segs = append(segs, segment{seg("session", fmt.Sprintf("%s · %s tok", format.USD(cost), format.Thousands(tokens))), 2})
	}
	notice := ""
	if m.notice.text != "" {
		st := s.Accent
		if m.notice.err {
			st = s.Error
		}
		notice = st.Render(" " + m.notice.text + " ")
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

func lastLine(s string) string { return s[strings.LastIndexByte(s, '\n')+1:] }
