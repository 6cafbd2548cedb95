package app

import "github.com/signet-dspy/signet/model"

// EventKind says what an Event carries.
type EventKind string

const (
	EventExecution    EventKind = "execution"    // an execution changed state; never dropped
	EventSpan         EventKind = "span"         // a span started or ended; may be dropped
	EventPool         EventKind = "pool"         // the pool changed (sent first on a subscription)
	EventOptimization EventKind = "optimization" // an optimization changed or progressed
	EventEvaluation   EventKind = "evaluation"   // an evaluation changed or progressed
	EventProgram      EventKind = "program"      // a program was created, saved, given a status or a traffic split, or deleted
	EventDataset      EventKind = "dataset"      // a dataset or one of its examples was imported, edited or deleted
	EventIndex        EventKind = "index"        // an index was built, progressed or deleted
)

// Event is one change in the workspace; the field its Kind names is set.
type Event struct {
	Kind         EventKind           `json:"kind"`
	Execution    *model.Execution    `json:"execution,omitempty"`
	Span         *model.Span         `json:"span,omitempty"`
	Pool         *PoolStatus         `json:"pool,omitempty"`
	Optimization *model.Optimization `json:"optimization,omitempty"`
	Progress     *model.OptProgress  `json:"progress,omitempty"` // with EventOptimization, when it is progress
	Evaluation   *model.Evaluation   `json:"evaluation,omitempty"`
	Program      string              `json:"program,omitempty"` // with EventProgram: its name
	Dataset      string              `json:"dataset,omitempty"` // with EventDataset: its name
	// With EventIndex: the index's name, and its build's progress while it
	// builds (IndexProgress) or the index once built (nil when deleted).
	IndexName     string         `json:"index_name,omitempty"`
	IndexProgress *IndexProgress `json:"index_progress,omitempty"`
	Index         *model.Index   `json:"index,omitempty"`
}

// IndexProgress is how far an index build is: Done of Total passages.
type IndexProgress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}
