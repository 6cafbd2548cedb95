// Package programs is the Programs page: the programs listed with their
// last run and month's cost, a program's detail (its modules), its version
// history and the diff of two versions, and what it opens over itself: the
// module editor (in place, or in $EDITOR), new program from a template,
// status, delete, and a program's run form and evaluations (Screens).
package programs

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// Programs is the program repository the Programs page reads from and
// writes to: app.Service's methods, only ever called from a tea.Cmd, never
// from Update.
type Programs interface {
	ListPrograms(ctx context.Context) ([]*model.Program, error)
	// ProgramSummaries gives the last run and this month's cost of the
	// named programs; a program without runs may be missing from the map.
	ProgramSummaries(ctx context.Context, names []string) (map[string]app.ProgramSummary, error)
	// ProgramVersions is every version of a program, oldest first.
	ProgramVersions(ctx context.Context, name string) ([]*model.Program, error)
	// SaveProgram stores p as the next version of an existing program.
	SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	// CreateProgram stores version 1 of a new program.
	CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	// SetProgramStatus records a status change as a new version.
	SetProgramStatus(ctx context.Context, name string, status model.ProgramStatus, note string) (*model.Program, error)
	DeleteProgram(ctx context.Context, name string) error
	// TrafficSplit is a program's split between its versions (not_found
	// when it has none); TrafficReport compares its arms.
	TrafficSplit(ctx context.Context, program string) (*model.TrafficSplit, error)
	TrafficReport(ctx context.Context, q app.TrafficQuery) (*model.TrafficReport, error)
}

// Screens opens what a program's actions lead to, over the page: its run
// form (r) and its evaluations (E).
type Screens interface {
	RunForm(p *model.Program) page.Dialog
	Evaluations(p *model.Program) page.Dialog
}

// Page is the Programs page. Views stack: list → detail, and list or
// detail → versions → diff; esc goes back one.
type Page struct {
	styles  *themes.Styles
	keys    keys.Map
	clock   page.Clock
	repo    Programs
	screens Screens
	// templates are offered for a new program after the built-in ones.
	templates []*model.Program
	list      components.List

	programs  []*model.Program
	summaries map[string]app.ProgramSummary
	loaded    bool
	err       error

	components.FilterBar

	detail       *model.Program // non-nil while the detail view is open
	detailOffset int            // first line of the detail shown
	module       int            // the module selected in the detail

	versions *versionsView // the version history, over the detail or the list
	diff     *diffView     // a diff of two versions, over the history
	traffic  *trafficView  // the traffic split and report, over the list or the detail

	// seq numbers the requests whose answer belongs to a view (versions,
	// the $EDITOR round trip); an answer with an older number is for a view
	// since closed or replaced, and is dropped.
	seq int

	// undo is the last destructive action here, for u.
	undo    *programUndo
	undoing bool // the status write under way is u's: it is not recorded again
	width   int
	height  int
}

// programUndo is what u can undo: a status change (set the status back,
// as a new version), or a delete (which cannot be undone: the store keeps
// no deleted versions, and u says so).
type programUndo struct {
	name     string
	status   model.ProgramStatus // the status before the change
	deleted  bool
	versions int // of the deleted program
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

// New is the page over repo; screens opens a program's run form and
// evaluations; templates are offered for a new program after the built-in
// ones (the examples `signet demo` loads).
func New(e *page.Env, repo Programs, screens Screens, templates []*model.Program) Page {
	return Page{styles: e.Styles, keys: e.Keys, clock: e.Clock, repo: repo, screens: screens, templates: templates,
		list: components.NewList(programColumns, 0, components.ThemeStyles(e.Styles))}
}

func (p *Page) SetSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
	if p.versions != nil {
		p.versions.list.SetHeight(p.versionsListHeight())
	}
}

func (p *Page) listHeight() int {
	if p.ShowFilterLine() {
		return max(p.height-1, 1)
	}
	return p.height
}

// Typing reports whether the filter prompt has the keyboard.
func (p *Page) Typing() bool {
	if p.detail != nil || p.versions != nil || p.traffic != nil {
		return false
	}
	return p.Filtering
}

// Count is the programs listed, for the status bar: "4", "1/4" while a
// filter is applied, "…" while loading.
func (p *Page) Count() string {
	switch {
	case p.err != nil:
		return "error"
	case p.loaded && p.list.Pattern() != "":
		return fmt.Sprintf("%d/%d", p.list.Len(), p.list.Total())
	case p.loaded:
		return fmt.Sprint(p.list.Total())
	}
	return "…"
}

