package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
)

// programsPage is the Programs page: a filterable list of programs and a
// read-only detail pane of the selected program's modules.
type programsPage struct {
	styles *themes.Styles
	list   components.List

	programs []*model.Program
	loaded   bool
	err      error

	filtering bool   // the filter prompt has the keyboard
	pattern   string // the pattern typed (the list shows it once its result arrives)

	detail       *model.Program // non-nil while the detail pane is open
	detailOffset int            // first line of the detail shown

	width, height int
}

var programColumns = []components.Column{
	{Title: "NAME", Flex: 2, MinWidth: 12},
	{Title: "STATUS", Width: 10},
	{Title: "VERSION", Width: 7, Align: components.AlignRight},
	{Title: "MODULES", Width: 7, Align: components.AlignRight},
	{Title: "DESCRIPTION", Flex: 3, MinWidth: 10},
}

func listStyles(s *themes.Styles) components.ListStyles {
	return components.ListStyles{
		Header:        s.Header,
		Row:           s.Row,
		Selected:      s.RowSelected,
		Match:         s.Match,
		SelectedMatch: s.MatchSelected,
		Footer:        s.Muted,
		Empty:         s.Muted,
	}
}

func newProgramsPage(s *themes.Styles) programsPage {
	return programsPage{styles: s, list: components.NewList(programColumns, 0, listStyles(s))}
}

func (p *programsPage) setSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
}

// showFilterLine reports whether the filter prompt takes a line.
func (p *programsPage) showFilterLine() bool { return p.filtering || p.pattern != "" }

func (p *programsPage) listHeight() int {
	if p.showFilterLine() {
		return max(p.height-1, 1)
	}
	return p.height
}

// typing reports whether keys go to the filter prompt.
func (p *programsPage) typing() bool { return p.filtering && p.detail == nil }

func (p *programsPage) setPrograms(ps []*model.Program) {
	p.programs = ps
	rows := make([]components.Row, len(ps))
	for i, pr := range ps {
		status := string(pr.Status)
		if status == "" {
			status = "-"
		}
		rows[i] = components.Row{
			pr.Name,
			status,
			"v" + strconv.Itoa(pr.Version),
			strconv.Itoa(len(pr.Modules)),
			strings.Join(strings.Fields(pr.Description), " "),
		}
	}
	p.list.SetRows(rows)
}

// programsLoadedMsg carries the result of Deps.Programs.ListPrograms.
type programsLoadedMsg struct {
	programs []*model.Program
	err      error
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

func (p *programsPage) enter(e *env) tea.Cmd { return nil } // Init loads the list

func (p *programsPage) update(e *env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case programsLoadedMsg:
		return p.applyLoaded(e.ctx, msg)
	case programsFilterMsg:
		p.list.SetFilterResult(msg.res)
	}
	return nil
}

func (p *programsPage) mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if p.detail != nil {
		if w, ok := msg.(tea.MouseWheelMsg); ok {
			maxOff := max(len(p.detailLines(p.width))-p.detailBodyHeight(), 0)
			if w.Button == tea.MouseWheelUp {
				p.detailOffset -= wheelLines
			} else if w.Button == tea.MouseWheelDown {
				p.detailOffset += wheelLines
			}
			p.detailOffset = min(max(p.detailOffset, 0), maxOff)
		}
		return nil
	}
	if p.showFilterLine() {
		y--
	}
	if listMouse(&p.list, msg, y) {
		return p.key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return nil
}

func (p *programsPage) bindings() []key.Binding {
	if p.detail != nil {
		return nil
	}
	return nil
}

// applyLoaded applies the result of loading programs; it re-runs the filter when
// a pattern is set.
func (p *programsPage) applyLoaded(ctx context.Context, msg programsLoadedMsg) tea.Cmd {
	p.loaded, p.err = true, msg.err
	if msg.err != nil {
		return nil
	}
	p.setPrograms(msg.programs)
	if p.pattern != "" {
		return p.filterCmd(ctx)
	}
	return nil
}

