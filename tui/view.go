package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// render draws the whole screen in exactly m.width x m.height cells.
func (m Model) render() string {
	w := m.width
	parts := []string{
		fit(m.renderTabs(), w, 1),
		m.renderBody(),
		fit(m.renderStatus(), w, 1),
		fit(m.help.ShortHelpView(m.env.keys.ShortHelp()), w, 1),
	}
	return fit(strings.Join(parts, "\n"), w, m.height)
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
		if pb := m.pageAt(m.page).bindings(); len(pb) > 0 {
			cols = append(cols, pb)
		}
		full := m.help.FullHelpView(cols)
		return fit(s.Title.Render("Keys")+s.Muted.Render("  (? or esc to close)")+"\n\n"+full, w, h)
	}
	if m.palette.open {
		return fit(m.renderPalette(), w, h)
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
	left := seg("programs", count) + seg("lm", lm)
	// The workspace path gets what is left, cut from the left so its end
	// (the directory name) stays visible.
	room := m.width - ansi.StringWidth(left+seg("workspace", ""))
	ws := m.opts.Workspace
	if ws == "" {
		ws = "-"
	}
	if room > 1 && ansi.StringWidth(ws) > room {
		ws = "…" + ansi.TruncateLeft(ws, ansi.StringWidth(ws)-room+1, "")
	}
	line := left + seg("workspace", ws)
	if m.notice.text != "" {
		st := s.Accent
		if m.notice.err {
			st = s.Error
		}
		line = st.Render(" "+m.notice.text+" ") + line
	}
	if pad := m.width - ansi.StringWidth(line); pad > 0 {
		line += s.StatusBar.Render(strings.Repeat(" ", pad))
	}
	return line
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// fit makes s exactly w cells wide and h lines high: long lines are cut,
// short ones padded with spaces, missing lines added and extra ones dropped.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			lines[i] = ansi.Truncate(l, w, "…")
		} else if lw < w {
			lines[i] = l + strings.Repeat(" ", w-lw)
		}
	}
	return strings.Join(lines, "\n")
}
