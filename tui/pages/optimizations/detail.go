package optimizations

// The detail of one optimization run (enter on a run), full screen and
// live while the run runs: its trials as a table under a score chart, the
// selected trial's candidate (instructions and demos per predictor) and
// per-example results (inputs, expected, output, score, cost; f keeps the
// failures), and the optimizer's own structures: GEPA's lineage and Pareto
// front, MIPROv2's proposed instructions and which trial used which.

import (
	"context"
	"fmt"
	"maps"
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
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// Details is the service method the detail calls, from a tea.Cmd.
type Details interface {
	// OptimizationDetail is a run (live) with its trials and the examples
	// their per-example results name.
	OptimizationDetail(ctx context.Context, id model.ID) (*app.OptimizationDetail, error)
}

type (
	detailMsg struct {
		d   *app.OptimizationDetail
		err error
	}
	detailTickMsg struct{}
)

// section is one view of the detail; tab and shift+tab go round them.
type section int

const (
	secTrials section = iota
	secCandidate
	secExamples
	secLineage
	secFront
	secProposals
)

var sectionNames = map[section]string{secTrials: "Trials", secCandidate: "Candidate", secExamples: "Examples",
	secLineage: "Lineage", secFront: "Pareto front", secProposals: "Proposals"}

// failKey toggles the examples between all and the failures only.
var failKey = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "failures only / all"))

var trialColumns = []components.Column{
	{Title: "#", Width: 4, Align: components.AlignRight},
	{Title: "SCORE", Width: 6, Align: components.AlignRight},
	{Title: "PASS", Width: 7, Align: components.AlignRight},
	{Title: "COST", Width: 8, Align: components.AlignRight},
	{Title: "TIME", Width: 6, Align: components.AlignRight},
	{Title: "CANDIDATE", Flex: 1, MinWidth: 12},
}

var exampleColumns = []components.Column{
	{Title: "EXAMPLE", Width: 8},
	{Title: "PASS", Width: 4},
	{Title: "SCORE", Width: 5, Align: components.AlignRight},
	{Title: "COST", Width: 8, Align: components.AlignRight},
	{Title: "INPUTS", Flex: 2, MinWidth: 10},
	{Title: "EXPECTED", Flex: 1, MinWidth: 8},
	{Title: "OUTPUT", Flex: 1, MinWidth: 8},
}

// detailView is the detail of run id.
type detailView struct {
	page.Defaults
	styles *themes.Styles
	keys   keys.Map
	repo   Details
	id     model.ID

	d        *app.OptimizationDetail
	err      error
	trials   []*model.Trial // by N
	examples map[model.ID]*model.Example
	sections []section
	sec      int

	trialList    components.List
	exampleList  components.List
	results      []model.ExampleResult // the rows of exampleList
	failuresOnly bool
	offset       int  // the line sections' scroll
	polling      bool // a reload is scheduled

	width, height int
}

func newDetail(s *themes.Styles, km keys.Map, repo Details, id model.ID) *detailView {
	ls := components.ThemeStyles(s)
	return &detailView{styles: s, keys: km, repo: repo, id: id, sections: []section{secTrials, secCandidate, secExamples},
		trialList: components.NewList(trialColumns, 5, ls), exampleList: components.NewList(exampleColumns, 4, ls)}
}

// Enter loads the detail, the first time.
func (v *detailView) Enter(e *page.Env) tea.Cmd {
	if v.d != nil || v.err != nil {
		return nil
	}
	return v.load(e)
}

func (v *detailView) load(e *page.Env) tea.Cmd {
	repo, ctx, id := v.repo, e.Ctx, v.id
	return e.Cmd(func() tea.Msg {
		d, err := repo.OptimizationDetail(ctx, id)
		return detailMsg{d: d, err: err}
	})
}

