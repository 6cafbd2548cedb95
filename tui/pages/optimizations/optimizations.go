// Package optimizations is the Optimizations page: the optimization runs
// with the selected one's live progress and score per trial, and what it
// opens over itself: the form that starts a run, the comparison of runs,
// and the confirmation before a result that regressed is promoted.
package optimizations

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/choices"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/flips"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/runs"
)

// Optimizations is the optimization service the Optimizations page uses:
// app.Service's methods, only ever called from a tea.Cmd.
type Optimizations interface {
	// ListOptimizations lists runs, newest first.
	ListOptimizations(ctx context.Context, q app.JobQuery) (*app.OptimizationPage, error)
	Trials(ctx context.Context, id model.ID) ([]*model.Trial, error)
	Optimize(ctx context.Context, req app.OptimizeRequest) (*model.Optimization, error)
	CancelOptimization(ctx context.Context, id model.ID) (*model.Optimization, error)
	CompareOptimizations(ctx context.Context, ids []model.ID) (*app.Comparison, error)
	// PromoteOptimization saves the run's result as the program's newest
	// version, so that runs use it. A result that scored below its
	// baseline is refused unless force is set.
	PromoteOptimization(ctx context.Context, id model.ID, force bool) (*app.Promoted, error)
	Details
}

// optListLimit bounds the runs the page lists: the newest ones matter.
const optListLimit = 500

// optPollEvery is how often the page reloads while a run is in progress.
const optPollEvery = time.Second

// Messages of the Optimizations page.
type (
	optsLoadedMsg struct {
		runs []*model.Optimization
		err  error
	}
	optTrialsMsg struct {
		id     model.ID
		trials []*model.Trial
		err    error
	}
	optStartedMsg struct {
		run *model.Optimization
		err error
	}
	optCancelledMsg struct {
		id  model.ID
		err error
	}
	optCompareMsg struct {
		cmp *app.Comparison
		err error
	}
	optPromotedMsg struct {
		run *model.Optimization
		p   *model.Program
		err error
	}
	optTickMsg struct{}
	// optExportedMsg says where the comparison's Markdown was written.
	optExportedMsg struct {
		path string
		err  error
	}
	// promoteMsg is the "promote anyway?" confirmation's yes.
	promoteMsg struct{ run *model.Optimization }
)

// Page lists optimization runs with the selected run's live
// progress and score per trial, starts new runs and compares runs.
type Page struct {
	styles *themes.Styles
	keys   keys.Map
	repo   Optimizations
	list   components.List

	runs    []*model.Optimization
	loaded  bool
	loading bool
	err     error
	marked  map[model.ID]bool // runs chosen for comparison
	polling bool              // a poll tick is scheduled

	trials map[model.ID][]*model.Trial
	// selectNew is a run started here: it is selected until the list shows it.
	selectNew model.ID

	// Evaluations opens the list of every program's evaluations (E); nil
	// without an evaluation service.
	Evaluations func() page.Dialog

	width, height int
}

var optColumns = []components.Column{
	{Title: " ", Width: 1},
	{Title: "PROGRAM", Flex: 2, Fit: true, MaxWidth: 40},
	{Title: "OPTIMIZER", Fit: true},
	{Title: "STATE", Fit: true},
	{Title: "TRIALS", Fit: true, Align: components.AlignRight},
	{Title: "SCORE", Fit: true, Align: components.AlignRight},
	{Title: "COST", Fit: true, Align: components.AlignRight},
	{Title: "TIME", Fit: true, Align: components.AlignRight},
	{Title: "STARTED", Fit: true},
}

// New is the page over repo.
func New(e *page.Env, repo Optimizations) Page {
	return Page{
		styles: e.Styles, keys: e.Keys, repo: repo, list: components.NewList(optColumns, 1, components.ThemeStyles(e.Styles)),
		marked: map[model.ID]bool{}, trials: map[model.ID][]*model.Trial{},
	}
}

// Restyle picks up a theme switched in place.
func (p *Page) Restyle() { p.list.SetStyles(components.ThemeStyles(p.styles)) }

// progressHeight is the height of the pane under the list.
func (p *Page) progressHeight() int {
	if p.height < 16 {
		return min(6, max(p.height-6, 0))
	}
	return min(10, p.height/3)
}

func (p *Page) listHeight() int { return max(p.height-p.progressHeight(), 3) }

func (p *Page) SetSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
}

func (p *Page) Typing() bool { return false }

func (p *Page) Enter(e *page.Env) tea.Cmd { return p.load(e) }

func (p *Page) load(e *page.Env) tea.Cmd {
	if p.loading {
		return nil
	}
	p.loading = true
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		if repo == nil {
			return optsLoadedMsg{err: fmt.Errorf("no optimization service configured")}
		}
		pg, err := repo.ListOptimizations(ctx, app.JobQuery{Limit: optListLimit})
		if err != nil {
			return optsLoadedMsg{err: err}
		}
		return optsLoadedMsg{runs: pg.Optimizations}
	})
}

