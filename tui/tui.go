// Package tui is Signet's terminal workbench (Bubble Tea v2): the shell
// around the pages. It owns the tabs, the status bar, the help and the
// command palette, and routes: keys and the mouse to what is on top (the
// top dialog, else the page on screen), every command's result to the page
// or dialog that asked for it (page.Routed), and the owner's live events
// to whoever follows them. It holds the workspace's app.Service and never
// knows whether it is the owner or a client of it (DESIGN.md section 2):
// each page declares the part of the service it needs, in the service's
// own methods and types, and Services hands one app.Service to them all.
//
// Only the root model returns a tea.View; pages and dialogs render strings
// at a given size. Update does no I/O: reads and writes run as tea.Cmds
// whose results come back as typed messages.
package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/pages/datasets"
	"github.com/signet-dspy/signet/tui/pages/evaluations"
	"github.com/signet-dspy/signet/tui/pages/executions"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
	"github.com/signet-dspy/signet/tui/pages/programs"
	"github.com/signet-dspy/signet/tui/pages/users"
	"github.com/signet-dspy/signet/tui/pages/workers"
	"github.com/signet-dspy/signet/tui/runs"
)

// Deps are the services the pages use, each the part of app.Service its
// page declares (so an app.Service is every one of them: Services); tests
// hand each page a small fake of its own part.
type Deps struct {
	Programs programs.Programs
	Datasets datasets.Datasets
	// Optimizations runs and compares optimizations.
	Optimizations optimizations.Optimizations
	// Executions, Events and Pool feed the Executions and Workers pages and
	// the status bar.
	Executions executions.Executions
	Events     live.Events
	Pool       workers.Pool
	// Runner starts and follows runs: the run form, the trace view and
	// prompt iteration.
	Runner runs.Runner
	// Evaluations starts and reads evaluations.
	Evaluations evaluations.Evaluations
	// Users reads the users, their tokens and the audit trail, and changes
	// credits and revokes tokens.
	Users users.Users
}

// Services is every page's service served by svc.
func Services(svc app.Service) Deps {
	return Deps{Programs: svc, Datasets: svc, Optimizations: svc, Executions: svc, Events: svc, Pool: svc,
		Runner: svc, Evaluations: svc, Users: svc}
}

// Options configure the TUI's look and what the status bar shows.
type Options struct {
	// Workspace is the workspace path shown in the status bar and window title.
	Workspace string
	// LMProfile is the name of the active LM profile, shown in the status bar.
	LMProfile string
	// Styles are the theme's styles; nil uses the built-in dark theme.
	Styles *themes.Styles
	// Keys is the key map (keys.New applies the config's overrides); the zero
	// value uses keys.Default().
	Keys *keys.Map
	// Context bounds the commands the TUI runs (store reads, filters) and
	// the event stream; nil is context.Background().
	Context context.Context
	// Clock is the time the pages show and the timers they set; nil is the
	// system's.
	Clock *page.Clock
	// ImportDir is where the dataset import's file picker starts; "" is
	// the working directory (else the workspace's parent).
	ImportDir string
	// Templates are offered for a new program after the built-in ones
	// (cmd gives the examples `signet demo` loads).
	Templates []*model.Program
}

// Page identifies a top-level page.
type Page int

const (
	PagePrograms Page = iota
	PageDatasets
	PageExecutions
	PageOptimizations
	PageWorkers
	PageUsers
	pageCount
)

var pageNames = [pageCount]string{"Programs", "Datasets", "Executions", "Optimizations", "Workers", "Users"}

func (p Page) String() string {
	if p < 0 || p >= pageCount {
		return fmt.Sprintf("Page(%d)", int(p))
	}
	return pageNames[p]
}

// shell is the address of the shell itself: the palette and the help
// answer to it.
var shell = page.Addr{Page: page.Shell}

