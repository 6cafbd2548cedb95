// Package datasets is the Datasets page: the datasets listed with their
// split sizes, a paged table of one dataset's examples and one example's
// fields, and what it opens over itself: the example form (edit, add), the
// delete confirmation, the import of a file (file picker, then its form),
// and the statistics.
package datasets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
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

// Datasets is the dataset repository the page reads and writes:
// app.Service's methods, only ever called from a tea.Cmd.
type Datasets interface {
	ListDatasets(ctx context.Context) ([]*model.Dataset, error)
	// ListExamples is a page of a dataset's examples (split "" is every
	// split); Next continues it, "" after the last.
	ListExamples(ctx context.Context, q app.ExampleQuery) (*app.ExamplePage, error)
	// PutExample saves an edited example (its ID set; its split kept when
	// Split is "") or adds a new one (zero ID) and returns it as stored.
	PutExample(ctx context.Context, e *model.Example) (*model.Example, error)
	DeleteExample(ctx context.Context, dataset string, id model.ID) error
	// RestoreExample puts a deleted example back as it was (u, the undo).
	RestoreExample(ctx context.Context, e *model.Example) (*model.Example, error)
	// ImportDataset reads a JSONL, JSON or CSV file as `signet dataset
	// import` does: all or nothing, errors naming file:line.
	ImportDataset(ctx context.Context, req app.ImportDatasetRequest) (*app.ImportDatasetResult, error)
	DeleteDataset(ctx context.Context, name string) error
	RenameDataset(ctx context.Context, name, to string) (*model.Dataset, error)
	// ExportDataset writes a dataset (or a split) as JSONL or CSV to w.
	ExportDataset(ctx context.Context, req app.ExportDatasetRequest, w io.Writer) error
	// ListIndexes lists the retrieval indexes; the page shows the selected
	// dataset's. BuildIndex builds one (its progress comes as EventIndex
	// events); DeleteIndex removes one and its files.
	ListIndexes(ctx context.Context) ([]*model.Index, error)
	BuildIndex(ctx context.Context, req app.IndexRequest) (*app.IndexResult, error)
	DeleteIndex(ctx context.Context, name string) error
}

// examplesPageSize is how many examples one fetch asks for; the next page
// is fetched when the cursor comes within examplesPrefetch rows of the end.
const (
	examplesPageSize = 200
	examplesPrefetch = 50
)

// datasetsLoadedMsg carries the result of Deps.Datasets.ListDatasets.
type datasetsLoadedMsg struct {
	datasets   []*model.Dataset
	err        error
	selectName string // the dataset to select once loaded (one just imported)
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

// Page is the Datasets page.
type Page struct {
	styles *themes.Styles
	keys   keys.Map
	clock  page.Clock
	repo   Datasets
	list   components.List

	datasets []*model.Dataset
	loading  bool
	loaded   bool
	err      error

	components.FilterBar

	idx indexState // the indexes over the selected dataset, under the list

	ex     examplesTable  // ex.ds is non-nil while a dataset's examples are open
	gen    uint64         // bumped on each open, to discard stale pages
	exView *exampleView   // an example's fields (over the table)
	undo   *model.Example // the example deleted last, which u puts back

	workspace string // the workspace, whose parent the picker starts in without a cwd
	importDir string // where the picker starts, if set; else the cwd

	width, height int
}

// examplesTable is the examples of one dataset, loaded a page at a time.
type examplesTable struct {
	ds      *model.Dataset
	gen     uint64
	list    components.List
	rows    []components.Row
	exs     []*model.Example  // the example of each row
	seen    map[model.ID]bool // IDs in the table, so a page never repeats one added or moved here
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

// New is the page over repo. The import's file picker starts in
// importDir, else the working directory, else workspace's parent.
func New(e *page.Env, repo Datasets, importDir, workspace string) Page {
	return Page{styles: e.Styles, keys: e.Keys, clock: e.Clock, repo: repo, importDir: importDir, workspace: workspace,
		list: components.NewList(datasetColumns, 0, components.ThemeStyles(e.Styles)), idx: newIndexState(e.Styles)}
}

func (p *Page) SetSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
	if p.ex.ds != nil {
		p.ex.list.SetHeight(p.tableHeight())
	}
}

func (p *Page) listHeight() int {
	h := p.height - p.indexesHeight()
	if p.ShowFilterLine() {
		h--
	}
	return max(h, 1)
}

// tableHeight is the examples table's height: the page minus its header line.
func (p *Page) tableHeight() int { return max(p.height-1, 1) }

// Typing reports whether the filter prompt has the keyboard.
func (p *Page) Typing() bool {
	return p.Filtering && p.ex.ds == nil && p.exView == nil
}

// refresh reloads the dataset list (after a write changed its counts).
func (p *Page) refresh(e *page.Env) tea.Cmd { return p.refreshSelect(e, "") }

// refreshSelect reloads the dataset list and selects name.
func (p *Page) refreshSelect(e *page.Env, name string) tea.Cmd {
	if p.repo == nil {
		return nil
	}
	p.loading = true
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		ds, err := repo.ListDatasets(ctx)
		return datasetsLoadedMsg{datasets: ds, err: err, selectName: name}
	})
}

