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
	State        json.RawMessage      // the base program's DSPy state, or nil
	BaseDir      string               // as in ExecuteRequest
	Indexes      map[string]IndexSpec // as in ExecuteRequest
	Optimizer    string               // labeled_fewshot, bootstrap_fewshot, bootstrap_random_search, mipro_v2, copro, simba, gepa
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
	// Gate, when set, admits each LM call of the run before it starts: a
	// refusal stops the run with its best so far (Stopped = "budget").
	Gate Gate
}

// DefaultStopGrace is OptimizeRequest.StopGrace's default.
const DefaultStopGrace = 60 * time.Second

type optimizeParams struct {
	Program      *model.Program       `json:"program"`
	LM           LMSpec               `json:"lm"`
	ModuleLMs    map[string]LMSpec    `json:"module_lms,omitempty"`
	State        json.RawMessage      `json:"state"`
	BaseDir      string               `json:"base_dir,omitempty"`
	Optimizer    string               `json:"optimizer"`
	Settings     map[string]any       `json:"settings"`
	Train        []Example            `json:"train"`
	Val          []Example            `json:"val"`
	Test         []Example            `json:"test"`
	Metric       MetricSpec           `json:"metric"`
	ReflectionLM *LMSpec              `json:"reflection_lm"`
	PromptLM     *LMSpec              `json:"prompt_lm"`
	TaskLM       *LMSpec              `json:"task_lm"`
	Budget       float64              `json:"budget"`
	Threads      int                  `json:"threads,omitempty"`
	Seed         int                  `json:"seed"`
	Reserve      bool                 `json:"reserve,omitempty"`
	Indexes      map[string]IndexSpec `json:"indexes,omitempty"`
}

// ModuleState is the state of every predictor inside one program module,
// as the worker read it back from DSPy.
type ModuleState struct {
	Predictors []model.Predictor `json:"predictors"`
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
	Cost         float64                     `json:"cost"`
	DurationS    float64                     `json:"duration_s"`
	Parents      []int                       `json:"parents"`
	Reflection   []string                    `json:"reflection"`
	Proposals    map[string][]string         `json:"proposals"`
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

// Spent is what a run spent before an error ended it: the worker's error
// carries it as detail.spent (docs/protocol.md, "optimize").
type Spent struct {
	LMCalls     int                    `json:"lm_calls"`
	Cost        float64                `json:"cost"`
	CostUnknown bool                   `json:"cost_unknown"`
	Usage       map[string]model.Usage `json:"usage"`
}

// SpentOf reads what a failed run spent from the worker's error; false when
// the error does not say (the run had not begun, or no worker answered).
func SpentOf(err error) (*Spent, bool) {
	var be *Error
	if !errors.As(err, &be) || be.Detail["spent"] == nil {
		return nil, false
	}
	b, jerr := json.Marshal(be.Detail["spent"])
	var s Spent
	if jerr != nil || json.Unmarshal(b, &s) != nil {
		return nil, false
	}
	return &s, true
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
	params := optimizeParams{Program: req.Program, LM: req.LM, ModuleLMs: req.ModuleLMs, State: req.State, BaseDir: baseDir(req.BaseDir, req.Program),
		Optimizer: req.Optimizer, Settings: req.Settings, Train: req.Train, Val: req.Val, Test: req.Test, Metric: req.Metric,
		ReflectionLM: req.ReflectionLM, PromptLM: req.PromptLM, Budget: req.Budget, Threads: req.Threads, Seed: req.Seed,
		Reserve: req.Gate != nil, Indexes: req.Indexes}
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
	raw, err := p.callStoppable(ctx, wire.MethodOptimize, params, handle, req.Gate, req.Stop, grace)
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

// ExportRequest asks for what DSPy's save(path) writes for a program.
type ExportRequest struct {
	Program *model.Program
	State   json.RawMessage // a whole-program state to apply first (an optimization's candidate), or nil
	BaseDir string
	Python  bool // also a standalone Python file that rebuilds the program in plain DSPy
	Indexes map[string]IndexSpec
}

// ExportResult is the saved JSON (for a one-module program, that module's
// own save) and, when asked, the Python file.
type ExportResult struct {
	State  json.RawMessage `json:"state"`
	Python string          `json:"python"`
}

// Export returns the DSPy JSON of a program, for plain DSPy to load.
func (p *Pool) Export(ctx context.Context, req ExportRequest) (*ExportResult, error) {
	if req.Program == nil {
		return nil, errors.New("bridge: export: no program")
	}
	params := map[string]any{"program": req.Program, "base_dir": baseDir(req.BaseDir, req.Program), "python": req.Python}
	if len(req.Indexes) > 0 {
		params["indexes"] = req.Indexes
	}
	if len(req.State) > 0 {
		params["state"] = req.State
	}
	var r ExportResult
	if err := p.callInto(ctx, wire.MethodExport, params, &r); err != nil {
		return nil, err
	}
	if len(r.State) == 0 {
		return nil, &Error{Code: CodeProtocol, Method: wire.MethodExport, Message: "export result has no state"}
	}
	return &r, nil
}

// ImportRequest is a state DSPy saved, for an existing program (Program
// set) or a new one (Name set, its module inferred from the state's shape,
// or from Type, Signature and Source when given).
type ImportRequest struct {
	Program   *model.Program
	State     json.RawMessage // what save(path) wrote as JSON
	Pickle    string          // a save_program=True directory, loaded only when the caller trusts it
	Name      string
	Type      model.ModuleType
	Signature string
	Source    string
	BaseDir   string
}

// ImportResult is the program with its predictors' state set, and what the
// user should know (a DSPy version mismatch, a guessed signature).
type ImportResult struct {
	Program  *model.Program `json:"program"`
	Warnings []string       `json:"warnings"`
}

// ImportState turns a DSPy state into a program whose built modules dump
// exactly that state. A state that does not fit is the *Error bad_input
// naming the predictor key.
func (p *Pool) ImportState(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	params := map[string]any{"base_dir": req.BaseDir}
	switch {
	case req.Program != nil:
		params["program"], params["base_dir"] = req.Program, baseDir(req.BaseDir, req.Program)
	case req.Name == "":
		return nil, errors.New("bridge: import_state: neither a program nor a name")
	default:
		params["name"], params["type"], params["signature"], params["source"] = req.Name, string(req.Type), req.Signature, req.Source
	}
	if req.Pickle != "" {
		params["pickle"] = req.Pickle
	} else {
		params["state"] = req.State
	}
	var r ImportResult
	if err := p.callInto(ctx, wire.MethodImport, params, &r); err != nil {
		return nil, err
	}
	if r.Program == nil {
		return nil, &Error{Code: CodeProtocol, Method: wire.MethodImport, Message: "import_state result has no program"}
	}
	return &r, nil
}

// callStoppable is Call with a second, gentler cancel: closing stop sends
// the worker a cancel frame and keeps waiting for the request's end, since
// a request such as optimize answers a cancel with a result. If it has not
// ended grace later, the call is abandoned as on ctx's end.
func (p *Pool) callStoppable(ctx context.Context, method string, params any, onEvent func(wire.Event), g Gate, stop <-chan struct{}, grace time.Duration) (json.RawMessage, error) {
	if stop == nil {
		return p.call(ctx, method, params, 0, onEvent, g)
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("bridge: encoding params of %s: %w", method, err)
	}
	pr, c, err := p.dispatch(ctx, method, wire.Marshalled(b), onEvent, g)
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
	return p.await(actx, pr, c, 0)
}