func (v *detailView) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case detailMsg:
		if msg.err != nil {
			if v.d == nil {
				v.err = msg.err
			}
			return page.NoticeErr(fmt.Errorf("optimization %s: %w", format.RunID(v.id), msg.err))
		}
		v.set(msg.d)
		// While the run runs, the detail reloads at the page's pace.
		if !msg.d.Optimization.State.Terminal() && !v.polling {
			v.polling = true
			return e.After(optPollEvery, func(time.Time) tea.Msg { return detailTickMsg{} })
		}
	case detailTickMsg:
		v.polling = false
		return v.load(e)
	}
	return nil
}

// set takes a (new) answer, keeping the selected trial and example.
func (v *detailView) set(d *app.OptimizationDetail) {
	v.d, v.err = d, nil
	sel := v.selectedTrial()
	v.trials = slices.Clone(d.Trials)
	slices.SortFunc(v.trials, func(a, b *model.Trial) int { return a.N - b.N })
	v.examples = map[model.ID]*model.Example{}
	for _, ex := range d.Examples {
		v.examples[ex.ID] = ex
	}
	v.sections = []section{secTrials, secCandidate, secExamples}
	switch d.Optimization.Optimizer {
	case "gepa":
		v.sections = append(v.sections, secLineage, secFront)
	case "mipro_v2":
		v.sections = append(v.sections, secProposals)
	}
	v.sec = min(v.sec, len(v.sections)-1)
	rows := make([]components.Row, len(v.trials))
	for i, t := range v.trials {
		rows[i] = v.trialRow(t)
	}
	v.trialList.SetRows(rows)
	switch i := slices.IndexFunc(v.trials, func(t *model.Trial) bool { return sel != nil && t.N == sel.N }); {
	case i >= 0:
		v.trialList.SelectRow(i)
	case sel == nil && d.Optimization.BestTrial > 0: // open on the best trial
		if i := slices.IndexFunc(v.trials, func(t *model.Trial) bool { return t.N == d.Optimization.BestTrial }); i >= 0 {
			v.trialList.SelectRow(i)
		}
	}
	v.setExamples()
}

func (v *detailView) selectedTrial() *model.Trial {
	if row, ok := v.trialList.Selected(); ok && row < len(v.trials) {
		return v.trials[row]
	}
	return nil
}

// setExamples fills the examples table from the selected trial.
func (v *detailView) setExamples() {
	sel := -1
	if row, ok := v.exampleList.Selected(); ok && row < len(v.results) {
		sel = slices.IndexFunc(v.results, func(r model.ExampleResult) bool { return r.Example == v.results[row].Example })
	}
	var keep model.ID
	if sel >= 0 {
		keep = v.results[sel].Example
	}
	v.results = nil
	if t := v.selectedTrial(); t != nil {
		for _, r := range t.Results {
			if !v.failuresOnly || !r.Pass {
				v.results = append(v.results, r)
			}
		}
	}
	rows := make([]components.Row, len(v.results))
	for i, r := range v.results {
		rows[i] = v.exampleRow(r)
	}
	v.exampleList.SetRows(rows)
	if i := slices.IndexFunc(v.results, func(r model.ExampleResult) bool { return r.Example == keep }); i >= 0 {
		v.exampleList.SelectRow(i)
	}
}

func (v *detailView) trialRow(t *model.Trial) components.Row {
	n := strconv.Itoa(t.N)
	if v.d != nil && t.N == v.d.Optimization.BestTrial && t.N > 0 {
		n = "★" + n
	}
	pass := "-"
	if len(t.Results) > 0 {
		pass = fmt.Sprintf("%d/%d", passes(t.Results), len(t.Results))
	}
	return components.Row{n, fmt.Sprintf("%.3f", t.Score), pass, format.USD(t.Cost), optDuration(t.Duration), candidateSummary(t)}
}

func passes(rs []model.ExampleResult) int {
	n := 0
	for _, r := range rs {
		if r.Pass {
			n++
		}
	}
	return n
}