// Enter lists the datasets the first time the page comes on screen.
func (p *Page) Enter(e *page.Env) tea.Cmd {
	if p.loading || p.loaded {
		return nil
	}
	p.loading = true
	repo, ctx := p.repo, e.Ctx
	return tea.Batch(e.Cmd(func() tea.Msg {
		if repo == nil {
			return datasetsLoadedMsg{err: fmt.Errorf("no dataset repository configured")}
		}
		ds, err := repo.ListDatasets(ctx)
		return datasetsLoadedMsg{datasets: ds, err: err}
	}), p.loadIndexes(e))
}

func (p *Page) applyLoaded(e *page.Env, msg datasetsLoadedMsg) tea.Cmd {
	p.loading, p.loaded, p.err = false, true, msg.err
	if msg.err != nil {
		return nil
	}
	selected := ""
	if d := p.selected(); d != nil {
		selected = d.Name
	}
	if msg.selectName != "" {
		selected = msg.selectName
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
	for i, d := range msg.datasets {
		if d.Name == selected {
			p.list.SelectRow(i)
		}
	}
	p.syncIndexes()
	if p.Pattern != "" {
		return p.filterCmd(e)
	}
	return nil
}

func (p *Page) filterCmd(e *page.Env) tea.Cmd {
	return e.Cmd(p.Refilter(e.Ctx, &p.list, func(r components.FilterResult) tea.Msg { return datasetsFilterMsg{res: r} }))
}

// filterDone lays the page out again and runs the filter, as ev requires.
func (p *Page) filterDone(e *page.Env, ev components.FilterEvent) tea.Cmd {
	if p.Follow(ev, &p.list, p.listHeight) {
		return p.filterCmd(e)
	}
	return nil
}

func (p *Page) selected() *model.Dataset {
	if row, ok := p.list.Selected(); ok && row < len(p.datasets) {
		return p.datasets[row]
	}
	return nil
}

func (p *Page) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case datasetsLoadedMsg:
		return p.applyLoaded(e, msg)
	case datasetsFilterMsg:
		p.list.SetFilterResult(msg.res)
		p.syncIndexes()
	case indexesLoadedMsg:
		p.applyIndexes(msg)
	case buildIndexMsg: // the build form's result
		return p.startBuild(e, msg.req)
	case indexBuiltMsg:
		return p.applyBuilt(e, msg)
	case deleteIndexMsg: // the delete confirmation's answer
		return p.deleteIndex(e, msg.name)
	case indexDeletedMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("delete index %s: %w", msg.name, msg.err))
		}
		return tea.Batch(page.Notice("deleted index "+msg.name), p.loadIndexes(e))
	case examplesPageMsg:
		return p.applyPage(e, msg)
	case exampleSavedMsg: // the example form's result
		return p.applySaved(e, msg)
	case deleteExampleMsg: // the delete confirmation's yes
		return p.deleteExample(e, msg.ex)
	case exampleDeletedMsg:
		return p.applyDeleted(e, msg)
	case exampleRestoredMsg:
		return p.applyRestored(e, msg)
	case deleteDatasetMsg: // the delete confirmation's yes
		return p.deleteDataset(e, msg.name)
	case datasetDeletedMsg:
		if msg.err != nil {
			return page.NoticeErr(fmt.Errorf("delete dataset %s: %w", msg.name, msg.err))
		}
		return tea.Batch(page.Notice("deleted dataset "+msg.name), p.refreshSelect(e, ""))
	case renamedMsg: // the rename form's result
		return tea.Batch(page.Notice(fmt.Sprintf("renamed dataset %s to %s", msg.from, msg.ds.Name)), p.refreshSelect(e, msg.ds.Name))
	case exportedMsg: // the export form's result
		return page.Notice(fmt.Sprintf("exported dataset %s to %s", msg.name, msg.path))
	case importedMsg: // the import's result
		return tea.Batch(
			page.Notice(fmt.Sprintf("imported %s into dataset %s (%s)", filepath.Base(msg.path), msg.ds.Name, format.Examples(msg.ds.Size()))),
			p.refreshSelect(e, msg.ds.Name))
	}
	return nil
}

