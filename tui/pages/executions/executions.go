// Package executions is the Executions page: every execution, newest
// first, paged in as the cursor nears the end, updated live from the
// owner's event stream; enter opens one's trace, x cancels one.
package executions

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
)

// Executions is the execution history the page reads and acts on:
// app.Service's methods, only ever called from a tea.Cmd.
type Executions interface {
	// ListExecutions is a page of executions, newest first.
	ListExecutions(ctx context.Context, q app.ExecutionQuery) (*app.ExecutionPage, error)
	// CancelExecution cancels a pending or running execution and returns it.
	CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error)
	// Cost is what LM calls cost: the page shows the workspace's month.
	Cost(ctx context.Context, q app.CostQuery) (*app.CostReport, error)
}

// Traces opens an execution's trace over the page.
type Traces interface {
	Trace(id model.ID) page.Dialog
	// StartedHere says whether this workbench started execution id: it is
	// selected when it comes into the list.
	StartedHere(id model.ID) bool
}

// Paging: the first page is fetched when the page opens; the next when the
// cursor comes within execPrefetch rows of the end of what is loaded. The
// store may hold a million executions: only what is looked at is fetched.
const (
	execPageSize = 100
	execPrefetch = 30
)

// execPageMsg carries one page of executions; gen identifies the load that
// asked for it (a page of a load since replaced is dropped).
type execPageMsg struct {
	gen   uint64
	first bool
	execs []*model.Execution
	next  string
	err   error
}

type execFilterMsg struct{ res components.FilterResult }

// execCancelMsg is the answer to a cancel.
type execCancelMsg struct {
	id  model.ID
	x   *model.Execution
	err error
}

// costMsg carries the month-to-date cost.
type costMsg struct {
	usd float64
	err error
}

// execStates is the cycle of the state filter (`s`).
var execStates = []model.RunState{"", model.Running, model.Pending, model.Completed, model.Failed, model.Cancelled}

var executionColumns = []components.Column{
	{Title: "STATE", Width: components.StateColumn},
	{Title: "PROGRAM", Flex: 2, MinWidth: 10},
	{Title: "VER", Width: 4, Align: components.AlignRight},
	{Title: "STARTED", Width: 12},
	{Title: "DURATION", Width: 8, Align: components.AlignRight},
	{Title: "TOKENS", Width: 7, Align: components.AlignRight},
	{Title: "COST", Width: 8, Align: components.AlignRight},
	{Title: "ERROR", Flex: 3, MinWidth: 8},
}

// Page lists the executions, newest first, updated live.
type Page struct {
	styles  *themes.Styles
	keys    keys.Map
	clock   page.Clock
	repo    Executions
	screens Traces
	live    bool // an event stream is configured

	list  components.List
	view  *components.FilterResult // the filter result on screen; nil = every row
	execs []*model.Execution       // rows, in list order
	index map[model.ID]int
	// activity is the latest span name of a running execution.
	activity map[model.ID]string

	state   model.RunState
	gen     uint64
	next    string
	done    bool
	loading bool
	loaded  bool
	err     error
	// recent holds execution events that arrive while the first page loads,
	// applied over it when it comes.
	recent map[model.ID]*model.Execution

	components.FilterBar

	cost struct {
		usd            float64
		known          bool
		loading, again bool
		err            error
	}
	conn    *live.Conn // the stream's state; nil before it is first known
	session int        // the latest stream session seen (live.Conn.Session)

	width, height int
}

// New is the page over repo; live says an event stream is configured.
func New(e *page.Env, repo Executions, live bool, screens Traces) Page {
	return Page{styles: e.Styles, keys: e.Keys, clock: e.Clock, repo: repo, screens: screens, live: live,
		list:  components.NewList(executionColumns, 1, components.ThemeStyles(e.Styles)),
		index: map[model.ID]int{}, activity: map[model.ID]string{}}
}

// Start is what Init runs for this page: the month's cost, for the status bar.
func (p *Page) Start(e *page.Env) tea.Cmd { return p.fetchCost(e) }

// MonthCost is what the workspace's executions cost this month, once known.
func (p *Page) MonthCost() (usd float64, known bool) { return p.cost.usd, p.cost.known }

func (p *Page) SetSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
}

// listHeight is the page minus the header line and the filter line.
func (p *Page) listHeight() int {
	h := p.height - 1
	if p.ShowFilterLine() {
		h--
	}
	return max(h, 1)
}

