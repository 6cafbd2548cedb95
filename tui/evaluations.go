package tui

// Evaluations from the Programs page (issue 14): `E` on a program opens a
// screen with the form that starts an evaluation and the program's
// evaluations, live while they run; enter shows one's examples, and enter
// on an example opens its execution's trace.

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
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
)

// Evaluations runs and reads evaluations (the owner's API, in cmd). It is
// only ever called from a tea.Cmd.
type Evaluations interface {
	// ListEvaluations lists a program's evaluations, newest first.
	ListEvaluations(ctx context.Context, program string) ([]*model.Evaluation, error)
	// Evaluation is one evaluation with the results of its examples that ended.
	Evaluation(ctx context.Context, id model.ID) (*model.Evaluation, []*model.EvalResult, error)
	StartEvaluation(ctx context.Context, req EvaluationRequest) (*model.Evaluation, error)
	CancelEvaluation(ctx context.Context, id model.ID) error
}

// EvaluationRequest is what the form asks for, in `signet eval`'s
// spelling.
type EvaluationRequest struct {
	Program string
	Version int
	Data    string // DATASET or DATASET:SPLIT
	Metric  string // a built-in name, file.py:function or judge:SIGNATURE
	Labels  string // a,b; "" = the program's outputs the dataset has
	LM      string
}

// evaluateProgramMsg opens the evaluations screen of a program (the
// Programs page sends it on E).
type evaluateProgramMsg struct{ program *model.Program }

func evaluateProgram(p *model.Program) tea.Cmd {
	if p == nil {
		return nil
	}
	return func() tea.Msg { return evaluateProgramMsg{program: p} }
}

// Messages of the evaluations screen; each carries the screen's gen.
type (
	evalsLoadedMsg struct {
		gen   uint64
		evals []*model.Evaluation
		err   error
	}
	evalStartedMsg struct {
		gen uint64
		v   *model.Evaluation
		err error
	}
	evalDetailMsg struct {
		gen     uint64
		v       *model.Evaluation
		results []*model.EvalResult
		err     error
	}
	evalCancelledMsg struct {
		gen uint64
		id  model.ID
		err error
	}
	evalTickMsg struct{ gen, tick uint64 }
)

type evalView int

const (
	evalForm evalView = iota
	evalList
	evalResults
)

// evalScreen is the screen of one program's evaluations.
type evalScreen struct {
	styles  *themes.Styles
	session *runSession
	gen     uint64
	program *model.Program
	view    evalView

	form    dialog.Fields
	list    components.List
	evals   []*model.Evaluation
	loaded  bool
	err     error
	tickGen uint64
	polling bool

	// The results view of one evaluation.
	detail     *model.Evaluation
	results    []*model.EvalResult
	resultList components.List
	detailErr  error

	width, height int
}

var evalColumns = []components.Column{
	{Title: "ID", Width: 8},
	{Title: "VER", Width: 4, Align: components.AlignRight},
	{Title: "DATA", Flex: 2, MinWidth: 8},
	{Title: "METRIC", Flex: 2, MinWidth: 10},
	{Title: "STATE", Width: 9},
	{Title: "SCORE", Width: 6, Align: components.AlignRight},
	{Title: "DONE", Width: 7, Align: components.AlignRight},
	{Title: "FAIL", Width: 4, Align: components.AlignRight},
	{Title: "COST", Width: 8, Align: components.AlignRight},
}

var resultColumns = []components.Column{
	{Title: "#", Width: 5, Align: components.AlignRight},
	{Title: "SCORE", Width: 6, Align: components.AlignRight},
	{Title: "STATE", Width: 9},
	{Title: "COST", Width: 8, Align: components.AlignRight},
	{Title: "OUTPUT (EXPECTED)", Flex: 3, MinWidth: 16},
	{Title: "EXECUTION", Width: 9},
}

func newEvalScreen(s *themes.Styles, session *runSession, p *model.Program) *evalScreen {
	es := &evalScreen{styles: s, session: session, gen: screenGen.Add(1), program: p, view: evalForm,
		list: components.NewList(evalColumns, 2, components.ThemeStyles(s)), resultList: components.NewList(resultColumns, 4, components.ThemeStyles(s))}
	es.form = newEvalForm(p, nil)
	return es
}

