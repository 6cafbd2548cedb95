package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// RunForCompare is what CompareRuns needs of one optimization run: the
// record, its trials, the program version it started from and the version
// it produced (nil while it has none).
type RunForCompare struct {
	Run    *Optimization `json:"run"`
	Trials []*Trial      `json:"trials,omitempty"`
	Base   *Program      `json:"base,omitempty"`
	Result *Program      `json:"result,omitempty"`
}

// Comparison sets optimization runs side by side (`signet opt compare`, the
// TUI's comparison view, GET /v1/optimizations/compare).
type Comparison struct {
	Runs []RunSummary `json:"runs"`
	// Predictors lists, per predictor (module) of any run's program, what
	// each run changed in it relative to its own base version.
	Predictors []PredictorChanges `json:"predictors"`
	// Examples is the pass/fail matrix of the validation examples across
	// the runs, from each run's best trial (baseline trial when none).
	Examples []ExampleRow `json:"examples"`
	// Flips counts the examples whose outcome differs between runs.
	Flips int `json:"flips"`
}

// RunSummary is one run's headline figures.
type RunSummary struct {
	ID            ID             `json:"id"`
	Program       string         `json:"program"`
	BaseVersion   int            `json:"base_version"`
	ResultVersion int            `json:"result_version,omitempty"`
	Regressed     bool           `json:"regressed,omitempty"` // the result is a candidate that scored below the baseline
	Optimizer     string         `json:"optimizer"`
	Settings      map[string]any `json:"settings,omitempty"`
	Metric        string         `json:"metric"`
	State         RunState       `json:"state"`
	Stopped       string         `json:"stopped,omitempty"`
	Trials        int            `json:"trials"`
	Before        float64        `json:"score_before"`
	After         float64        `json:"score_after"`
	TestBefore    *float64       `json:"test_before,omitempty"`
	TestAfter     *float64       `json:"test_after,omitempty"`
	Cost          float64        `json:"cost"`
	CostUnknown   bool           `json:"cost_unknown,omitempty"`
	LMCalls       int            `json:"lm_calls"`
	Duration      time.Duration  `json:"duration_ns"`
}

// PredictorChanges is one predictor across the runs; Runs[i] belongs to
// Comparison.Runs[i].
type PredictorChanges struct {
	Name string            `json:"name"`
	Runs []PredictorChange `json:"runs"`
}

// PredictorChange is what one run did to one predictor.
type PredictorChange struct {
	OldInstructions string `json:"old_instructions"`
	NewInstructions string `json:"new_instructions"`
	// InstructionsChanged is false when the run kept the instructions.
	InstructionsChanged bool `json:"instructions_changed"`
	// DemosAdded and DemosRemoved are demos (as canonical JSON) the result
	// has that the base had not, and the other way round.
	DemosAdded   []string `json:"demos_added,omitempty"`
	DemosRemoved []string `json:"demos_removed,omitempty"`
	DemosBefore  int      `json:"demos_before"`
	DemosAfter   int      `json:"demos_after"`
}

// ExampleRow is one validation example across the runs: Pass[i] is run i's
// outcome, nil when run i did not evaluate it.
type ExampleRow struct {
	Example ID      `json:"example"`
	Pass    []*bool `json:"pass"`
	// Executions[i] is the execution that ran the example for side i, where
	// one was recorded (an evaluation's); nil when no side has one (an
	// optimizer runs its trials inside DSPy, without executions).
	Executions []ID `json:"executions,omitempty"`
	// Flip is true when two runs that evaluated the example disagree.
	Flip bool `json:"flip"`
}

// CompareRuns compares runs in the order given. It does no I/O: the caller
// loads the records, trials and program versions.
func CompareRuns(runs []RunForCompare) *Comparison {
	c := &Comparison{Runs: make([]RunSummary, len(runs)), Predictors: []PredictorChanges{}, Examples: []ExampleRow{}}
	for i, r := range runs {
		c.Runs[i] = summarize(r)
	}
	c.Predictors = comparePredictors(runs)
	c.Examples, c.Flips = passMatrix(runs)
	return c
}

