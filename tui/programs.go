package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
)

// ProgramSummary is what the Programs list shows of a program's runs.
type ProgramSummary struct {
	LastRun   time.Time // when its newest execution was created; zero: never run
	LastState model.RunState
	MonthRuns int
	MonthCost float64
}

// programsPage is the Programs page: a filterable list of programs, a
// detail view of one program's modules, the in-place module editor, the
// version history with its diff, and the dialogs (new from a template,
// status, delete). Views stack: list → detail → edit, and list or detail →
// versions → diff; esc goes back one.
type programsPage struct {
	styles *themes.Styles
	keys   keys.Map // the key map, for bindings (which gets no env)
	list   components.List
	now    func() time.Time // for "last run" ages; tests fix it

	programs  []*model.Program
	summaries map[string]ProgramSummary
	loaded    bool
	err       error

	components.FilterBar

	detail       *model.Program // non-nil while the detail view is open
	detailOffset int            // first line of the detail shown
	module       int            // the module selected in the detail

	edit     *moduleEdit    // the in-place editor, over the detail
	versions *versionsView  // the version history, over the detail or the list
	diff     *diffView      // a diff of two versions, over the history
	dialog   programsDialog // a dialog over whatever is on screen

	// seq numbers the requests whose answer belongs to a view (versions,
	// editor, save); an answer with an older number is for a view since
	// closed or replaced, and is dropped.
	seq int

	width, height int
}

var programColumns = []components.Column{
	{Title: "NAME", Flex: 2, MinWidth: 12},
	{Title: "STATUS", Width: 10},
	{Title: "VERSION", Width: 7, Align: components.AlignRight},
	{Title: "MODULES", Width: 7, Align: components.AlignRight},
	{Title: "LAST RUN", Width: 9, Align: components.AlignRight},
	{Title: "MONTH COST", Width: 10, Align: components.AlignRight},
	{Title: "DESCRIPTION", Flex: 3, MinWidth: 10},
}

func newProgramsPage(s *themes.Styles) programsPage {
	return programsPage{styles: s, keys: keys.Default(), now: time.Now, list: components.NewList(programColumns, 0, components.ThemeStyles(s))}
}

func (p *programsPage) setSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
	if p.edit != nil {
		p.edit.setSize(w, h)
	}
	if p.versions != nil {
		p.versions.list.SetHeight(p.versionsListHeight())
	}
}

// showFilterLine reports whether the filter prompt takes a line.

func (p *programsPage) listHeight() int {
	if p.ShowFilterLine() {
		return max(p.height-1, 1)
	}
	return p.height
}

// typing reports whether a text input of the page has the keyboard: the
// filter prompt, the module editor or a dialog.
func (p *programsPage) typing() bool {
	switch {
	case p.dialog != nil, p.edit != nil:
		return true
	case p.detail != nil || p.versions != nil:
		return false
	}
	return p.Filtering
}

func progStatusText(st model.ProgramStatus) string {
	if st == "" {
		return "-"
	}
	return string(st)
}

func (p *programsPage) setPrograms(ps []*model.Program) {
	p.programs = ps
	p.refreshRows()
}

// refreshRows rebuilds the list's rows (programs or summaries changed).
func (p *programsPage) refreshRows() {
	sel := ""
	if pr := p.selected(); pr != nil {
		sel = pr.Name
	}
	defer p.reselect(sel)
	rows := make([]components.Row, len(p.programs))
	for i, pr := range p.programs {
		last, cost := "…", "…"
		if p.summaries != nil {
			sum := p.summaries[pr.Name]
			last, cost = progAge(p.now(), sum.LastRun), progMoney(sum.MonthCost, sum.MonthRuns)
		}
		rows[i] = components.Row{
			pr.Name,
			progStatusText(pr.Status),
			"v" + strconv.Itoa(pr.Version),
			strconv.Itoa(len(pr.Modules)),
			last,
			cost,
			strings.Join(strings.Fields(pr.Description), " "),
		}
	}
	p.list.SetRows(rows)
}

// progAge is a short "how long ago": 45s, 12m, 3h, 5d, 2026-01-04.
func progAge(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
	return t.UTC().Format("2006-01-02")
}

// progMoney is a month's cost: "-" without runs, cents above a dollar,
// four decimals below (local models cost little or nothing).
func progMoney(cost float64, runs int) string {
	switch {
	case runs == 0 && cost == 0:
		return "-"
	}
	return format.USD(cost)
}

// programsLoadedMsg carries the result of Deps.Programs.ListPrograms.
type programsLoadedMsg struct {
	programs []*model.Program
	err      error
}

