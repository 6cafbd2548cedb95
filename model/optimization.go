package model

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// DataRef points at a dataset, or one split of it.
type DataRef struct {
	Dataset string `json:"dataset"`
	Split   Split  `json:"split,omitempty"`
}

// String is DATASET or DATASET:SPLIT, "" for none: how the CLI takes it.
func (r DataRef) String() string {
	if r.Dataset == "" || r.Split == "" {
		return r.Dataset
	}
	return r.Dataset + ":" + string(r.Split)
}

// ParseSettings reads an optimizer's settings as `opt run --set` takes
// them, key=value each: a value that is JSON (a number, a bool, a list)
// is decoded, anything else is a string.
func ParseSettings(pairs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		var decoded any
		if err := json.Unmarshal([]byte(v), &decoded); err == nil {
			out[k] = decoded
		} else {
			out[k] = v
		}
	}
	return out, nil
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

// Spelling is the metric as the CLI takes it (--metric): a built-in's
// name, path/to/file.py:function, or judge:SIGNATURE.
func (m Metric) Spelling() string {
	switch m.Kind {
	case MetricCustom:
		return m.Source
	case MetricJudge:
		return "judge:" + m.Signature
	}
	return m.Name
}

// Optimization is one compile of a program version by a DSPy optimizer.
type Optimization struct {
	ID          ID             `json:"id"`
	Program     string         `json:"program"`
	BaseVersion int            `json:"base_version"`
	Optimizer   string         `json:"optimizer"`
	Settings    map[string]any `json:"settings,omitempty"`
	Train       DataRef        `json:"train"`
	Val         DataRef        `json:"val,omitzero"`
	Test        DataRef        `json:"test,omitzero"`
	Metric      Metric         `json:"metric"`
	Labels      []string       `json:"labels,omitempty"` // explicit labels; none: model.Labels's rule
	State       RunState       `json:"state"`
	// Attempts counts the times the run was started: an attempt cut short
	// by a crash resumes in the next one (at most MaxAttempts in all).
	Attempts      int     `json:"attempts,omitempty"`
	Trials        int     `json:"trials"`
	BaselineScore float64 `json:"baseline_score"`
	BestScore     float64 `json:"best_score"`
	ResultVersion int     `json:"result_version,omitempty"`
	Budget        float64 `json:"budget,omitempty"`
	Cost          float64 `json:"cost"`
	LMCalls       int     `json:"lm_calls"`
	// LM and ReflectionLM are the profiles of the run ("" = the program's
	// and none); Threads and Seed are passed to the optimizer.
	LM           string `json:"lm,omitempty"`
	ReflectionLM string `json:"reflection_lm,omitempty"`
	Threads      int    `json:"threads,omitempty"`
	Seed         int    `json:"seed,omitempty"`
	// User is the user who started it (a token's holder; "" for the
	// workspace's own user): who may read and cancel it besides admins.
	User string `json:"user,omitempty"`
	// BestTrial is the trial whose program became ResultVersion.
	BestTrial int `json:"best_trial,omitempty"`
	// Regressed is true when the best program scored below the baseline on
	// the validation set (the scoring set: validation, else training). Its
	// program is then kept here as Candidate, not saved as the program's
	// newest version, until a promote with force makes it so (and sets
	// ResultVersion).
	Regressed bool     `json:"regressed,omitempty"`
	Candidate *Program `json:"candidate,omitempty"`
	// TestBaseline and TestScore are the base and the optimized program's
	// scores on the held-out test split; nil when there was none.
	TestBaseline *float64 `json:"test_baseline,omitempty"`
	TestScore    *float64 `json:"test_score,omitempty"`
	CostUnknown  bool     `json:"cost_unknown,omitempty"`
	// Stopped says why a run ended early and still has a result:
	// "budget" (its own budget was spent) or "cancelled".
	Stopped  string        `json:"stopped,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Estimate is what the run was expected to need before it started.
	Estimate *OptEstimate `json:"estimate,omitempty"`
	// Progress is the last progress the worker reported.
	Progress   *OptProgress `json:"progress,omitempty"`
	ErrorCode  string       `json:"error_code,omitempty"`
	Error      string       `json:"error,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	StartedAt  time.Time    `json:"started_at,omitzero"`
	FinishedAt time.Time    `json:"finished_at,omitzero"`
}

