package programs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// versionsView is a program's version history, newest first. Two versions
// marked (space or enter) open their diff; D diffs the selected version
// against the one before it.
type versionsView struct {
	name     string
	seq      int
	loaded   bool
	err      error
	versions []*model.Program // newest first
	list     components.List
	marked   []int // version numbers, in the order marked
	// split is the program's traffic split, when it has one: the history
	// then shows each version's share.
	split *model.TrafficSplit
}

// diffView is the field-by-field diff of two versions.
type diffView struct {
	name    string
	from    *model.Program
	to      *model.Program
	changes []model.Change
	offset  int
	lines   []string // laid out for width
	width   int
}

var versionColumns = []components.Column{
	{Title: "", Width: 1},
	{Title: "VERSION", Width: 7, Align: components.AlignRight},
	{Title: "STATUS", Width: 10},
	{Title: "CREATED", Width: 17},
	{Title: "COMPILED FROM", Flex: 1, MinWidth: 13},
	{Title: "NOTE", Flex: 2, MinWidth: 10},
}

// shareColumns are versionColumns with each version's traffic share.
var shareColumns = slices.Insert(slices.Clone(versionColumns), 2, components.Column{Title: "TRAFFIC", Width: 7, Align: components.AlignRight})

// programVersionsMsg carries a program's versions and its traffic split.
type programVersionsMsg struct {
	seq      int
	name     string
	versions []*model.Program
	split    *model.TrafficSplit
	err      error
}

func (p *Page) versionsListHeight() int { return max(p.height-1, 1) }

// openVersions opens the history of program name and loads it.
func (p *Page) openVersions(e *page.Env, name string) tea.Cmd {
	p.seq++
	p.versions = &versionsView{name: name, seq: p.seq, list: components.NewList(versionColumns, 1, components.ThemeStyles(p.styles))}
	p.versions.list.SetHeight(p.versionsListHeight())
	p.diff = nil
	return p.loadVersions(e, name)
}

// loadVersions reads program name's history, for the history opened at p.seq.
func (p *Page) loadVersions(e *page.Env, name string) tea.Cmd {
	repo, ctx, seq := p.repo, e.Ctx, p.seq
	return e.Cmd(func() tea.Msg {
		vs, err := repo.ProgramVersions(ctx, name)
		if err != nil {
			return programVersionsMsg{seq: seq, name: name, err: err}
		}
		sp, err := repo.TrafficSplit(ctx, name)
		if errors.Is(err, app.ErrNotFound) {
			err = nil
		}
		return programVersionsMsg{seq: seq, name: name, versions: vs, split: sp, err: err}
	})
}

func (p *Page) applyVersions(msg programVersionsMsg) {
	v := p.versions
	if v == nil || v.seq != msg.seq {
		return // the history was closed or reopened since
	}
	v.loaded, v.err = true, msg.err
	if msg.err != nil {
		return
	}
	vs := slices.Clone(msg.versions)
	slices.SortFunc(vs, func(a, b *model.Program) int { return b.Version - a.Version })
	v.versions = vs
	if v.split = msg.split; v.split != nil {
		v.list = components.NewList(shareColumns, 1, components.ThemeStyles(p.styles))
		v.list.SetHeight(p.versionsListHeight())
	}
	v.refresh()
}

func (v *versionsView) refresh() {
	rows := make([]components.Row, len(v.versions))
	for i, pr := range v.versions {
		mark := ""
		if slices.Contains(v.marked, pr.Version) {
			mark = "•"
		}
		created := "-"
		if !pr.CreatedAt.IsZero() {
			created = pr.CreatedAt.UTC().Format("2006-01-02 15:04Z")
		}
		rows[i] = components.Row{
			mark, "v" + strconv.Itoa(pr.Version), progStatusText(pr.Status), created,
			format.Dash(pr.CompiledFrom), format.Dash(strings.Join(strings.Fields(pr.Note), " ")),
		}
		if v.split != nil {
			rows[i] = slices.Insert(rows[i], 2, v.share(pr.Version))
		}
	}
	cur := v.list.Cursor()
	v.list.SetRows(rows)
	v.list.SetCursor(cur)
}

// share is version n's share of the split: "90%", or "" when it has none.
func (v *versionsView) share(n int) string {
	for _, a := range v.split.Arms {
		if a.Version == n {
			return strconv.FormatFloat(a.Percent, 'f', -1, 64) + "%"
		}
	}
	return ""
}

// selectedVersion is the version under the cursor and its index.
func (v *versionsView) selectedVersion() (*model.Program, int) {
	if row, ok := v.list.Selected(); ok && row < len(v.versions) {
		return v.versions[row], row
	}
	return nil, -1
}

func (v *versionsView) byNumber(n int) *model.Program {
	for _, pr := range v.versions {
		if pr.Version == n {
			return pr
		}
	}
	return nil
}

