package runs

// What the external tests (package runs_test) read of the run views.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/spantree"
)

type (
	TraceScreen   = traceScreen
	IterateScreen = iterateScreen
	PreviewScreen = previewScreen
	RunForm       = runForm
)

const TracePage = tracePage

func (t *traceScreen) Tree() *spantree.Tree   { return t.tree }
func (t *traceScreen) ID() model.ID           { return t.id }
func (t *traceScreen) Complete() bool         { return t.complete }
func (t *traceScreen) IsLive() bool           { return t.live() }
func (t *traceScreen) Exec() *model.Execution { return t.exec }
func (t *traceScreen) TreeHeight() int        { return t.treeHeight() }
func (t *traceScreen) FocusDetail() bool      { return t.focusDetail }

// Tick is the trace's next poll tick.
func (t *traceScreen) Tick() tea.Msg { return traceTickMsg{tick: t.tickGen} }

// NewTrace is a trace screen of a completed execution id at w x h, for
// benchmarks; complete says every span has been read.
func NewTrace(s *Screens, id model.ID, w, h int, complete bool) *traceScreen {
	t := newTraceScreen(s, id)
	t.SetSize(w, h)
	t.exec = &model.Execution{ID: id, Program: "big", Version: 1, State: model.Completed}
	t.complete, t.started = complete, complete
	return t
}

func (t *traceScreen) Draw() string { return t.render() }

// Iteration is one iteration as the tests see it.
type Iteration struct {
	Change  string
	Prompt  int // messages of its prompt
	Done    bool
	Outputs map[string]any
}

func (it *iterateScreen) Iterations() []Iteration {
	out := make([]Iteration, len(it.iters))
	for i, x := range it.iters {
		out[i] = Iteration{Change: x.change, Prompt: len(x.prompt), Done: x.done}
		if x.exec != nil {
			out[i].Outputs = x.exec.Outputs
		}
	}
	return out
}
func (it *iterateScreen) Selected() int         { return it.sel }
func (it *iterateScreen) SetText(s string)      { it.area.SetValue(s) }
func (it *iterateScreen) Draft() *model.Program { return it.draft }
func (it *iterateScreen) Base() *model.Program  { return it.base }

// EditingPart is the part being edited: its predictor ("" for the module's
// own) and whether it is instructions.
func (it *iterateScreen) EditingPart() (predictor string, instructions bool) {
	p := it.parts()[it.part]
	return p.predictor, p.what == editInstructions
}

var DescribeChange = describeChange

var DayAxis = dayAxis

type ExamplePicker = examplePicker

// Input is the text of the form's input field i.
func (f *runForm) Input(i int) string { return f.inputs[i].Value() }
