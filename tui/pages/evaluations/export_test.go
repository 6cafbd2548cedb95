package evaluations

// What the external tests (package evaluations_test) read of the view.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
)

type (
	Screen = evalScreen
	Form   = evalForm
)

func (es *evalScreen) Results() int                    { return len(es.results) }
func (es *evalScreen) Evals() []*model.Evaluation      { return es.evals }
func (es *evalScreen) SelectedEval() *model.Evaluation { return es.selected() }
func (es *evalScreen) InList() bool                    { return es.view == evalList }
func (es *evalScreen) InResults() bool                 { return es.view == evalResults }
func (es *evalScreen) Active() bool                    { return es.active() }
func (es *evalScreen) ProgramName() string             { return es.program.Name }
func (es *evalScreen) Tick() tea.Msg                   { return evalTickMsg{tick: es.tickGen} }

func (f *evalForm) Value(label string) string { return f.fields.Value(label) }
func (f *evalForm) SetValue(i int, v string)  { f.fields.Fields[i].Value = v }
func (f *evalForm) Err() string               { return f.fields.Err }