func (p *Page) loadTrials(e *page.Env, id model.ID) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	if repo == nil {
		return nil
	}
	return e.Cmd(func() tea.Msg {
		ts, err := repo.Trials(ctx, id)
		return optTrialsMsg{id: id, trials: ts, err: err}
	})
}

func (p *Page) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case optsLoadedMsg:
		p.loading, p.loaded = false, true
		p.err = msg.err
		if msg.err != nil {
			return nil
		}
		p.setRuns(msg.runs)
		p.selectNew = model.ID{} // the stored list has it now
		var cmds []tea.Cmd
		if r := p.selected(); r != nil {
			cmds = append(cmds, p.loadTrials(e, r.ID))
		}
		if p.active() && !p.polling {
			p.polling = true
			cmds = append(cmds, e.After(optPollEvery, func(time.Time) tea.Msg { return optTickMsg{} }))
		}
		return tea.Batch(cmds...)
	case optTickMsg:
		p.polling = false
		if !p.active() {
			return nil
		}
		return p.load(e)
	case optTrialsMsg:
		if msg.err == nil {
			p.trials[msg.id] = msg.trials
		}
	case optStartedMsg: // the form's result: it started, and is selected
		p.selectNew = msg.run.ID
		if !slices.ContainsFunc(p.runs, func(o *model.Optimization) bool { return o.ID == msg.run.ID }) {
			p.setRuns(append([]*model.Optimization{msg.run}, p.runs...))
		}
		return tea.Batch(page.Notice(fmt.Sprintf("started %s on %s (%s)", msg.run.Optimizer, msg.run.Program, format.RunID(msg.run.ID))), p.load(e))
	case promoteMsg:
		return p.promote(e, msg.run, true)
	case optPromotedMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("promote %s: %w", format.RunID(msg.run.ID), msg.err))
		}
		return page.Notice(fmt.Sprintf("%s v%d is now the result of %s run %s", msg.p.Name, msg.p.Version, msg.run.Optimizer, format.RunID(msg.run.ID)))
	case optCancelledMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("cancel %s: %w", format.RunID(msg.id), msg.err))
		}
		return tea.Batch(page.Notice("cancelling "+format.RunID(msg.id)), p.load(e))
	}
	return nil
}

// active reports whether some run is still in progress.
func (p *Page) active() bool {
	return slices.ContainsFunc(p.runs, func(o *model.Optimization) bool { return !o.State.Terminal() })
}

func (p *Page) setRuns(runs []*model.Optimization) {
	var sel model.ID
	if r := p.selected(); r != nil {
		sel = r.ID
	}
	if !p.selectNew.IsZero() {
		sel = p.selectNew
	}
	p.runs = runs
	rows := make([]components.Row, len(runs))
	for i, o := range runs {
		rows[i] = p.row(o)
	}
	p.list.SetRows(rows)
	if i := slices.IndexFunc(runs, func(o *model.Optimization) bool { return o.ID == sel }); i >= 0 {
		p.list.SelectRow(i)
	}
}

func (p *Page) row(o *model.Optimization) components.Row {
	mark := " "
	if p.marked[o.ID] {
		mark = "✓"
	}
	score := "-"
	switch {
	case o.State == model.Completed || o.Stopped != "":
		score = fmt.Sprintf("%.2f→%.2f", o.BaselineScore, o.BestScore)
	case o.Progress != nil:
		score = fmt.Sprintf("best %.2f", o.Progress.BestScore)
	}
	trials := strconv.Itoa(o.Trials)
	if o.Progress != nil && o.Progress.Trials > 0 && !o.State.Terminal() {
		trials = fmt.Sprintf("%d/%d", o.Progress.Trial, o.Progress.Trials)
	}
	cost := format.USDMaybe(o.Cost, o.CostUnknown)
	if o.Progress != nil && !o.State.Terminal() {
		cost = format.USD(o.Progress.Cost) // the record's cost is set when the run ends
	}
	started := "-"
	if !o.StartedAt.IsZero() {
		started = o.StartedAt.Local().Format("Jan 02 15:04")
	}
	return components.Row{mark, fmt.Sprintf("%s v%d", o.Program, o.BaseVersion), o.Optimizer, string(o.State),
		trials, score, cost, optDuration(runDuration(o)), started}
}

func runDuration(o *model.Optimization) time.Duration {
	switch {
	case o.Duration > 0:
		return o.Duration
	case !o.StartedAt.IsZero() && !o.FinishedAt.IsZero():
		return o.FinishedAt.Sub(o.StartedAt)
	case o.Progress != nil:
		return time.Duration(o.Progress.Elapsed * float64(time.Second))
	}
	return 0
}

func (p *Page) selected() *model.Optimization {
	if row, ok := p.list.Selected(); ok && row < len(p.runs) {
		return p.runs[row]
	}
	return nil
}