func (p *Page) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	if p.exView != nil {
		if w, ok := msg.(tea.MouseWheelMsg); ok {
			// clamped when drawn
			p.exView.scroll = max(p.exView.scroll+components.WheelDelta(w), 0)
		}
		return nil
	}
	if p.ex.ds != nil {
		p.ex.list.Mouse(msg, y-1) // below the dataset's header line
		return p.maybeFetch(e)
	}
	if p.ShowFilterLine() {
		y--
	}
	again := p.list.Mouse(msg, y)
	p.syncIndexes()
	if again {
		return p.Key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return nil
}

// Bindings are the keys of the view on screen.
func (p *Page) Bindings() []key.Binding {
	km := p.keys
	switch {
	case p.exView != nil:
		return []key.Binding{km.Edit, km.Delete, p.undoBinding(), keys.As(km.Down, "scroll down"), keys.As(km.Up, "scroll up"), km.Back}
	case p.ex.ds != nil:
		return []key.Binding{keys.As(km.Open, "view example"), keys.As(km.Edit, "edit example"), keys.As(km.New, "new example"),
			keys.As(km.Delete, "delete example"), p.undoBinding(), km.Stats, km.Back}
	}
	return []key.Binding{keys.As(km.Open, "open dataset"), km.Filter, keys.As(km.Import, "import a file"), km.Stats, p.undoBinding(),
		keys.As(km.Delete, "delete dataset"), keys.As(km.Rename, "rename dataset"), keys.As(km.Export, "export to a file"),
		keys.As(km.BuildIndex, "build an index"), keys.As(km.DeleteIndex, "delete an index")}
}