// versionsKey handles a key in the history.
func (p *Page) versionsKey(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	v, km := p.versions, p.keys
	switch {
	case key.Matches(msg, km.Back):
		p.versions = nil
		return nil
	case !v.loaded || v.err != nil:
		return nil
	case key.Matches(msg, km.Expand), key.Matches(msg, km.Open):
		pr, _ := v.selectedVersion()
		if pr == nil {
			return nil
		}
		if i := slices.Index(v.marked, pr.Version); i >= 0 {
			v.marked = slices.Delete(v.marked, i, i+1)
		} else {
			v.marked = append(v.marked, pr.Version)
		}
		if len(v.marked) == 2 {
			a, b := min(v.marked[0], v.marked[1]), max(v.marked[0], v.marked[1])
			v.marked = nil
			v.refresh()
			p.openDiff(v.byNumber(a), v.byNumber(b))
			return nil
		}
		v.refresh()
	case key.Matches(msg, km.Diff):
		pr, i := v.selectedVersion()
		if pr == nil {
			return nil
		}
		if i+1 >= len(v.versions) {
			return page.Notice(fmt.Sprintf("v%d is the first version: nothing to diff against", pr.Version))
		}
		p.openDiff(v.versions[i+1], pr)
	default:
		v.list.Navigate(msg, km)
	}
	return nil
}

func (p *Page) openDiff(from, to *model.Program) {
	if from == nil || to == nil {
		return
	}
	p.diff = &diffView{name: from.Name, from: from, to: to, changes: model.DiffPrograms(from, to)}
}

func (p *Page) diffBodyHeight() int { return max(p.height-3, 1) }

// diffKey handles a key in the diff.
func (p *Page) diffKey(msg tea.KeyPressMsg) tea.Cmd {
	d, km, h := p.diff, p.keys, p.diffBodyHeight()
	switch {
	case key.Matches(msg, km.Back):
		p.diff = nil
	case key.Matches(msg, km.Down):
		d.scroll(1, h)
	case key.Matches(msg, km.Up):
		d.scroll(-1, h)
	case key.Matches(msg, km.PageDown):
		d.scroll(h, h)
	case key.Matches(msg, km.PageUp):
		d.scroll(-h, h)
	case key.Matches(msg, km.Top):
		d.offset = 0
	case key.Matches(msg, km.Bottom):
		d.scroll(len(d.lines), h)
	}
	return nil
}

func (d *diffView) scroll(delta, h int) {
	d.offset = min(max(d.offset+delta, 0), max(len(d.lines)-h, 0))
}

// layout lays the changes out for an inner width: the field's path, then
// the old value (-) and the new one (+), each wrapped.
func (p *Page) diffLines(width int) []string {
	d, s := p.diff, p.styles
	if d.lines != nil && d.width == width {
		return d.lines
	}
	inner := max(width-4, 10)
	var lines []string
	if len(d.changes) == 0 {
		lines = append(lines, s.Muted.Render("No differences."))
	}
	value := func(sign string, v string, st func(...string) string) {
		if v == "" {
			lines = append(lines, st(sign+" (none)"))
			return
		}
		for _, para := range strings.Split(format.Text(v), "\n") {
			for _, l := range strings.Split(ansi.Wrap(para, max(inner-4, 4), " -,"), "\n") {
				lines = append(lines, st(sign+" "+l))
				sign = strings.Repeat(" ", len(sign))
			}
		}
	}
	for i, c := range d.changes {
		if i > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, s.Subtitle.Render(c.Path))
		value("  -", c.Old, s.DiffDel.Render)
		value("  +", c.New, s.DiffAdd.Render)
	}
	d.lines, d.width = lines, width
	return lines
}

func (p *Page) renderDiff() string {
	d, s := p.diff, p.styles
	lines := p.diffLines(p.width)
	n := len(d.changes)
	what := format.Count(n, "change")
	title := s.Title.Render(d.name) + s.Muted.Render(fmt.Sprintf("  v%d → v%d · %s · esc back", d.from.Version, d.to.Version, what))
	h := p.diffBodyHeight()
	d.scroll(0, h)
	end := min(d.offset+h, len(lines))
	if len(lines) > h {
		title += s.Muted.Render(fmt.Sprintf(" · lines %d-%d of %d", d.offset+1, end, len(lines)))
	}
	return layout.Fit(title, p.width, 1) + "\n" + layout.Box(strings.Join(lines[d.offset:end], "\n"), p.width, h+2, s)
}

func (p *Page) renderVersions() string {
	v, s := p.versions, p.styles
	title := s.Title.Render(v.name) + s.Muted.Render("  history")
	switch {
	case v.err != nil:
		return layout.Fit(title+"\n"+s.Error.Render("Could not load the versions: ")+format.Line(v.err.Error()), p.width, p.height)
	case !v.loaded:
		return layout.Fit(title+"\n"+s.Muted.Render("Loading versions…"), p.width, p.height)
	}
	hint := " · space mark two to diff · D diff against previous · esc back"
	if len(v.marked) == 1 {
		hint = fmt.Sprintf(" · v%d marked: mark another to diff · esc back", v.marked[0])
	}
	if v.split != nil {
		hint = " · traffic " + v.split.String() + hint
	}
	title += s.Muted.Render(" · " + format.Count(len(v.versions), "version") + hint)
	return layout.Fit(title, p.width, 1) + "\n" + v.list.Render(p.width, p.versionsListHeight())
}
