// Package tui is Signet's terminal workbench (Bubble Tea v2): the root model,
// its pages and the key map. It never imports store or bridge (DESIGN.md
// section 2): it declares the small interfaces it needs (Programs,
// Datasets) and cmd hands it concrete values through Deps.
//
// Only the root model returns a tea.View; pages render strings at a given
// size. Update does no I/O: loading programs, datasets and pages of
// examples, and fuzzy filtering, run as tea.Cmds that come back as typed
// messages.
package tui

import (
	"context"
	"fmt"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/live"
)

// Programs is the program repository the TUI reads from and writes to (the
// owner's API, in cmd). It is only ever called from a tea.Cmd, never from
// Update. ProgramSummary and the Programs page are in programs.go.
type Programs interface {
	ListPrograms(ctx context.Context) ([]*model.Program, error)
	// ProgramSummaries gives the last run and this month's cost of the
	// named programs; a program without runs may be missing from the map.
	ProgramSummaries(ctx context.Context, names []string) (map[string]ProgramSummary, error)
	// ProgramVersions is every version of a program, oldest first.
	ProgramVersions(ctx context.Context, name string) ([]*model.Program, error)
	// SaveProgram stores p as the next version of an existing program.
	SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	// CreateProgram stores version 1 of a new program.
	CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	// SetProgramStatus records a status change as a new version.
	SetProgramStatus(ctx context.Context, name string, status model.ProgramStatus, note string) (*model.Program, error)
	DeleteProgram(ctx context.Context, name string) error
	// ProgramTemplates are extra templates for new programs (the examples
	// `signet demo` loads), offered after the built-in ones.
	ProgramTemplates(ctx context.Context) ([]*model.Program, error)
}

// Deps are the services the TUI uses; cmd provides the concrete values.
type Deps struct {
	Programs Programs
	Datasets Datasets
	// Optimizations runs and compares optimizations (tui/optimizations.go).
	Optimizations Optimizations
	// Executions, Events and Pool feed the Executions and Workers pages and
	// the status bar (tui/executions.go, tui/live, tui/workers.go).
	Executions Executions
	Events     live.Events
	Pool       Pool
	// Runner starts and follows runs: the run form, the trace view and
	// prompt iteration (tui/run.go, tui/trace.go, tui/iterate.go).
	Runner Runner
	// Evaluations starts and reads evaluations (tui/evaluations.go).
	Evaluations Evaluations
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
	// Context bounds the commands the TUI runs (store reads, filters);
	// nil is context.Background().
	Context context.Context
}

// Page identifies a top-level page.
type Page int

const (
	PagePrograms Page = iota
	PageDatasets
	PageExecutions
	PageOptimizations
	PageWorkers
	pageCount
)

var pageNames = [pageCount]string{"Programs", "Datasets", "Executions", "Optimizations", "Workers"}

func (p Page) String() string {
	if p < 0 || p >= pageCount {
		return fmt.Sprintf("Page(%d)", int(p))
	}
	return pageNames[p]
}

// Model is the root model. It is a value: Update returns the new one.
// Pages are fields (values too) reached through pageAt.
type Model struct {
	opts Options
	env  env
	help help.Model

	width, height int
	page          Page
	showHelp      bool
	palette       palette
	notice        noticeMsg
	// screen, when set, is a full-screen view over the page (a run form, a
	// trace, an iteration; tui/run.go): it takes the body, keys and mouse,
	// and esc closes it back to the page. runs sums this session's runs.
	screen overlay
	runs   *runSession

	programs      programsPage
	datasets      datasetsPage
	executions    executionsPage
	optimizations optimizationsPage
	workers       workersPage
}

// New builds the root model. Call Init (tea.Program does) to load programs.
func New(deps Deps, opts Options) Model {
	m := Model{opts: opts}
	m.env.deps = deps
	m.env.ctx = opts.Context
	if m.env.ctx == nil {
		m.env.ctx = context.Background()
	}
	m.env.styles = opts.Styles
	if m.env.styles == nil {
		p, err := themes.Get(themes.Dark)
		if err != nil {
			panic("tui: built-in dark theme: " + err.Error()) // a bug in themes
		}
		m.env.styles = themes.New(p)
	} else {
		// A private copy: switching themes from the palette rewrites it in
		// place, and must not change the caller's.
		st := *opts.Styles
		m.env.styles = &st
	}
	m.env.keys = keys.Default()
	if opts.Keys != nil {
		m.env.keys = *opts.Keys
	}
	m.help = help.New()
	m.applyHelpStyles()
	s := m.env.styles
	m.programs = newProgramsPage(s)
	m.datasets = newDatasetsPage(s)
	m.datasets.workspace = opts.Workspace // the import picker starts near it
	m.executions = newExecutionsPage(m.env.ctx, s, m.env.keys, deps.Events)
	m.optimizations = newOptimizationsPage(s, m.env.keys)
	m.workers = newWorkersPage(s, m.env.keys, deps.Events != nil)
	m.palette = newPalette()
	// A size until the terminal reports one, so a View before the first
	// WindowSizeMsg is sane.
	m.setSize(80, 24)
	return m
}