// Model is the root model. It is a value: Update returns the new one.
// Pages are fields (values too) reached through pageAt; the dialogs are
// on one stack over them.
type Model struct {
	opts Options
	env  page.Env // the template of every call's Env
	help help.Model

	width, height int
	page          Page
	stack         dialog.Stack
	notice        page.NoticeMsg
	copied        string // the last text copied to the clipboard

	// The event stream, and what the status bar shows of it.
	feed *live.Feed // nil without one
	pool *app.PoolStatus
	conn *live.Conn
	// screens opens the views over the pages that runs lead to; its
	// session sums the runs started in this TUI, for the status bar.
	screens *runs.Screens
	// asking is the ID of the shell's question about unsaved changes
	// while it is open (0: none): ctrl+c over it quits without asking.
	asking uint64

	programs      programs.Page
	datasets      datasets.Page
	executions    executions.Page
	optimizations optimizations.Page
	workers       workers.Page
	users         users.Page
}

// New builds the root model. Call Init (tea.Program does) to load programs.
func New(deps Deps, opts Options) Model {
	m := Model{opts: opts}
	m.env.Ctx = opts.Context
	if m.env.Ctx == nil {
		m.env.Ctx = context.Background()
	}
	m.env.Styles = opts.Styles
	if m.env.Styles == nil {
		p, err := themes.Get(themes.Dark)
		if err != nil {
			panic("tui: built-in dark theme: " + err.Error()) // a bug in themes
		}
		m.env.Styles = themes.New(p)
	} else {
		// A private copy: switching themes from the palette rewrites it in
		// place, and must not change the caller's.
		st := *opts.Styles
		m.env.Styles = &st
	}
	m.env.Keys = keys.Default()
	if opts.Keys != nil {
		m.env.Keys = *opts.Keys
	}
	m.env.Clock = page.SystemClock()
	if opts.Clock != nil {
		m.env.Clock = *opts.Clock
	}
	m.help = help.New()
	m.applyHelpStyles()
	if deps.Events != nil {
		m.feed = live.NewFeed(m.env.Ctx, deps.Events, m.env.Clock.Now)
	}
	e := &m.env
	var examples runs.Examples
	if deps.Datasets != nil {
		examples = deps.Datasets
	}
	m.screens = runs.NewScreens(e.Styles, deps.Runner, examples)
	m.programs = programs.New(e, deps.Programs, screens{runs: m.screens, evals: deps.Evaluations}, opts.Templates)
	m.datasets = datasets.New(e, deps.Datasets, opts.ImportDir, opts.Workspace)
	m.executions = executions.New(e, deps.Executions, deps.Events != nil, m.screens)
	m.optimizations = optimizations.New(e, deps.Optimizations)
	if deps.Evaluations != nil { // E on the Optimizations page: every program's evaluations
		m.optimizations.Evaluations = func() page.Dialog { return evaluations.New(m.screens, deps.Evaluations, nil) }
	}
	m.workers = workers.New(e, deps.Pool, deps.Events != nil)
	m.users = users.New(e, deps.Users)
	// A size until the terminal reports one, so a View before the first
	// WindowSizeMsg is sane.
	m.setSize(80, 24)
	return m
}

func (m *Model) applyHelpStyles() {
	s := m.env.Styles
	m.help.Styles = help.Styles{
		Ellipsis:       s.HelpSep,
		ShortKey:       s.HelpKey,
		ShortDesc:      s.HelpDesc,
		ShortSeparator: s.HelpSep,
		FullKey:        s.HelpKey,
		FullDesc:       s.HelpDesc,
		FullSeparator:  s.HelpSep,
	}
}

// pageAt is the page p. A new page adds its field to Model and a case here.
func (m *Model) pageAt(p Page) page.Page {
	switch p {
	case PagePrograms:
		return &m.programs
	case PageDatasets:
		return &m.datasets
	case PageExecutions:
		return &m.executions
	case PageOptimizations:
		return &m.optimizations
	case PageWorkers:
		return &m.workers
	case PageUsers:
		return &m.users
	}
	panic(fmt.Sprintf("tui: no page %d", p))
}