func progStatusText(st model.ProgramStatus) string {
	if st == "" {
		return "-"
	}
	return string(st)
}

func (p *Page) setPrograms(ps []*model.Program) {
	p.programs = ps
	p.refreshRows()
}

// refreshRows rebuilds the list's rows (programs or summaries changed).
func (p *Page) refreshRows() {
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
			last, cost = format.Ago(p.clock.Now(), sum.LastRun), progMoney(sum.MonthCost, sum.MonthRuns)
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

// progMoney is a month's cost: "-" without runs, cents above a dollar,
// four decimals below (local models cost little or nothing).
func progMoney(cost float64, runs int) string {
	if runs == 0 && cost == 0 {
		return "-"
	}
	return format.USD(cost)
}

// Messages of the Programs page.
type (
	// programsLoadedMsg carries the result of Programs.ListPrograms.
	programsLoadedMsg struct {
		programs []*model.Program
		err      error
	}
	// programSummariesMsg carries the runs and costs of the listed programs.
	programSummariesMsg struct {
		summaries map[string]app.ProgramSummary
		err       error
	}
	// programsFilterMsg carries a filter result for the programs list.
	programsFilterMsg struct{ res components.FilterResult }
	// deleteProgramMsg is the delete confirmation's yes.
	deleteProgramMsg struct{ name string }
	// setStatusMsg is the status chooser's choice.
	setStatusMsg struct {
		name   string
		status model.ProgramStatus
	}
)

// Load lists the programs: what Init runs for this page.
func (p *Page) Load(e *page.Env) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		if repo == nil {
			return programsLoadedMsg{err: fmt.Errorf("no program repository configured")}
		}
		ps, err := repo.ListPrograms(ctx)
		return programsLoadedMsg{programs: ps, err: err}
	})
}

// loadSummaries reads the runs and costs of the programs listed; it
// follows each load, so a slow cost query never holds the list back.
func (p *Page) loadSummaries(e *page.Env) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	if repo == nil || len(p.programs) == 0 {
		return nil
	}
	names := make([]string, len(p.programs))
	for i, pr := range p.programs {
		names[i] = pr.Name
	}
	return e.Cmd(func() tea.Msg {
		sums, err := repo.ProgramSummaries(ctx, names)
		return programSummariesMsg{summaries: sums, err: err}
	})
}

// Enter refreshes the list each time the page comes back on screen (Init
// loads it the first time).
func (p *Page) Enter(e *page.Env) tea.Cmd {
	if !p.loaded {
		return nil
	}
	return p.Load(e)
}

func (p *Page) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case programsLoadedMsg:
		return p.applyLoaded(e, msg)
	case programSummariesMsg:
		if msg.err != nil {
			// The list stays useful without them; say why the columns are empty.
			p.summaries = map[string]app.ProgramSummary{}
			p.refreshRows()
			return page.NoticeErr(fmt.Errorf("program runs and costs: %w", msg.err))
		}
		p.summaries = msg.summaries
		if p.summaries == nil {
			p.summaries = map[string]app.ProgramSummary{}
		}
		p.refreshRows()
		if p.Pattern != "" {
			return p.filterCmd(e)
		}
	case programsFilterMsg:
		p.list.SetFilterResult(msg.res)
	case programWrittenMsg:
		return p.applyWritten(e, msg)
	case programVersionsMsg:
		p.applyVersions(msg)
	case trafficMsg:
		p.applyTraffic(msg)
	case deleteProgramMsg:
		name := msg.name
		return p.write(e, writeDelete, name, func(ctx context.Context, r Programs) (*model.Program, error) {
			return nil, r.DeleteProgram(ctx, name)
		})
	case setStatusMsg:
		return p.write(e, writeStatus, msg.name, func(ctx context.Context, r Programs) (*model.Program, error) {
			return r.SetProgramStatus(ctx, msg.name, msg.status, "")
		})
	case editorFileMsg:
		return p.applyEditorFile(e, msg)
	case editorDoneMsg:
		return p.applyEditorDone(e, msg)
	case editorParsedMsg:
		return p.applyEditorParsed(e, msg)
	}
	return nil
}

func (p *Page) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	switch {
	case p.traffic != nil:
		if w, ok := msg.(tea.MouseWheelMsg); ok && p.traffic.loaded && p.traffic.err == nil {
			p.scrollTraffic(components.WheelDelta(w), p.trafficBodyHeight())
		}
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
		return p.Key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return nil
}