func (p *Page) Typing() bool { return p.Filtering }

func (p *Page) Enter(e *page.Env) tea.Cmd {
	if p.loaded || p.loading {
		return nil
	}
	return p.reload(e)
}

// reload drops what is loaded and fetches the first page.
func (p *Page) reload(e *page.Env) tea.Cmd {
	p.gen++
	p.loading, p.err = true, nil
	p.recent = map[model.ID]*model.Execution{}
	return p.fetch(e, "", true)
}

func (p *Page) fetch(e *page.Env, cursor string, first bool) tea.Cmd {
	repo, ctx, gen, state := p.repo, e.Ctx, p.gen, p.state
	p.loading = true
	return e.Cmd(func() tea.Msg {
		if repo == nil {
			return execPageMsg{gen: gen, first: first, err: fmt.Errorf("no execution history configured")}
		}
		pg, err := repo.ListExecutions(ctx, app.ExecutionQuery{State: state, Cursor: cursor, Limit: execPageSize})
		if err != nil {
			return execPageMsg{gen: gen, first: first, err: err}
		}
		return execPageMsg{gen: gen, first: first, execs: pg.Executions, next: pg.Next}
	})
}

// maybeFetch fetches the next page when the cursor nears the end.
func (p *Page) maybeFetch(e *page.Env) tea.Cmd {
	if !p.loaded || p.done || p.loading || p.err != nil {
		return nil
	}
	if p.list.Cursor() < p.list.Len()-execPrefetch {
		return nil
	}
	return p.fetch(e, p.next, false)
}

func (p *Page) fetchCost(e *page.Env) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	if repo == nil {
		return nil
	}
	if p.cost.loading {
		p.cost.again = true
		return nil
	}
	p.cost.loading = true
	q := app.CostQuery{Month: format.Month(e.Now())}
	return e.Cmd(func() tea.Msg {
		c, err := repo.Cost(ctx, q)
		if err != nil {
			return costMsg{err: err}
		}
		return costMsg{usd: c.Total}
	})
}

func (p *Page) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case execPageMsg:
		return p.applyPage(e, msg)
	case execFilterMsg:
		if p.list.SetFilterResult(msg.res) {
			p.setView(msg.res)
		}
	case execCancelMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("cancel %s: %w", execShortID(msg.id), msg.err))
		}
		text := "cancelled " + execShortID(msg.id)
		if !msg.x.State.Terminal() {
			text = "cancelling " + execShortID(msg.id) + "…" // it ends when the worker lets go
		}
		return tea.Batch(p.applyExecs(e, []*model.Execution{msg.x}), page.Notice(text))
	case costMsg:
		p.cost.loading = false
		if msg.err == nil {
			p.cost.usd, p.cost.known = msg.usd, true
		}
		p.cost.err = msg.err
		if p.cost.again {
			p.cost.again = false
			return p.fetchCost(e)
		}
	}
	return nil
}

// Live applies what the stream brought.
func (p *Page) Live(e *page.Env, msg live.Msg) tea.Cmd {
	var cmds []tea.Cmd
	if msg.Conn != nil {
		p.conn = msg.Conn
		// A new session after an earlier one: what happened in between was
		// not streamed.
		if n := msg.Conn.Session; n > p.session {
			again := p.session > 0
			p.session = n
			if again {
				cmds = append(cmds, p.reconnected(e)...)
			}
		}
	}
	for _, sp := range msg.Spans {
		name := sp.Module
		if name == "" {
			name = sp.Name
		}
		p.activity[sp.Execution] = name
	}
	if len(msg.Execs) > 0 {
		cmds = append(cmds, p.applyExecs(e, msg.Execs))
		for _, x := range msg.Execs {
			if x.State.Terminal() {
				cmds = append(cmds, p.fetchCost(e))
				break
			}
		}
	}
	p.refreshRunning()
	return tea.Batch(cmds...)
}