func (p Page) addr() page.Addr { return page.Addr{Page: int(p)} }

// screens opens what a program's actions lead to: its run form and its
// evaluations.
type screens struct {
	runs  *runs.Screens
	evals evaluations.Evaluations
}

func (s screens) RunForm(p *model.Program) page.Dialog { return s.runs.RunForm(p) }
func (s screens) Evaluations(p *model.Program) page.Dialog {
	return evaluations.New(s.runs, s.evals, p)
}

// Init loads the programs, the first page, the month's cost and starts the
// event stream.
func (m Model) Init() tea.Cmd {
	return tea.Batch(
		m.call(PagePrograms.addr(), m.programs.Load),
		m.call(PageExecutions.addr(), m.executions.Start),
		m.feed.Listen())
}

// Page is the page on screen.
func (m Model) Page() Page { return m.page }

// Focus is what has the keyboard: the top dialog, or else the page on
// screen. It, Dialogs, PageView and Notice are for tests and tools that
// drive the workbench and look at what it shows.
func (m Model) Focus() page.View {
	if top, ok := m.stack.Top(); ok {
		return top.Dialog
	}
	return m.pageAt(m.page)
}

// Dialogs are the dialogs over the pages, bottom first: the last one has
// the keyboard.
func (m Model) Dialogs() []page.Dialog {
	out := make([]page.Dialog, m.stack.Len())
	for i, e := range m.stack.Entries() {
		out[i] = e.Dialog
	}
	return out
}

// PageView is page p as it is in m.
func (m Model) PageView(p Page) page.Page { return m.pageAt(p) }

// Copied is the last text copied to the clipboard.
func (m Model) Copied() string { return m.copied }

// Notice is the status bar's notice, until the next key.
func (m Model) Notice() page.NoticeMsg { return m.notice }

// Runs opens the views runs lead to (a run form, a trace), as the pages
// do: with Open, a tool or a test starts on one.
func (m Model) Runs() *runs.Screens { return m.screens }

// Open shows d over the page on screen, its result for that page, as the
// page would open it.
func (m Model) Open(d page.Dialog) (Model, tea.Cmd) {
	cmd := m.push(d, m.page.addr())
	return m, cmd
}

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case nil:
		return nil
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return nil
	case tea.KeyPressMsg:
		m.notice = page.NoticeMsg{}
		return m.handleKey(msg)
	case tea.MouseMsg:
		return m.handleMouse(msg)
	case page.Routed: // an answer for the one who asked, and no one else
		return m.deliver(msg.To, msg.Msg)
	case page.Chain:
		return tea.Batch(m.update(msg.Msg), msg.Next)
	case page.NoticeMsg:
		m.notice = msg
		return nil
	case live.Msg:
		return m.applyLive(msg)
	case page.CopyMsg:
		m.copied = msg.Text
		m.notice = page.NoticeMsg{Text: fmt.Sprintf("copied %s (%d lines)", msg.What, strings.Count(msg.Text, "\n")+1)}
		return tea.SetClipboard(msg.Text)
	}
	// Any other input (a paste) is for whoever has the keyboard.
	if top, ok := m.stack.Top(); ok {
		return m.call(top.Addr(), func(e *page.Env) tea.Cmd { return top.Dialog.Update(e, msg) })
	}
	return m.call(m.page.addr(), func(e *page.Env) tea.Cmd { return m.pageAt(m.page).Update(e, msg) })
}