// candidateSummary is a trial's program in a line: where it came from, and
// per predictor its instructions and demo count.
func candidateSummary(t *model.Trial) string {
	var parts []string
	if t.N == 0 {
		parts = append(parts, "baseline")
	}
	if len(t.Parents) > 0 {
		ps := make([]string, len(t.Parents))
		for i, p := range t.Parents {
			ps[i] = "#" + strconv.Itoa(p)
		}
		parts = append(parts, "from "+strings.Join(ps, "+"))
	}
	for _, p := range predictorPaths(t) {
		parts = append(parts, fmt.Sprintf("%s: %q %d demos", p, format.Line(t.Instructions[p]), len(t.Demos[p])))
	}
	return strings.Join(parts, " · ")
}

func predictorPaths(t *model.Trial) []string {
	ps := slices.Collect(maps.Keys(t.Instructions))
	for p := range t.Demos {
		if _, ok := t.Instructions[p]; !ok {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// exampleRow is one example's result: its inputs and expected outputs are
// the example's data split by the output's fields.
func (v *detailView) exampleRow(r model.ExampleResult) components.Row {
	pass := "FAIL"
	if r.Pass {
		pass = "pass"
	}
	cost := "-"
	if r.Cost != nil {
		cost = format.USD(*r.Cost)
	}
	inputs, expected := "(example deleted)", "-"
	if ex := v.examples[r.Example]; ex != nil {
		in, exp := map[string]any{}, map[string]any{}
		for k, val := range ex.Data {
			if _, out := r.Output[k]; out {
				exp[k] = val
			} else {
				in[k] = val
			}
		}
		inputs, expected = fieldsLine(in), fieldsLine(exp)
	}
	return components.Row{format.RunID(r.Example), pass, fmt.Sprintf("%.2f", r.Score), cost, inputs, expected, fieldsLine(r.Output)}
}

// fieldsLine is a record in one line: "k: v · k: v", keys in order; a
// lone field is its value.
func fieldsLine(m map[string]any) string {
	if len(m) == 0 {
		return "-"
	}
	ks := slices.Sorted(maps.Keys(m))
	if len(ks) == 1 {
		return format.Line(fmt.Sprint(m[ks[0]]))
	}
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k + ": " + format.Line(fmt.Sprint(m[k]))
	}
	return strings.Join(parts, " · ")
}

func (v *detailView) Typing() bool { return false }

func (v *detailView) SetSize(w, h int) {
	v.width, v.height = w, h
	body := v.bodyHeight()
	v.trialList.SetHeight(body - v.chartHeight())
	v.exampleList.SetHeight(body - 1)
}

// bodyHeight is what the section gets under the title, progress and tabs.
func (v *detailView) bodyHeight() int { return max(v.height-3, 3) }

func (v *detailView) chartHeight() int { return min(max(v.bodyHeight()/3, 3), 8) }

func (v *detailView) Bindings() []key.Binding {
	km := v.keys
	bs := []key.Binding{keys.As(km.NextPage, "next view"), keys.As(km.PrevPage, "previous view"), km.Up, km.Down}
	switch v.section() {
	case secTrials:
		bs = append(bs, keys.As(km.Open, "the trial's examples"))
	case secExamples:
		bs = append(bs, failKey)
	}
	return append(bs, km.Refresh, km.Back)
}

func (v *detailView) section() section { return v.sections[v.sec] }

func (v *detailView) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := v.keys
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.NextPage):
		v.sec, v.offset = (v.sec+1)%len(v.sections), 0
	case key.Matches(msg, km.PrevPage):
		v.sec, v.offset = (v.sec+len(v.sections)-1)%len(v.sections), 0
	case key.Matches(msg, km.Refresh):
		return v.load(e)
	case v.section() == secTrials && key.Matches(msg, km.Open):
		v.sec = slices.Index(v.sections, secExamples)
	case v.section() == secTrials:
		v.trialList.Navigate(msg, km)
		v.setExamples()
	case v.section() == secExamples && key.Matches(msg, failKey):
		v.failuresOnly = !v.failuresOnly
		v.setExamples()
	case v.section() == secExamples:
		v.exampleList.Navigate(msg, km)
	default:
		v.scroll(msg)
	}
	return nil
}

