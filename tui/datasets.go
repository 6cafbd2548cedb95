package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
)

// Datasets is the dataset repository the TUI reads from (the store, or the
// owner's API, in cmd). It is only ever called from a tea.Cmd.
type Datasets interface {
	ListDatasets(ctx context.Context) ([]*model.Dataset, error)
	// ListExamples returns a page of at most limit examples of dataset
	// (split "" is every split) after cursor, and the next page's cursor,
	// "" after the last.
	ListExamples(ctx context.Context, dataset string, split model.Split, cursor string, limit int) ([]*model.Example, string, error)
}

// examplesPageSize is how many examples one fetch asks for; the next page
// is fetched when the cursor comes within examplesPrefetch rows of the end.
const (
	examplesPageSize = 200
	examplesPrefetch = 50
)

// datasetsLoadedMsg carries the result of Deps.Datasets.ListDatasets.
type datasetsLoadedMsg struct {
	datasets []*model.Dataset
	err      error
}

// datasetsFilterMsg carries a filter result for the datasets list.
type datasetsFilterMsg struct {
	res components.FilterResult
}

// examplesPageMsg carries one page of examples; gen identifies the table
// that asked for it, so a page for a table since closed is dropped.
type examplesPageMsg struct {
	gen      uint64
	examples []*model.Example
	next     string
	err      error
}

// datasetsPage is the Datasets page: a filterable list of datasets and a
// read-only, paged table of the selected dataset's examples.
type datasetsPage struct {
	styles *themes.Styles
	list   components.List

	datasets []*model.Dataset
	loading  bool
	loaded   bool
	err      error

	filtering bool
	pattern   string

	ex  examplesTable // ex.ds is non-nil while a dataset's examples are open
	gen uint64        // bumped on each open, to discard stale pages

	width, height int
}

// examplesTable is the examples of one dataset, loaded a page at a time.
type examplesTable struct {
	ds      *model.Dataset
	gen     uint64
	list    components.List
	rows    []components.Row
	next    string
	done    bool // every page is loaded
	loading bool // a page fetch is under way
	err     error
}

var datasetColumns = []components.Column{
	{Title: "NAME", Flex: 2, MinWidth: 10},
	{Title: "EXAMPLES", Width: 8, Align: components.AlignRight},
	{Title: "TRAIN", Width: 7, Align: components.AlignRight},
	{Title: "VAL", Width: 7, Align: components.AlignRight},
	{Title: "TEST", Width: 7, Align: components.AlignRight},
	{Title: "INPUTS", Flex: 2, MinWidth: 8},
	{Title: "FIELDS", Flex: 3, MinWidth: 8},
}

func newDatasetsPage(s *themes.Styles) datasetsPage {
	return datasetsPage{styles: s, list: components.NewList(datasetColumns, 0, listStyles(s))}
}

func (p *datasetsPage) setSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
	if p.ex.ds != nil {
		p.ex.list.SetHeight(p.tableHeight())
	}
}

func (p *datasetsPage) showFilterLine() bool { return p.filtering || p.pattern != "" }

func (p *datasetsPage) listHeight() int {
	if p.showFilterLine() {
		return max(p.height-1, 1)
	}
	return p.height
}

// tableHeight is the examples table's height: the page minus its header line.
func (p *datasetsPage) tableHeight() int { return max(p.height-1, 1) }

func (p *datasetsPage) typing() bool { return p.filtering && p.ex.ds == nil }

// load returns the command that lists the datasets, or nil when a load is
// under way or done.
func (p *datasetsPage) load(ctx context.Context, repo Datasets) tea.Cmd {
	if p.loading || p.loaded {
		return nil
	}
	p.loading = true
	return func() tea.Msg {
		if repo == nil {
			return datasetsLoadedMsg{err: fmt.Errorf("no dataset repository configured")}
		}
		ds, err := repo.ListDatasets(ctx)
		return datasetsLoadedMsg{datasets: ds, err: err}
	}
}

