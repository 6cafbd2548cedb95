// Package evaluations is the view of a program's evaluations (issue 14),
// opened from the Programs page (E) over it: the list of its evaluations,
// live while they run, the form that starts one, and one evaluation's
// examples, each opening its execution's trace. It is a package of its own
// rather than part of programs: it has its own service (Evaluations) and
// nothing in it is the Programs page's, so a page of its own can later
// show it as it is.
package evaluations

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
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
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/runs"
)

// Evaluations runs and reads evaluations: app.Service's methods, only
// ever called from a tea.Cmd.
type Evaluations interface {
	// ListEvaluations lists evaluations, newest first.
	ListEvaluations(ctx context.Context, q app.JobQuery) (*app.EvaluationPage, error)
	// Evaluation is one evaluation with the results of its examples that ended.
	Evaluation(ctx context.Context, id model.ID) (*app.EvaluationDetail, error)
	Evaluate(ctx context.Context, req app.EvaluateRequest) (*model.Evaluation, error)
	CancelEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error)
	// ListOptimizations and Trials give the optimization runs an
	// evaluation's flips can be set against (their validation results).
	ListOptimizations(ctx context.Context, q app.JobQuery) (*app.OptimizationPage, error)
	Trials(ctx context.Context, id model.ID) ([]*model.Trial, error)
}

// evalListLimit bounds the evaluations the screen lists: the newest matter.
const evalListLimit = 200

// evalPollEvery is how often the screen reloads while an evaluation runs.
const evalPollEvery = time.Second

// Messages of the evaluations screen and its form.
type (
	evalsLoadedMsg struct {
		evals []*model.Evaluation
		err   error
	}
	// evalStartedMsg answers the form's start; the form ends with it.
	evalStartedMsg struct {
		v   *model.Evaluation
		err error
	}
	evalDetailMsg struct {
		v       *model.Evaluation
		results []*model.EvalResult
		err     error
	}
	evalCancelledMsg struct {
		id  model.ID
		err error
	}
	evalTickMsg struct{ tick uint64 }
	// evalFlipsMsg brings the results of the marked evaluations.
	evalFlipsMsg struct {
		details []*app.EvaluationDetail
		run     *model.Optimization // with its trials: one more side, the run's validation results
		trials  []*model.Trial
		err     error
	}
	// evalRunsMsg brings the finished optimization runs of a program, to
	// choose one to set the evaluations against.
	evalRunsMsg struct {
		evals []model.ID
		runs  []*model.Optimization
		err   error
	}
	// evalRunChosenMsg is the choice among them.
	evalRunChosenMsg struct {
		evals []model.ID
		run   *model.Optimization
	}
)

// maxRunChoices bounds the runs offered to set evaluations against: the
// newest matter, and each is chosen by a digit.
const maxRunChoices = 9

// againstKey sets the marked (else the selected) evaluations against an
// optimization run's validation results.
var againstKey = key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "flips against an optimization"))

type evalView int

const (
	evalList evalView = iota
	evalResults
)