// Bindings lists the keys of the page.
func (p *Page) Bindings() []key.Binding {
	km := p.keys
	return []key.Binding{keys.As(km.New, "new run"), keys.As(km.Cancel, "cancel run"),
		keys.As(km.Save, "promote its result"), keys.As(km.Expand, "mark for compare"),
		keys.As(km.Compare, "compare marked"), keys.As(km.Evaluate, "every evaluation"), keys.As(km.Open, "the run's detail"), km.Refresh}
}

func (p *Page) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	switch {
	case key.Matches(msg, km.New):
		e.Push(newOptRunForm(p.styles, p.keys, p.repo, p.selected()))
	case key.Matches(msg, km.Cancel):
		if r := p.selected(); r != nil && !r.State.Terminal() {
			repo, ctx, id := p.repo, e.Ctx, r.ID
			return e.Cmd(func() tea.Msg {
				_, err := repo.CancelOptimization(ctx, id)
				return optCancelledMsg{id: id, err: err}
			})
		}
	case key.Matches(msg, km.Save):
		r := p.selected()
		if r == nil || !r.HasResult() {
			return page.Notice("this run has no result to promote")
		}
		if r.Regressed {
			e.Push(promoteDialog(p.styles, r)) // it scored below its baseline: ask first
			return nil
		}
		return p.promote(e, r, false)
	case key.Matches(msg, km.Expand):
		if r := p.selected(); r != nil {
			if p.marked[r.ID] {
				delete(p.marked, r.ID)
			} else {
				p.marked[r.ID] = true
			}
			p.setRuns(p.runs)
			p.list.Down()
		}
	case key.Matches(msg, km.Compare):
		return p.compare(e)
	case key.Matches(msg, km.Evaluate):
		if p.Evaluations == nil {
			return page.Notice("no evaluation service configured")
		}
		e.Push(p.Evaluations())
	case key.Matches(msg, km.Open):
		if r := p.selected(); r != nil {
			e.Push(newDetail(p.styles, p.keys, p.repo, r.ID))
		}
	case key.Matches(msg, km.Refresh):
		return p.load(e)
	default:
		before := p.selected()
		p.list.Navigate(msg, km)
		if r := p.selected(); r != nil && r != before {
			return p.loadTrials(e, r.ID)
		}
	}
	return nil
}

// promote makes run r's result the program's newest version.
func (p *Page) promote(e *page.Env, r *model.Optimization, force bool) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		pr, err := repo.PromoteOptimization(ctx, r.ID, force)
		if err != nil {
			return optPromotedMsg{run: r, err: err}
		}
		return optPromotedMsg{run: r, p: pr.Program}
	})
}

// promoteDialog asks before a result that regressed becomes the newest version.
func promoteDialog(s *themes.Styles, r *model.Optimization) *dialog.Confirm {
	yes := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "promote anyway")), Result: promoteMsg{run: r}}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys("n", "N", "esc", "q"), key.WithHelp("n/esc", "keep the current version"))}
	return dialog.NewConfirm(s, dialog.Centre, []string{
		s.Warning.Render("Promote a result that regressed?"),
		"",
		fmt.Sprintf("Run %s (%s) scored %.3f on validation, below", format.RunID(r.ID), r.Optimizer, r.BestScore),
		fmt.Sprintf("its baseline's %.3f, so it did not become %s's newest version.", r.BaselineScore, r.Program),
		"Promoting saves its result as the newest version anyway.",
		"",
		dialog.Hint(s, yes, no),
	}, yes, no)
}

// compare opens the comparison of the marked runs, in list order.
func (p *Page) compare(e *page.Env) tea.Cmd {
	var ids []model.ID
	for _, o := range p.runs {
		if p.marked[o.ID] {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) < 2 {
		return page.Notice("mark two or more runs with space, then C to compare")
	}
	e.Push(&compareView{styles: p.styles, keys: p.keys, repo: p.repo, ids: ids})
	return nil
}

func (p *Page) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	before := p.selected()
	p.list.Mouse(msg, y)
	if r := p.selected(); r != nil && r != before {
		return p.loadTrials(e, r.ID)
	}
	return nil
}

// Render draws the page.
func (p *Page) Render() string {
	s := p.styles
	switch {
	case p.err != nil:
		return layout.Fit(s.Error.Render("Could not load optimizations: ")+format.Line(p.err.Error()), p.width, p.height)
	case !p.loaded:
		return layout.Fit(s.Muted.Render("Loading optimizations…"), p.width, p.height)
	}
	if len(p.runs) == 0 {
		text := "No optimization runs yet. Press n to start one (or `signet opt run PROGRAM --optimizer bootstrap --train DATASET`)."
		return layout.Fit(s.Muted.Render(ansi.Wrap(text, max(p.width-2, 10), " ")), p.width, p.height)
	}
	return p.list.Render(p.width, p.listHeight()) + "\n" + p.renderProgress(p.width, p.progressHeight())
}