func (m *Model) applyHelpStyles() {
	s := m.env.styles
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
func (m *Model) pageAt(p Page) page {
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
	}
	panic(fmt.Sprintf("tui: no page %d", p))
}

// Init loads the programs, the first page.
func (m Model) Init() tea.Cmd {
	// The executions page starts the live event feed and the month's cost.
	return tea.Batch(m.programs.load(&m.env), m.executions.start(&m.env))
}

// Page is the page on screen.
func (m Model) Page() Page { return m.page }

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyPressMsg:
		m.notice = noticeMsg{}
		return m.handleKey(msg)
	case tea.MouseMsg:
		return m.handleMouse(msg)
	case gotoPageMsg:
		return m.goTo(msg.page)
	case noticeMsg:
		m.notice = msg
		return m, nil
	case themeMsg:
		return m.setTheme(msg)
	case paletteRunMsg:
		return m.runAction(msg.action)
	case paletteFilterMsg:
		m.palette.list.SetFilterResult(msg.res)
		return m, nil
	case runProgramMsg, openTraceMsg, evaluateProgramMsg: // open a screen over the page (tui/run.go)
		return m.openScreen(msg)
	}
	// Every page sees every other message; each takes its own.
	var cmds []tea.Cmd
	for p := range pageCount {
		if c := m.pageAt(p).update(&m.env, msg); c != nil {
			cmds = append(cmds, c)
		}
	}
	if m.screen != nil { // the open screen sees them too (tui/run.go)
		cmds = append(cmds, m.screenUpdate(msg))
	}
	return m, tea.Batch(cmds...)
}

func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" { // always a way out, even mid-pattern
		return m, tea.Quit
	}
	if m.palette.open {
		return m.paletteKey(msg)
	}
	if m.screen != nil { // an open screen takes the keys (tui/run.go)
		return m.screenKey(msg)
	}
	cur := m.pageAt(m.page)
	// While a page's text input has the keyboard, keys are text.
	if cur.typing() {
		return m, cur.key(&m.env, msg)
	}
	km := m.env.keys
	switch {
	case key.Matches(msg, km.Quit):
		return m, tea.Quit
	case key.Matches(msg, km.Help):
		m.showHelp = !m.showHelp
		return m, nil
	case m.showHelp && key.Matches(msg, km.Back):
		m.showHelp = false
		return m, nil
	case key.Matches(msg, km.Palette):
		return m.openPalette()
	case key.Matches(msg, km.NextPage):
		return m.goTo((m.page + 1) % pageCount)
	case key.Matches(msg, km.PrevPage):
		return m.goTo((m.page + pageCount - 1) % pageCount)
	}
	for i, b := range km.Pages {
		if key.Matches(msg, b) {
			return m.goTo(Page(i))
		}
	}
	if m.showHelp {
		return m, nil
	}
	return m, cur.key(&m.env, msg)
}

// handleMouse selects a tab on the tab bar and hands the body's events to
// the page, with y relative to the body.
func (m Model) handleMouse(msg tea.MouseMsg) (tea.Model, tea.Cmd) {
	mo := msg.Mouse()
	if m.palette.open || m.showHelp {
		return m, nil
	}
	if m.screen != nil { // an open screen takes the mouse (tui/run.go)
		return m, m.screenMouse(msg)
	}
	if mo.Y == 0 {
		if _, ok := msg.(tea.MouseClickMsg); ok {
			if p, ok := m.tabAt(mo.X); ok {
				return m.goTo(p)
			}
		}
		return m, nil
	}
	if mo.Y > m.bodyHeight() {
		return m, nil
	}
	return m, m.pageAt(m.page).mouse(&m.env, msg, mo.X, mo.Y-1)
}

// goTo shows page p.
func (m Model) goTo(p Page) (tea.Model, tea.Cmd) {
	if p < 0 || p >= pageCount {
		return m, nil
	}
	m.page = p
	m.showHelp = false
	return m, m.pageAt(p).enter(&m.env)
}

// chrome is the number of lines around the page body: tab bar, status bar
// and the short help line.
const chrome = 3

func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	m.help.SetWidth(m.width)
	for p := range pageCount {
		m.pageAt(p).setSize(m.width, m.bodyHeight())
	}
	if m.screen != nil {
		m.screen.setSize(m.width, m.bodyHeight())
	}
}

func (m Model) bodyHeight() int { return max(m.height-chrome, 1) }

// View renders the screen in the alt screen, with the window title.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = m.title()
	if c := m.env.styles.Palette.Background; c != "" {
		v.BackgroundColor = lipgloss.Color(c)
	}
	if c := m.env.styles.Palette.Text; c != "" {
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