// call runs a view's method with an Env addressed to it, then carries out
// what the view asked of the shell: a dialog that ends leaves the stack
// (with every dialog over it) and its result goes to whoever pushed it;
// pushed dialogs go on top, sized and entered; a dialog that comes back on
// top is entered again.
func (m *Model) call(at page.Addr, f func(*page.Env) tea.Cmd) tea.Cmd {
	e := m.env.For(at)
	cmd := f(e)
	fx := e.Effects()
	cmds := []tea.Cmd{cmd}
	owner := at
	var uncovered uint64
	if fx.Closed && at.Dialog != 0 {
		ent, ok := m.stack.Remove(at.Dialog)
		if !ok {
			return cmd // it had ended already: nothing it asks for is done
		}
		owner = ent.Owner
		if top, ok := m.stack.Top(); ok {
			uncovered = top.ID
		}
		if fx.Result != nil {
			cmds = append(cmds, m.deliver(owner, fx.Result))
		}
	}
	for _, d := range fx.Pushed {
		cmds = append(cmds, m.push(d, owner))
	}
	if top, ok := m.stack.Top(); ok && top.ID == uncovered && len(fx.Pushed) == 0 {
		cmds = append(cmds, m.call(top.Addr(), top.Dialog.Enter))
	}
	return tea.Batch(cmds...)
}

// push puts d on the stack with its result for owner, sized and entered.
func (m *Model) push(d page.Dialog, owner page.Addr) tea.Cmd {
	ent := m.stack.Push(d, owner)
	d.SetSize(m.width, m.bodyHeight())
	return m.call(ent.Addr(), d.Enter)
}

// deliver hands msg to the view at to. An answer for a dialog no longer on
// the stack is stale, and dropped.
func (m *Model) deliver(to page.Addr, msg tea.Msg) tea.Cmd {
	switch {
	case to.Dialog != 0:
		ent, ok := m.stack.Find(to.Dialog)
		if !ok {
			return nil
		}
		return m.call(ent.Addr(), func(e *page.Env) tea.Cmd { return ent.Dialog.Update(e, msg) })
	case to.Page == page.Shell:
		return m.shellResult(msg)
	}
	p := m.pageAt(Page(to.Page))
	return m.call(to, func(e *page.Env) tea.Cmd { return p.Update(e, msg) })
}

// liveView is a view that follows the event stream.
type liveView interface {
	Live(e *page.Env, msg live.Msg) tea.Cmd
}