func (p *Page) applyPage(e *page.Env, msg execPageMsg) tea.Cmd {
	if msg.gen != p.gen {
		return nil
	}
	p.loading = false
	if msg.err != nil {
		p.err = msg.err
		if msg.first {
			p.loaded = true
		}
		return nil
	}
	xs := msg.execs
	if msg.first {
		// Events that came during the load are at least as new as the page,
		// unless the page already shows a later state.
		for i, x := range xs {
			if r, ok := p.recent[x.ID]; ok && stateRank(r.State) >= stateRank(x.State) {
				xs[i] = r
			}
		}
		p.execs, p.loaded = nil, true
	}
	seen := make(map[model.ID]bool, len(p.execs)+len(xs))
	out := make([]*model.Execution, 0, len(p.execs)+len(xs))
	for _, x := range append(p.execs[:len(p.execs):len(p.execs)], xs...) {
		if !seen[x.ID] {
			seen[x.ID] = true
			out = append(out, x)
		}
	}
	p.next = msg.next
	p.done = msg.next == "" || len(xs) == 0
	recent := p.recent
	p.recent = nil
	cmd := p.setExecs(e, out)
	// Executions that started during the load are newer than the page.
	var fresh []*model.Execution
	if msg.first {
		for _, r := range recent {
			if !seen[r.ID] {
				fresh = append(fresh, r)
			}
		}
	}
	if len(fresh) > 0 {
		cmd = tea.Batch(cmd, p.applyExecs(e, fresh))
	}
	return tea.Batch(cmd, p.maybeFetch(e))
}

// stateRank orders states by how far along they are.
func stateRank(s model.RunState) int {
	switch s {
	case model.Pending:
		return 0
	case model.Running:
		return 1
	}
	return 2
}

// newer orders executions newest first: IDs grow with creation time.
func newer(a, b *model.Execution) bool { return bytes.Compare(a.ID[:], b.ID[:]) > 0 }

// applyExecs applies execution state changes to the list: a row that is
// there is updated (or removed when it leaves the state filter), a new
// execution is inserted where it belongs by age — unless it is older than
// every row loaded while older pages remain (paging will bring it).
func (p *Page) applyExecs(e *page.Env, xs []*model.Execution) tea.Cmd {
	if p.recent != nil { // the first page is loading
		for _, x := range xs {
			if r, ok := p.recent[x.ID]; !ok || stateRank(x.State) >= stateRank(r.State) {
				p.recent[x.ID] = x
			}
		}
		return nil
	}
	if !p.loaded {
		return nil
	}
	changed := false
	out := p.execs
	var started model.ID // a new execution this workbench started: selected
	for _, x := range xs {
		if x.State.Terminal() {
			delete(p.activity, x.ID)
		}
		match := p.state == "" || x.State == p.state
		if i, ok := p.index[x.ID]; ok && !changed {
			if match {
				p.setRow(i, x)
				continue
			}
		}
		// The slow path: rebuild the rows.
		if !changed {
			out = append([]*model.Execution(nil), p.execs...)
			changed = true
		}
		at := -1
		for i, y := range out {
			if y.ID == x.ID {
				at = i
				break
			}
		}
		if at >= 0 {
			if match {
				out[at] = x
			} else {
				out = append(out[:at], out[at+1:]...)
			}
			continue
		}
		if !match {
			continue
		}
		pos := len(out)
		for i, y := range out {
			if newer(x, y) {
				pos = i
				break
			}
		}
		if pos == len(out) && !p.done {
			continue
		}
		out = append(out, nil)
		copy(out[pos+1:], out[pos:])
		out[pos] = x
		if p.screens != nil && p.screens.StartedHere(x.ID) {
			started = x.ID
		}
	}
	if !changed {
		return nil
	}
	cmd := p.setExecs(e, out)
	if i, ok := p.index[started]; ok && !started.IsZero() {
		p.list.SelectRow(i)
	}
	return cmd
}

// setRow updates row i in place; the filter stays applied.
func (p *Page) setRow(i int, x *model.Execution) {
	p.execs[i] = x
	p.list.SetRow(i, p.row(x))
}

// setExecs replaces the rows, keeping the cursor on the execution it was on
// and re-applying the text filter.
func (p *Page) setExecs(e *page.Env, xs []*model.Execution) tea.Cmd {
	var sel model.ID
	hadSel := false
	if x := p.selected(); x != nil {
		sel, hadSel = x.ID, true
	}
	p.execs = xs
	p.index = make(map[model.ID]int, len(xs))
	rows := make([]components.Row, len(xs))
	for i, x := range xs {
		p.index[x.ID] = i
		rows[i] = p.row(x)
	}
	p.list.SetRows(rows)
	p.view = nil
	if hadSel {
		if i, ok := p.index[sel]; ok {
			p.list.SelectRow(i)
		}
	}
	if p.Pattern != "" {
		return p.filterCmd(e)
	}
	return nil
}

