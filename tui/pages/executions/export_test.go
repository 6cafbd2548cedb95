package executions

// What the external tests (package executions_test) read of the page.

import (
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/components"
)

func (p *Page) Execs() []*model.Execution  { return p.execs }
func (p *Page) List() *components.List     { return &p.list }
func (p *Page) State() model.RunState      { return p.state }
func (p *Page) RowAt(pos int) int          { return p.rowAt(pos) }
func (p *Page) Selected() *model.Execution { return p.selected() }

const ExecPrefetch = execPrefetch

var ExecStates = execStates

func ExecShortID(id model.ID) string { return execShortID(id) }