// renderProgress is the selected run's pane: a progress bar with the
// phase, trial, scores, LM calls, tokens, cost and times, and a chart of the
// score per trial.
func (p *Page) renderProgress(w, h int) string {
	s := p.styles
	o := p.selected()
	if o == nil || h < 3 {
		return layout.Fit("", w, h)
	}
	var lines []string
	head := s.Title.Render(o.Program) + s.Muted.Render(fmt.Sprintf(" v%d · %s · %s · metric %s", o.BaseVersion, o.Optimizer, o.State, o.Metric.Name))
	switch {
	case o.ResultVersion > 0:
		head += s.Success.Render(fmt.Sprintf(" · saved v%d", o.ResultVersion))
	case o.Candidate != nil:
		head += s.Warning.Render(" · regressed: not saved")
	}
	if o.Stopped != "" {
		head += s.Warning.Render(" · stopped: " + o.Stopped)
	}
	lines = append(lines, head)
	if est := o.Estimate; est != nil && !o.State.Terminal() {
		cost := "cost unknown (no prices)"
		if est.Cost != nil {
			cost = "about " + format.USD(*est.Cost)
		}
		lines = append(lines, s.Muted.Render(fmt.Sprintf("estimate: at most %d LM calls, %s · %d train, %d val, %d test",
			est.LMCalls, cost, est.Train, est.Val, est.Test)))
	}
	pr := o.Progress
	if pr != nil && !o.State.Terminal() {
		frac := 0.0
		if pr.Trials > 0 {
			frac = float64(pr.Trial) / float64(pr.Trials)
		}
		label := fmt.Sprintf(" %s %d/%d", pr.Phase, pr.Trial, pr.Trials)
		lines = append(lines, layout.Bar(s, frac, max(min(w-len(label)-2, 50), 10))+s.Accent.Render(label))
		lines = append(lines, s.Muted.Render(fmt.Sprintf("score %.3f · best %.3f · %d LM calls · %d/%d tokens · %s · %s elapsed · ~%s left",
			pr.Score, pr.BestScore, pr.LMCalls, pr.TokensIn, pr.TokensOut, format.USD(pr.Cost),
			optDuration(time.Duration(pr.Elapsed*float64(time.Second))), optDuration(time.Duration(pr.ETA*float64(time.Second))))))
	} else {
		line := fmt.Sprintf("baseline %.3f → best %.3f · %d trials · %d LM calls · %s · %s",
			o.BaselineScore, o.BestScore, o.Trials, o.LMCalls, format.USDMaybe(o.Cost, o.CostUnknown), optDuration(runDuration(o)))
		if o.TestBaseline != nil && o.TestScore != nil {
			line += fmt.Sprintf(" · held-out %.3f → %.3f", *o.TestBaseline, *o.TestScore)
		}
		lines = append(lines, s.Muted.Render(line))
		if o.Regressed && o.ResultVersion == 0 {
			text := fmt.Sprintf("Regressed: the result scored %.3f on validation, below the baseline's %.3f; it is kept as a candidate, not made %s's newest version (ctrl+s promotes it anyway).",
				o.BestScore, o.BaselineScore, o.Program)
			for _, l := range layout.WrapLines(text, w) {
				lines = append(lines, s.Warning.Render(l))
			}
		}
		if o.Error != "" {
			lines = append(lines, s.Error.Render(o.ErrorCode+": ")+o.Error)
		}
	}
	if ts := p.trials[o.ID]; len(ts) > 0 && h-len(lines) >= 3 {
		lines = append(lines, s.Subtitle.Render("score per trial"))
		lines = append(lines, trialChart(s, ts, w, h-len(lines))...)
	}
	return layout.Fit(strings.Join(lines, "\n"), w, h)
}

// trialChart draws the score of each trial as a column of block
// characters, h lines high (the last is the axis), newest trials kept when
// they do not fit.
func trialChart(s *themes.Styles, ts []*model.Trial, w, h int) []string {
	rows := max(h-1, 1)
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b *model.Trial) int { return a.N - b.N })
	if len(ts) > w-8 {
		ts = ts[len(ts)-(w-8):]
	}
	lo, hi := 0.0, 1.0
	for _, t := range ts {
		hi = math.Max(hi, t.Score)
		lo = math.Min(lo, t.Score)
	}
	best := math.Inf(-1)
	for _, t := range ts {
		best = math.Max(best, t.Score)
	}
	const blocks = " ▁▂▃▄▅▆▇█"
	bl := []rune(blocks)
	lines := make([]string, rows)
	for r := range rows {
		var b strings.Builder
		switch r {
		case 0:
			b.WriteString(s.Muted.Render(fmt.Sprintf("%6.2f ", hi)))
		case rows - 1:
			b.WriteString(s.Muted.Render(fmt.Sprintf("%6.2f ", lo)))
		default:
			b.WriteString("       ")
		}
		for _, t := range ts {
			// Height in eighths of a line, from the bottom.
			eighths := int(math.Round((t.Score - lo) / (hi - lo) * float64(rows*8)))
			level := rows - 1 - r
			fill := min(max(eighths-level*8, 0), 8)
			st := s.Accent
			if t.Score == best {
				st = s.Success
			}
			b.WriteString(st.Render(string(bl[fill])))
		}
		lines[r] = b.String()
	}
	return append(lines, s.Muted.Render(fmt.Sprintf("       trials %d–%d · best %.3f", ts[0].N, ts[len(ts)-1].N, best)))
}