func (p *datasetsPage) applyLoaded(ctx context.Context, msg datasetsLoadedMsg) tea.Cmd {
	p.loading, p.loaded, p.err = false, true, msg.err
	if msg.err != nil {
		return nil
	}
	p.datasets = msg.datasets
	rows := make([]components.Row, len(msg.datasets))
	for i, d := range msg.datasets {
		rows[i] = components.Row{
			d.Name,
			strconv.Itoa(d.Size()),
			strconv.Itoa(d.Counts[model.Train]),
			strconv.Itoa(d.Counts[model.Validation]),
			strconv.Itoa(d.Counts[model.Test]),
			strings.Join(d.InputKeys, ", "),
			strings.Join(d.Fields, ", "),
		}
	}
	p.list.SetRows(rows)
	if p.pattern != "" {
		return p.filterCmd(ctx)
	}
	return nil
}

func (p *datasetsPage) filterCmd(ctx context.Context) tea.Cmd {
	req := p.list.FilterRequest(p.pattern)
	return func() tea.Msg {
		return datasetsFilterMsg{res: components.Filter(ctx, req)}
	}
}

func (p *datasetsPage) filterKey(ctx context.Context, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case msg.Code == tea.KeyEscape:
		p.filtering, p.pattern = false, ""
		p.list.SetHeight(p.listHeight())
		return p.filterCmd(ctx)
	case msg.Code == tea.KeyEnter:
		p.filtering = false
		p.list.SetHeight(p.listHeight())
	case msg.Code == tea.KeyUp:
		p.list.Up()
	case msg.Code == tea.KeyDown:
		p.list.Down()
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

func (p *datasetsPage) selected() *model.Dataset {
	if row, ok := p.list.Selected(); ok && row < len(p.datasets) {
		return p.datasets[row]
	}
	return nil
}

func (p *datasetsPage) enter(e *env) tea.Cmd { return p.load(e.ctx, e.deps.Datasets) }

func (p *datasetsPage) update(e *env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case datasetsLoadedMsg:
		return p.applyLoaded(e.ctx, msg)
	case datasetsFilterMsg:
		p.list.SetFilterResult(msg.res)
	case examplesPageMsg:
		return p.applyPage(e.ctx, e.deps.Datasets, msg)
	}
	return nil
}

