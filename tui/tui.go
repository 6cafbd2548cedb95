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
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
)

// Programs is the program repository the TUI reads from (the store, in cmd).
// It is only ever called from a tea.Cmd, never from Update.
type Programs interface {
	ListPrograms(ctx context.Context) ([]*model.Program, error)
}

// Deps are the services the TUI uses; cmd provides the concrete values.
type Deps struct {
	Programs Programs
	Datasets Datasets
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

// notBuilt says, for each page that does not exist yet, which issue brings it.
var notBuilt = map[Page]string{
	PageExecutions:    "Executions is not built yet. It comes with issue 6 (TUI shell), deliverable 4, on top of issue 5 (executions): live list of runs with state, duration, tokens and cost.",
	PageOptimizations: "Optimizations is not built yet. It comes with issue 8 (optimizations): optimizer runs, live progress and side-by-side comparison.",
	PageWorkers:       "Workers is not built yet. It comes with issue 6 (TUI shell), deliverable 4, on top of issue 3 (bridge): the worker table from the pool's Status() with restart and recycle.",
}

// Messages. They are unexported: only the commands of this package make them.

// programsLoadedMsg carries the result of Deps.Programs.ListPrograms.
type programsLoadedMsg struct {
	programs []*model.Program
	err      error
}

// filterResultMsg carries the result of a components.Filter run.
type filterResultMsg struct {
	res components.FilterResult
}

// Model is the root model. It is a value: Update returns the new one.
type Model struct {
	deps   Deps
	opts   Options
	ctx    context.Context
	styles *themes.Styles
	keys   keys.Map
	help   help.Model

	width, height int
	page          Page
	showHelp      bool

	programs programsPage
	datasets datasetsPage
}

// New builds the root model. Call Init (tea.Program does) to load programs.
func New(deps Deps, opts Options) Model {
	m := Model{deps: deps, opts: opts, ctx: opts.Context}
	if m.ctx == nil {
		m.ctx = context.Background()
	}
	m.styles = opts.Styles
	if m.styles == nil {
		p, err := themes.Get(themes.Dark)
		if err != nil {
			panic("tui: built-in dark theme: " + err.Error()) // a bug in themes
		}
		m.styles = themes.New(p)
	}
	m.keys = keys.Default()
	if opts.Keys != nil {
		m.keys = *opts.Keys
	}
	m.help = help.New()
	m.help.Styles = help.Styles{
		Ellipsis:       m.styles.HelpSep,
		ShortKey:       m.styles.HelpKey,
		ShortDesc:      m.styles.HelpDesc,
		ShortSeparator: m.styles.HelpSep,
		FullKey:        m.styles.HelpKey,
		FullDesc:       m.styles.HelpDesc,
		FullSeparator:  m.styles.HelpSep,
	}
	m.programs = newProgramsPage(m.styles)
	m.datasets = newDatasetsPage(m.styles)
	// A size until the terminal reports one, so a View before the first
	// WindowSizeMsg is sane.
	m.setSize(80, 24)
	return m
}

// Init loads the programs.
func (m Model) Init() tea.Cmd {
	return m.loadPrograms()
}

func (m Model) loadPrograms() tea.Cmd {
	repo, ctx := m.deps.Programs, m.ctx
	return func() tea.Msg {
		if repo == nil {
			return programsLoadedMsg{err: fmt.Errorf("no program repository configured")}
		}
		ps, err := repo.ListPrograms(ctx)
		return programsLoadedMsg{programs: ps, err: err}
	}
}

// Page is the page on screen.
func (m Model) Page() Page { return m.page }

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return m, nil
	case programsLoadedMsg:
		return m, m.programs.applyLoaded(m.ctx, msg)
	case filterResultMsg:
		m.programs.filterResult(msg.res)
		return m, nil
	case datasetsLoadedMsg:
		return m, m.datasets.applyLoaded(m.ctx, msg)
	case datasetsFilterMsg:
		m.datasets.list.SetFilterResult(msg.res)
		return m, nil
	case examplesPageMsg:
		return m, m.datasets.applyPage(m.ctx, m.deps.Datasets, msg)
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	}
	return m, nil
}

func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	// While typing a filter pattern, keys are text, except the ones that
	// leave the filter (handled by the page).
	if m.page == PagePrograms && m.programs.typing() {
		if msg.String() == "ctrl+c" { // always a way out, even mid-pattern
			return m, tea.Quit
		}
		return m, m.programs.filterKey(m.ctx, msg)
	}
	if m.page == PageDatasets && m.datasets.typing() {
		if msg.String() == "ctrl+c" {
			return m, tea.Quit
		}
		return m, m.datasets.filterKey(m.ctx, msg)
	}
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Help):
		m.showHelp = !m.showHelp
		return m, nil
	case m.showHelp && key.Matches(msg, m.keys.Back):
		m.showHelp = false
		return m, nil
	case key.Matches(msg, m.keys.NextPage):
		return m.goTo((m.page + 1) % pageCount)
	case key.Matches(msg, m.keys.PrevPage):
		return m.goTo((m.page + pageCount - 1) % pageCount)
	}
	for i, b := range m.keys.Pages {
		if key.Matches(msg, b) {
			return m.goTo(Page(i))
		}
	}
	if m.showHelp {
		return m, nil
	}
	if m.page == PagePrograms {
		return m, m.programs.key(m.ctx, msg, m.keys)
	}
	if m.page == PageDatasets {
		return m, m.datasets.key(m.ctx, m.deps.Datasets, msg, m.keys)
	}
	return m, nil
}

// goTo shows page p; the Datasets page loads its list the first time.
func (m Model) goTo(p Page) (tea.Model, tea.Cmd) {
	m.page = p
	if p == PageDatasets {
		return m, m.datasets.load(m.ctx, m.deps.Datasets)
	}
	return m, nil
}

// chrome is the number of lines around the page body: tab bar, status bar
// and the short help line.
const chrome = 3

func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	m.help.SetWidth(m.width)
	m.programs.setSize(m.width, m.bodyHeight())
	m.datasets.setSize(m.width, m.bodyHeight())
}

func (m Model) bodyHeight() int { return max(m.height-chrome, 1) }

// View renders the screen in the alt screen, with the window title.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = m.title()
	if c := m.styles.Palette.Background; c != "" {
		v.BackgroundColor = lipgloss.Color(c)
	}
	if c := m.styles.Palette.Text; c != "" {
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