// compareView is the comparison of optimization runs, full screen: a
// table of the runs, what each changed per predictor, the pass/fail matrix
// with flips, and score versus cost.
type compareView struct {
	page.Defaults
	styles *themes.Styles
	keys   keys.Map
	repo   Optimizations
	ids    []model.ID

	cmp    *app.Comparison
	err    error
	lines  []string
	offset int

	width, height int
}

// Enter asks for the comparison.
func (c *compareView) Enter(e *page.Env) tea.Cmd {
	if c.cmp != nil || c.err != nil {
		return nil
	}
	repo, ctx, ids := c.repo, e.Ctx, c.ids
	return e.Cmd(func() tea.Msg {
		cmp, err := repo.CompareOptimizations(ctx, ids)
		return optCompareMsg{cmp: cmp, err: err}
	})
}

func (c *compareView) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case optCompareMsg:
		c.cmp, c.err = m.cmp, m.err
		if m.cmp != nil {
			c.lines = c.compareLines()
		}
	case optExportedMsg:
		if m.err != nil {
			return page.NoticeErr(fmt.Errorf("export the comparison: %w", m.err))
		}
		return page.Notice("comparison exported to " + m.path)
	}
	return nil
}

// export writes the comparison's Markdown (model.Comparison.Markdown, as
// `signet opt compare --markdown` prints it) to a file in the working
// directory.
func (c *compareView) export(e *page.Env) tea.Cmd {
	cmp := c.cmp
	return e.Cmd(func() tea.Msg {
		dir, err := os.Getwd()
		if err != nil {
			return optExportedMsg{err: err}
		}
		ids := make([]string, len(cmp.Runs))
		for i, r := range cmp.Runs {
			ids[i] = format.RunID(r.ID)
		}
		path := filepath.Join(dir, "compare-"+strings.Join(ids, "-")+".md")
		if err := os.WriteFile(path, []byte(cmp.Markdown(cmp.Points)), 0o644); err != nil {
			return optExportedMsg{err: err}
		}
		return optExportedMsg{path: path}
	})
}

// flipView opens the runs' validation examples in the flip view.
func (c *compareView) flipView(e *page.Env) {
	labels := make([]string, len(c.cmp.Runs))
	for i, r := range c.cmp.Runs {
		labels[i] = fmt.Sprintf("%s %s", format.RunID(r.ID), r.Optimizer)
	}
	e.Push(flips.FromRows(c.styles, nil, "Validation examples of the compared runs", labels, c.cmp.Examples, c.cmp.Flips))
}

func (c *compareView) Typing() bool { return false }

func (c *compareView) SetSize(w, h int) {
	c.width, c.height = w, h
	if c.cmp != nil {
		c.lines = c.compareLines()
	}
}

func (c *compareView) Bindings() []key.Binding {
	km := c.keys
	return []key.Binding{keys.Hint("f", "flip view"), keys.As(km.External, "export Markdown"), km.Up, km.Down, km.PageUp, km.PageDown, km.Back}
}

func (c *compareView) maxOffset() int { return max(len(c.lines)-(c.height-1), 0) }

func (c *compareView) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := c.keys
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case c.cmp != nil && msg.String() == "f":
		c.flipView(e)
	case c.cmp != nil && key.Matches(msg, km.External):
		return c.export(e)
	case key.Matches(msg, km.Down):
		c.offset++
	case key.Matches(msg, km.Up):
		c.offset--
	case key.Matches(msg, km.PageDown):
		c.offset += c.height - 1
	case key.Matches(msg, km.PageUp):
		c.offset -= c.height - 1
	case key.Matches(msg, km.Top):
		c.offset = 0
	case key.Matches(msg, km.Bottom):
		c.offset = c.maxOffset()
	}
	c.offset = min(max(c.offset, 0), c.maxOffset())
	return nil
}

func (c *compareView) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if w, ok := msg.(tea.MouseWheelMsg); ok {
		c.offset = min(max(c.offset+components.WheelDelta(w), 0), c.maxOffset())
	}
	return nil
}