// programSummariesMsg carries the runs and costs of the listed programs.
type programSummariesMsg struct {
	summaries map[string]ProgramSummary
	err       error
}

// programsFilterMsg carries a filter result for the programs list.
type programsFilterMsg struct {
	res components.FilterResult
}

// load returns the command that lists the programs.
func (p *programsPage) load(e *env) tea.Cmd {
	repo, ctx := e.deps.Programs, e.ctx
	return func() tea.Msg {
		if repo == nil {
			return programsLoadedMsg{err: fmt.Errorf("no program repository configured")}
		}
		ps, err := repo.ListPrograms(ctx)
		return programsLoadedMsg{programs: ps, err: err}
	}
}

// loadSummaries returns the command that reads the runs and costs of the
// programs listed; it follows each load, so a slow cost query never holds
// the list back.
func (p *programsPage) loadSummaries(e *env) tea.Cmd {
	repo, ctx := e.deps.Programs, e.ctx
	if repo == nil || len(p.programs) == 0 {
		return nil
	}
	names := make([]string, len(p.programs))
	for i, pr := range p.programs {
		names[i] = pr.Name
	}
	return func() tea.Msg {
		sums, err := repo.ProgramSummaries(ctx, names)
		return programSummariesMsg{summaries: sums, err: err}
	}
}

// enter refreshes the list each time the page comes back on screen (Init
// loads it the first time).
func (p *programsPage) enter(e *env) tea.Cmd {
	if !p.loaded {
		return nil
	}
	return p.load(e)
}

func (p *programsPage) update(e *env, msg tea.Msg) tea.Cmd {
	p.keys = e.keys
	switch msg := msg.(type) {
	case progChainMsg:
		return progSequence(p.update(e, msg.msg), msg.next)
	case programsLoadedMsg:
		return p.applyLoaded(e, msg)
	case programSummariesMsg:
		if msg.err != nil {
			// The list stays useful without them; say why the columns are empty.
			p.summaries = map[string]ProgramSummary{}
			p.refreshRows()
			return noticeErr(fmt.Errorf("program runs and costs: %w", msg.err))
		}
		p.summaries = msg.summaries
		if p.summaries == nil {
			p.summaries = map[string]ProgramSummary{}
		}
		p.refreshRows()
		if p.Pattern != "" {
			return p.filterCmd(e.ctx)
		}
	case programsFilterMsg:
		p.list.SetFilterResult(msg.res)
	case programWrittenMsg:
		return p.applyWritten(e, msg)
	case programVersionsMsg:
		p.applyVersions(msg)
	case programTemplatesMsg:
		if d, ok := p.dialog.(*templateDialog); ok {
			d.addTemplates(msg)
		}
	case editorFileMsg:
		return p.applyEditorFile(msg)
	case editorDoneMsg:
		return p.applyEditorDone(e, msg)
	case editorParsedMsg:
		return p.applyEditorParsed(e, msg)
	default:
		if p.edit != nil {
			return p.edit.updateOther(msg)
		}
	}
	return nil
}