// evalScreen is the screen of one program's evaluations. It opens with
// the form over it (once the list has loaded, so the form starts from the
// last evaluation).
type evalScreen struct {
	page.Defaults
	runs     *runs.Screens
	svc      Evaluations
	styles   *themes.Styles
	program  *model.Program
	view     evalView
	formOnce bool // the form has been opened over the list

	list    components.List
	evals   []*model.Evaluation
	loaded  bool
	err     error
	tickGen uint64
	polling bool
	marked  map[model.ID]bool // evaluations chosen for the flip view

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

// New is the view of p's evaluations (every program's when p is nil),
// its traces opened from screens.
func New(screens *runs.Screens, svc Evaluations, p *model.Program) page.Dialog {
	return newEvalScreen(screens, svc, p)
}

func newEvalScreen(screens *runs.Screens, svc Evaluations, p *model.Program) *evalScreen {
	s := screens.Styles()
	return &evalScreen{runs: screens, svc: svc, styles: s, program: p, view: evalList, marked: map[model.ID]bool{},
		list: components.NewList(evalColumns, 2, components.ThemeStyles(s)), resultList: components.NewList(resultColumns, 4, components.ThemeStyles(s))}
}

func (es *evalScreen) Typing() bool { return false }

// Restyle picks up a theme switched in place.
func (es *evalScreen) Restyle() {
	es.list.SetStyles(components.ThemeStyles(es.styles))
	es.resultList.SetStyles(components.ThemeStyles(es.styles))
}

func (es *evalScreen) SetSize(w, h int) {
	es.width, es.height = w, h
	es.list.SetHeight(es.listHeight())
	es.resultList.SetHeight(es.resultsHeight())
}

// The list view: a title line, the list, the selected evaluation's pane.
func (es *evalScreen) paneHeight() int    { return min(8, max(es.height/3, 5)) }
func (es *evalScreen) listHeight() int    { return max(es.height-1-es.paneHeight(), 3) }
func (es *evalScreen) resultsHeight() int { return max(es.height-2-es.paneHeight(), 3) }

// enter (re)loads what the screen shows: on opening, and back from a trace.
func (es *evalScreen) Enter(e *page.Env) tea.Cmd {
	if es.view == evalResults && es.detail != nil {
		return es.loadDetail(e, es.detail.ID)
	}
	return es.load(e)
}

func (es *evalScreen) load(e *page.Env) tea.Cmd {
	svc, ctx := es.svc, e.Ctx
	name := "" // every program's
	if es.program != nil {
		name = es.program.Name
	}
	return e.Cmd(func() tea.Msg {
		if svc == nil {
			return evalsLoadedMsg{err: fmt.Errorf("no evaluation service configured")}
		}
		pg, err := svc.ListEvaluations(ctx, app.JobQuery{Program: name, Limit: evalListLimit})
		if err != nil {
			return evalsLoadedMsg{err: err}
		}
		return evalsLoadedMsg{evals: pg.Evaluations}
	})
}

func (es *evalScreen) loadDetail(e *page.Env, id model.ID) tea.Cmd {
	svc, ctx := es.svc, e.Ctx
	return e.Cmd(func() tea.Msg {
		d, err := svc.Evaluation(ctx, id)
		if err != nil {
			return evalDetailMsg{err: err}
		}
		return evalDetailMsg{v: d.Evaluation, results: d.Results}
	})
}

// active reports whether what the screen shows is still running.
func (es *evalScreen) active() bool {
	if es.view == evalResults {
		return es.detail != nil && !es.detail.State.Terminal()
	}
	return slices.ContainsFunc(es.evals, func(v *model.Evaluation) bool { return !v.State.Terminal() })
}

// poll schedules the next reload while something runs.
func (es *evalScreen) poll(e *page.Env) tea.Cmd {
	if es.polling || !es.active() {
		return nil
	}
	es.polling = true
	es.tickGen++
	tick := es.tickGen
	return e.After(evalPollEvery, func(time.Time) tea.Msg { return evalTickMsg{tick: tick} })
}

func (es *evalScreen) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case evalsLoadedMsg:
		es.loaded, es.err = true, msg.err
		if msg.err == nil {
			es.setEvals(msg.evals)
		}
		if !es.formOnce && es.program != nil {
			// The form opens over the list, from the last evaluation.
			es.formOnce = true
			var last *model.Evaluation
			if len(es.evals) > 0 {
				last = es.evals[0]
			}
			e.Push(newEvalForm(es.styles, es.svc, es.program, last))
		}
		return es.poll(e)
	case evalDetailMsg:
		if es.view != evalResults {
			return nil
		}
		es.detailErr = msg.err
		if msg.err == nil {
			es.setResults(msg.v, msg.results)
		}
		return es.poll(e)
	case evalTickMsg:
		if msg.tick != es.tickGen {
			return nil
		}
		es.polling = false
		if es.view == evalResults && es.detail != nil {
			return es.loadDetail(e, es.detail.ID)
		}
		return es.load(e)
	case evalStartedMsg: // the form's result: it started
		es.view = evalList
		es.setEvals(append([]*model.Evaluation{msg.v}, es.evals...))
		es.list.Top()
		return tea.Batch(page.Notice(fmt.Sprintf("evaluating %s v%d on %s (%s)", msg.v.Program, msg.v.Version, msg.v.Data, format.RunID(msg.v.ID))), es.load(e))
	case evalFlipsMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("flips: %w", msg.err))
		}
		sides := make([]flips.Side, len(msg.details))
		for i, d := range msg.details {
			sides[i] = flips.Side{Label: fmt.Sprintf("%s %s v%d on %s", format.RunID(d.ID), d.Program, d.Version, d.Data), Side: model.EvalFlipSide(d.Results)}
		}
		title := "Examples of the marked evaluations"
		if r := msg.run; r != nil {
			sides = append(sides, flips.Side{Label: fmt.Sprintf("%s %s on %s (validation)", format.RunID(r.ID), r.Optimizer, r.Program),
				Side: model.OptFlipSide(r, msg.trials)})
			title = "Examples of the evaluations and optimization run " + format.RunID(r.ID)
		}
		e.Push(flips.New(es.styles, es.runs.Trace, title, sides))
		return nil
	case evalRunsMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("optimization runs: %w", msg.err))
		}
		if len(msg.runs) == 0 {
			return page.Notice("no finished optimization run of this program to set the evaluations against")
		}
		e.Push(es.runChoice(msg.evals, msg.runs))
		return nil
	case evalRunChosenMsg:
		return es.flipsOf(e, msg.evals, msg.run)
	case evalCancelledMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("cancel evaluation %s: %w", format.RunID(msg.id), msg.err))
		}
		return tea.Batch(page.Notice("cancelling evaluation "+format.RunID(msg.id)), es.load(e))
	}
	return nil
}

