package model

import "time"

// Evaluation is one run of dspy.Evaluate's semantics over a dataset: every
// example runs the program as an execution, the metric scores each in the
// same request, an example whose run failed scores 0 and counts, and the
// score is the mean. Score is a fraction (DSPy prints it as a percentage).
type Evaluation struct {
	ID      ID      `json:"id"`
	Program string  `json:"program"`
	Version int     `json:"version"`
	Data    DataRef `json:"data"`
	Metric  Metric  `json:"metric"`
	// Extra metrics are reported beside Metric, which alone is the score:
	// Scores holds the mean of each, by name, over the examples that
	// ended (a failed one scores 0 in each), from ExtraSums.
	Extra     []Metric           `json:"extra,omitempty"`
	ExtraSums map[string]float64 `json:"extra_sums,omitempty"`
	Scores    map[string]float64 `json:"scores,omitempty"`
	Labels    Labeling           `json:"labels"`
	LM        string             `json:"lm,omitempty"`      // profile asked for; "" = the program's
	Threads   int                `json:"threads,omitempty"` // examples in flight at once; 0 = the engine's limit
	// User is the user who started it (a token's holder; "" for the
	// workspace's own user): who may read and cancel it besides admins.
	User  string   `json:"user,omitempty"`
	State RunState `json:"state"`
	Total int      `json:"total"` // examples to evaluate
	// N is the examples that ended (completed or failed); Failures the
	// failed ones among them, each scored 0. Sum is the metric's total.
	N        int     `json:"n"`
	Failures int     `json:"failures"`
	Sum      float64 `json:"sum"`
	// Score is Sum / N: the mean over the examples that ended, so the
	// whole dataset's once the evaluation completed. Always written, 0
	// included.
	Score       float64          `json:"score"`
	Cost        float64          `json:"cost"`
	CostUnknown bool             `json:"cost_unknown,omitempty"`
	Usage       map[string]Usage `json:"usage,omitempty"` // by model string
	ErrorCode   string           `json:"error_code,omitempty"`
	Error       string           `json:"error,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	StartedAt   time.Time        `json:"started_at,omitzero"`
	FinishedAt  time.Time        `json:"finished_at,omitzero"`
}

// Move applies a state transition; an illegal one is an error.
func (v *Evaluation) Move(to RunState, now time.Time) error {
	return moveRun("evaluation", &v.State, &v.StartedAt, &v.FinishedAt, to, now)
}

// Add counts one example that ended: its score (0 for a failure) and what
// its execution cost.
func (v *Evaluation) Add(r *EvalResult) {
	v.N++
	if r.State != Completed {
		v.Failures++
	}
	v.Sum += r.Score
	v.Score = v.Sum / float64(v.N)
	if len(v.Extra) > 0 {
		if v.ExtraSums == nil {
			v.ExtraSums, v.Scores = map[string]float64{}, map[string]float64{}
		}
		for _, m := range v.Extra {
			v.ExtraSums[m.Name] += r.Scores[m.Name]
			v.Scores[m.Name] = v.ExtraSums[m.Name] / float64(v.N)
		}
	}
	v.Cost += r.Cost
	v.CostUnknown = v.CostUnknown || r.CostUnknown
	for m, u := range r.Usage {
		if v.Usage == nil {
			v.Usage = map[string]Usage{}
		}
		v.Usage[m] = v.Usage[m].Add(u)
	}
}

// TotalUsage sums usage over every model.
func (v *Evaluation) TotalUsage() Usage {
	var t Usage
	for _, u := range v.Usage {
		t = t.Add(u)
	}
	return t
}

// EvalResult is one example of an evaluation: what the program was given
// and produced, what was expected, the metric's value and the execution
// that ran it (its trace).
type EvalResult struct {
	Evaluation  ID                 `json:"evaluation"`
	Index       int                `json:"index"` // the example's place in the evaluation, from 0
	Example     ID                 `json:"example"`
	Execution   ID                 `json:"execution,omitzero"`
	State       RunState           `json:"state"` // the execution's
	Inputs      map[string]any     `json:"inputs"`
	Outputs     map[string]any     `json:"outputs,omitempty"`
	Expected    map[string]any     `json:"expected"`         // the labels
	Score       float64            `json:"score"`            // 0 for a failed run
	Scores      map[string]float64 `json:"scores,omitempty"` // each extra metric's, by name
	Cost        float64            `json:"cost"`
	CostUnknown bool               `json:"cost_unknown,omitempty"`
	Usage       map[string]Usage   `json:"usage,omitempty"`
	ErrorCode   string             `json:"error_code,omitempty"`
	Error       string             `json:"error,omitempty"`
}

// ExecEval is set on an execution that runs one example of an evaluation:
// the metric the worker scores it with and the example's labels, so that a
// retry or a recovery scores it again; Score is the metric's value once the
// execution completed.
type ExecEval struct {
	Evaluation ID             `json:"evaluation"`
	Example    ID             `json:"example"`
	Index      int            `json:"index"`
	Metric     Metric         `json:"metric"`
	Labels     map[string]any `json:"labels"`
	Score      *float64       `json:"score,omitempty"`
	// Extra metrics the worker scores too; Scores their values, by name.
	Extra  []Metric           `json:"extra,omitempty"`
	Scores map[string]float64 `json:"scores,omitempty"`
}
