package datasets

// The retrieval indexes over the selected dataset (`signet index`): a
// section under the datasets list with each index's field, retriever,
// embedder, passages, size and age, a build's progress while it runs
// (the owner's EventIndex events), and the keys that build one (a form)
// and delete one (asked first).

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

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
	"github.com/signet-dspy/signet/tui/page"
)

type (
	// indexesLoadedMsg carries the result of ListIndexes.
	indexesLoadedMsg struct {
		indexes []*model.Index
		err     error
	}
	// buildIndexMsg is the build form's result: the build to start.
	buildIndexMsg struct{ req app.IndexRequest }
	// indexBuiltMsg is BuildIndex's answer.
	indexBuiltMsg struct {
		req app.IndexRequest
		res *app.IndexResult
		err error
	}
	// deleteIndexMsg is the delete confirmation's yes.
	deleteIndexMsg  struct{ name string }
	indexDeletedMsg struct {
		name string
		err  error
	}
)

// indexState is what the page knows of the workspace's indexes.
type indexState struct {
	all      []*model.Index
	err      error
	loaded   bool
	progress map[string]app.IndexProgress // builds running, by index name
	started  map[string]app.IndexRequest  // builds started here not yet answered, by index name
	list     components.List              // the selected dataset's indexes
	shown    []*model.Index               // the list's rows ("" Key: a build not yet done)
	forDS    string                       // the dataset the list shows
}

var indexColumns = []components.Column{
	{Title: "INDEX", Flex: 2, MinWidth: 8},
	{Title: "FIELD", Flex: 1, MinWidth: 6},
	{Title: "RETRIEVER", Width: 10},
	{Title: "EMBEDDER", Flex: 1, MinWidth: 8},
	{Title: "PASSAGES", Width: 8, Align: components.AlignRight},
	{Title: "SIZE", Width: 9, Align: components.AlignRight},
	{Title: "BUILT", Fit: true, MinWidth: 8},
}

func newIndexState(s *themes.Styles) indexState {
	// The datasets list above has the keyboard: this one only shows.
	x := indexState{list: components.NewList(indexColumns, 0, components.ThemeStyles(s)),
		progress: map[string]app.IndexProgress{}, started: map[string]app.IndexRequest{}}
	x.list.HideCursor()
	return x
}

// loadIndexes lists the indexes off the event loop.
func (p *Page) loadIndexes(e *page.Env) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	if repo == nil {
		return nil
	}
	return e.Cmd(func() tea.Msg {
		idx, err := repo.ListIndexes(ctx)
		return indexesLoadedMsg{indexes: idx, err: err}
	})
}

// showIndexes says whether the page has an indexes section: once any
// index exists or is being built (a workspace without retrieval keeps
// its whole height for the datasets), or listing them failed.
func (p *Page) showIndexes() bool {
	x := &p.idx
	return (len(x.all) > 0 || len(x.progress) > 0 || len(x.started) > 0 || x.err != nil) && p.height >= 12
}

// indexesHeight is the section's height: a title line, then the list
// (its header, a row per index up to a third of the page, its footer).
func (p *Page) indexesHeight() int {
	if !p.showIndexes() {
		return 0
	}
	rows := max(len(p.idx.shown), 1)
	return 1 + 2 + min(rows, max(p.height/3-3, 1))
}

// layoutIndexes fills the section's list with the selected dataset's
// indexes and the builds started over it, and sizes the lists.
func (p *Page) layoutIndexes() {
	x := &p.idx
	x.forDS = ""
	if d := p.selected(); d != nil {
		x.forDS = d.Name
	}
	x.shown = x.shown[:0]
	for _, ix := range x.all {
		if ix.Dataset == x.forDS {
			x.shown = append(x.shown, ix)
		}
	}
	for name, req := range x.started {
		if req.Dataset == x.forDS && !slices.ContainsFunc(x.shown, func(ix *model.Index) bool { return ix.Name == name }) {
			// Not recorded until built: a row of what was asked.
			x.shown = append(x.shown, &model.Index{Name: name, Dataset: req.Dataset, Field: req.Field,
				Retriever: req.Retriever, Embedder: req.Embedder})
		}
	}
	slices.SortFunc(x.shown, func(a, b *model.Index) int { return strings.Compare(a.Name, b.Name) })
	rows := make([]components.Row, len(x.shown))
	now := p.clock.Now()
	for i, ix := range x.shown {
		built := format.Ago(now, ix.BuiltAt)
		if pr, ok := x.progress[ix.Name]; ok {
			built = fmt.Sprintf("building %d/%d", pr.Done, pr.Total)
		} else if ix.Key == "" {
			built = "building…"
		}
		size, passages := "-", "-"
		if ix.Key != "" {
			size, passages = format.Bytes(ix.Bytes), format.Thousands(ix.Passages)
		}
		rows[i] = components.Row{ix.Name, format.Dash(ix.Field), format.Dash(ix.Retriever), format.Dash(ix.Embedder), passages, size, built}
	}
	x.list.SetRows(rows)
	p.list.SetHeight(p.listHeight())
}