// newEvalForm starts from the last evaluation of the program, if any: the
// usual next step is the same data and metric on a new version.
func newEvalForm(p *model.Program, last *model.Evaluation) dialog.Fields {
	data, metric, labels, lm := "", metricChoices[0], "", ""
	if last != nil {
		data, metric, lm = last.Data.String(), last.Metric.Spelling(), last.LM
		if !last.Labels.Guessed {
			labels = strings.Join(last.Labels.Labels, ",")
		}
	}
	return dialog.Fields{Title: fmt.Sprintf("Evaluate %s v%d", p.Name, p.Version), Fields: []dialog.Field{
		{Label: "dataset", Value: data, Help: "DATASET or DATASET:SPLIT"},
		{Label: "metric", Value: metric, Choices: metricChoices, Help: "←/→ for built-ins, or type file.py:function or judge:SIGNATURE"},
		{Label: "labels", Value: labels, Help: "optional: a,b (default: the program's outputs the dataset has)"},
		{Label: "lm", Value: lm, Help: "LM profile, optional"},
	}, Note: "Every example runs as an execution (see Executions); a failed one scores 0 and counts, as in dspy.Evaluate."}
}

func (es *evalScreen) typing() bool { return es.view == evalForm }

func (es *evalScreen) setSize(w, h int) {
	es.width, es.height = w, h
	es.list.SetHeight(es.listHeight())
	es.resultList.SetHeight(es.resultsHeight())
}

// The list view: a title line, the list, the selected evaluation's pane.
func (es *evalScreen) paneHeight() int    { return min(8, max(es.height/3, 5)) }
func (es *evalScreen) listHeight() int    { return max(es.height-1-es.paneHeight(), 3) }
func (es *evalScreen) resultsHeight() int { return max(es.height-2-es.paneHeight(), 3) }

// enter (re)loads what the screen shows: on opening, and back from a trace.
func (es *evalScreen) enter(e *env) tea.Cmd {
	if es.view == evalResults && es.detail != nil {
		return es.loadDetail(e, es.detail.ID)
	}
	return es.load(e)
}

func (es *evalScreen) load(e *env) tea.Cmd {
	svc, ctx, gen, name := e.deps.Evaluations, e.ctx, es.gen, es.program.Name
	return func() tea.Msg {
		if svc == nil {
			return evalsLoadedMsg{gen: gen, err: fmt.Errorf("no evaluation service configured")}
		}
		vs, err := svc.ListEvaluations(ctx, name)
		return evalsLoadedMsg{gen: gen, evals: vs, err: err}
	}
}

func (es *evalScreen) loadDetail(e *env, id model.ID) tea.Cmd {
	svc, ctx, gen := e.deps.Evaluations, e.ctx, es.gen
	return func() tea.Msg {
		v, rs, err := svc.Evaluation(ctx, id)
		return evalDetailMsg{gen: gen, v: v, results: rs, err: err}
	}
}

// active reports whether what the screen shows is still running.
func (es *evalScreen) active() bool {
	if es.view == evalResults {
		return es.detail != nil && !es.detail.State.Terminal()
	}
	return slices.ContainsFunc(es.evals, func(v *model.Evaluation) bool { return !v.State.Terminal() })
}

// poll schedules the next reload while something runs.
func (es *evalScreen) poll() tea.Cmd {
	if es.polling || !es.active() {
		return nil
	}
	es.polling = true
	es.tickGen++
	gen, tick := es.gen, es.tickGen
	return pollTick(optPollEvery, func(time.Time) tea.Msg { return evalTickMsg{gen: gen, tick: tick} })
}