// refreshRunning updates the elapsed time of the running rows.
func (p *Page) refreshRunning() {
	for i, x := range p.execs {
		if x.State == model.Running {
			p.list.SetRow(i, p.row(x))
		}
	}
}

func (p *Page) setView(res components.FilterResult) {
	if res.All {
		p.view = nil
		return
	}
	p.view = &res
}

// rowAt is the row index at view position pos.
func (p *Page) rowAt(pos int) int {
	if p.view == nil {
		return pos
	}
	return p.view.Index(pos)
}

func (p *Page) selected() *model.Execution {
	if row, ok := p.list.Selected(); ok && row < len(p.execs) {
		return p.execs[row]
	}
	return nil
}

// row is the cells of an execution.
func (p *Page) row(x *model.Execution) components.Row {
	started := "-"
	if at := x.StartedAt; !at.IsZero() {
		started = p.clockTime(at)
	} else if !x.CreatedAt.IsZero() {
		started = p.clockTime(x.CreatedAt)
	}
	dur := "-"
	switch {
	case x.State == model.Running && !x.StartedAt.IsZero():
		dur = format.Duration(p.clock.Now().Sub(x.StartedAt))
	case x.Duration > 0:
		dur = format.Duration(x.Duration)
	}
	tokens := 0
	for _, u := range x.Usage {
		tokens += u.Total()
	}
	cost := "-"
	switch {
	case x.CostUnknown && x.Cost > 0:
		cost = format.USDMaybe(x.Cost, true) // what the calls that reported one cost, and more
	case x.CostUnknown:
		cost = "?"
	case x.Cost > 0 || x.State == model.Completed:
		cost = format.USD(x.Cost)
	}
	note := ""
	switch {
	case x.Error != "":
		note = x.Error
		if line, _, ok := strings.Cut(note, "\n"); ok {
			note = line
		}
		if x.ErrorCode != "" {
			note = x.ErrorCode + ": " + note
		}
	case x.State == model.Running && p.activity[x.ID] != "":
		note = "▸ " + p.activity[x.ID]
	case x.CacheHit:
		note = "cache hit"
	}
	return components.Row{string(x.State), x.Program, "v" + strconv.Itoa(x.Version), started, dur, format.Tokens(tokens), cost, note}
}

// clockTime is a start time: the time of day today, else the date too.
func (p *Page) clockTime(t time.Time) string {
	t, now := t.In(p.clock.Location), p.clock.Now().In(p.clock.Location)
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 02 15:04")
}

// shortID is the first group of an execution ID, as the CLI shows it.
func execShortID(id model.ID) string {
	s := id.String()
	if i := strings.IndexByte(s, '-'); i > 0 {
		return s[:i]
	}
	return s
}

func (p *Page) filterCmd(e *page.Env) tea.Cmd {
	return e.Cmd(p.Refilter(e.Ctx, &p.list, func(r components.FilterResult) tea.Msg { return execFilterMsg{res: r} }))
}

func (p *Page) filterKey(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	if ev := p.FilterInput(msg, &p.list); ev != components.FilterNone {
		return p.filterDone(e, ev)
	}
	return p.maybeFetch(e) // down may near the end of what is loaded
}

// filterDone lays the page out again and runs the filter, as ev requires.
func (p *Page) filterDone(e *page.Env, ev components.FilterEvent) tea.Cmd {
	if p.Follow(ev, &p.list, p.listHeight) {
		return p.filterCmd(e)
	}
	return nil
}

func (p *Page) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	if p.Filtering {
		return p.filterKey(e, msg)
	}
	if ev, ok := p.FilterListKey(msg, km); ok {
		return p.filterDone(e, ev)
	}
	switch {
	case key.Matches(msg, km.Back):
	case key.Matches(msg, km.Status):
		i := 0
		for k, s := range execStates {
			if s == p.state {
				i = k
			}
		}
		p.state = execStates[(i+1)%len(execStates)]
		return p.reload(e)
	case key.Matches(msg, km.Refresh):
		return tea.Batch(p.reload(e), p.fetchCost(e))
	case key.Matches(msg, km.Cancel):
		x := p.selected()
		if x == nil {
			return nil
		}
		if x.State.Terminal() {
			return page.Notice(fmt.Sprintf("%s has already %s", execShortID(x.ID), x.State))
		}
		return p.cancel(e, x.ID)
	case key.Matches(msg, km.Open):
		if x := p.selected(); x != nil && p.screens != nil {
			e.Push(p.screens.Trace(x.ID))
		}
	default:
		p.list.Navigate(msg, km)
		return p.maybeFetch(e)
	}
	return nil
}