func (p *Page) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	switch {
	case p.exView != nil:
		return p.exampleViewKey(e, msg)
	case p.Typing():
		return p.filterDone(e, p.FilterInput(msg, &p.list))
	case key.Matches(msg, km.Undo):
		return p.undoDelete(e)
	}
	if p.ex.ds != nil {
		switch {
		case key.Matches(msg, km.Back):
			p.ex = examplesTable{}
			return nil
		case key.Matches(msg, km.Open):
			if ex := p.selectedExample(); ex != nil {
				p.exView = &exampleView{ex: ex}
			}
			return nil
		case key.Matches(msg, km.Edit):
			if ex := p.selectedExample(); ex != nil {
				e.Push(p.newForm(ex, false))
			}
			return nil
		case key.Matches(msg, km.New):
			e.Push(p.newForm(nil, false))
			return nil
		case key.Matches(msg, km.Delete):
			if ex := p.selectedExample(); ex != nil {
				e.Push(p.deleteDialog(ex, dialog.TopLine))
			}
			return nil
		case key.Matches(msg, km.Stats):
			e.Push(newStatsView(p.styles, p.keys, p.repo, p.ex.ds))
			return nil
		default:
			p.ex.list.Navigate(msg, km)
		}
		return p.maybeFetch(e)
	}
	if ev, ok := p.FilterListKey(msg, km); ok {
		defer p.syncIndexes()
		return p.filterDone(e, ev)
	}
	if cmd, ok := p.indexKey(e, msg); ok {
		return cmd
	}
	defer p.syncIndexes() // the selection may move
	switch {
	case key.Matches(msg, km.Back):
	case key.Matches(msg, km.Open):
		if d := p.selected(); d != nil {
			return p.open(e, d)
		}
	case key.Matches(msg, km.Import):
		e.Push(newFilePicker(p.styles, p.keys, p.clock, p.repo, p.importStartDir()))
	case key.Matches(msg, km.Stats):
		if d := p.selected(); d != nil {
			e.Push(newStatsView(p.styles, p.keys, p.repo, d))
		}
	case key.Matches(msg, km.Delete):
		if d := p.selected(); d != nil {
			e.Push(p.deleteDatasetDialog(d))
		}
	case key.Matches(msg, km.Rename):
		if d := p.selected(); d != nil {
			e.Push(newRenameForm(p.styles, p.keys, p.repo, d))
		}
	case key.Matches(msg, km.Export):
		if d := p.selected(); d != nil {
			e.Push(newExportForm(p.styles, p.keys, p.repo, d, p.importStartDir()))
		}
	default:
		p.list.Navigate(msg, km)
	}
	return nil
}

// open shows d's examples table and fetches its first page.
func (p *Page) open(e *page.Env, d *model.Dataset) tea.Cmd {
	p.gen++
	cols := []components.Column{{Title: "SPLIT", Width: 10}}
	for _, f := range d.Fields {
		cols = append(cols, components.Column{Title: strings.ToUpper(f), Flex: 1, MinWidth: 8})
	}
	p.ex = examplesTable{ds: d, gen: p.gen, list: components.NewList(cols, 1, components.ThemeStyles(p.styles)), seen: map[model.ID]bool{}}
	p.ex.list.SetHeight(p.tableHeight())
	return p.fetch(e)
}

// maybeFetch fetches the next page when the cursor is near the end of the
// loaded rows.
func (p *Page) maybeFetch(e *page.Env) tea.Cmd {
	t := &p.ex
	if t.ds == nil || t.done || t.loading || t.err != nil {
		return nil
	}
	if t.list.Cursor() < len(t.rows)-examplesPrefetch {
		return nil
	}
	return p.fetch(e)
}

func (p *Page) fetch(e *page.Env) tea.Cmd {
	t := &p.ex
	t.loading = true
	repo, ctx, gen, name, cursor := p.repo, e.Ctx, t.gen, t.ds.Name, t.next
	return e.Cmd(func() tea.Msg {
		if repo == nil {
			return examplesPageMsg{gen: gen, err: fmt.Errorf("no dataset repository configured")}
		}
		pg, err := repo.ListExamples(ctx, app.ExampleQuery{Dataset: name, Cursor: cursor, Limit: examplesPageSize})
		if err != nil {
			return examplesPageMsg{gen: gen, err: err}
		}
		return examplesPageMsg{gen: gen, examples: pg.Examples, next: pg.Next}
	})
}

