package programs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// trafficView is a program's traffic split and the report comparing its
// arms (T): what `signet program traffic NAME --report` prints.
type trafficView struct {
	name   string
	seq    int
	loaded bool
	err    error
	report *model.TrafficReport
	offset int
}

// trafficMsg carries a program's traffic report.
type trafficMsg struct {
	seq    int
	report *model.TrafficReport
	err    error
}

// openTraffic opens pr's traffic view over the list or the detail, and
// loads it.
func (p *Page) openTraffic(e *page.Env, pr *model.Program) tea.Cmd {
	if pr == nil {
		return nil
	}
	p.seq++
	p.traffic = &trafficView{name: pr.Name, seq: p.seq}
	return p.loadTraffic(e)
}

// loadTraffic reads the report of the program in view, for the view
// opened (or refreshed) at p.seq.
func (p *Page) loadTraffic(e *page.Env) tea.Cmd {
	repo, ctx, seq, name := p.repo, e.Ctx, p.seq, p.traffic.name
	return e.Cmd(func() tea.Msg {
		r, err := repo.TrafficReport(ctx, app.TrafficQuery{Program: name})
		return trafficMsg{seq: seq, report: r, err: err}
	})
}

func (p *Page) applyTraffic(msg trafficMsg) {
	v := p.traffic
	if v == nil || v.seq != msg.seq {
		return // closed, or asked again since
	}
	v.loaded, v.err, v.report = true, msg.err, msg.report
}

// trafficKey handles a key in the traffic view: esc goes back, ctrl+r (or
// T again) reads the report again, the arrows scroll.
func (p *Page) trafficKey(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	v, km, h := p.traffic, p.keys, p.trafficBodyHeight()
	switch {
	case key.Matches(msg, km.Back):
		p.traffic = nil
	case key.Matches(msg, km.Refresh), key.Matches(msg, km.Traffic):
		p.seq++
		v.seq = p.seq
		return p.loadTraffic(e)
	case key.Matches(msg, km.Down):
		p.scrollTraffic(1, h)
	case key.Matches(msg, km.Up):
		p.scrollTraffic(-1, h)
	case key.Matches(msg, km.PageDown):
		p.scrollTraffic(h, h)
	case key.Matches(msg, km.PageUp):
		p.scrollTraffic(-h, h)
	}
	return nil
}

func (p *Page) trafficBodyHeight() int { return max(p.height-3, 1) }

func (p *Page) scrollTraffic(delta, h int) {
	v := p.traffic
	v.offset = min(max(v.offset+delta, 0), max(len(p.trafficLines())-h, 0))
}

// shareBar is an arm's share as a bar of width cells.
func shareBar(percent float64, width int) string {
	n := int(percent/100*float64(width) + 0.5)
	return strings.Repeat("█", n) + strings.Repeat("·", width-n)
}

// trafficLines lays the split and the report out: the arms with their
// shares, a table of the arms, then each arm's tests against the first.
func (p *Page) trafficLines() []string {
	v, s := p.traffic, p.styles
	r := v.report
	var lines []string
	if r.Split == nil {
		lines = append(lines, s.Muted.Render("No traffic split: runs without a version run the newest."),
			s.Muted.Render(fmt.Sprintf("Set one with: signet program traffic %s v1=90 v2=10", v.name)))
	} else {
		by := ""
		if r.Split.SetBy != "" {
			by = " by " + r.Split.SetBy
		}
		lines = append(lines, s.Subtitle.Render("Split")+s.Muted.Render(fmt.Sprintf("  set %s%s", format.Ago(p.clock.Now(), r.Split.SetAt), by)))
		for _, a := range r.Split.Arms {
			lines = append(lines, fmt.Sprintf("  v%-4d %s %s", a.Version, shareBar(a.Percent, 20), strconv.FormatFloat(a.Percent, 'f', -1, 64)+"%"))
		}
	}
	lines = append(lines, "")
	since := "every routed run"
	if !r.Since.IsZero() {
		since = "routed runs since " + r.Since.UTC().Format("2006-01-02 15:04Z")
	}
	lines = append(lines, s.Subtitle.Render("Report")+s.Muted.Render("  "+since))
	if len(r.Arms) == 0 {
		return append(lines, s.Muted.Render("  No arms."))
	}
	rows := [][]string{{"ARM", "SHARE", "RUNS", "ERRORS", "SCORE (95% CI)", "SCORED", "LATENCY", "P50", "P95", "COST/RUN", "COST"}}
	for _, a := range r.Arms {
		share := "-"
		if a.Percent > 0 {
			share = strconv.FormatFloat(a.Percent, 'f', -1, 64) + "%"
		}
		rows = append(rows, []string{"v" + strconv.Itoa(a.Version), share, strconv.Itoa(a.N), fmt.Sprintf("%.1f%%", 100*a.ErrorRate),
			a.Score.String(), strconv.Itoa(a.Score.N), secs(a.Latency.Mean, a.Latency.N), secs(a.LatencyP50, a.Latency.N),
			secs(a.LatencyP95, a.Latency.N), format.USD(a.MeanCost), format.USD(a.TotalCost)})
	}
	for i, row := range alignRows(rows) {
		if i == 0 {
			row = s.Muted.Render(row)
		}
		lines = append(lines, "  "+row)
	}
	if len(r.Tests) > 0 {
		lines = append(lines, "", s.Subtitle.Render("Against the first arm")+s.Muted.Render("  Welch's t-test, p < 0.05"))
	}
	for _, t := range r.Tests {
		line := "  " + t.String()
		if t.Verdict == "significant" {
			line = s.Success.Render(line)
		}
		lines = append(lines, line)
	}
	return lines
}

// alignRows pads each column to its widest cell.
func alignRows(rows [][]string) []string {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], ansi.StringWidth(c))
		}
	}
	out := make([]string, len(rows))
	for i, row := range rows {
		cells := slices.Clone(row)
		for j, c := range cells {
			cells[j] = c + strings.Repeat(" ", widths[j]-ansi.StringWidth(c))
		}
		out[i] = strings.TrimRight(strings.Join(cells, "  "), " ")
	}
	return out
}

// secs is a latency over n runs: "-" over none.
func secs(s float64, n int) string {
	if n == 0 {
		return "-"
	}
	return format.Seconds(s)
}

func (p *Page) renderTraffic() string {
	v, s := p.traffic, p.styles
	title := s.Title.Render(v.name) + s.Muted.Render("  traffic")
	switch {
	case v.err != nil:
		return layout.Fit(title+"\n"+s.Error.Render("Could not load the traffic report: ")+format.Line(v.err.Error()), p.width, p.height)
	case !v.loaded:
		return layout.Fit(title+"\n"+s.Muted.Render("Loading the traffic report…"), p.width, p.height)
	}
	lines := p.trafficLines()
	h := p.trafficBodyHeight()
	p.scrollTraffic(0, h)
	end := min(v.offset+h, len(lines))
	title += s.Muted.Render(" · ctrl+r refresh · esc back")
	if len(lines) > h {
		title += s.Muted.Render(fmt.Sprintf(" · lines %d-%d of %d", v.offset+1, end, len(lines)))
	}
	return layout.Fit(title, p.width, 1) + "\n" + layout.Box(strings.Join(lines[v.offset:end], "\n"), p.width, h+2, s)
}