// applyLive hands what the stream brought to whoever follows it (the
// status bar, the pages, the dialogs open) and listens for more.
func (m *Model) applyLive(msg live.Msg) tea.Cmd {
	if msg.Conn != nil {
		m.conn = msg.Conn
	}
	if msg.Pool != nil {
		m.pool = msg.Pool
	}
	cmds := []tea.Cmd{m.feed.Listen()}
	for p := range pageCount {
		if v, ok := m.pageAt(p).(liveView); ok {
			cmds = append(cmds, m.call(p.addr(), func(e *page.Env) tea.Cmd { return v.Live(e, msg) }))
		}
	}
	for _, ent := range m.stack.Entries() {
		if v, ok := ent.Dialog.(liveView); ok {
			cmds = append(cmds, m.call(ent.Addr(), func(e *page.Env) tea.Cmd { return v.Live(e, msg) }))
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if msg.String() == "ctrl+c" { // always a way out, even mid-pattern
		if top, ok := m.stack.Top(); ok && top.ID == m.asking {
			return tea.Quit // asked about unsaved changes, and pressed again
		}
		return m.leave(leaving{quit: true})
	}
	km := m.env.Keys
	if w, ok := m.Focus().(page.Whole); ok && !m.Focus().Typing() && key.Matches(msg, km.Whole) {
		return m.openWhole(w)
	}
	if top, ok := m.stack.Top(); ok {
		// A dialog has the keyboard; while it is not typing, ? and q work
		// as on the pages.
		if !top.Dialog.Typing() {
			switch {
			case key.Matches(msg, km.Help):
				return m.openHelp()
			case key.Matches(msg, km.Quit):
				return m.leave(leaving{quit: true})
			}
		}
		return m.call(top.Addr(), func(e *page.Env) tea.Cmd { return top.Dialog.Key(e, msg) })
	}
	cur := m.pageAt(m.page)
	at := m.page.addr()
	// While a page's text input has the keyboard, keys are text.
	if cur.Typing() {
		return m.call(at, func(e *page.Env) tea.Cmd { return cur.Key(e, msg) })
	}
	switch {
	case key.Matches(msg, km.Quit):
		return m.leave(leaving{quit: true})
	case key.Matches(msg, km.Help):
		return m.openHelp()
	case key.Matches(msg, km.Palette):
		return m.openPalette()
	}
	if p, ok := m.pageKey(msg); ok {
		return m.leave(leaving{to: p})
	}
	return m.call(at, func(e *page.Env) tea.Cmd { return cur.Key(e, msg) })
}

// openWhole shows the row selected in w with every cell whole, over what
// has the keyboard.
func (m *Model) openWhole(w page.Whole) tea.Cmd {
	title, secs, ok := w.Whole()
	if !ok {
		return page.Notice("nothing selected to open")
	}
	owner := m.page.addr()
	if top, ok := m.stack.Top(); ok {
		owner = top.Addr()
	}
	return m.push(dialog.NewText(m.env.Styles, title, secs...), owner)
}

// pageKey is the page a key switches to: tab, shift+tab or a page's number.
func (m *Model) pageKey(msg tea.KeyPressMsg) (Page, bool) {
	km := m.env.Keys
	switch {
	case key.Matches(msg, km.NextPage):
		return (m.page + 1) % pageCount, true
	case key.Matches(msg, km.PrevPage):
		return (m.page + pageCount - 1) % pageCount, true
	}
	for i, b := range km.Pages {
		if key.Matches(msg, b) {
			return Page(i), true
		}
	}
	return 0, false
}

// handleMouse selects a tab on the tab bar and hands the body's events to
// what is on top, with y relative to the body.
func (m *Model) handleMouse(msg tea.MouseMsg) tea.Cmd {
	mo := msg.Mouse()
	if top, ok := m.stack.Top(); ok {
		if mo.Y < 1 || mo.Y > m.bodyHeight() {
			return nil
		}
		return m.call(top.Addr(), func(e *page.Env) tea.Cmd { return top.Dialog.Mouse(e, msg, mo.X, mo.Y-1) })
	}
	if mo.Y == 0 {
		if _, ok := msg.(tea.MouseClickMsg); ok {
			if p, ok := m.tabAt(mo.X); ok {
				return m.leave(leaving{to: p})
			}
		}
		return nil
	}
	if mo.Y > m.bodyHeight() {
		return nil
	}
	cur := m.pageAt(m.page)
	return m.call(m.page.addr(), func(e *page.Env) tea.Cmd { return cur.Mouse(e, msg, mo.X, mo.Y-1) })
}

// goTo shows page p.
func (m *Model) goTo(p Page) tea.Cmd {
	if p < 0 || p >= pageCount {
		return nil
	}
	if l, ok := m.pageAt(m.page).(page.Leaver); ok && m.page != p {
		l.Leave()
	}
	m.page = p
	return m.call(p.addr(), m.pageAt(p).Enter)
}

// chrome is the number of lines around the page body: tab bar, status bar
// and the short help line.
const chrome = 3

func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	m.help.SetWidth(m.width)
	for p := range pageCount {
		m.pageAt(p).SetSize(m.width, m.bodyHeight())
	}
	m.stack.SetSize(m.width, m.bodyHeight())
}

func (m Model) bodyHeight() int { return max(m.height-chrome, 1) }

// View renders the screen in the alt screen, with the window title.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = m.title()
	if c := m.env.Styles.Palette.Background; c != "" {
		v.BackgroundColor = lipgloss.Color(c)
	}
	if c := m.env.Styles.Palette.Text; c != "" {
		v.ForegroundColor = lipgloss.Color(c)
	}
	return v
}

func (m Model) title() string {
	if m.opts.Workspace == "" {
		return "signet"
	}
	return "signet — " + m.opts.Workspace
}

var _ tea.Model = Model{}
