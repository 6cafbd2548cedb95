package datasets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// The statistics view (S): fields, fill rate, average length per field and
// split sizes, computed by a chain of commands that each read one page of
// examples, so it shows progress, never blocks Update, and esc cancels it.

// statsPageSize is how many examples each step of the computation reads.
const statsPageSize = 1000

// statsPageMsg is one step of a statistics run: the statistics so far, and
// the step after it (nil after the last).
type statsPageMsg struct {
	stats *model.DatasetStats // a snapshot; the counter stays with the commands
	next  tea.Cmd
	err   error
}

type statsView struct {
	page.Defaults
	styles *themes.Styles
	keys   keys.Map
	repo   Datasets
	ds     *model.Dataset // a private copy
	total  int            // the dataset's size, for the progress
	stats  *model.DatasetStats
	done   bool
	err    error
	cancel context.CancelFunc

	width, height int
}

// newStatsView computes d's statistics once it is pushed.
func newStatsView(s *themes.Styles, km keys.Map, repo Datasets, d *model.Dataset) *statsView {
	dc := *d
	dc.Fields, dc.InputKeys = slices.Clone(d.Fields), slices.Clone(d.InputKeys)
	v := &statsView{styles: s, keys: km, repo: repo, ds: &dc, total: d.Size()}
	v.stats = new(model.StatsCounter).Stats(&dc)
	return v
}

// Enter starts the computation.
func (v *statsView) Enter(e *page.Env) tea.Cmd {
	if v.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	v.cancel = cancel
	return statsStep(ctx, e.Cmd, v.repo, v.ds, new(model.StatsCounter), "")
}

// statsStep reads the page at cursor into counter. The counter belongs to
// the chain of commands: Update only ever sees snapshots. cmd addresses
// each step's message to the view.
func statsStep(ctx context.Context, cmd func(func() tea.Msg) tea.Cmd, repo Datasets, d *model.Dataset, counter *model.StatsCounter, cursor string) tea.Cmd {
	return cmd(func() tea.Msg {
		if repo == nil {
			return statsPageMsg{err: fmt.Errorf("no dataset repository configured")}
		}
		pg, err := repo.ListExamples(ctx, app.ExampleQuery{Dataset: d.Name, Cursor: cursor, Limit: statsPageSize})
		if err != nil {
			return statsPageMsg{err: err}
		}
		exs, next := pg.Examples, pg.Next
		for _, e := range exs {
			counter.Add(e)
		}
		msg := statsPageMsg{stats: counter.Stats(d)}
		if next != "" && len(exs) > 0 {
			// Carry the counter to the next step through the message, so
			// no one else touches it.
			msg.next = statsStep(ctx, cmd, repo, d, counter, next)
		}
		return msg
	})
}

func (v *statsView) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	m, ok := msg.(statsPageMsg)
	if !ok || v.done || v.err != nil {
		return nil
	}
	if m.err != nil {
		v.err = m.err
		v.cancel()
		return nil
	}
	v.stats = m.stats
	if m.next == nil {
		v.done = true
		v.cancel()
	}
	return m.next
}

func (v *statsView) Typing() bool     { return false }
func (v *statsView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *statsView) Bindings() []key.Binding {
	if !v.done && v.err == nil {
		return []key.Binding{keys.As(v.keys.Back, "cancel")}
	}
	return []key.Binding{v.keys.Back}
}

func (v *statsView) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	if !key.Matches(msg, v.keys.Back) {
		return nil
	}
	e.Close(nil)
	v.cancel()
	if !v.done && v.err == nil {
		return page.Notice("statistics cancelled")
	}
	return nil
}

func (v *statsView) Render(func() string) string {
	s := v.styles
	st := v.stats
	w, h := v.width, v.height
	var b strings.Builder
	state := ""
	switch {
	case v.err != nil:
		state = "  " + s.Error.Render("error: ") + format.Line(v.err.Error())
	case !v.done:
		state = s.Muted.Render(fmt.Sprintf("  counting… %s of %s examples · esc to cancel", format.Thousands(st.Examples), format.Thousands(v.total)))
	}
	b.WriteString(layout.Fit(s.Title.Render(v.ds.Name)+s.Muted.Render("  statistics")+state, w, 1))
	b.WriteString("\n")
	if !v.done && v.err == nil {
		b.WriteString(layout.Fit(layout.Bar(s, float64(st.Examples)/float64(max(v.total, 1)), min(w, 60)), w, 1))
	} else {
		b.WriteString(layout.Fit("", w, 1))
	}
	b.WriteString("\n")
	b.WriteString(layout.Fit(s.Subtitle.Render("Splits")+"  "+fmt.Sprintf("%s · train %s · validation %s · test %s",
		format.Examples(st.Examples), format.Thousands(st.Splits[model.Train]), format.Thousands(st.Splits[model.Validation]), format.Thousands(st.Splits[model.Test])), w, 1))
	b.WriteString("\n\n")

	nameW := len("FIELD")
	for _, f := range st.Fields {
		nameW = max(nameW, len([]rune(f.Field)))
	}
	nameW = min(nameW, max(w/3, 10))
	barW := dsClamp(w-nameW-40, 0, 30)
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
	return layout.Fit(b.String(), w, h)
}