// scroll moves the line sections.
func (v *detailView) scroll(msg tea.KeyPressMsg) {
	v.offset, _ = components.Move(msg, v.keys, v.offset, v.bodyHeight()-1, max(len(v.sectionLines())-v.bodyHeight(), 0))
}

func (v *detailView) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	w, ok := msg.(tea.MouseWheelMsg)
	if !ok {
		return nil
	}
	switch v.section() {
	case secTrials:
		v.trialList.ScrollBy(components.WheelDelta(w))
		v.setExamples()
	case secExamples:
		v.exampleList.ScrollBy(components.WheelDelta(w))
	default:
		v.offset = min(max(v.offset+components.WheelDelta(w), 0), max(len(v.sectionLines())-v.bodyHeight(), 0))
	}
	return nil
}

// Render draws the title, the progress line, the views' tabs and the
// current view.
func (v *detailView) Render(func() string) string {
	s := v.styles
	title := s.Title.Render("Optimization "+format.RunID(v.id)) + s.Muted.Render(" · esc back")
	switch {
	case v.err != nil:
		return layout.Fit(title+"\n"+s.Error.Render("Could not load it: ")+format.Line(v.err.Error()), v.width, v.height)
	case v.d == nil:
		return layout.Fit(title+"\n"+s.Muted.Render("Loading…"), v.width, v.height)
	}
	o := v.d.Optimization
	title = s.Title.Render("Optimization "+format.RunID(v.id)) +
		s.Muted.Render(fmt.Sprintf(" · %s v%d · %s · %s · metric %s · esc back", o.Program, o.BaseVersion, o.Optimizer, o.State, o.Metric.Name))
	lines := []string{ansi.Truncate(title, v.width, "…"), ansi.Truncate(progressLine(s, o, v.width), v.width, "…"), v.tabs()}
	body := v.bodyHeight()
	switch v.section() {
	case secTrials:
		ch := v.chartHeight()
		chart := s.Muted.Render("no trials yet")
		if len(v.trials) > 0 {
			chart = strings.Join(trialChart(s, v.trials, v.width, ch), "\n")
		}
		lines = append(lines, layout.Fit(chart, v.width, ch), v.trialList.Render(v.width, body-ch))
	case secExamples:
		head := s.Muted.Render("no trial selected")
		if t := v.selectedTrial(); t != nil {
			head = s.Subtitle.Render(fmt.Sprintf("Trial #%d", t.N)) + s.Muted.Render(fmt.Sprintf(" · %d/%d pass", passes(t.Results), len(t.Results)))
			if len(t.Results) == 0 {
				head += s.Muted.Render(" · scored on a subset: no per-example results")
			}
			if v.failuresOnly {
				head += s.Warning.Render(" · failures only") + s.Muted.Render(" (f: all)")
			} else {
				head += s.Muted.Render(" · f: failures only")
			}
		}
		lines = append(lines, ansi.Truncate(head, v.width, "…"), v.exampleList.Render(v.width, body-1))
	default:
		ls := v.sectionLines()
		off := min(v.offset, max(len(ls)-body, 0))
		lines = append(lines, strings.Join(ls[off:min(off+body, len(ls))], "\n"))
	}
	return layout.Fit(strings.Join(lines, "\n"), v.width, v.height)
}

// tabs names the views, the current one highlighted.
func (v *detailView) tabs() string {
	s := v.styles
	var b strings.Builder
	for i, sec := range v.sections {
		name := " " + sectionNames[sec] + " "
		if i == v.sec {
			b.WriteString(s.Accent.Bold(true).Underline(true).Render(name))
		} else {
			b.WriteString(s.TabIdle.Render(name))
		}
	}
	b.WriteString(s.Muted.Render("  tab next view"))
	return ansi.Truncate(b.String(), v.width, "…")
}