// Bindings are the keys of the view on screen, for the help and the palette.
func (p *Page) Bindings() []key.Binding {
	km := p.keys
	back := km.Back
	switch {
	case p.traffic != nil:
		return []key.Binding{km.Up, km.Down, km.PageUp, km.PageDown, keys.As(km.Refresh, "refresh the report"), keys.As(back, "back")}
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
			keys.As(km.Evaluate, "evaluate program"), km.Traffic, p.undoBinding(), keys.As(back, "back to the list"),
		}
	}
	return []key.Binding{
		keys.As(km.Open, "open program"), keys.As(km.New, "new program from a template"),
		km.Versions, km.Status, keys.As(km.Delete, "delete program"), keys.As(km.Run, "run program"),
		keys.As(km.Evaluate, "evaluate program"), km.Traffic, p.undoBinding(), km.Filter,
	}
}

// applyLoaded applies the result of loading programs: it keeps the open
// views on the fresh versions, re-runs the filter when a pattern is set and
// then loads the summaries.
func (p *Page) applyLoaded(e *page.Env, msg programsLoadedMsg) tea.Cmd {
	p.loaded, p.err = true, msg.err
	if msg.err != nil {
		return nil
	}
	p.setPrograms(msg.programs)
	if p.Pattern != "" {
		return page.Then(p.filterCmd(e), p.loadSummaries(e))
	}
	return p.loadSummaries(e)
}

// reselect puts the cursor back on the program called name, if listed.
func (p *Page) reselect(name string) {
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
func (p *Page) filterCmd(e *page.Env) tea.Cmd {
	return e.Cmd(p.Refilter(e.Ctx, &p.list, func(r components.FilterResult) tea.Msg { return programsFilterMsg{res: r} }))
}

// filterDone lays the page out again and runs the filter, as ev requires.
func (p *Page) filterDone(e *page.Env, ev components.FilterEvent) tea.Cmd {
	if p.Follow(ev, &p.list, p.listHeight) {
		return p.filterCmd(e)
	}
	return nil
}

// Key handles a key on the page.
func (p *Page) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	switch {
	case p.traffic != nil:
		return p.trafficKey(e, msg)
	case p.diff != nil:
		return p.diffKey(msg)
	case p.versions != nil:
		return p.versionsKey(e, msg)
	case key.Matches(msg, km.Undo) && !p.Filtering:
		return p.undoLast(e)
	case key.Matches(msg, km.Run) && !p.Filtering: // run it: the run form (issue 7)
		return p.open(e, p.current(), p.screens.RunForm)
	case key.Matches(msg, km.Evaluate) && !p.Filtering: // its evaluations (issue 14)
		return p.open(e, p.current(), p.screens.Evaluations)
	case key.Matches(msg, km.Traffic) && !p.Filtering: // its A/B split and report (issue 20)
		return p.openTraffic(e, p.current())
	case p.detail != nil:
		return p.detailKey(e, msg)
	case p.Filtering:
		return p.filterDone(e, p.FilterInput(msg, &p.list))
	}
	if ev, ok := p.FilterListKey(msg, km); ok {
		return p.filterDone(e, ev)
	}
	switch {
	case key.Matches(msg, km.Back):
	case key.Matches(msg, km.Open):
		if pr := p.selected(); pr != nil {
			p.openDetail(pr)
		}
	case key.Matches(msg, km.New):
		e.Push(newTemplateDialog(p.styles, p.repo, p.programs, p.templates))
	case key.Matches(msg, km.Versions):
		if pr := p.selected(); pr != nil {
			return p.openVersions(e, pr.Name)
		}
	case key.Matches(msg, km.Status):
		if pr := p.selected(); pr != nil {
			e.Push(newStatusDialog(p.styles, p.keys, pr))
		}
	case key.Matches(msg, km.Delete):
		if pr := p.selected(); pr != nil {
			e.Push(deleteDialog(p.styles, pr))
		}
	default:
		p.list.Navigate(msg, km)
	}
	return nil
}

// current is the program the keys act on: the one open, else the selected one.
func (p *Page) current() *model.Program {
	if p.detail != nil {
		return p.detail
	}
	return p.selected()
}

// open pushes the view of pr that screen makes.
func (p *Page) open(e *page.Env, pr *model.Program, screen func(*model.Program) page.Dialog) tea.Cmd {
	if pr != nil && p.screens != nil {
		e.Push(screen(pr))
	}
	return nil
}