// filterCmd issues a filter request for the current pattern and returns the
// command that runs it off the Update loop.
func (p *programsPage) filterCmd(ctx context.Context) tea.Cmd {
	req := p.list.FilterRequest(p.pattern)
	return func() tea.Msg {
		return programsFilterMsg{res: components.Filter(ctx, req)}
	}
}

// filterKey handles a key while the filter prompt has the keyboard.
func (p *programsPage) filterKey(ctx context.Context, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case msg.Code == tea.KeyEscape:
		p.filtering = false
		p.pattern = ""
		p.list.SetHeight(p.listHeight())
		return p.filterCmd(ctx)
	case msg.Code == tea.KeyEnter:
		p.filtering = false
		p.list.SetHeight(p.listHeight())
		return nil
	case msg.Code == tea.KeyUp:
		p.list.Up()
		return nil
	case msg.Code == tea.KeyDown:
		p.list.Down()
		return nil
	case msg.Code == tea.KeyBackspace:
		if p.pattern == "" {
			return nil
		}
		_, size := utf8.DecodeLastRuneInString(p.pattern)
		p.pattern = p.pattern[:len(p.pattern)-size]
		return p.filterCmd(ctx)
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		p.pattern += msg.Text
		return p.filterCmd(ctx)
	}
	return nil
}

// key handles a key on the page.
func (p *programsPage) key(e *env, msg tea.KeyPressMsg) tea.Cmd {
	ctx, km := e.ctx, e.keys
	if p.typing() {
		return p.filterKey(ctx, msg)
	}
	if p.detail != nil {
		maxOff := max(len(p.detailLines(p.width))-p.detailBodyHeight(), 0)
		switch {
		case key.Matches(msg, km.Back):
			p.detail, p.detailOffset = nil, 0
		case key.Matches(msg, km.Down):
			p.detailOffset++
		case key.Matches(msg, km.Up):
			p.detailOffset--
		case key.Matches(msg, km.PageDown):
			p.detailOffset += p.detailBodyHeight()
		case key.Matches(msg, km.PageUp):
			p.detailOffset -= p.detailBodyHeight()
		case key.Matches(msg, km.Top):
			p.detailOffset = 0
		case key.Matches(msg, km.Bottom):
			p.detailOffset = maxOff
		}
		p.detailOffset = min(max(p.detailOffset, 0), maxOff)
		return nil
	}
	switch {
	case key.Matches(msg, km.Filter):
		p.filtering = true
		p.list.SetHeight(p.listHeight())
	case key.Matches(msg, km.Back):
		if p.pattern != "" {
			p.pattern = ""
			p.list.SetHeight(p.listHeight())
			return p.filterCmd(ctx)
		}
	case key.Matches(msg, km.Open):
		if row, ok := p.list.Selected(); ok && row < len(p.programs) {
			p.detail, p.detailOffset = p.programs[row], 0
		}
	default:
		navigate(&p.list, msg, km)
	}
	return nil
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
	switch {
	case p.err != nil:
		return fit(s.Error.Render("Could not load programs: ")+p.err.Error(), p.width, p.height)
	case !p.loaded:
		return fit(s.Muted.Render("Loading programs…"), p.width, p.height)
	case p.detail != nil:
		return p.renderDetail()
	}
	var b strings.Builder
	if p.showFilterLine() {
		line := s.Accent.Render("/") + p.pattern
		if p.filtering {
			line += s.Accent.Render("█")
		}
		if p.pattern != p.list.Pattern() {
			line += s.Muted.Render("  filtering…")
		}
		b.WriteString(fit(line, p.width, 1))
		b.WriteByte('\n')
	}
	b.WriteString(p.list.Render(p.width, p.listHeight()))
	return b.String()
}

// detailBodyHeight is the number of content lines the detail pane shows
// (the page minus its title line and border).
func (p *programsPage) detailBodyHeight() int { return max(p.height-3, 1) }