// progressLine is the run's progress in one line: while it runs its phase,
// trial counter, best score, cost, time taken and time left; after, its
// scores and totals.
func progressLine(s *themes.Styles, o *model.Optimization, w int) string {
	pr := o.Progress
	if pr == nil || o.State.Terminal() {
		line := fmt.Sprintf("baseline %.3f → best %.3f", o.BaselineScore, o.BestScore)
		if o.BestTrial > 0 {
			line += fmt.Sprintf(" (trial #%d)", o.BestTrial)
		}
		line += fmt.Sprintf(" · %d trials · %d LM calls · %s · %s", o.Trials, o.LMCalls, format.USDMaybe(o.Cost, o.CostUnknown), optDuration(runDuration(o)))
		if o.Error != "" {
			return s.Muted.Render(line+" · ") + s.Error.Render(o.ErrorCode+": "+format.Line(o.Error))
		}
		return s.Muted.Render(line)
	}
	frac := 0.0
	if pr.Trials > 0 {
		frac = min(float64(pr.Trial)/float64(pr.Trials), 1)
	}
	left := "time left unknown"
	if pr.ETA > 0 {
		left = "~" + optDuration(time.Duration(pr.ETA*float64(time.Second))) + " left"
	}
	counter := fmt.Sprintf(" %s · trial %d/%d", pr.Phase, pr.Trial, pr.Trials)
	if pr.Trials == 0 {
		counter = fmt.Sprintf(" %s · trial %d", pr.Phase, pr.Trial)
	}
	return layout.Bar(s, frac, max(min(w/5, 20), 5)) + s.Accent.Render(counter) +
		s.Muted.Render(fmt.Sprintf(" · best %.3f · %d LM calls · %s · %s elapsed · ", pr.BestScore, pr.LMCalls, format.USD(pr.Cost),
			optDuration(time.Duration(pr.Elapsed*float64(time.Second))))) + s.Accent.Render(left)
}

// sectionLines are the lines of the views that scroll as text.
func (v *detailView) sectionLines() []string {
	switch v.section() {
	case secCandidate:
		return v.candidateLines()
	case secLineage:
		return v.lineageLines()
	case secFront:
		return v.frontLines()
	case secProposals:
		return v.proposalLines()
	}
	return nil
}

// candidateLines are the selected trial's instructions and demos per
// predictor, what changed from the baseline marked.
func (v *detailView) candidateLines() []string {
	s, w := v.styles, max(v.width-4, 10)
	t := v.selectedTrial()
	if t == nil {
		return []string{s.Muted.Render("no trial selected (choose one in Trials)")}
	}
	var base *model.Trial
	if len(v.trials) > 0 && v.trials[0].N == 0 {
		base = v.trials[0]
	}
	out := []string{s.Subtitle.Render(fmt.Sprintf("Trial #%d", t.N)) + s.Muted.Render(fmt.Sprintf(" · score %.3f · %s", t.Score, candidateOrigin(t)))}
	for _, p := range predictorPaths(t) {
		head := s.Title.Render(p)
		if base != nil && t != base && base.Instructions[p] != t.Instructions[p] {
			head += s.Warning.Render(" · instructions changed")
		}
		out = append(out, "", head, s.Muted.Render("  instructions"))
		for _, l := range layout.WrapLines(format.Text(t.Instructions[p]), w) {
			out = append(out, "    "+l)
		}
		demos := t.Demos[p]
		out = append(out, s.Muted.Render(fmt.Sprintf("  demos (%d)", len(demos))))
		for i, d := range demos {
			out = append(out, ansi.Truncate(fmt.Sprintf("    %d. %s", i+1, fieldsLine(d)), w+4, "…"))
		}
	}
	return out
}

func candidateOrigin(t *model.Trial) string {
	switch {
	case t.N == 0:
		return "the base program"
	case len(t.Parents) > 0:
		return candidateSummary(&model.Trial{Parents: t.Parents, N: t.N})
	}
	return "proposed by the optimizer"
}