func (es *evalScreen) setEvals(vs []*model.Evaluation) {
	var sel model.ID
	if v := es.selected(); v != nil {
		sel = v.ID
	}
	es.evals = vs
	rows := make([]components.Row, len(vs))
	for i, v := range vs {
		id := format.RunID(v.ID)
		if es.marked[v.ID] {
			id = "✓" + id[1:]
		}
		data := v.Data.String()
		if es.program == nil { // every program's: say whose
			data = v.Program + " on " + data
		}
		rows[i] = components.Row{id, "v" + strconv.Itoa(v.Version), data, v.Metric.Spelling(), string(v.State),
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

func (es *evalScreen) Bindings() []key.Binding {
	k := keys.Hint
	switch es.view {
	case evalResults:
		return []key.Binding{k("enter", "open the example's trace"), k("j/k", "move"), k("esc", "back to the evaluations")}
	}
	return []key.Binding{k("n", "new evaluation"), k("enter", "the examples"), k("space", "mark"), k("C", "flips of the marked"), againstKey, k("x", "cancel evaluation"), k("esc", "back")}
}

func (es *evalScreen) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	if es.view == evalResults {
		switch {
		case key.Matches(msg, km.Back):
			es.view, es.detail, es.results, es.detailErr = evalList, nil, nil, nil
			es.polling = false
			return es.load(e)
		case key.Matches(msg, km.Open):
			if r := es.selectedResult(); r != nil && !r.Execution.IsZero() {
				e.Push(es.runs.Trace(r.Execution)) // esc comes back here
			}
		default:
			es.resultList.Navigate(msg, km)
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.New):
		if es.program == nil {
			return page.Notice("start an evaluation from the Programs page (E on a program) or `signet eval`")
		}
		e.Push(newEvalForm(es.styles, es.svc, es.program, es.selected()))
	case key.Matches(msg, km.Expand):
		if v := es.selected(); v != nil {
			if es.marked[v.ID] {
				delete(es.marked, v.ID)
			} else {
				es.marked[v.ID] = true
			}
			es.setEvals(es.evals)
			es.list.Down()
		}
	case key.Matches(msg, km.Compare):
		return es.compare(e)
	case key.Matches(msg, againstKey):
		return es.against(e)
	case key.Matches(msg, km.Open):
		if v := es.selected(); v != nil {
			es.view, es.detail, es.results, es.detailErr = evalResults, v, nil, nil
			es.resultList.SetRows(nil)
			es.polling = false
			return es.loadDetail(e, v.ID)
		}
	case key.Matches(msg, km.Cancel):
		if v := es.selected(); v != nil && !v.State.Terminal() {
			svc, ctx, id := es.svc, e.Ctx, v.ID
			return e.Cmd(func() tea.Msg {
				_, err := svc.CancelEvaluation(ctx, id)
				return evalCancelledMsg{id: id, err: err}
			})
		}
	default:
		es.list.Navigate(msg, km)
	}
	return nil
}

// compare opens the flip view of the marked evaluations, in list order,
// once their results are loaded.
func (es *evalScreen) compare(e *page.Env) tea.Cmd {
	ids := es.markedIDs()
	if len(ids) < 2 {
		return page.Notice("mark two or more evaluations with space, then C for their flips")
	}
	return es.flipsOf(e, ids, nil)
}

// markedIDs are the marked evaluations, in list order.
func (es *evalScreen) markedIDs() []model.ID {
	var ids []model.ID
	for _, v := range es.evals {
		if es.marked[v.ID] {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

// against offers the finished optimization runs of the evaluations'
// program, to set the marked evaluations (else the selected one) against
// a run's validation results.
func (es *evalScreen) against(e *page.Env) tea.Cmd {
	ids := es.markedIDs()
	v := es.selected()
	if len(ids) == 0 && v != nil {
		ids = []model.ID{v.ID}
	}
	if len(ids) == 0 {
		return nil
	}
	program := v.Program
	for _, x := range es.evals {
		if x.ID == ids[0] {
			program = x.Program
		}
	}
	svc, ctx := es.svc, e.Ctx
	return e.Cmd(func() tea.Msg {
		page, err := svc.ListOptimizations(ctx, app.JobQuery{Program: program, Limit: 50})
		if err != nil {
			return evalRunsMsg{err: err}
		}
		var runs []*model.Optimization
		for _, r := range page.Optimizations {
			if r.State == model.Completed && len(runs) < maxRunChoices {
				runs = append(runs, r)
			}
		}
		return evalRunsMsg{evals: ids, runs: runs}
	})
}

// runChoice asks which run to set evals against: a digit per run.
func (es *evalScreen) runChoice(evals []model.ID, runs []*model.Optimization) *dialog.Confirm {
	s := es.styles
	prompt := []string{s.Title.Render("Set the evaluations against which optimization run?"), ""}
	var choices []dialog.Choice
	for i, r := range runs {
		n := fmt.Sprint(i + 1)
		prompt = append(prompt, fmt.Sprintf("%s  %s %s on %s, %.3f → %.3f", s.HelpKey.Render(n), format.RunID(r.ID), r.Optimizer, r.Program, r.BaselineScore, r.BestScore))
		choices = append(choices, dialog.Choice{Keys: key.NewBinding(key.WithKeys(n), key.WithHelp(n, format.RunID(r.ID))),
			Result: evalRunChosenMsg{evals: evals, run: r}})
	}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "none"))}
	prompt = append(prompt, "", dialog.Hint(s, dialog.Choice{Keys: key.NewBinding(key.WithHelp(fmt.Sprintf("1-%d", len(runs)), "that run"))}, no))
	return dialog.NewConfirm(s, dialog.Centre, prompt, append(choices, no)...)
}

// flipsOf loads the evaluations ids (and run's trials, when one is given)
// for the flip view.
func (es *evalScreen) flipsOf(e *page.Env, ids []model.ID, run *model.Optimization) tea.Cmd {
	svc, ctx := es.svc, e.Ctx
	return e.Cmd(func() tea.Msg {
		out := make([]*app.EvaluationDetail, len(ids))
		for i, id := range ids {
			d, err := svc.Evaluation(ctx, id)
			if err != nil {
				return evalFlipsMsg{err: fmt.Errorf("evaluation %s: %w", format.RunID(id), err)}
			}
			out[i] = d
		}
		msg := evalFlipsMsg{details: out, run: run}
		if run != nil {
			trials, err := svc.Trials(ctx, run.ID)
			if err != nil {
				return evalFlipsMsg{err: fmt.Errorf("optimization %s: %w", format.RunID(run.ID), err)}
			}
			msg.trials = trials
		}
		return msg
	})
}

// evalForm starts an evaluation of a program; it ends when the service
// has started one, and shows the service's refusal otherwise.
type evalForm struct {
	page.Defaults
	styles  *themes.Styles
	svc     Evaluations
	program *model.Program
	fields  dialog.Fields

	width, height int
}

// newEvalForm starts from the last evaluation of the program, if any: the
// usual next step is the same data and metric on a new version.
func newEvalForm(s *themes.Styles, svc Evaluations, p *model.Program, last *model.Evaluation) *evalForm {
	data, metric, labels, lm := "", choices.Metrics[0], "", ""
	if last != nil {
		data, metric, lm = last.Data.String(), last.Metric.Spelling(), last.LM
		if !last.Labels.Guessed {
			labels = strings.Join(last.Labels.Labels, ",")
		}
	}
	return &evalForm{styles: s, svc: svc, program: p, fields: dialog.Fields{Title: fmt.Sprintf("Evaluate %s v%d", p.Name, p.Version), Fields: []dialog.Field{
		{Label: "dataset", Value: data, Help: "DATASET or DATASET:SPLIT"},
		{Label: "metric", Value: metric, Choices: choices.Metrics, Help: "←/→ for built-ins, or type file.py:function or judge:SIGNATURE"},
		{Label: "labels", Value: labels, Help: "optional: a,b (default: the program's outputs the dataset has)"},
		{Label: "lm", Value: lm, Help: "LM profile, optional"},
	}, Note: "Every example runs as an execution (see Executions); a failed one scores 0 and counts, as in dspy.Evaluate."}}
}

func (f *evalForm) Typing() bool     { return true }
func (f *evalForm) SetSize(w, h int) { f.width, f.height = w, h }

func (f *evalForm) Bindings() []key.Binding {
	k := keys.Hint
	return []key.Binding{k("ctrl+s", "start the evaluation"), k("tab", "next field"), k("esc", "the program's evaluations")}
}

func (f *evalForm) Render(func() string) string {
	return f.fields.Render(f.styles, f.width, f.height)
}

func (f *evalForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch f.fields.Key(e.Keys, msg) {
	case dialog.FieldsCancel:
		dialog.Leave(e, f.styles, f)
	case dialog.FieldsSubmit:
		return f.submit(e)
	}
	return nil
}

// request reads the form as `signet eval` reads its flags, so both
// accept and refuse the same things; the service checks the rest.
func (f *evalForm) request() (app.EvaluateRequest, error) {
	v := f.fields.Value
	req := app.EvaluateRequest{Program: f.program.Name, Version: f.program.Version, LM: v("lm"),
		Labels: model.ParseLabels(v("labels")), Metric: model.Metric{Name: v("metric"), Kind: app.MetricSpelled}}
	switch {
	case v("dataset") == "":
		return req, fmt.Errorf("dataset: a dataset is needed (NAME or NAME:SPLIT)")
	case req.Metric.Name == "":
		return req, fmt.Errorf("metric: a metric is needed")
	}
	var err error
	if req.Data, err = model.ParseDataRef(v("dataset")); err != nil {
		return req, fmt.Errorf("dataset: %w", err)
	}
	return req, nil
}

func (f *evalForm) submit(e *page.Env) tea.Cmd {
	req, err := f.request()
	if err != nil {
		f.fields.Err = err.Error()
		return nil
	}
	f.fields.Err = ""
	svc, ctx := f.svc, e.Ctx
	return e.Cmd(func() tea.Msg {
		if svc == nil {
			return evalStartedMsg{err: fmt.Errorf("no evaluation service configured")}
		}
		// A custom metric's relative file is this process's, as for `signet eval`.
		req.BaseDir, _ = os.Getwd()
		v, err := svc.Evaluate(ctx, req)
		return evalStartedMsg{v: v, err: err}
	})
}

// Dirty and Editing: esc, and the shell before it quits, ask before what
// was typed is lost (starting is not saving: discard or keep editing).
func (f *evalForm) Dirty() bool     { return f.fields.Dirty() }
func (f *evalForm) Editing() string { return "the evaluation of " + f.program.Name }

// Update takes the service's answer, and the answer to the
// unsaved-changes question.
func (f *evalForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if cmd, ok := dialog.Answer(e, f, msg); ok {
		return cmd
	}
	if m, ok := msg.(evalStartedMsg); ok {
		if m.err != nil {
			f.fields.Err = m.err.Error()
			return nil
		}
		e.Close(m)
	}
	return nil
}

func (es *evalScreen) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	switch es.view {
	case evalList:
		es.list.Mouse(msg, y-1)
	case evalResults:
		es.resultList.Mouse(msg, y-2)
	}
	return nil
}

func (es *evalScreen) Render(func() string) string {
	s := es.styles
	switch {
	case es.err != nil:
		return layout.Fit(s.Error.Render("Could not load evaluations: ")+format.Line(es.err.Error()), es.width, es.height)
	case es.view == evalResults:
		return es.renderResults()
	}
	title := s.Title.Render("Evaluations of every program") + s.Muted.Render(" · enter examples · space mark · C flips of the marked · x cancel · esc back")
	if es.program != nil {
		title = s.Title.Render("Evaluations of "+es.program.Name) + s.Muted.Render(" · n new · enter examples · space mark · C flips · x cancel · esc back")
	}
	if !es.loaded {
		return layout.Fit(title+"\n"+s.Muted.Render("Loading evaluations…"), es.width, es.height)
	}
	if len(es.evals) == 0 {
		text := "No evaluations yet. Start one from the Programs page (E on a program) or with `signet eval PROGRAM --dataset DATASET --metric exact_match`."
		if es.program != nil {
			text = "No evaluations of this program yet. Press n to start one (or `signet eval " + es.program.Name + " --dataset DATASET --metric exact_match`)."
		}
		return layout.Fit(title+"\n"+s.Muted.Render(text), es.width, es.height)
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
		b.WriteString(s.Error.Render("Could not load the examples: ") + format.Line(es.detailErr.Error()))
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
