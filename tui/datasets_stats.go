package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
)

// The statistics view (S): fields, fill rate, average length per field and
// split sizes, computed by a chain of commands that each read one page of
// examples, so it shows progress, never blocks Update, and esc cancels it.

// statsPageSize is how many examples each step of the computation reads.
const statsPageSize = 1000

// statsPageMsg is one step of a statistics run: the statistics so far.
type statsPageMsg struct {
	id    uint64
	stats *model.DatasetStats // a snapshot; the counter stays with the commands
	next  string
	err   error
}

type statsView struct {
	id     uint64
	ds     *model.Dataset // a private copy
	total  int            // the dataset's size, for the progress
	stats  *model.DatasetStats
	done   bool
	err    error
	cancel context.CancelFunc
}

// openStats starts computing d's statistics.
func (p *datasetsPage) openStats(e *env, d *model.Dataset) tea.Cmd {
	p.seq++
	ctx, cancel := context.WithCancel(e.ctx)
	dc := *d
	dc.Fields, dc.InputKeys = slices.Clone(d.Fields), slices.Clone(d.InputKeys)
	v := &statsView{id: p.seq, ds: &dc, total: d.Size(), cancel: cancel}
	v.stats = new(model.StatsCounter).Stats(&dc)
	p.stats = v
	return statsStep(ctx, e.deps.Datasets, v.id, &dc, new(model.StatsCounter), "")
}

// statsStep reads the page at cursor into counter. The counter belongs to
// the chain of commands: Update only ever sees snapshots.
func statsStep(ctx context.Context, repo Datasets, id uint64, d *model.Dataset, counter *model.StatsCounter, cursor string) tea.Cmd {
	return func() tea.Msg {
		if repo == nil {
			return statsPageMsg{id: id, err: fmt.Errorf("no dataset repository configured")}
		}
		exs, next, err := repo.ListExamples(ctx, d.Name, "", cursor, statsPageSize)
		if err != nil {
			return statsPageMsg{id: id, err: err}
		}
		for _, e := range exs {
			counter.Add(e)
		}
		msg := statsPageMsg{id: id, stats: counter.Stats(d), next: next}
		if next != "" && len(exs) > 0 {
			// Carry the counter to the next step through the message's
			// command, so no one else touches it.
			return statsContinue{msg: msg, step: statsStep(ctx, repo, id, d, counter, next)}
		}
		msg.next = ""
		return msg
	}
}

// statsContinue is a step that is not the last: Update shows the snapshot
// and runs step.
type statsContinue struct {
	msg  statsPageMsg
	step tea.Cmd
}

func (p *datasetsPage) applyStatsStep(e *env, msg statsContinue) tea.Cmd {
	p.applyStats(e, msg.msg)
	if v := p.stats; v != nil && v.id == msg.msg.id && v.err == nil {
		return msg.step
	}
	return nil
}

func (p *datasetsPage) applyStats(e *env, msg statsPageMsg) tea.Cmd {
	v := p.stats
	if v == nil || v.id != msg.id {
		return nil
	}
	if msg.err != nil {
		v.err = msg.err
		v.cancel()
		return nil
	}
	v.stats = msg.stats
	if msg.next == "" {
		v.done = true
		v.cancel()
	}
	return nil
}

func (p *datasetsPage) statsKey(e *env, msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, e.keys.Back) {
		if !p.stats.done && p.stats.err == nil {
			p.stats.cancel()
			p.stats = nil
			return notice("statistics cancelled")
		}
		p.stats.cancel()
		p.stats = nil
	}
	return nil
}

func (p *datasetsPage) renderStats() string {
	s := p.styles
	v := p.stats
	st := v.stats
	var b strings.Builder
	state := ""
	switch {
	case v.err != nil:
		state = "  " + s.Error.Render("error: ") + v.err.Error()
	case !v.done:
		state = s.Muted.Render(fmt.Sprintf("  counting… %s of %s examples · esc to cancel", format.Thousands(st.Examples), format.Thousands(v.total)))
	}
	b.WriteString(layout.Fit(s.Title.Render(v.ds.Name)+s.Muted.Render("  statistics")+state, p.width, 1))
	b.WriteString("\n")
	if !v.done && v.err == nil {
		b.WriteString(layout.Fit(layout.Bar(s, float64(st.Examples)/float64(max(v.total, 1)), min(p.width, 60)), p.width, 1))
	} else {
		b.WriteString(layout.Fit("", p.width, 1))
	}
	b.WriteString("\n")
	b.WriteString(layout.Fit(s.Subtitle.Render("Splits")+"  "+fmt.Sprintf("%s · train %s · validation %s · test %s",
		format.Examples(st.Examples), format.Thousands(st.Splits[model.Train]), format.Thousands(st.Splits[model.Validation]), format.Thousands(st.Splits[model.Test])), p.width, 1))
	b.WriteString("\n\n")

	nameW := len("FIELD")
	for _, f := range st.Fields {
		nameW = max(nameW, len([]rune(f.Field)))
	}
	nameW = min(nameW, max(p.width/3, 10))
	barW := dsClamp(p.width-nameW-40, 0, 30)
	b.WriteString(s.Header.Render(fmt.Sprintf("%-*s  %-5s  %8s  %10s", nameW, "FIELD", "INPUT", "FILLED", "AVG CHARS")))
	b.WriteString("\n")
	for _, f := range st.Fields {
		in := "-"
		if f.Input {
			in = "yes"
		}
		line := fmt.Sprintf("%-*s  %-5s  %7.1f%%  %10.1f", nameW, dsClip(f.Field, nameW), in, 100*f.FillRate, f.AvgChars)
		if barW > 0 {
			line += "  " + layout.Bar(s, f.FillRate, barW)
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	if len(st.Fields) == 0 {
		b.WriteString(s.Muted.Render("no fields"))
	}
	return layout.Fit(b.String(), p.width, p.height)
}