// Render draws the comparison, scrolled.
func (c *compareView) Render(func() string) string {
	s := c.styles
	title := s.Title.Render("Compare runs") + s.Muted.Render(" · f flips · e export Markdown · esc back")
	switch {
	case c.err != nil:
		return layout.Fit(title+"\n"+s.Error.Render("Could not compare: ")+format.Line(c.err.Error()), c.width, c.height)
	case c.cmp == nil:
		return layout.Fit(title+"\n"+s.Muted.Render("Comparing…"), c.width, c.height)
	}
	h := max(c.height-1, 1)
	off := min(c.offset, max(len(c.lines)-h, 0))
	end := min(off+h, len(c.lines))
	if len(c.lines) > h {
		title += s.Muted.Render(fmt.Sprintf(" · lines %d-%d of %d", off+1, end, len(c.lines)))
	}
	return layout.Fit(title+"\n"+strings.Join(c.lines[off:end], "\n"), c.width, c.height)
}

// compareLines lays the comparison out: a table of the runs, what each run
// changed per predictor, the pass/fail matrix with flips, and score versus
// cost.
func (cv *compareView) compareLines() []string {
	s := cv.styles
	c := cv.cmp
	w := cv.width
	var out []string
	add := func(l ...string) { out = append(out, l...) }
	colW := max(min((w-18)/max(len(c.Runs), 1), 28), 10)
	cell := func(v string) string { return layout.PadRight(ansi.Truncate(v, colW-1, "…"), colW) }
	row := func(label string, vals func(i int, r model.RunSummary) string) {
		var b strings.Builder
		b.WriteString(s.Muted.Render(layout.PadRight(label, 18)))
		for i, r := range c.Runs {
			b.WriteString(cell(vals(i, r)))
		}
		add(b.String())
	}
	add(s.Subtitle.Render("Runs"))
	row("run", func(i int, r model.RunSummary) string { return runLetter(i) + " " + format.RunID(r.ID) })
	row("program", func(_ int, r model.RunSummary) string { return fmt.Sprintf("%s v%d", r.Program, r.BaseVersion) })
	row("optimizer", func(_ int, r model.RunSummary) string { return r.Optimizer })
	row("settings", func(_ int, r model.RunSummary) string { return settingsString(r.Settings) })
	row("metric", func(_ int, r model.RunSummary) string { return r.Metric })
	row("state", func(_ int, r model.RunSummary) string { return r.StateText() })
	row("score", func(_ int, r model.RunSummary) string { return fmt.Sprintf("%.3f → %.3f", r.Before, r.After) })
	row("held-out", func(_ int, r model.RunSummary) string { return r.HeldOutText() })
	row("result", func(_ int, r model.RunSummary) string { return r.ResultText() })
	row("cost", func(_ int, r model.RunSummary) string { return format.USDMaybe(r.Cost, r.CostUnknown) })
	row("LM calls", func(_ int, r model.RunSummary) string { return strconv.Itoa(r.LMCalls) })
	row("duration", func(_ int, r model.RunSummary) string { return optDuration(r.Duration) })
	row("trials", func(_ int, r model.RunSummary) string { return strconv.Itoa(r.Trials) })

	for _, pc := range c.Predictors {
		add("", s.Subtitle.Render("Predictor "+pc.Name))
		for i, ch := range pc.Runs {
			who := s.Muted.Render(fmt.Sprintf("  %s %s %s: ", runLetter(i), format.RunID(c.Runs[i].ID), c.Runs[i].Optimizer))
			if !ch.InstructionsChanged {
				add(who + s.Muted.Render("instructions unchanged"))
			} else {
				// The changed words highlighted, the old text over the new.
				ops := model.WordDiff(ch.OldInstructions, ch.NewInstructions)
				add(who + "instructions")
				for _, l := range strings.Split(runs.RenderWordDiff(s, ops, model.WordDel, w-10), "\n") {
					add("    " + s.DiffDel.Render("- ") + l)
				}
				for _, l := range strings.Split(runs.RenderWordDiff(s, ops, model.WordAdd, w-10), "\n") {
					add("    " + s.DiffAdd.Render("+ ") + l)
				}
			}
			add(s.Muted.Render(fmt.Sprintf("    demos %d → %d", ch.DemosBefore, ch.DemosAfter)))
			for _, d := range ch.DemosRemoved {
				add("    " + s.DiffDel.Render(ansi.Truncate("- "+d, w-6, "…")))
			}
			for _, d := range ch.DemosAdded {
				add("    " + s.DiffAdd.Render(ansi.Truncate("+ "+d, w-6, "…")))
			}
		}
	}

	add("", s.Subtitle.Render(fmt.Sprintf("Validation examples · %d flip between runs", c.Flips))+s.Muted.Render(" · f opens the flip view"))
	if len(c.Examples) == 0 {
		add(s.Muted.Render("  no per-example results recorded"))
	} else {
		colW := 10
		var hdr strings.Builder
		hdr.WriteString(s.Muted.Render(layout.PadRight("  example", 12)))
		for i := range c.Runs {
			hdr.WriteString(s.Header.Render(layout.PadRight(runLetter(i), colW)))
		}
		add(hdr.String())
		for _, ex := range c.Examples {
			var b strings.Builder
			mark := "  "
			if ex.Flip {
				mark = s.Warning.Render("▶ ")
			}
			b.WriteString(mark + layout.PadRight(format.RunID(ex.Example), 10))
			for _, pass := range ex.Pass {
				b.WriteString(flips.Cell(s, pass, false, colW))
			}
			add(b.String())
		}
	}

	// Every finished run of the compared programs: is the better score
	// worth what it cost?
	progs := map[string]bool{}
	for _, r := range c.Runs {
		progs[r.Program] = true
	}
	add("", s.Subtitle.Render("Score versus cost")+s.Muted.Render(" · every finished run of "+strings.Join(slices.Sorted(maps.Keys(progs)), ", ")+"; letters are the compared runs"))
	add(scoreCostChart(s, c, w, 10)...)
	return out
}

