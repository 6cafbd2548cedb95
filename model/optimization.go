package model

import "time"

// DataRef points at a dataset, or one split of it.
type DataRef struct {
	Dataset string `json:"dataset"`
	Split   Split  `json:"split,omitempty"`
}

// MetricKind says how a metric is computed.
type MetricKind string

const (
	MetricBuiltin MetricKind = "builtin" // exact_match, answer_exact_match, f1, passage_match, semantic_f1
	MetricCustom  MetricKind = "custom"  // path/to/file.py:function
	MetricJudge   MetricKind = "judge"   // an LM judge defined by a signature
)

// Metric scores a prediction against an example.
type Metric struct {
	Name      string     `json:"name"`
	Kind      MetricKind `json:"kind"`
	Source    string     `json:"source,omitempty"`    // custom: file.py:function
	Signature string     `json:"signature,omitempty"` // judge
	LM        string     `json:"lm,omitempty"`        // judge and semantic_f1: LM profile
}

// Optimization is one compile of a program version by a DSPy optimizer.
type Optimization struct {
	ID            ID             `json:"id"`
	Program       string         `json:"program"`
	BaseVersion   int            `json:"base_version"`
	Optimizer     string         `json:"optimizer"`
	Settings      map[string]any `json:"settings,omitempty"`
	Train         DataRef        `json:"train"`
	Val           DataRef        `json:"val,omitzero"`
	Test          DataRef        `json:"test,omitzero"`
	Metric        Metric         `json:"metric"`
	State         RunState       `json:"state"`
	Trials        int            `json:"trials"`
	BaselineScore float64        `json:"baseline_score,omitempty"`
	BestScore     float64        `json:"best_score,omitempty"`
	ResultVersion int            `json:"result_version,omitempty"`
	Budget        float64        `json:"budget,omitempty"`
	Cost          float64        `json:"cost"`
	LMCalls       int            `json:"lm_calls"`
	ErrorCode     string         `json:"error_code,omitempty"`
	Error         string         `json:"error,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	StartedAt     time.Time      `json:"started_at,omitzero"`
	FinishedAt    time.Time      `json:"finished_at,omitzero"`
}

// Move applies a state transition; an illegal one is an error.
func (o *Optimization) Move(to RunState, now time.Time) error {
	if !o.State.CanMove(to) {
		return &TransitionError{Kind: "optimization", From: string(o.State), To: string(to)}
	}
	switch to {
	case Running:
		o.StartedAt = now
	case Completed, Failed, Cancelled:
		o.FinishedAt = now
	}
	o.State = to
	return nil
}

// ExampleResult is one validation example's outcome in a trial.
type ExampleResult struct {
	Example ID      `json:"example"`
	Score   float64 `json:"score"`
	Pass    bool    `json:"pass"`
}

// Trial is one candidate program an optimizer evaluated.
type Trial struct {
	Optimization ID                          `json:"optimization"`
	N            int                         `json:"n"`
	Score        float64                     `json:"score"`
	Instructions map[string]string           `json:"instructions,omitempty"` // by predictor
	Demos        map[string][]map[string]any `json:"demos,omitempty"`        // by predictor
	Results      []ExampleResult             `json:"results,omitempty"`
	At           time.Time                   `json:"at"`
}
