package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/bridge/wire"
	"github.com/signet-dspy/signet/model"
)

// Example is one dataset example as the optimize method takes it: the
// program's inputs and the labels (every other field).
type Example struct {
	ID      string         `json:"id"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

// MetricSpec is the metric of an optimization as the worker takes it: the
// judge's LM resolved from its profile.
type MetricSpec struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"` // builtin, custom, judge
	Source    string  `json:"source,omitempty"`
	Signature string  `json:"signature,omitempty"`
	LM        *LMSpec `json:"lm"`
}

// MetricOf is a metric as the worker takes it, with its judge's LM
// resolved (nil: the task LM).
func MetricOf(m model.Metric, lm *LMSpec) MetricSpec {
	return MetricSpec{Name: m.Name, Kind: string(m.Kind), Source: m.Source, Signature: m.Signature, LM: lm}
}

// OptimizeRequest compiles Program with a DSPy optimizer (docs/protocol.md,
// "optimize").
type OptimizeRequest struct {
	Program      *model.Program
	LM           LMSpec
	ModuleLMs    map[string]LMSpec
	State        json.RawMessage // the base program's DSPy state, or nil
	BaseDir      string
	Optimizer    string // labeled_fewshot, bootstrap_fewshot, bootstrap_random_search, mipro_v2, copro, simba, gepa
	Settings     map[string]any
	Train        []Example
	Val          []Example // empty: the optimizer's default
	Test         []Example // empty: no held-out scores
	Metric       MetricSpec
	ReflectionLM *LMSpec // GEPA's
	PromptLM     *LMSpec // MIPROv2's and COPRO's instruction proposer; nil = LM
	Budget       float64 // USD; 0 = none. The worker stops the run when its cost reaches it.
	Threads      int
	Seed         int

	// Stop, when closed, asks the worker to stop the run at its next hook:
	// the call then ends with the result of what was found so far
	// (Stopped = "cancelled"). Cancelling ctx instead abandons the run and
	// its result; Stop is the cancel that keeps what was learned.
	Stop <-chan struct{}
	// StopGrace bounds how long after Stop the worker may take to end the
	// run before the call is abandoned as if ctx had been cancelled
	// (default DefaultStopGrace): an LM call in flight is not interrupted.
	StopGrace time.Duration
}

// DefaultStopGrace is OptimizeRequest.StopGrace's default.
const DefaultStopGrace = 60 * time.Second

type optimizeParams struct {
	Program      *model.Program    `json:"program"`
	LM           LMSpec            `json:"lm"`
	ModuleLMs    map[string]LMSpec `json:"module_lms,omitempty"`
	State        json.RawMessage   `json:"state"`
	BaseDir      string            `json:"base_dir,omitempty"`
	Optimizer    string            `json:"optimizer"`
	Settings     map[string]any    `json:"settings"`
	Train        []Example         `json:"train"`
	Val          []Example         `json:"val"`
	Test         []Example         `json:"test"`
	Metric       MetricSpec        `json:"metric"`
	ReflectionLM *LMSpec           `json:"reflection_lm"`
	PromptLM     *LMSpec           `json:"prompt_lm"`
	TaskLM       *LMSpec           `json:"task_lm"`
	Budget       float64           `json:"budget"`
	Threads      int               `json:"threads,omitempty"`
	Seed         int               `json:"seed"`
}

// ModuleState is what an optimizer set on one predictor.
type ModuleState struct {
	Instructions string           `json:"instructions"`
	Demos        []map[string]any `json:"demos"`
}

// TrialEvent is one candidate program the optimizer evaluated (N = 0 is
// the baseline).
type TrialEvent struct {
	N            int                         `json:"n"`
	Score        float64                     `json:"score"`
	Instructions map[string]string           `json:"instructions"`
	Demos        map[string][]map[string]any `json:"demos"`
	Results      []model.ExampleResult       `json:"results"`
	Modules      map[string]ModuleState      `json:"modules"`
}

// OptimizeEvent is a progress report or a trial; exactly one is set.
type OptimizeEvent struct {
	Progress *model.OptProgress
	Trial    *TrialEvent
}

// ValResults are the per-example results on the validation set of the
// base program and of the best one.
type ValResults struct {
	Baseline []model.ExampleResult `json:"baseline"`
	Best     []model.ExampleResult `json:"best"`
}

// OptimizeResult is how an optimization ended: the best program found,
// also when it was stopped early (Stopped "budget" or "cancelled").
type OptimizeResult struct {
	BaselineScore float64                `json:"baseline_score"`
	BestScore     float64                `json:"best_score"`
	TestBaseline  *float64               `json:"test_baseline"`
	TestScore     *float64               `json:"test_score"`
	BestTrial     int                    `json:"best_trial"`
	Trials        int                    `json:"trials"`
	Modules       map[string]ModuleState `json:"modules"`
	State         json.RawMessage        `json:"state"`
	LMCalls       int                    `json:"lm_calls"`
	Usage         map[string]model.Usage `json:"usage"`
	Cost          float64                `json:"cost"`
	CostUnknown   bool                   `json:"cost_unknown"`
	DurationMS    float64                `json:"duration_ms"`
	Stopped       string                 `json:"stopped"`
	ValResults    ValResults             `json:"val_results"`
}