// runLetter names the compared run i in the tables and the chart.
func runLetter(i int) string { return string(rune('A' + i%26)) }

// scoreCostChart plots every finished run's score (up) against its cost
// (right), h rows high: the compared runs by their letter, the others as
// dots, then the runs listed cheapest first.
func scoreCostChart(s *themes.Styles, c *app.Comparison, w, h int) []string {
	if len(c.Points) == 0 {
		return []string{s.Muted.Render("  no finished runs")}
	}
	plotW := max(w-12, 10)
	lo, hi := c.Points[0].Cost, c.Points[0].Cost
	for _, pt := range c.Points {
		lo, hi = math.Min(lo, pt.Cost), math.Max(hi, pt.Cost)
	}
	type mark struct {
		text     string
		st       lipgloss.Style
		compared bool
	}
	grid := make([][]*mark, h)
	for r := range grid {
		grid[r] = make([]*mark, plotW)
	}
	letter := map[model.ID]int{}
	for i, r := range c.Runs {
		letter[r.ID] = i
	}
	for _, pt := range c.Points {
		x := 0
		if hi > lo {
			x = int(math.Round((pt.Cost - lo) / (hi - lo) * float64(plotW-1)))
		}
		y := h - 1 - int(math.Round(min(max(pt.Score, 0), 1)*float64(h-1)))
		m := &mark{text: "•", st: s.Muted}
		if i, ok := letter[pt.ID]; ok {
			m = &mark{text: runLetter(i), st: s.Accent, compared: true}
		}
		if old := grid[y][x]; old == nil || !old.compared { // a compared run is never hidden by another
			grid[y][x] = m
		}
	}
	var out []string
	for r := range h {
		var b strings.Builder
		switch r {
		case 0:
			b.WriteString(s.Muted.Render(" 1.00 ┤"))
		case h - 1:
			b.WriteString(s.Muted.Render(" 0.00 ┤"))
		default:
			b.WriteString(s.Muted.Render("      │"))
		}
		for _, m := range grid[r] {
			if m == nil {
				b.WriteString(" ")
				continue
			}
			b.WriteString(m.st.Render(m.text))
		}
		out = append(out, b.String())
	}
	out = append(out, s.Muted.Render("      └"+strings.Repeat("─", plotW)))
	left, right := format.USD(lo), format.USD(hi)
	out = append(out, s.Muted.Render("       "+left+strings.Repeat(" ", max(plotW-len(left)-len(right), 1))+right+" cost"))
	for _, pt := range c.Points {
		tag := s.Muted.Render("•")
		if i, ok := letter[pt.ID]; ok {
			tag = s.Accent.Render(runLetter(i))
		}
		out = append(out, fmt.Sprintf("  %s %s %s %s", tag, layout.PadRight(format.RunID(pt.ID), 9), layout.PadRight(pt.Optimizer, 24),
			s.Muted.Render(fmt.Sprintf("%.3f at %s", pt.Score, format.USD(pt.Cost)))))
	}
	return out
}

func settingsString(m map[string]any) string {
	if len(m) == 0 {
		return "defaults"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, " ")
}

// optRunForm is the new-run form: it starts the run itself and ends with
// the answer when the run started; a refusal is a notice, and the form
// stays with what was typed.
type optRunForm struct {
	page.Defaults
	styles *themes.Styles
	keys   keys.Map
	repo   Optimizations
	fields dialog.Fields

	width, height int
}

