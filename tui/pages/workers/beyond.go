package workers

// Beyond the local pool (issue 21): the endpoints of the LM profiles that
// list several, the NATS job queue and the pools serving it, each pool with
// its workers, under the local workers' table. Only the local workers take
// the cursor: restart and recycle act on the owner's own workers, a remote
// pool's are its own process's to replace.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
)

var endpointColumns = []components.Column{
	{Title: "STATE", Width: components.StateColumn},
	{Title: "PROFILE", Flex: 1, MinWidth: 7},
	{Title: "API BASE", Flex: 3, MinWidth: 17},
	{Title: "INFL", Width: 4, Align: components.AlignRight},
	{Title: "CALLS", Width: 6, Align: components.AlignRight},
	{Title: "ERR/429", Width: 7, Align: components.AlignRight},
	{Title: "TOKENS I/O", Width: 12, Align: components.AlignRight},
	{Title: "MEAN", Width: 5, Align: components.AlignRight},
	{Title: "LAST ERROR", Flex: 2, MinWidth: 10},
}

// endpointBadge maps an endpoint state to the run state whose colour it
// shares, and the word shown for it (one that fits the state column).
var endpointBadge = map[string][2]string{
	"healthy": {"completed", "healthy"}, "backing_off": {"pending", "backoff"}, "ejected": {"failed", "ejected"},
}

// poolBadge maps a remote pool's state to the run state whose colour it shares.
var poolBadge = map[string]string{"ready": "completed", "lost": "failed"}

// beyond is what the page shows beyond the local pool.
type beyond struct {
	endpoints components.List
	// pools[i] lists the workers of the pool Remote[i] (unused for the
	// local one).
	pools []components.List
}

func newBeyond(p *Page) beyond {
	b := beyond{endpoints: components.NewList(endpointColumns, 1, components.ThemeStyles(p.styles))}
	b.endpoints.HideCursor()
	return b
}

// hasBeyond says whether the owner reports anything beyond its own pool: a
// page without it is the local pool alone, as before.
func hasBeyond(ps *app.PoolStatus) bool {
	return ps != nil && (len(ps.LMEndpoints) > 0 || ps.NATS != nil || len(ps.Remote) > 0)
}

// setBeyond fills the tables from the pool status.
func (p *Page) setBeyond(ps *app.PoolStatus) {
	rows := make([]components.Row, len(ps.LMEndpoints))
	for i, e := range ps.LMEndpoints {
		rows[i] = endpointRow(e)
	}
	p.beyond.endpoints.SetRows(rows)
	for len(p.beyond.pools) < len(ps.Remote) {
		l := components.NewList(workerColumns, 1, components.ThemeStyles(p.styles))
		l.HideCursor()
		p.beyond.pools = append(p.beyond.pools, l)
	}
	p.beyond.pools = p.beyond.pools[:len(ps.Remote)]
	for i, rp := range ps.Remote {
		rows := make([]components.Row, len(rp.Workers))
		for j, w := range rp.Workers {
			rows[j] = p.row(w)
		}
		p.beyond.pools[i].SetRows(rows)
	}
}

func (b *beyond) restyle(p *Page) {
	b.endpoints.SetStyles(components.ThemeStyles(p.styles))
	for i := range b.pools {
		b.pools[i].SetStyles(components.ThemeStyles(p.styles))
	}
}

func endpointRow(e app.LMEndpoint) components.Row {
	state := format.Dash(e.State)
	if b, ok := endpointBadge[e.State]; ok {
		state = b[1]
	}
	mean := "-"
	if e.Calls > 0 {
		mean = format.Seconds(e.Latency)
	}
	// The scheme says little and costs the host its room at 80 columns.
	base := strings.TrimPrefix(strings.TrimPrefix(e.APIBase, "https://"), "http://")
	return components.Row{state, e.Profile, base, strconv.Itoa(e.Inflight), format.Thousands(e.Calls),
		fmt.Sprintf("%d/%d", e.Errors, e.RateLimited), format.Tokens(e.PromptTokens) + "/" + format.Tokens(e.CompletionTokens),
		mean, oneLine(e.LastError)}
}