func summarize(r RunForCompare) RunSummary {
	o := r.Run
	if o == nil {
		return RunSummary{}
	}
	s := RunSummary{
		ID: o.ID, Program: o.Program, BaseVersion: o.BaseVersion, ResultVersion: o.ResultVersion, Regressed: o.Regressed,
		Optimizer: o.Optimizer, Settings: o.Settings, Metric: o.Metric.Name, State: o.State, Stopped: o.Stopped,
		Trials: o.Trials, Before: o.BaselineScore, After: o.BestScore, TestBefore: o.TestBaseline,
		TestAfter: o.TestScore, Cost: o.Cost, CostUnknown: o.CostUnknown, LMCalls: o.LMCalls, Duration: o.Duration,
	}
	if s.Duration == 0 && !o.StartedAt.IsZero() && !o.FinishedAt.IsZero() {
		s.Duration = o.FinishedAt.Sub(o.StartedAt)
	}
	return s
}

// predictorState is what compare shows of one predictor.
type predictorState struct {
	instructions string
	demos        []map[string]any
}

// statesOf is what a program version stores per predictor path: its
// predictors' state, else the module's own instructions and demos.
func statesOf(p *Program) (map[string]predictorState, []string) {
	out := map[string]predictorState{}
	var order []string
	if p == nil {
		return out, nil
	}
	for _, m := range p.Modules {
		if len(m.Predictors) == 0 {
			if m.Type != Retrieve {
				out[m.Name] = predictorState{m.Instructions, m.Demos}
				order = append(order, m.Name)
			}
			continue
		}
		for _, pr := range m.Predictors {
			path := PredictorPath(m.Name, pr.Name)
			out[path] = predictorState{pr.Instructions, pr.Demos}
			order = append(order, path)
		}
	}
	return out, order
}