// applyPage adds a page to the open table; pages for another table are
// dropped. It may fetch the next page at once if the cursor is already near
// the end (e.g. after G).
func (p *Page) applyPage(e *page.Env, msg examplesPageMsg) tea.Cmd {
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
		if !e.ID.IsZero() {
			if t.seen[e.ID] {
				continue // added or moved here by an edit, already shown
			}
			t.seen[e.ID] = true
		}
		t.rows = append(t.rows, p.exampleRow(e))
		t.exs = append(t.exs, e)
	}
	t.next = msg.next
	t.done = msg.next == "" || len(msg.examples) == 0
	t.list.SetRows(t.rows)
	return p.maybeFetch(e)
}

// exampleRow is e's row in the open table.
func (p *Page) exampleRow(e *model.Example) components.Row {
	row := components.Row{string(e.Split)}
	for _, f := range p.ex.ds.Fields {
		row = append(row, cell(e.Data[f]))
	}
	return row
}

// indexOf is the row of the example id in the table, -1 if not loaded.
func (t *examplesTable) indexOf(id model.ID) int {
	for i, e := range t.exs {
		if e.ID == id {
			return i
		}
	}
	return -1
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

func (p *Page) Render() string {
	s := p.styles
	switch {
	case p.err != nil:
		return layout.Fit(s.Error.Render("Could not load datasets: ")+format.Line(p.err.Error()), p.width, p.height)
	case p.exView != nil:
		return p.renderExampleView()
	case p.ex.ds != nil:
		return p.renderExamples()
	case !p.loaded:
		return layout.Fit(s.Muted.Render("Loading datasets…"), p.width, p.height)
	}
	var b strings.Builder
	if p.ShowFilterLine() {
		b.WriteString(p.FilterLine(s, p.list.Pattern(), p.width))
		b.WriteByte('\n')
	}
	if p.list.Total() == 0 {
		b.WriteString(layout.Fit(s.Muted.Render("No datasets yet. Press I to import a JSONL, JSON or CSV file."), p.width, p.listHeight()))
		return b.String()
	}
	b.WriteString(p.list.Render(p.width, p.listHeight()))
	if h := p.indexesHeight(); h > 0 {
		b.WriteString("\n" + p.renderIndexes(p.width, h))
	}
	return b.String()
}

func (p *Page) renderExamples() string {
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
		state = " · " + s.Error.Render("error: ") + format.Line(t.err.Error())
	case t.loading:
		state = " · loading…"
	}
	header := s.Title.Render(d.Name) + s.Muted.Render(info+state)
	var body string
	if t.done && len(t.rows) == 0 && t.err == nil {
		body = layout.Fit(s.Muted.Render("This dataset has no examples."), p.width, p.tableHeight())
	} else {
		body = t.list.Render(p.width, p.tableHeight())
	}
	return layout.Fit(header, p.width, 1) + "\n" + body
}

// Restyle picks up a theme switched in place.
func (p *Page) Restyle() {
	p.list.SetStyles(components.ThemeStyles(p.styles))
	p.idx.list.SetStyles(components.ThemeStyles(p.styles))
	if p.ex.ds != nil {
		p.ex.list.SetStyles(components.ThemeStyles(p.styles))
	}
}

// Whole is the selected dataset's or example's row with every cell whole.
func (p *Page) Whole() (string, []page.Section, bool) {
	switch {
	case p.exView != nil:
		return "", nil, false
	case p.ex.ds != nil:
		t, c, ok := p.ex.list.SelectedCells()
		return "Example of " + p.ex.ds.Name, page.Cells(t, c), ok
	}
	t, c, ok := p.list.SelectedCells()
	return "Dataset", page.Cells(t, c), ok
}

// Live reads the datasets again when one was written elsewhere, keeping
// the selection. (An open examples table stays as it is: this workbench's
// own edits come back as changes too, and must not move its cursor.)
func (p *Page) Live(e *page.Env, msg live.Msg) tea.Cmd {
	idx := p.liveIndexes(e, msg.Indexes, msg.IndexProgress)
	if len(msg.Datasets) == 0 || !p.loaded || p.loading {
		return idx
	}
	return tea.Batch(idx, p.refreshSelect(e, ""))
}