func (p *Page) openDetail(pr *model.Program) {
	p.detail, p.detailOffset, p.module = pr, 0, 0
}

// detailKey handles a key in the detail view: j/k select a module (and
// scroll to it), the page keys scroll.
func (p *Page) detailKey(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
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
			e.Push(newModuleEdit(p.styles, p.keys, p.repo, p.detail, p.module))
		}
	case key.Matches(msg, km.External):
		if p.module < len(p.detail.Modules) {
			return p.startEditor(e, p.detail, p.module)
		}
	case key.Matches(msg, km.Versions):
		return p.openVersions(e, p.detail.Name)
	case key.Matches(msg, km.Status):
		e.Push(newStatusDialog(p.styles, p.keys, p.detail))
	case key.Matches(msg, km.Delete):
		e.Push(deleteDialog(p.styles, p.detail))
	}
	return nil
}

// selectModule selects module i of the detail and scrolls so that its
// heading is on screen.
func (p *Page) selectModule(i int) {
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

func (p *Page) scrollDetail(delta int) {
	maxOff := max(len(p.detailLines(p.width))-p.detailBodyHeight(), 0)
	p.detailOffset = min(max(p.detailOffset+delta, 0), maxOff)
}

// selected is the program under the cursor.
func (p *Page) selected() *model.Program {
	if row, ok := p.list.Selected(); ok && row < len(p.programs) {
		return p.programs[row]
	}
	return nil
}

// Render draws the page in exactly p.width x p.height.
func (p *Page) Render() string {
	s := p.styles
	switch {
	case p.err != nil:
		return layout.Fit(s.Error.Render("Could not load programs: ")+format.Line(p.err.Error()), p.width, p.height)
	case !p.loaded:
		return layout.Fit(s.Muted.Render("Loading programs…"), p.width, p.height)
	case p.traffic != nil:
		return p.renderTraffic()
	case p.diff != nil:
		return p.renderDiff()
	case p.versions != nil:
		return p.renderVersions()
	case p.detail != nil:
		return p.renderDetail()
	}
	var b strings.Builder
	if p.ShowFilterLine() {
		b.WriteString(p.FilterLine(s, p.list.Pattern(), p.width))
		b.WriteByte('\n')
	}
	b.WriteString(p.list.Render(p.width, p.listHeight()))
	return b.String()
}

// Restyle picks up a theme switched in place.
func (p *Page) Restyle() {
	p.list.SetStyles(components.ThemeStyles(p.styles))
	if p.versions != nil {
		p.versions.list.SetStyles(components.ThemeStyles(p.styles))
	}
}

// deleteDialog asks before a program and its history are deleted.
func deleteDialog(s *themes.Styles, pr *model.Program) *dialog.Confirm {
	versions := "its version"
	if pr.Version > 1 {
		versions = fmt.Sprintf("all %d versions", pr.Version)
	}
	yes := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "delete")), Result: deleteProgramMsg{name: pr.Name}}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys("n", "N", "esc", "q"), key.WithHelp("n/esc", "keep it"))}
	return dialog.NewConfirm(s, dialog.Centre, []string{
		s.Error.Render("Delete program " + pr.Name + "?"),
		"",
		fmt.Sprintf("This deletes %s and %s.", pr.Name, versions),
		"Its executions stay, as history; the delete cannot be undone.",
		"",
		dialog.Hint(s, yes, no),
	}, yes, no)
}

// Whole is the selected program's row with every cell whole (the list only).
func (p *Page) Whole() (string, []page.Section, bool) {
	if p.diff != nil || p.versions != nil || p.detail != nil || p.traffic != nil {
		return "", nil, false
	}
	t, c, ok := p.list.SelectedCells()
	return "Program", page.Cells(t, c), ok
}

// Live reads the programs again when one was written elsewhere (another
// terminal, the CLI, an optimization's result): the selection stays.
func (p *Page) Live(e *page.Env, msg live.Msg) tea.Cmd {
	if len(msg.Programs) == 0 || !p.loaded {
		return nil
	}
	if v := p.traffic; v != nil && slices.Contains(msg.Programs, v.name) {
		// Its split changed (or a version): read the report again.
		p.seq++
		v.seq = p.seq
		return page.Then(p.Load(e), p.loadTraffic(e))
	}
	return p.Load(e)
}