func (es *evalScreen) update(e *env, msg tea.Msg) (overlay, tea.Cmd) {
	switch msg := msg.(type) {
	case evalsLoadedMsg:
		if msg.gen != es.gen {
			return es, nil
		}
		es.loaded, es.err = true, msg.err
		if msg.err == nil {
			first := es.evals == nil
			es.setEvals(msg.evals)
			if first && len(msg.evals) > 0 && es.view == evalForm && es.form.Value("dataset") == "" {
				es.form = newEvalForm(es.program, msg.evals[0])
			}
		}
		return es, es.poll()
	case evalDetailMsg:
		if msg.gen != es.gen || es.view != evalResults {
			return es, nil
		}
		es.detailErr = msg.err
		if msg.err == nil {
			es.setResults(msg.v, msg.results)
		}
		return es, es.poll()
	case evalTickMsg:
		if msg.gen != es.gen || msg.tick != es.tickGen {
			return es, nil
		}
		es.polling = false
		if es.view == evalResults && es.detail != nil {
			return es, es.loadDetail(e, es.detail.ID)
		}
		return es, es.load(e)
	case evalStartedMsg:
		if msg.gen != es.gen {
			return es, nil
		}
		if msg.err != nil {
			es.form.Err = msg.err.Error()
			return es, nil
		}
		es.view = evalList
		es.setEvals(append([]*model.Evaluation{msg.v}, es.evals...))
		es.list.Top()
		return es, tea.Batch(notice(fmt.Sprintf("evaluating %s v%d on %s (%s)", msg.v.Program, msg.v.Version, msg.v.Data, format.RunID(msg.v.ID))), es.load(e))
	case evalCancelledMsg:
		if msg.gen != es.gen {
			return es, nil
		}
		if msg.err != nil {
			return es, noticeErr(fmt.Errorf("cancel evaluation %s: %w", format.RunID(msg.id), msg.err))
		}
		return es, tea.Batch(notice("cancelling evaluation "+format.RunID(msg.id)), es.load(e))
	}
	return es, nil
}

func (es *evalScreen) setEvals(vs []*model.Evaluation) {
	var sel model.ID
	if v := es.selected(); v != nil {
		sel = v.ID
	}
	es.evals = vs
	rows := make([]components.Row, len(vs))
	for i, v := range vs {
		rows[i] = components.Row{format.RunID(v.ID), "v" + strconv.Itoa(v.Version), v.Data.String(), v.Metric.Spelling(), string(v.State),
			pct(v.Score), fmt.Sprintf("%d/%d", v.N, v.Total), strconv.Itoa(v.Failures), format.USDMaybe(v.Cost, v.CostUnknown)}
	}
	es.list.SetRows(rows)
	if i := slices.IndexFunc(vs, func(v *model.Evaluation) bool { return v.ID == sel }); i >= 0 {
		es.list.SelectRow(i)
	}
}

func (es *evalScreen) setResults(v *model.Evaluation, rs []*model.EvalResult) {
	es.detail, es.results = v, rs
	rows := make([]components.Row, len(rs))
	for i, r := range rs {
		exec := "-"
		if !r.Execution.IsZero() {
			exec = format.RunID(r.Execution)
		}
		rows[i] = components.Row{strconv.Itoa(r.Index), fmt.Sprintf("%.3f", r.Score), string(r.State), format.USDMaybe(r.Cost, r.CostUnknown),
			resultText(r), exec}
	}
	es.resultList.SetRows(rows)
}

// pct is a score as DSPy prints it.
func pct(score float64) string { return fmt.Sprintf("%.1f%%", 100*score) }

// resultText is an example's outputs with what was expected: "France (Paris)".
func resultText(r *model.EvalResult) string {
	if r.State != model.Completed && r.Error != "" {
		return r.ErrorCode + ": " + strings.Join(strings.Fields(r.Error), " ")
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Expected)) {
		got := "-"
		if v, ok := r.Outputs[k]; ok {
			got = model.ValueText(v)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", got, model.ValueText(r.Expected[k])))
	}
	return strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
}

func (es *evalScreen) selected() *model.Evaluation {
	if row, ok := es.list.Selected(); ok && row < len(es.evals) {
		return es.evals[row]
	}
	return nil
}

func (es *evalScreen) selectedResult() *model.EvalResult {
	if row, ok := es.resultList.Selected(); ok && row < len(es.results) {
		return es.results[row]
	}
	return nil
}

func (es *evalScreen) bindings() []key.Binding {
	k := keys.Hint
	switch es.view {
	case evalForm:
		return []key.Binding{k("ctrl+s", "start the evaluation"), k("tab", "next field"), k("esc", "the program's evaluations")}
	case evalResults:
		return []key.Binding{k("enter", "open the example's trace"), k("j/k", "move"), k("esc", "back to the evaluations")}
	}
	return []key.Binding{k("n", "new evaluation"), k("enter", "the examples"), k("x", "cancel evaluation"), k("esc", "back")}
}