func newOptRunForm(s *themes.Styles, km keys.Map, repo Optimizations, sel *model.Optimization) *optRunForm {
	prog, train, val, lm := "", "", "", ""
	if sel != nil { // start from the selected run: the usual next step is another optimizer on the same data
		prog, lm = sel.Program, sel.LM
		train, val = sel.Train.String(), sel.Val.String()
	}
	return &optRunForm{styles: s, keys: km, repo: repo, fields: dialog.Fields{Title: "New optimization run", Fields: []dialog.Field{
		{Label: "program", Value: prog, Help: "NAME"},
		{Label: "optimizer", Value: choices.Optimizers[0], Choices: choices.Optimizers},
		{Label: "auto", Value: choices.AutoLevels[0], Choices: choices.AutoLevels, Help: "MIPROv2 only"},
		{Label: "train", Value: train, Help: "DATASET or DATASET:SPLIT"},
		{Label: "val", Value: val, Help: "optional; DATASET or DATASET:SPLIT"},
		{Label: "metric", Value: choices.Metrics[0], Choices: choices.Metrics, Help: "←/→ for built-ins, or type file.py:function"},
		{Label: "settings", Value: "", Help: "optional: key=value … (max_bootstrapped_demos=2 num_trials=10)"},
		{Label: "budget", Value: "", Help: "USD, optional hard stop"},
		{Label: "lm", Value: lm, Help: "LM profile, optional"},
	}, Note: "The run is estimated and checked against the budget before it starts; progress shows here live."}}
}

func (f *optRunForm) Typing() bool     { return true }
func (f *optRunForm) SetSize(w, h int) { f.width, f.height = w, h }

func (f *optRunForm) Bindings() []key.Binding {
	return []key.Binding{keys.As(f.keys.Save, "start the run"), keys.As(f.keys.Back, "cancel")}
}

func (f *optRunForm) Render(func() string) string {
	return f.fields.Render(f.styles, f.width, f.height)
}

// request reads the form as `signet opt run` reads its flags, so both
// accept and refuse the same things; the service checks the rest.
func (f *optRunForm) request() (app.OptimizeRequest, error) {
	v := f.fields.Value
	req := app.OptimizeRequest{Program: v("program"), Optimizer: v("optimizer"), LM: v("lm"),
		Metric: model.Metric{Name: v("metric"), Kind: app.MetricSpelled}}
	var err error
	if req.Settings, err = model.ParseSettings(strings.Fields(v("settings"))); err != nil {
		return req, fmt.Errorf("settings: %w", err)
	}
	if req.Optimizer == "mipro" {
		req.Settings["auto"] = v("auto")
	}
	switch {
	case req.Program == "":
		return req, fmt.Errorf("program: a program name is needed")
	case v("train") == "":
		return req, fmt.Errorf("train: a dataset is needed (NAME or NAME:SPLIT)")
	case req.Metric.Name == "":
		return req, fmt.Errorf("metric: a metric is needed")
	}
	if req.Train, err = model.ParseDataRef(v("train")); err != nil {
		return req, fmt.Errorf("train: %w", err)
	}
	if val := v("val"); val != "" {
		if req.Val, err = model.ParseDataRef(val); err != nil {
			return req, fmt.Errorf("val: %w", err)
		}
	}
	if b := v("budget"); b != "" {
		usd, err := strconv.ParseFloat(strings.TrimPrefix(b, "$"), 64)
		if err != nil || usd < 0 || math.IsNaN(usd) || math.IsInf(usd, 0) {
			return req, fmt.Errorf("budget: %q is not an amount in USD", b)
		}
		req.Budget = usd
	}
	return req, nil
}

func (f *optRunForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch f.fields.Key(f.keys, msg) {
	case dialog.FieldsCancel:
		dialog.Leave(e, f.styles, f)
	case dialog.FieldsSubmit:
		req, err := f.request()
		if err != nil {
			f.fields.Err = err.Error()
			return nil
		}
		f.fields.Err = ""
		repo, ctx := f.repo, e.Ctx
		return e.Cmd(func() tea.Msg {
			// A custom metric's relative file is this process's, as for `signet opt run`.
			req.BaseDir, _ = os.Getwd()
			run, err := repo.Optimize(ctx, req)
			return optStartedMsg{run: run, err: err}
		})
	}
	return nil
}

// Dirty and Editing: esc, and the shell before it quits, ask before what
// was typed is lost (starting is not saving: discard or keep editing).
func (f *optRunForm) Dirty() bool     { return f.fields.Dirty() }
func (f *optRunForm) Editing() string { return "the new optimization run" }

// Update takes the service's answer: started, or why not; and the answer
// to the unsaved-changes question.
func (f *optRunForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if cmd, ok := dialog.Answer(e, f, msg); ok {
		return cmd
	}
	m, ok := msg.(optStartedMsg)
	if !ok {
		return nil
	}
	if m.err != nil {
		return page.NoticeErr(fmt.Errorf("optimization not started: %w", m.err))
	}
	e.Close(m)
	return nil
}

// optDuration is a run's duration, "-" before it has one.
func optDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return format.Duration(d)
}

// Whole is the selected run's row with every cell whole.
func (p *Page) Whole() (string, []page.Section, bool) {
	t, c, ok := p.list.SelectedCells()
	return "Optimization", page.Cells(t, c), ok
}

// Live reads the runs again when one changed state elsewhere (started
// from the CLI, say); the selection stays.
func (p *Page) Live(e *page.Env, msg live.Msg) tea.Cmd {
	if !msg.Optimizations || !p.loaded {
		return nil
	}
	return p.load(e)
}
