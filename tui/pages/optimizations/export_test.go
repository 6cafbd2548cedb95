package optimizations

// What the external tests (package optimizations_test) read of the page.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

type (
	RunForm     = optRunForm
	CompareView = compareView
)

func (p *Page) Runs() []*model.Optimization        { return p.runs }
func (p *Page) Loaded() bool                       { return p.loaded }
func (p *Page) Polling() bool                      { return p.polling }
func (p *Page) Marked() int                        { return len(p.marked) }
func (c *compareView) Comparison() *app.Comparison { return c.cmp }

// Tick is the page's poll tick.
func Tick() tea.Msg { return optTickMsg{} }

type DetailView = detailView

// DetailTick is the detail's reload tick.
func DetailTick() tea.Msg { return detailTickMsg{} }

func (v *detailView) Polling() bool { return v.polling }

// Selected is the run under the cursor, nil with none.
func (p *Page) Selected() *model.Optimization { return p.selected() }