// applyIndexes takes the indexes listed.
func (p *Page) applyIndexes(msg indexesLoadedMsg) {
	x := &p.idx
	x.loaded, x.err = true, msg.err
	if msg.err == nil {
		x.all = msg.indexes
	}
	p.layoutIndexes()
}

// liveIndexes follows the builds' progress and reads the indexes again
// when one was built or deleted.
func (p *Page) liveIndexes(e *page.Env, done []string, progress map[string]app.IndexProgress) tea.Cmd {
	if len(done) == 0 && len(progress) == 0 {
		return nil
	}
	for _, name := range done {
		delete(p.idx.progress, name)
	}
	for name, pr := range progress {
		p.idx.progress[name] = pr
	}
	p.layoutIndexes()
	if len(done) > 0 {
		return p.loadIndexes(e)
	}
	return nil
}

// renderIndexes draws the section in w x h.
func (p *Page) renderIndexes(w, h int) string {
	s := p.styles
	x := &p.idx
	title := "Indexes over " + x.forDS
	if x.forDS == "" {
		title = "Indexes"
	}
	title += fmt.Sprintf(" (%d)", len(x.shown))
	// Builds of indexes over other datasets (or started elsewhere, whose
	// dataset is not known until they are done) are named in the title.
	var others []string
	for _, name := range slices.Sorted(maps.Keys(x.progress)) {
		if !slices.ContainsFunc(x.shown, func(ix *model.Index) bool { return ix.Name == name }) {
			pr := x.progress[name]
			others = append(others, fmt.Sprintf("building %s %d/%d", name, pr.Done, pr.Total))
		}
	}
	head := s.Subtitle.Render("── "+title+" ") + s.Muted.Render(strings.Join(others, " · "))
	if x.err != nil {
		head += s.Error.Render(" could not list indexes: ") + format.Line(x.err.Error())
	}
	head = layout.Fit(head, w, 1)
	var body string
	if len(x.shown) == 0 {
		hint := "No index over " + x.forDS + "."
		if b := p.keys.BuildIndex; b.Enabled() {
			hint += " Press " + b.Help().Key + " to build one."
		}
		body = layout.Fit(s.Muted.Render(" "+hint), w, h-1)
	} else {
		body = x.list.Render(w, h-1)
	}
	return head + "\n" + body
}

// startBuild runs a build the form asked for; its progress comes as
// events, its end as indexBuiltMsg.
func (p *Page) startBuild(e *page.Env, req app.IndexRequest) tea.Cmd {
	name := req.Name
	if name == "" {
		name = req.Dataset
	}
	p.idx.started[name] = req
	p.layoutIndexes()
	repo, ctx := p.repo, e.Ctx
	return tea.Batch(page.Notice(fmt.Sprintf("building index %s over %s.%s", name, req.Dataset, req.Field)),
		e.Cmd(func() tea.Msg {
			res, err := repo.BuildIndex(ctx, req)
			return indexBuiltMsg{req: req, res: res, err: err}
		}))
}

// applyBuilt ends a build started here: a notice with what it measured, or
// its error.
func (p *Page) applyBuilt(e *page.Env, msg indexBuiltMsg) tea.Cmd {
	name := msg.req.Name
	if name == "" {
		name = msg.req.Dataset
	}
	delete(p.idx.started, name)
	delete(p.idx.progress, name)
	p.layoutIndexes()
	if msg.err != nil {
		return tea.Batch(page.NoticeErr(fmt.Errorf("index %s: %w", name, msg.err)), p.loadIndexes(e))
	}
	ix := msg.res.Index
	text := fmt.Sprintf("index %s is up to date (%s)", ix.Name, format.Count(ix.Passages, "passage"))
	if msg.res.Rebuilt {
		text = fmt.Sprintf("built index %s: %s in %s, %.0f passages/s", ix.Name, format.Count(ix.Passages, "passage"),
			format.Duration(time.Duration(ix.BuildSeconds*float64(time.Second))), ix.PerSecond)
	}
	return tea.Batch(page.Notice(text), p.loadIndexes(e))
}