// statesOfTrial is the state a trial recorded per predictor path (the
// worker's view of the built program, so the constructor's text too).
func statesOfTrial(t *Trial) (map[string]predictorState, []string) {
	out := map[string]predictorState{}
	if t == nil || len(t.Instructions) == 0 {
		return nil, nil
	}
	order := slices.Sorted(func(yield func(string) bool) {
		for k := range t.Instructions {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range order {
		out[k] = predictorState{t.Instructions[k], t.Demos[k]}
	}
	return out, order
}

func trialN(ts []*Trial, n int) *Trial {
	for _, t := range ts {
		if t.N == n {
			return t
		}
	}
	return nil
}

// comparePredictors lists every predictor of any run's base or result, in
// the order first seen, with what each run changed in it. Each run's
// before and after come from its baseline and best trials, as the worker
// read them from DSPy, else from the stored program versions.
func comparePredictors(runs []RunForCompare) []PredictorChanges {
	var names []string
	seen := map[string]bool{}
	before := make([]map[string]predictorState, len(runs))
	after := make([]map[string]predictorState, len(runs))
	for i, r := range runs {
		for _, side := range []struct {
			into  *map[string]predictorState
			trial *Trial
			prog  *Program
		}{{&before[i], trialN(r.Trials, 0), r.Base}, {&after[i], resultTrial(r), r.Result}} {
			states, order := statesOfTrial(side.trial)
			if states == nil {
				states, order = statesOf(side.prog)
			}
			*side.into = states
			for _, k := range order {
				if !seen[k] {
					seen[k] = true
					names = append(names, k)
				}
			}
		}
	}
	// A module's own key (a version without stored predictor state) gives
	// way to its predictors' keys when another side has them.
	all := slices.Clone(names)
	names = slices.DeleteFunc(names, func(n string) bool {
		return slices.ContainsFunc(all, func(o string) bool { return strings.HasPrefix(o, n+".") })
	})
	out := make([]PredictorChanges, 0, len(names))
	for _, name := range names {
		pc := PredictorChanges{Name: name, Runs: make([]PredictorChange, len(runs))}
		for i := range runs {
			old, okOld := before[i][name]
			nw, okNew := after[i][name]
			if !okNew { // no result (yet): nothing changed
				nw = old
			}
			if !okOld { // nothing stored before: the constructor's text, no demos
				old = predictorState{instructions: nw.instructions}
			}
			ch := PredictorChange{OldInstructions: old.instructions, NewInstructions: nw.instructions}
			ch.InstructionsChanged = ch.OldInstructions != ch.NewInstructions
			ch.DemosBefore, ch.DemosAfter = len(old.demos), len(nw.demos)
			ch.DemosAdded, ch.DemosRemoved = demoDiff(old.demos, nw.demos)
			pc.Runs[i] = ch
		}
		out = append(out, pc)
	}
	return out
}

// resultTrial is the trial whose program became the run's result.
func resultTrial(r RunForCompare) *Trial {
	if r.Run == nil || r.Run.BestTrial == 0 {
		return nil
	}
	return trialN(r.Trials, r.Run.BestTrial)
}

// demoDiff compares demos as multisets of their canonical JSON (map keys
// sorted by encoding/json), so reordering is not a change.
func demoDiff(old, nw []map[string]any) (added, removed []string) {
	count := map[string]int{}
	for _, d := range old {
		count[canonical(d)]++
	}
	for _, d := range nw {
		k := canonical(d)
		if count[k] > 0 {
			count[k]--
			continue
		}
		added = append(added, k)
	}
	for _, d := range old {
		k := canonical(d)
		if count[k] > 0 {
			count[k]--
			removed = append(removed, k)
		}
	}
	return added, removed
}

func canonical(d map[string]any) string {
	b, err := json.Marshal(d)
	if err != nil {
		return "<unencodable demo>"
	}
	return string(b)
}

// passMatrix builds the example rows from each run's best trial (the one
// whose program became the result; else the best scored trial that has
// results; else the baseline).
func passMatrix(runs []RunForCompare) ([]ExampleRow, int) {
	sides := make([]FlipSide, len(runs))
	for i, r := range runs {
		if t := bestTrial(r); t != nil {
			sides[i] = FlipSide{Results: t.Results}
		}
	}
	return FlipMatrix(sides)
}

func bestTrial(r RunForCompare) *Trial {
	if r.Run != nil && r.Run.BestTrial > 0 {
		for _, t := range r.Trials {
			if t.N == r.Run.BestTrial && len(t.Results) > 0 {
				return t
			}
		}
	}
	withResults := slices.DeleteFunc(slices.Clone(r.Trials), func(t *Trial) bool { return len(t.Results) == 0 })
	if len(withResults) == 0 {
		return nil
	}
	// Highest score; on a tie the later trial (optimizers keep the newest best).
	sort.SliceStable(withResults, func(a, b int) bool { return withResults[a].Score > withResults[b].Score })
	best := withResults[0]
	for _, t := range withResults[1:] {
		if t.Score == best.Score && t.N > best.N {
			best = t
		}
	}
	return best
}

// ScorePoint is one run on a program's score-versus-cost view.
type ScorePoint struct {
	ID        ID      `json:"id"`
	Optimizer string  `json:"optimizer"`
	Score     float64 `json:"score"`
	Cost      float64 `json:"cost"`
}

// ScoreVsCost lists the finished runs' best scores against their costs,
// cheapest first; ties keep the runs' order.
func ScoreVsCost(runs []*Optimization) []ScorePoint {
	var out []ScorePoint
	for _, o := range runs {
		if o == nil || !o.State.Terminal() || o.State == Failed {
			continue
		}
		out = append(out, ScorePoint{ID: o.ID, Optimizer: o.Optimizer, Score: o.BestScore, Cost: o.Cost})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Cost < out[b].Cost })
	return out
}

// StateText is the run's state, with why it stopped when it did.
func (r RunSummary) StateText() string {
	if r.Stopped != "" {
		return string(r.State) + " (" + r.Stopped + ")"
	}
	return string(r.State)
}

// HeldOutText is the held-out score before → after, or "-" without one.
func (r RunSummary) HeldOutText() string {
	if r.TestBefore == nil || r.TestAfter == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f → %.3f", *r.TestBefore, *r.TestAfter)
}

// ResultText is what became of the run's program: its version, or why none.
func (r RunSummary) ResultText() string {
	switch {
	case r.ResultVersion > 0:
		return fmt.Sprintf("v%d", r.ResultVersion)
	case r.Regressed:
		return "regressed: not saved"
	}
	return "-"
}