func (es *evalScreen) key(e *env, msg tea.KeyPressMsg) (overlay, tea.Cmd) {
	km := e.keys
	switch es.view {
	case evalForm:
		switch es.form.Key(km, msg) {
		case dialog.FieldsCancel:
			es.view = evalList
		case dialog.FieldsSubmit:
			return es, es.submit(e)
		}
		return es, nil
	case evalResults:
		switch {
		case key.Matches(msg, km.Back):
			es.view, es.detail, es.results, es.detailErr = evalList, nil, nil, nil
			es.polling = false
			return es, es.load(e)
		case key.Matches(msg, km.Open):
			if r := es.selectedResult(); r != nil && !r.Execution.IsZero() {
				return newTraceScreen(es.styles, es.session, r.Execution, es), nil
			}
		default:
			es.resultList.Navigate(msg, km)
		}
		return es, nil
	}
	switch {
	case key.Matches(msg, km.Back):
		return nil, nil
	case key.Matches(msg, km.New):
		es.form = newEvalForm(es.program, es.selected())
		es.view = evalForm
	case key.Matches(msg, km.Open):
		if v := es.selected(); v != nil {
			es.view, es.detail, es.results, es.detailErr = evalResults, v, nil, nil
			es.resultList.SetRows(nil)
			es.polling = false
			return es, es.loadDetail(e, v.ID)
		}
	case key.Matches(msg, km.Cancel):
		if v := es.selected(); v != nil && !v.State.Terminal() {
			svc, ctx, gen, id := e.deps.Evaluations, e.ctx, es.gen, v.ID
			return es, func() tea.Msg { return evalCancelledMsg{gen: gen, id: id, err: svc.CancelEvaluation(ctx, id)} }
		}
	default:
		es.list.Navigate(msg, km)
	}
	return es, nil
}

func (es *evalScreen) submit(e *env) tea.Cmd {
	f := &es.form
	req := EvaluationRequest{Program: es.program.Name, Version: es.program.Version, Data: f.Value("dataset"),
		Metric: f.Value("metric"), Labels: f.Value("labels"), LM: f.Value("lm")}
	switch {
	case req.Data == "":
		f.Err = "dataset: a dataset is needed (NAME or NAME:SPLIT)"
		return nil
	case req.Metric == "":
		f.Err = "metric: a metric is needed"
		return nil
	}
	f.Err = ""
	svc, ctx, gen := e.deps.Evaluations, e.ctx, es.gen
	return func() tea.Msg {
		if svc == nil {
			return evalStartedMsg{gen: gen, err: fmt.Errorf("no evaluation service configured")}
		}
		v, err := svc.StartEvaluation(ctx, req)
		return evalStartedMsg{gen: gen, v: v, err: err}
	}
}

func (es *evalScreen) mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd {
	switch es.view {
	case evalList:
		es.list.Mouse(msg, y-1)
	case evalResults:
		es.resultList.Mouse(msg, y-2)
	}
	return nil
}

func (es *evalScreen) render() string {
	s := es.styles
	switch {
	case es.view == evalForm:
		return es.form.Render(s, es.width, es.height)
	case es.err != nil:
		return layout.Fit(s.Error.Render("Could not load evaluations: ")+es.err.Error(), es.width, es.height)
	case es.view == evalResults:
		return es.renderResults()
	}
	title := s.Title.Render("Evaluations of "+es.program.Name) + s.Muted.Render(" · n new · enter examples · x cancel · esc back")
	if !es.loaded {
		return layout.Fit(title+"\n"+s.Muted.Render("Loading evaluations…"), es.width, es.height)
	}
	if len(es.evals) == 0 {
		return layout.Fit(title+"\n"+s.Muted.Render("No evaluations of this program yet. Press n to start one (or `signet eval "+es.program.Name+" --dataset DATASET --metric exact_match`)."), es.width, es.height)
	}
	return layout.Fit(title, es.width, 1) + "\n" + es.list.Render(es.width, es.listHeight()) + "\n" + es.renderPane(es.selected(), es.width, es.paneHeight())
}