// deleteIndexDialog asks which of the selected dataset's indexes to
// delete (1–9), or whether to delete its only one.
func (p *Page) deleteIndexDialog() page.Dialog {
	s := p.styles
	x := &p.idx
	var built []*model.Index
	for _, ix := range x.shown {
		if ix.Key != "" {
			built = append(built, ix)
		}
	}
	keep := dialog.Choice{Keys: key.NewBinding(key.WithKeys(append([]string{"n", "N"}, p.keys.Back.Keys()...)...), key.WithHelp("n/esc", "keep it"))}
	if len(built) == 1 {
		ix := built[0]
		yes := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "delete")), Result: deleteIndexMsg{name: ix.Name}}
		return dialog.NewConfirm(s, dialog.Centre, []string{
			s.Error.Render("Delete index " + ix.Name + "?"),
			"",
			fmt.Sprintf("Its files (%s) are removed; dataset %s stays.", format.Bytes(ix.Bytes), ix.Dataset),
			"Programs whose retrieve modules search it fail until it is built again.",
			"",
			dialog.Hint(s, yes, keep),
		}, yes, keep)
	}
	built = built[:min(len(built), 9)]
	choices := make([]dialog.Choice, 0, len(built)+1)
	lines := []string{s.Error.Render("Delete which index of " + x.forDS + "?"), ""}
	for i, ix := range built {
		k := strconv.Itoa(i + 1)
		choices = append(choices, dialog.Choice{Keys: key.NewBinding(key.WithKeys(k), key.WithHelp(k, ix.Name)), Result: deleteIndexMsg{name: ix.Name}})
		lines = append(lines, fmt.Sprintf("%s  %s  %s %s · %s", s.Accent.Render(k), ix.Name, ix.Retriever, format.Dash(ix.Embedder), format.Bytes(ix.Bytes)))
	}
	keep = dialog.Choice{Keys: key.NewBinding(key.WithKeys(p.keys.Back.Keys()...), key.WithHelp("esc", "keep them"))}
	choices = append(choices, keep)
	lines = append(lines, "", dialog.Hint(s, choices...))
	return dialog.NewConfirm(s, dialog.Centre, lines, choices...)
}

func (p *Page) deleteIndex(e *page.Env, name string) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		return indexDeletedMsg{name: name, err: repo.DeleteIndex(ctx, name)}
	})
}

// indexKey handles the section's keys on the datasets list.
func (p *Page) indexKey(e *page.Env, msg tea.KeyPressMsg) (tea.Cmd, bool) {
	km := p.keys
	switch {
	case key.Matches(msg, km.BuildIndex):
		if d := p.selected(); d != nil {
			e.Push(newBuildForm(p.styles, km, d))
		}
	case key.Matches(msg, km.DeleteIndex):
		if !slices.ContainsFunc(p.idx.shown, func(ix *model.Index) bool { return ix.Key != "" }) {
			return page.Notice("the dataset has no index to delete"), true
		}
		e.Push(p.deleteIndexDialog())
	default:
		return nil, false
	}
	return nil, true
}

// buildForm asks for an index over a dataset: the field, the retriever,
// the embedder and the name; it closes with the build to start (the page
// runs it, so the form does not wait for a build that may take minutes).
type buildForm struct {
	page.Defaults
	styles *themes.Styles
	keys   keys.Map
	ds     string
	fields dialog.Fields

	width, height int
}

func newBuildForm(s *themes.Styles, km keys.Map, d *model.Dataset) *buildForm {
	field := ""
	if len(d.InputKeys) > 0 {
		field = d.InputKeys[0]
	} else if len(d.Fields) > 0 {
		field = d.Fields[0]
	}
	return &buildForm{styles: s, keys: km, ds: d.Name, fields: dialog.Fields{
		Title: "Build an index over " + d.Name,
		Fields: []dialog.Field{
			{Label: "field", Value: field, Choices: d.Fields, Help: "the passages' text"},
			{Label: "retriever", Value: model.RetrieverBM25, Choices: []string{model.RetrieverBM25, model.RetrieverEmbeddings, model.RetrieverHybrid}},
			{Label: "embedder", Value: model.DefaultEmbedder, Choices: model.BuiltinEmbedders,
				Help: "embeddings and hybrid; or type an LM profile's name"},
			{Label: "name", Value: d.Name, Help: "what retrieve modules name"},
		},
		Note: fmt.Sprintf("%s: %s become passages. The build runs in the background; its progress shows under the datasets.",
			d.Name, format.Examples(d.Size())),
	}}
}

func (f *buildForm) Typing() bool     { return true }
func (f *buildForm) SetSize(w, h int) { f.width, f.height = w, h }
func (f *buildForm) Render(func() string) string {
	return f.fields.Render(f.styles, f.width, f.height)
}

func (f *buildForm) Bindings() []key.Binding {
	return []key.Binding{keys.As(f.keys.Save, "build"), keys.Hint("tab", "next field"), keys.Hint("←/→", "choose"),
		keys.As(f.keys.Back, "cancel")}
}

func (f *buildForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch f.fields.Key(f.keys, msg) {
	case dialog.FieldsCancel:
		e.Close(nil)
	case dialog.FieldsSubmit:
		req := app.IndexRequest{Dataset: f.ds, Field: f.fields.Value("field"), Retriever: f.fields.Value("retriever"),
			Name: f.fields.Value("name")}
		if err := model.ValidRetriever(req.Retriever); err != nil {
			f.fields.Err = "retriever: " + err.Error()
			return nil
		}
		if req.Field == "" {
			f.fields.Err = "field: choose the field whose text the passages are"
			return nil
		}
		if req.Retriever != model.RetrieverBM25 {
			req.Embedder = f.fields.Value("embedder")
		}
		e.Close(buildIndexMsg{req: req})
	}
	return nil
}

// syncIndexes shows the indexes of the dataset now selected.
func (p *Page) syncIndexes() {
	name := ""
	if d := p.selected(); d != nil {
		name = d.Name
	}
	if name != p.idx.forDS {
		p.layoutIndexes()
	}
}