// layoutBeyond shares avail lines between what is above (top lines at
// most: the local workers' table, or the idle pool's text) and the
// sections beyond the local pool: every section whole when they fit, else
// each remote pool's workers summed up on its line, then the list above
// down to half the lines, then cut with a marker. It returns the lines the
// top gets and the lines below it.
func (p *Page) layoutBeyond(avail, top int) (int, []string) {
	lines := p.beyondLines(false)
	if len(lines) == 0 {
		return avail, nil
	}
	if top+len(lines) > avail {
		lines = p.beyondLines(true)
	}
	topH := min(top, max(avail-len(lines), min(top, avail/2)))
	room := avail - topH
	if len(lines) > room {
		if room <= 0 {
			return topH, nil
		}
		more := len(lines) - room + 1
		lines = append(lines[:room-1:room-1], layout.Fit(p.styles.Muted.Render(
			fmt.Sprintf(" … %d more lines: signet status lists them all", more)), p.width, 1))
	}
	return topH, lines
}

// beyondLines are the sections beyond the local pool, one line each
// exactly p.width wide; compact sums each remote pool's workers up on its
// line instead of listing them.
func (p *Page) beyondLines(compact bool) []string {
	ps := p.pool
	if !hasBeyond(ps) {
		return nil
	}
	s, w := p.styles, p.width
	var out []string
	if n := len(ps.LMEndpoints); n > 0 {
		out = append(out, layout.Fit(s.Subtitle.Render(fmt.Sprintf("── LM endpoints (%d) ", n)), w, 1))
		out = append(out, tableLines(&p.beyond.endpoints, w, 1, func(pos int) (string, bool) {
			st := ps.LMEndpoints[pos].State
			b, ok := endpointBadge[st]
			if !ok {
				return "", false
			}
			return s.StateBadge(b[0]).Render(b[1]), true
		})...)
	}
	if q := ps.NATS; q != nil {
		// The counts first: what is cut at 80 columns is the least telling.
		how := "joined"
		if q.Embedded {
			how = "embedded"
		}
		redelivered := s.Muted.Render(fmt.Sprintf("%d redelivered", q.Redelivered))
		if q.Redelivered > 0 {
			redelivered = s.Warning.Render(fmt.Sprintf("%d redelivered", q.Redelivered))
		}
		ackWait := time.Duration(q.AckWait * float64(time.Second)).Round(time.Millisecond)
		out = append(out, layout.Fit(s.Subtitle.Render("── queue ")+s.Muted.Render(fmt.Sprintf("%s · %d waiting · ", format.Line(q.URL), q.Waiting))+
			redelivered+s.Muted.Render(fmt.Sprintf(" · ack wait %s · %s · stream %s", ackWait, how, format.Dash(q.Stream))), w, 1))
	}
	for i, rp := range ps.Remote {
		out = append(out, layout.Fit(p.poolLine(rp, compact), w, 1))
		if compact || rp.Name == app.LocalPool || len(rp.Workers) == 0 {
			continue
		}
		out = append(out, tableLines(&p.beyond.pools[i], w, 1+3+1, func(pos int) (string, bool) {
			st := rp.Workers[pos].State
			return s.StateBadge(workerBadge[st]).Render(st), true
		})...)
	}
	return out
}

// poolLine is a pool's heading: its name, state, where it runs, when it
// was last heard of and what it runs; compact adds its workers' summary.
func (p *Page) poolLine(rp app.RemotePool, compact bool) string {
	s := p.styles
	seen := p.poolAt.Add(-time.Duration(rp.LastSeen * float64(time.Second)))
	// What is cut at 80 columns is the least telling: where it runs.
	info := fmt.Sprintf(" %d/%d running · %s served · ", rp.Running, rp.Capacity, format.Thousands(rp.Served))
	switch {
	case rp.Name == app.LocalPool:
	case len(rp.Workers) == 0:
		info += "no workers · "
	case compact:
		info += "workers " + live.PoolSummary(&app.PoolStatus{Engine: "running", Pool: rp.Workers}) + " · "
	}
	info += fmt.Sprintf("seen %s · %s pid %d", format.Ago(p.clock.Now(), seen), format.Line(format.Dash(rp.Host)), rp.PID)
	if rp.Name == app.LocalPool {
		info += " · its workers are above"
	}
	return s.Subtitle.Render("── pool "+format.Line(rp.Name)+" ") + s.StateBadge(poolBadge[rp.State]).Render(rp.State) + s.Muted.Render(info)
}

// tableLines is l drawn whole, its state column (at cell x) as badges,
// without the footer: every row is shown.
func tableLines(l *components.List, w, x int, badge func(pos int) (string, bool)) []string {
	out := l.Render(w, l.Total()+2)
	out = l.DrawBadges(out, x, w, badge)
	lines := strings.Split(out, "\n")
	return lines[:len(lines)-1]
}