// HasResult says whether the run has a program to promote: a saved result
// version, or a candidate that regressed.
func (o *Optimization) HasResult() bool { return o.ResultVersion > 0 || o.Candidate != nil }

// Move applies a state transition, counting attempts; an illegal one is an
// error. StartedAt stays the first attempt's start.
func (o *Optimization) Move(to RunState, now time.Time) error {
	first := o.StartedAt
	if err := moveRun("optimization", &o.State, &o.StartedAt, &o.FinishedAt, to, now); err != nil {
		return err
	}
	if to == Running {
		o.Attempts++
		if !first.IsZero() {
			o.StartedAt = first
		}
	}
	return nil
}

// ExampleResult is one validation example's outcome in a trial: its
// metric score, and the program's output and what its LM calls cost when
// the optimizer handed them over (nil: not known).
type ExampleResult struct {
	Example ID             `json:"example"`
	Score   float64        `json:"score"`
	Pass    bool           `json:"pass"`
	Output  map[string]any `json:"output,omitempty"`
	Cost    *float64       `json:"cost,omitempty"`
}

// Trial is one candidate program an optimizer evaluated.
type Trial struct {
	Optimization ID                          `json:"optimization"`
	N            int                         `json:"n"`
	Score        float64                     `json:"score"`
	Instructions map[string]string           `json:"instructions,omitempty"` // by predictor
	Demos        map[string][]map[string]any `json:"demos,omitempty"`        // by predictor
	Results      []ExampleResult             `json:"results,omitempty"`
	// Cost and Duration are what the run spent since the trial before it
	// (the run's start for the baseline): the trial's share of the run.
	Cost     float64       `json:"cost,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Parents are the trials this one was derived from (GEPA's lineage:
	// a reflection's parent, a merge's two), Reflection the predictors
	// whose instructions reflection rewrote for it.
	Parents    []int    `json:"parents,omitempty"`
	Reflection []string `json:"reflection,omitempty"`
	// Proposals are the instructions MIPROv2 proposed per predictor, on
	// the first trial after it proposed them (see MiproProposals).
	Proposals map[string][]string `json:"proposals,omitempty"`
	At        time.Time           `json:"at"`
}

// OptEstimate is the expected size of an optimization run, computed before
// it starts from the optimizer, its settings and the dataset sizes. LMCalls
// is an upper bound of the program's LM calls (the optimizer's own calls,
// such as instruction proposals, included); Cost is nil when the LM
// profile has no prices.
type OptEstimate struct {
	LMCalls   int      `json:"lm_calls"`
	TokensIn  int      `json:"tokens_in"`
	TokensOut int      `json:"tokens_out"`
	Cost      *float64 `json:"cost,omitempty"`
	Train     int      `json:"train"`
	Val       int      `json:"val"`
	Test      int      `json:"test"`
	Note      string   `json:"note,omitempty"`
}

// OptProgress is a progress report of a running optimization, as the
// worker streams it.
type OptProgress struct {
	Phase     string  `json:"phase"` // baseline, bootstrap, propose, trials, evaluate, test, done
	Trial     int     `json:"trial"`
	Trials    int     `json:"trials"`
	Score     float64 `json:"score"`
	BestScore float64 `json:"best_score"`
	LMCalls   int     `json:"lm_calls"`
	TokensIn  int     `json:"tokens_in"`
	TokensOut int     `json:"tokens_out"`
	Cost      float64 `json:"cost"`
	Elapsed   float64 `json:"elapsed_s"`
	ETA       float64 `json:"eta_s"`
}