// detailLines lays out the selected program's modules for an inner width.
func (p *programsPage) detailLines(width int) []string {
	s := p.styles
	pr := p.detail
	inner := max(width-4, 10) // border and one space of padding each side
	var lines []string
	add := func(str string) { lines = append(lines, strings.Split(str, "\n")...) }
	wrap := func(indent, text string) {
		add(ansi.Wrap(text, max(inner-len(indent), 4), " -"))
	}
	if pr.Description != "" {
		wrap("", strings.Join(strings.Fields(pr.Description), " "))
		add("")
	}
	if len(pr.Modules) == 0 {
		add(s.Muted.Render("This program has no modules."))
	}
	for i, mod := range pr.Modules {
		if i > 0 {
			add("")
		}
		add(s.Subtitle.Render(fmt.Sprintf("%d. %s", i+1, mod.Name)) + "  " + s.Muted.Render(string(mod.Type)))
		sig := mod.Signature
		if sig == "" {
			sig = "(none)"
		}
		for j, l := range strings.Split(ansi.Wrap(sig, max(inner-16, 4), " ,"), "\n") {
			lab := "signature"
			if j > 0 {
				lab = ""
			}
			add(s.Muted.Render(fmt.Sprintf("   %-13s", lab)) + l)
		}
		instr := strings.TrimSpace(mod.Instructions)
		if instr == "" {
			add(s.Muted.Render("   instructions ") + s.Muted.Render("(none)"))
			continue
		}
		add(s.Muted.Render("   instructions"))
		for _, para := range strings.Split(instr, "\n") {
			for _, l := range strings.Split(ansi.Wrap(para, max(inner-5, 4), " -"), "\n") {
				add("     " + l)
			}
		}
	}
	return lines
}

func (p *programsPage) renderDetail() string {
	s := p.styles
	pr := p.detail
	status := string(pr.Status)
	if status == "" {
		status = "-"
	}
	mods := fmt.Sprintf("%d modules", len(pr.Modules))
	if len(pr.Modules) == 1 {
		mods = "1 module"
	}
	title := s.Title.Render(pr.Name) + s.Muted.Render(fmt.Sprintf("  v%d · %s · %s · read-only · esc back", pr.Version, status, mods))
	lines := p.detailLines(p.width)
	h := p.detailBodyHeight()
	off := min(p.detailOffset, max(len(lines)-h, 0))
	end := min(off+h, len(lines))
	body := strings.Join(lines[off:end], "\n")
	if len(lines) > h {
		title += s.Muted.Render(fmt.Sprintf(" · lines %d-%d of %d", off+1, end, len(lines)))
	}
	pane := box(body, p.width, h+2, s)
	return fit(title, p.width, 1) + "\n" + pane
}

// box draws content in a rounded border of exactly w x h cells with one
// space of padding each side.
func box(content string, w, h int, s *themes.Styles) string {
	border := s.PaneFocused.GetBorderStyle()
	if border.Top == "" {
		border = lipgloss.RoundedBorder()
	}
	bs := lipgloss.NewStyle().Foreground(s.PaneFocused.GetBorderTopForeground())
	innerW, innerH := max(w-2, 0), max(h-2, 0)
	body := fit(content, max(innerW-2, 0), innerH)
	var b strings.Builder
	b.WriteString(bs.Render(border.TopLeft + strings.Repeat(border.Top, innerW) + border.TopRight))
	for _, l := range strings.Split(body, "\n") {
		b.WriteString("\n" + bs.Render(border.Left) + " " + l + " " + bs.Render(border.Right))
	}
	b.WriteString("\n" + bs.Render(border.BottomLeft+strings.Repeat(border.Bottom, innerW)+border.BottomRight))
	return b.String()
}

// navigate moves a list's cursor for the movement keys every list shares.
func navigate(l *components.List, msg tea.KeyPressMsg, km keys.Map) {
	switch {
	case key.Matches(msg, km.Down):
		l.Down()
	case key.Matches(msg, km.Up):
		l.Up()
	case key.Matches(msg, km.Top):
		l.Top()
	case key.Matches(msg, km.Bottom):
		l.Bottom()
	case key.Matches(msg, km.PageDown):
		l.PageDown()
	case key.Matches(msg, km.PageUp):
		l.PageUp()
	}
}

// restyle picks up a theme switched in place.
func (p *programsPage) restyle() { p.list.SetStyles(listStyles(p.styles)) }
