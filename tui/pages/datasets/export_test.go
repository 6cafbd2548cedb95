package datasets

// What the external tests (package datasets_test) read of the page.

import (
	"math"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/components"
)

type (
	ExampleForm = exampleForm
	FilePicker  = filePicker
	ImportForm  = importForm
	StatsView   = statsView
)

func (p *Page) Selected() *model.Dataset   { return p.selected() }
func (p *Page) List() *components.List     { return &p.list }
func (p *Page) Loaded() bool               { return p.loaded }
func (p *Page) Datasets() []*model.Dataset { return p.datasets }
func (p *Page) ExampleOpen() bool          { return p.exView != nil }

// Table is the open examples table: its dataset (nil when none is open),
// the rows loaded, and whether every page has loaded or one is loading.
func (p *Page) Table() (ds *model.Dataset, rows int, done, loading bool) {
	return p.ex.ds, len(p.ex.rows), p.ex.done, p.ex.loading
}
func (p *Page) TableList() *components.List { return &p.ex.list }

func (f *exampleForm) Err() string        { return f.err }
func (f *exampleForm) ErrField() int      { return f.errField }
func (f *exampleForm) IsNew() bool        { return f.orig == nil }
func (f *exampleForm) Split() string      { return f.split.Value() }
func (f *exampleForm) OneLine(i int) bool { return f.fields[i].input != nil }

func (m *importForm) Err() error         { return m.err }
func (m *importForm) Running() bool      { return m.running }
func (m *importForm) Input(i int) string { return m.inputs[i].Value() }
func (m *importForm) Fields() []string   { return m.fields }

// Progress is the share of the file the last import read.
func (m *importForm) Progress() float64 { return math.Float64frombits(m.progress.Load()) }

func (v *statsView) Done() bool                 { return v.done }
func (v *statsView) Stats() *model.DatasetStats { return v.stats }

var (
	ParseValue  = parseValue
	GuessInputs = guessInputs
	Cell        = cell
)

const (
	ExamplesPageSize = examplesPageSize
	ExamplesPrefetch = examplesPrefetch
	StatsPageSize    = statsPageSize
)