func (p *datasetsPage) mouse(e *env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if p.ex.ds != nil {
		listMouse(&p.ex.list, msg, y-1) // below the dataset's header line
		return p.maybeFetch(e.ctx, e.deps.Datasets)
	}
	if p.showFilterLine() {
		y--
	}
	if listMouse(&p.list, msg, y) {
		return p.key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return nil
}

func (p *datasetsPage) bindings() []key.Binding { return nil }

func (p *datasetsPage) key(e *env, msg tea.KeyPressMsg) tea.Cmd {
	ctx, repo, km := e.ctx, e.deps.Datasets, e.keys
	if p.typing() {
		return p.filterKey(ctx, msg)
	}
	if p.ex.ds != nil {
		l := &p.ex.list
		switch {
		case key.Matches(msg, km.Back):
			p.ex = examplesTable{}
			return nil
		default:
			navigate(l, msg, km)
		}
		return p.maybeFetch(ctx, repo)
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
		if d := p.selected(); d != nil {
			return p.open(ctx, repo, d)
		}
	default:
		navigate(&p.list, msg, km)
	}
	return nil
}

// open shows d's examples table and fetches its first page.
func (p *datasetsPage) open(ctx context.Context, repo Datasets, d *model.Dataset) tea.Cmd {
	p.gen++
	cols := []components.Column{{Title: "SPLIT", Width: 10}}
	for _, f := range d.Fields {
		cols = append(cols, components.Column{Title: strings.ToUpper(f), Flex: 1, MinWidth: 8})
	}
	p.ex = examplesTable{ds: d, gen: p.gen, list: components.NewList(cols, 1, listStyles(p.styles))}
	p.ex.list.SetHeight(p.tableHeight())
	return p.fetch(ctx, repo)
}

// maybeFetch fetches the next page when the cursor is near the end of the
// loaded rows.
func (p *datasetsPage) maybeFetch(ctx context.Context, repo Datasets) tea.Cmd {
	t := &p.ex
	if t.ds == nil || t.done || t.loading || t.err != nil {
		return nil
	}
	if t.list.Cursor() < len(t.rows)-examplesPrefetch {
		return nil
	}
	return p.fetch(ctx, repo)
}

func (p *datasetsPage) fetch(ctx context.Context, repo Datasets) tea.Cmd {
	t := &p.ex
	t.loading = true
	gen, name, cursor := t.gen, t.ds.Name, t.next
	return func() tea.Msg {
		if repo == nil {
			return examplesPageMsg{gen: gen, err: fmt.Errorf("no dataset repository configured")}
		}
		exs, next, err := repo.ListExamples(ctx, name, "", cursor, examplesPageSize)
		return examplesPageMsg{gen: gen, examples: exs, next: next, err: err}
	}
}

// applyPage adds a page to the open table; pages for another table are
// dropped. It may fetch the next page at once if the cursor is already near
// the end (e.g. after G).
func (p *datasetsPage) applyPage(ctx context.Context, repo Datasets, msg examplesPageMsg) tea.Cmd {
	t := &p.ex
	if t.ds == nil || msg.gen != t.gen {
		return nil
	}
	t.loading = false
	if msg.err != nil {
		t.err = msg.err
		return nil
	}
	for _, e := range msg.examples {
		row := components.Row{string(e.Split)}
		for _, f := range t.ds.Fields {
			row = append(row, cell(e.Data[f]))
		}
		t.rows = append(t.rows, row)
	}
	t.next = msg.next
	t.done = msg.next == "" || len(msg.examples) == 0
	t.list.SetRows(t.rows)
	return p.maybeFetch(ctx, repo)
}

// cell renders a field value on one line.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return strings.Join(strings.Fields(v), " ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (p *datasetsPage) render() string {
	s := p.styles
	switch {
	case p.err != nil:
		return fit(s.Error.Render("Could not load datasets: ")+p.err.Error(), p.width, p.height)
	case !p.loaded:
		return fit(s.Muted.Render("Loading datasets…"), p.width, p.height)
	case p.ex.ds != nil:
		return p.renderExamples()
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
	if p.list.Total() == 0 {
		b.WriteString(fit(s.Muted.Render("No datasets yet. Import one with `signet dataset import`."), p.width, p.listHeight()))
		return b.String()
	}
	b.WriteString(p.list.Render(p.width, p.listHeight()))
	return b.String()
}

func (p *datasetsPage) renderExamples() string {
	s := p.styles
	t := &p.ex
	d := t.ds
	inputs := strings.Join(d.InputKeys, ", ")
	if inputs == "" {
		inputs = "-"
	}
	info := fmt.Sprintf("  %d examples · train %d · val %d · test %d · inputs %s",
		d.Size(), d.Counts[model.Train], d.Counts[model.Validation], d.Counts[model.Test], inputs)
	// The list's footer counts the rows loaded so far ("1–18 of 200");
	// the header gives the dataset's totals.
	state := ""
	switch {
	case t.err != nil:
		state = " · " + s.Error.Render("error: ") + t.err.Error()
	case t.loading:
		state = " · loading…"
	}
	header := s.Title.Render(d.Name) + s.Muted.Render(info+state)
	var body string
	if t.done && len(t.rows) == 0 && t.err == nil {
		body = fit(s.Muted.Render("This dataset has no examples."), p.width, p.tableHeight())
	} else {
		body = t.list.Render(p.width, p.tableHeight())
	}
	return fit(header, p.width, 1) + "\n" + body
}

// restyle picks up a theme switched in place.
func (p *datasetsPage) restyle() { p.list.SetStyles(listStyles(p.styles)) }