// Duration is the run's length as the worker measured it.
func (r *OptimizeResult) Duration() time.Duration {
	return time.Duration(r.DurationMS * float64(time.Millisecond))
}

// Optimize runs a DSPy optimizer on one worker, handing progress and
// trials to onEvent (when not nil) in order, on the caller's goroutine.
// Closing req.Stop ends the run early with its best-so-far result.
func (p *Pool) Optimize(ctx context.Context, req OptimizeRequest, onEvent func(OptimizeEvent)) (*OptimizeResult, error) {
	if req.Program == nil {
		return nil, errors.New("bridge: optimize: no program")
	}
	if req.Optimizer == "" {
		return nil, errors.New("bridge: optimize: no optimizer")
	}
	params := optimizeParams{Program: req.Program, LM: req.LM, ModuleLMs: req.ModuleLMs, State: req.State, BaseDir: req.BaseDir,
		Optimizer: req.Optimizer, Settings: req.Settings, Train: req.Train, Val: req.Val, Test: req.Test, Metric: req.Metric,
		ReflectionLM: req.ReflectionLM, PromptLM: req.PromptLM, Budget: req.Budget, Threads: req.Threads, Seed: req.Seed}
	if params.Settings == nil {
		params.Settings = map[string]any{}
	}
	for _, s := range []*[]Example{&params.Train, &params.Val, &params.Test} {
		if *s == nil {
			*s = []Example{}
		}
	}
	var evErr error
	var handle func(wire.Event)
	if onEvent != nil {
		handle = func(e wire.Event) {
			var ev OptimizeEvent
			var err error
			switch e.Event {
			case wire.EventProgress:
				ev.Progress = &model.OptProgress{}
				err = json.Unmarshal(e.Data, ev.Progress)
			case wire.EventTrial:
				ev.Trial = &TrialEvent{}
				err = json.Unmarshal(e.Data, ev.Trial)
			default:
				return // a newer worker's event this side does not know
			}
			if err != nil {
				if evErr == nil {
					evErr = fmt.Errorf("%s event of request %d: %w", e.Event, e.ID, err)
				}
				return
			}
			onEvent(ev)
		}
	}
	grace := req.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	raw, err := p.callStoppable(ctx, wire.MethodOptimize, params, handle, req.Stop, grace)
	if evErr != nil {
		p.logf(0, 0, "optimize %s: %v", req.Program.Name, evErr)
	}
	if err != nil {
		return nil, err
	}
	var r OptimizeResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &Error{Code: CodeProtocol, Retryable: true, Method: wire.MethodOptimize, Message: "bad optimize result: " + err.Error(), Err: err}
	}
	return &r, nil
}

// Export returns the DSPy JSON of a program (what program.save(path)
// writes), with its instructions and demos, for plain DSPy to load.
func (p *Pool) Export(ctx context.Context, prog *model.Program, baseDir string) (json.RawMessage, error) {
	if prog == nil {
		return nil, errors.New("bridge: export: no program")
	}
	var r struct {
		State json.RawMessage `json:"state"`
	}
	params := map[string]any{"program": prog, "base_dir": baseDir}
	if err := p.callInto(ctx, wire.MethodExport, params, &r); err != nil {
		return nil, err
	}
	if len(r.State) == 0 {
		return nil, &Error{Code: CodeProtocol, Method: wire.MethodExport, Message: "export result has no state"}
	}
	return r.State, nil
}

// ImportState loads a DSPy state (a file plain DSPy saved) into prog and
// returns each predictor's instructions and demos, by module name. A state
// that does not fit the program is the *Error bad_input naming the
// predictor.
func (p *Pool) ImportState(ctx context.Context, prog *model.Program, state json.RawMessage, baseDir string) (map[string]ModuleState, error) {
	if prog == nil {
		return nil, errors.New("bridge: import_state: no program")
	}
	var r struct {
		Modules map[string]ModuleState `json:"modules"`
	}
	params := map[string]any{"program": prog, "state": state, "base_dir": baseDir}
	if err := p.callInto(ctx, wire.MethodImport, params, &r); err != nil {
		return nil, err
	}
	return r.Modules, nil
}

// callStoppable is Call with a second, gentler cancel: closing stop sends
// the worker a cancel frame and keeps waiting for the request's end, since
// a request such as optimize answers a cancel with a result. If it has not
// ended grace later, the call is abandoned as on ctx's end.
func (p *Pool) callStoppable(ctx context.Context, method string, params any, onEvent func(wire.Event), stop <-chan struct{}, grace time.Duration) (json.RawMessage, error) {
	if stop == nil {
		return p.Call(ctx, method, params, onEvent)
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("bridge: encoding params of %s: %w", method, err)
	}
	pr, c, err := p.dispatch(ctx, method, json.RawMessage(b), onEvent)
	if err != nil {
		return nil, err
	}
	// The stop is watched apart from await, which waits on actx: cancelling
	// actx is then the abandon after the grace.
	actx, abandon := context.WithCancel(ctx)
	defer abandon()
	go func() {
		select {
		case <-stop:
		case <-actx.Done():
			return
		}
		if _, err := pr.send(wire.MethodCancel, map[string]uint64{"target": c.id}, true, nil); err != nil {
			return // the worker is gone: c fails at once
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			abandon()
		case <-actx.Done():
		}
	}()
	return p.await(actx, pr, c)
}