func (p *programsPage) mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd {
	switch {
	case p.dialog != nil, p.edit != nil:
		return nil
	case p.diff != nil:
		if w, ok := msg.(tea.MouseWheelMsg); ok {
			p.diff.scroll(components.WheelDelta(w), p.diffBodyHeight())
		}
		return nil
	case p.versions != nil:
		if p.versions.list.Mouse(msg, y-1) {
			return p.versionsKey(e, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
		}
		return nil
	case p.detail != nil:
		if w, ok := msg.(tea.MouseWheelMsg); ok {
			p.scrollDetail(components.WheelDelta(w))
		}
		return nil
	}
	if p.ShowFilterLine() {
		y--
	}
	if p.list.Mouse(msg, y) {
		return p.key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return nil
}

// bindings are the keys of the view on screen, for the help and the palette.
func (p *programsPage) bindings() []key.Binding {
	km := p.keys
	back := km.Back
	switch {
	case p.dialog != nil:
		return p.dialog.bindings(km)
	case p.edit != nil:
		return p.edit.bindings(km)
	case p.diff != nil:
		return []key.Binding{km.Up, km.Down, km.PageUp, km.PageDown, keys.As(back, "back to the history")}
	case p.versions != nil:
		return []key.Binding{
			keys.As(km.Expand, "mark for diff"), keys.As(km.Open, "mark for diff"),
			keys.As(km.Diff, "diff against previous"), keys.As(back, "back"),
		}
	case p.detail != nil:
		return []key.Binding{
			keys.As(km.Down, "next module"), keys.As(km.Up, "previous module"),
			keys.As(km.Edit, "edit module"), keys.As(km.External, "edit module in $EDITOR"),
			km.Versions, km.Status, keys.As(km.Delete, "delete program"), keys.As(km.Run, "run program"),
			keys.As(km.Evaluate, "evaluate program"), keys.As(back, "back to the list"),
		}
	}
	return []key.Binding{
		keys.As(km.Open, "open program"), keys.As(km.New, "new program from a template"),
		km.Versions, km.Status, keys.As(km.Delete, "delete program"), keys.As(km.Run, "run program"),
		keys.As(km.Evaluate, "evaluate program"), km.Filter,
	}
}

// applyLoaded applies the result of loading programs: it keeps the open
// views on the fresh versions, re-runs the filter when a pattern is set and
// then loads the summaries.
func (p *programsPage) applyLoaded(e *env, msg programsLoadedMsg) tea.Cmd {
	p.loaded, p.err = true, msg.err
	if msg.err != nil {
		return nil
	}
	p.setPrograms(msg.programs)
	if p.Pattern != "" {
		return progSequence(p.filterCmd(e.ctx), p.loadSummaries(e))
	}
	return p.loadSummaries(e)
}

// progSequence runs a, then b, as one chain of messages: b's command is run
// after a's message is delivered. (Unlike tea.Batch it keeps the order.)
func progSequence(a, b tea.Cmd) tea.Cmd {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return func() tea.Msg { return progChainMsg{msg: a(), next: b} }
}

// progChainMsg delivers msg, then runs next.
type progChainMsg struct {
	msg  tea.Msg
	next tea.Cmd
}

// reselect puts the cursor back on the program called name, if listed.
func (p *programsPage) reselect(name string) {
	if name == "" {
		return
	}
	for i, pr := range p.programs {
		if pr.Name == name {
			p.list.SelectRow(i)
			return
		}
	}
}

// filterCmd issues a filter request for the current pattern and returns the
// command that runs it off the Update loop.
func (p *programsPage) filterCmd(ctx context.Context) tea.Cmd {
	req := p.list.FilterRequest(p.Pattern)
	return func() tea.Msg {
		return programsFilterMsg{res: components.Filter(ctx, req)}
	}
}

// filterKey handles a key while the filter prompt has the keyboard.
func (p *programsPage) filterKey(ctx context.Context, msg tea.KeyPressMsg) tea.Cmd {
	return p.filterDone(ctx, p.FilterInput(msg, &p.list))
}

// filterDone lays the page out again and runs the filter, as ev requires.
func (p *programsPage) filterDone(ctx context.Context, ev components.FilterEvent) tea.Cmd {
	if ev == components.FilterOpened || ev == components.FilterClosed || ev == components.FilterCleared {
		p.list.SetHeight(p.listHeight())
	}
	if ev == components.FilterChanged || ev == components.FilterCleared {
		return p.filterCmd(ctx)
	}
	return nil
}

// key handles a key on the page.
func (p *programsPage) key(e *env, msg tea.KeyPressMsg) tea.Cmd {
	p.keys = e.keys
	ctx, km := e.ctx, e.keys
	switch {
	case p.dialog != nil:
		return p.dialogKey(e, msg)
	case p.edit != nil:
		return p.editKey(e, msg)
	case p.diff != nil:
		return p.diffKey(e, msg)
	case p.versions != nil:
		return p.versionsKey(e, msg)
	case key.Matches(msg, km.Run) && !p.Filtering: // run it: the run form (tui/run.go, issue 7)
		if p.detail != nil {
			return runProgram(p.detail)
		}
		return runProgram(p.selected())
	case key.Matches(msg, km.Evaluate) && !p.Filtering: // its evaluations (tui/evaluations.go)
		if p.detail != nil {
			return evaluateProgram(p.detail)
		}
		return evaluateProgram(p.selected())
	case p.detail != nil:
		return p.detailKey(e, msg)
	case p.Filtering:
		return p.filterKey(ctx, msg)
	}
	if ev, ok := p.FilterListKey(msg, km); ok {
		return p.filterDone(ctx, ev)
	}
	switch {
	case key.Matches(msg, km.Back):
	case key.Matches(msg, km.Open):
		if pr := p.selected(); pr != nil {
			p.openDetail(pr)
		}
	case key.Matches(msg, km.New):
		return p.openTemplates(e)
	case key.Matches(msg, km.Versions):
		if pr := p.selected(); pr != nil {
			return p.openVersions(e, pr.Name)
		}
	case key.Matches(msg, km.Status):
		if pr := p.selected(); pr != nil {
			p.dialog = newStatusDialog(pr)
		}
	case key.Matches(msg, km.Delete):
		if pr := p.selected(); pr != nil {
			p.dialog = &deleteDialog{program: pr}
		}
	default:
		p.list.Navigate(msg, km)
	}
	return nil
}

func (p *programsPage) openDetail(pr *model.Program) {
	p.detail, p.detailOffset, p.module = pr, 0, 0
}

// detailKey handles a key in the detail view: j/k select a module (and
// scroll to it), the page keys scroll.
func (p *programsPage) detailKey(e *env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.keys
	switch {
	case key.Matches(msg, km.Back):
		p.detail, p.detailOffset = nil, 0
	case key.Matches(msg, km.Down):
		p.selectModule(p.module + 1)
	case key.Matches(msg, km.Up):
		p.selectModule(p.module - 1)
	case key.Matches(msg, km.PageDown):
		p.scrollDetail(p.detailBodyHeight())
	case key.Matches(msg, km.PageUp):
		p.scrollDetail(-p.detailBodyHeight())
	case key.Matches(msg, km.Top):
		p.selectModule(0)
		p.detailOffset = 0
	case key.Matches(msg, km.Bottom):
		p.selectModule(len(p.detail.Modules) - 1)
		p.scrollDetail(len(p.detailLines(p.width)))
	case key.Matches(msg, km.Edit):
		if p.module < len(p.detail.Modules) {
			p.edit = newModuleEdit(p.styles, p.detail, p.module, p.width, p.height)
			return p.edit.focusCmd()
		}
	case key.Matches(msg, km.External):
		if p.module < len(p.detail.Modules) {
			return p.startEditor(p.detail, p.module)
		}
	case key.Matches(msg, km.Versions):
		return p.openVersions(e, p.detail.Name)
	case key.Matches(msg, km.Status):
		p.dialog = newStatusDialog(p.detail)
	case key.Matches(msg, km.Delete):
		p.dialog = &deleteDialog{program: p.detail}
	}
	return nil
}

// selectModule selects module i of the detail and scrolls so that its
// heading is on screen.
func (p *programsPage) selectModule(i int) {
	if p.detail == nil || len(p.detail.Modules) == 0 {
		return
	}
	i = min(max(i, 0), len(p.detail.Modules)-1)
	if i == p.module {
		p.scrollDetail(0) // at the first or last module: the keys do nothing
		return
	}
	p.module = i
	_, starts := p.detailLayout(p.width)
	line, h := starts[p.module], p.detailBodyHeight()
	end := len(starts) // the next module's heading, or the end
	if p.module+1 < len(starts) {
		end = starts[p.module+1]
	}
	switch {
	case line < p.detailOffset:
		p.detailOffset = line
	case end > p.detailOffset+h:
		// Show as much of the module as fits, its heading first.
		p.detailOffset = min(line, end-h)
	}
	p.scrollDetail(0)
}

func (p *programsPage) scrollDetail(delta int) {
	maxOff := max(len(p.detailLines(p.width))-p.detailBodyHeight(), 0)
	p.detailOffset = min(max(p.detailOffset+delta, 0), maxOff)
}

// selected is the program under the cursor.
func (p *programsPage) selected() *model.Program {
	if row, ok := p.list.Selected(); ok && row < len(p.programs) {
		return p.programs[row]
	}
	return nil
}

// render draws the page in exactly p.width x p.height.
func (p *programsPage) render() string {
	s := p.styles
	var body string
	switch {
	case p.err != nil:
		body = layout.Fit(s.Error.Render("Could not load programs: ")+p.err.Error(), p.width, p.height)
	case !p.loaded:
		body = layout.Fit(s.Muted.Render("Loading programs…"), p.width, p.height)
	case p.edit != nil:
		body = p.edit.render()
	case p.diff != nil:
		body = p.renderDiff()
	case p.versions != nil:
		body = p.renderVersions()
	case p.detail != nil:
		body = p.renderDetail()
	default:
		body = p.renderList()
	}
	if p.dialog != nil {
		return layout.Overlay(body, p.dialog.render(s, min(p.width-4, 72)), p.width, p.height)
	}
	return body
}

func (p *programsPage) renderList() string {
	s := p.styles
	var b strings.Builder
	if p.ShowFilterLine() {
		b.WriteString(p.FilterLine(s, p.list.Pattern(), p.width))
		b.WriteByte('\n')
	}
	b.WriteString(p.list.Render(p.width, p.listHeight()))
	return b.String()
}

// restyle picks up a theme switched in place.
func (p *programsPage) restyle() {
	p.list.SetStyles(components.ThemeStyles(p.styles))
	if p.versions != nil {
		p.versions.list.SetStyles(components.ThemeStyles(p.styles))
	}
	if p.edit != nil {
		p.edit.restyle(p.styles)
	}
}