func (p *Page) cancel(e *page.Env, id model.ID) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	if repo == nil {
		return nil
	}
	return e.Cmd(func() tea.Msg {
		x, err := repo.CancelExecution(ctx, id)
		return execCancelMsg{id: id, x: x, err: err}
	})
}

func (p *Page) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	y-- // the header line
	if p.ShowFilterLine() {
		y--
	}
	if p.list.Mouse(msg, y) {
		return p.Key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return p.maybeFetch(e)
}

func (p *Page) Bindings() []key.Binding {
	km := p.keys
	if p.Filtering {
		return []key.Binding{keys.As(km.Open, "accept filter"), keys.As(km.Back, "clear filter")}
	}
	bs := []key.Binding{
		keys.As(km.Open, "open trace"), km.Filter, keys.As(km.Status, "filter by state"),
		keys.As(km.Cancel, "cancel execution"), km.Refresh, km.Up, km.Down, km.Top, km.Bottom,
	}
	if p.Pattern != "" {
		bs = append(bs, keys.As(km.Back, "clear filter"))
	}
	return bs
}

func (p *Page) Render() string {
	s := p.styles
	var b strings.Builder
	b.WriteString(layout.Fit(p.header(), p.width, 1))
	b.WriteByte('\n')
	if p.ShowFilterLine() {
		b.WriteString(p.FilterLine(s, p.list.Pattern(), p.width))
		b.WriteByte('\n')
	}
	h := p.listHeight()
	switch {
	case p.err != nil && len(p.execs) == 0:
		b.WriteString(layout.Fit(s.Error.Render("Could not load executions: ")+format.Line(p.err.Error()), p.width, h))
	case !p.loaded:
		b.WriteString(layout.Fit(s.Muted.Render("Loading executions…"), p.width, h))
	case p.list.Total() == 0:
		text := "No executions yet. Run a program with `signet run <program>` or from the Programs page."
		if p.state != "" {
			text = fmt.Sprintf("No %s executions. Press s to show another state.", p.state)
		}
		b.WriteString(layout.Fit(s.Muted.Render(text), p.width, h))
	default:
		b.WriteString(p.renderList(h))
	}
	return b.String()
}

// header is the line above the list: the state filter, what is loaded and
// the stream's state.
func (p *Page) header() string {
	s := p.styles
	state := "all states"
	if p.state != "" {
		state = string(p.state)
	}
	info := "  " + state
	switch {
	case p.loading && p.loaded:
		info += " · loading more…"
	case p.err != nil && len(p.execs) > 0:
		info += " · " + s.Error.Render("error: ") + format.Line(p.err.Error())
	case p.loaded && !p.done:
		info += " · newest " + strconv.Itoa(len(p.execs)) + ", more below"
	}
	switch {
	case !p.live:
	case p.conn == nil:
		info += " · connecting…"
	case p.conn.Up:
		info += " · " + s.Success.Render("live")
	default:
		info += " · " + s.Warning.Render(fmt.Sprintf("owner unreachable, retrying in %s", p.conn.Retry.Round(time.Millisecond)))
	}
	return s.Title.Render("Executions") + s.Muted.Render(info)
}

// renderList draws the list with the state cells as coloured badges.
func (p *Page) renderList(h int) string {
	return p.list.DrawBadges(p.list.Render(p.width, h), 1, p.width, func(pos int) (string, bool) {
		row := p.rowAt(pos)
		if row >= len(p.execs) {
			return "", false
		}
		st := string(p.execs[row].State)
		return p.styles.StateBadge(st).Render(st), true
	})
}

// Restyle picks up a theme switched in place.
func (p *Page) Restyle() { p.list.SetStyles(components.ThemeStyles(p.styles)) }

// reconnected refreshes what the stream may have missed while it was down.
func (p *Page) reconnected(e *page.Env) []tea.Cmd {
	cmds := []tea.Cmd{p.fetchCost(e)}
	if p.loaded || p.loading {
		cmds = append(cmds, p.reload(e))
	}
	return cmds
}

// Whole is the selected execution's row with every cell whole.
func (p *Page) Whole() (string, []page.Section, bool) {
	t, c, ok := p.list.SelectedCells()
	return "Execution", page.Cells(t, c), ok
}