// lineageLines are GEPA's candidates as parent → child, with what
// reflection rewrote as an instruction diff.
func (v *detailView) lineageLines() []string {
	s, w := v.styles, max(v.width-6, 10)
	byN := map[int]*model.Trial{}
	for _, t := range v.trials {
		byN[t.N] = t
	}
	var out []string
	for _, t := range v.trials {
		if len(t.Parents) == 0 {
			continue
		}
		ps := make([]string, len(t.Parents))
		for i, p := range t.Parents {
			ps[i] = "#" + strconv.Itoa(p)
		}
		parent := byN[t.Parents[0]]
		how := "merge"
		if len(t.Parents) == 1 {
			how = "reflection"
		}
		line := s.Title.Render(strings.Join(ps, " + ")+" → #"+strconv.Itoa(t.N)) + s.Muted.Render(" · "+how)
		if parent != nil {
			line += s.Muted.Render(fmt.Sprintf(" · score %.3f → ", parent.Score)) + scoreStyle(s, t.Score, parent.Score).Render(fmt.Sprintf("%.3f", t.Score))
		}
		out = append(out, line)
		changed := t.Reflection
		if len(changed) == 0 && parent != nil {
			for _, p := range predictorPaths(t) {
				if parent.Instructions[p] != t.Instructions[p] {
					changed = append(changed, p)
				}
			}
		}
		for _, p := range changed {
			out = append(out, s.Muted.Render("  "+p+" rewritten"))
			if parent != nil {
				for _, l := range layout.WrapLines(format.Text(parent.Instructions[p]), w) {
					out = append(out, "    "+s.DiffDel.Render("- "+l))
				}
			}
			for _, l := range layout.WrapLines(format.Text(t.Instructions[p]), w) {
				out = append(out, "    "+s.DiffAdd.Render("+ "+l))
			}
		}
	}
	if len(out) == 0 {
		return []string{s.Muted.Render("no candidate derived from another yet")}
	}
	return out
}

func scoreStyle(s *themes.Styles, now, before float64) lipgloss.Style {
	switch {
	case now > before:
		return s.Success
	case now < before:
		return s.Error
	}
	return s.Muted
}

// frontLines are the Pareto front per validation example: the trials that
// reach the best score on it.
func (v *detailView) frontLines() []string {
	s := v.styles
	front := model.ParetoFront(v.trials)
	if len(front) == 0 {
		return []string{s.Muted.Render("no trial scored on the whole validation set yet")}
	}
	out := []string{s.Header.Render(layout.PadRight(" EXAMPLE   BEST   TRIALS ON THE FRONT", v.width))}
	for _, f := range front {
		ts := make([]string, len(f.Trials))
		for i, n := range f.Trials {
			ts[i] = "#" + strconv.Itoa(n)
		}
		best := s.Success
		if f.Score <= 0 {
			best = s.Error
		}
		out = append(out, ansi.Truncate(fmt.Sprintf(" %s  %s  %s", layout.PadRight(format.RunID(f.Example), 8),
			best.Render(fmt.Sprintf("%5.2f", f.Score)), strings.Join(ts, " ")), v.width, "…"))
	}
	return out
}

// proposalLines are MIPROv2's proposed instructions per predictor and the
// trials that used each.
func (v *detailView) proposalLines() []string {
	s, w := v.styles, max(v.width-8, 10)
	props := model.MiproProposals(v.trials)
	if len(props) == 0 {
		return []string{s.Muted.Render("no proposals recorded yet (MIPROv2 proposes after bootstrapping demos)")}
	}
	var out []string
	last := ""
	for _, p := range props {
		if p.Predictor != last {
			if last != "" {
				out = append(out, "")
			}
			out = append(out, s.Title.Render(p.Predictor))
			last = p.Predictor
		}
		for i, l := range layout.WrapLines(format.Text(p.Text), w) {
			lead := "      "
			if i == 0 {
				lead = fmt.Sprintf("  %2d. ", p.Index)
			}
			out = append(out, lead+l)
		}
		if len(p.Trials) == 0 {
			out = append(out, s.Muted.Render("      not tried"))
			continue
		}
		ts := make([]string, len(p.Trials))
		for i, n := range p.Trials {
			ts[i] = "#" + strconv.Itoa(n)
		}
		out = append(out, s.Accent.Render("      used by trials "+strings.Join(ts, " ")))
	}
	return out
}