// renderPane is an evaluation's progress and summary: a bar while it
// runs, DSPy's "Average Metric" line, labels, cost and tokens.
func (es *evalScreen) renderPane(v *model.Evaluation, w, h int) string {
	s := es.styles
	if v == nil {
		return layout.Fit("", w, h)
	}
	var lines []string
	head := s.Title.Render(v.Program) + s.Muted.Render(fmt.Sprintf(" v%d · %s · %s · metric %s", v.Version, v.Data, v.State, v.Metric.Spelling()))
	if !v.StartedAt.IsZero() {
		head += s.Muted.Render(" · started " + v.StartedAt.UTC().Format("Jan 02 15:04"))
	}
	lines = append(lines, head)
	if !v.State.Terminal() {
		frac := 0.0
		if v.Total > 0 {
			frac = float64(v.N) / float64(v.Total)
		}
		label := fmt.Sprintf(" %d/%d examples · score %s", v.N, v.Total, pct(v.Score))
		lines = append(lines, layout.Bar(s, frac, max(min(w-ansi.StringWidth(label)-2, 40), 10))+s.Accent.Render(label))
	}
	u := v.TotalUsage()
	lines = append(lines, fmt.Sprintf("Average Metric: %s / %d (%s)", strconv.FormatFloat(v.Sum, 'f', -1, 64), v.N, pct(v.Score))+
		s.Muted.Render(fmt.Sprintf(" · %d failed (scored 0) · %s · %d LM calls · %d/%d tokens", v.Failures, format.USDMaybe(v.Cost, v.CostUnknown),
			u.Calls, u.PromptTokens, u.CompletionTokens)))
	labels := strings.Join(v.Labels.Labels, ", ")
	if labels == "" {
		labels = "none"
	}
	if len(v.Labels.Ignored) > 0 {
		labels += " (ignored: " + strings.Join(v.Labels.Ignored, ", ") + ")"
	}
	lines = append(lines, s.Muted.Render("labels "+labels))
	if v.Labels.Guessed {
		lines = append(lines, s.Warning.Render(v.Labels.Note))
	}
	if v.Error != "" {
		lines = append(lines, s.Error.Render(v.ErrorCode+": ")+v.Error)
	}
	return layout.Fit(strings.Join(lines, "\n"), w, h)
}

// renderResults is one evaluation's examples and the selected one's
// inputs, outputs and what was expected.
func (es *evalScreen) renderResults() string {
	s := es.styles
	v := es.detail
	title := s.Title.Render("Evaluation "+format.RunID(v.ID)) + s.Muted.Render(fmt.Sprintf(" · %s v%d on %s · %s · score %s over %d/%d · enter trace · esc back",
		v.Program, v.Version, v.Data, v.State, pct(v.Score), v.N, v.Total))
	var b strings.Builder
	b.WriteString(layout.Fit(title, es.width, 1) + "\n")
	switch {
	case es.detailErr != nil:
		b.WriteString(s.Error.Render("Could not load the examples: ") + es.detailErr.Error())
		return layout.Fit(b.String(), es.width, es.height)
	case es.results == nil:
		b.WriteString(s.Muted.Render("Loading examples…"))
		return layout.Fit(b.String(), es.width, es.height)
	}
	b.WriteString(layout.Fit(s.Muted.Render(fmt.Sprintf("Average Metric: %s / %d (%s)", strconv.FormatFloat(v.Sum, 'f', -1, 64), v.N, pct(v.Score))), es.width, 1) + "\n")
	b.WriteString(es.resultList.Render(es.width, es.resultsHeight()) + "\n")
	b.WriteString(es.renderExample(es.selectedResult(), es.width, es.paneHeight()))
	return layout.Fit(b.String(), es.width, es.height)
}

func (es *evalScreen) renderExample(r *model.EvalResult, w, h int) string {
	s := es.styles
	if r == nil {
		return layout.Fit(s.Muted.Render("No example has ended yet."), w, h)
	}
	fields := func(m map[string]any) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, k+"="+model.ValueText(m[k]))
		}
		return strings.Join(strings.Fields(strings.Join(parts, " · ")), " ")
	}
	lines := []string{
		s.Subtitle.Render(fmt.Sprintf("example %d", r.Index)) + s.Muted.Render(fmt.Sprintf(" · score %.3f · %s · execution %s", r.Score, r.State, r.Execution)),
		s.Muted.Render("inputs    ") + fields(r.Inputs),
		s.Muted.Render("outputs   ") + fields(r.Outputs),
		s.Muted.Render("expected  ") + fields(r.Expected),
	}
	if r.Error != "" {
		lines = append(lines, s.Error.Render(r.ErrorCode+": ")+strings.Join(strings.Fields(r.Error), " "))
	}
	return layout.Fit(strings.Join(lines, "\n"), w, h)
}
