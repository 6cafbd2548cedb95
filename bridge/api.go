package bridge

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"

	"fmt"
	"math"
	"slices"
	"time"

	"github.com/signet-dspy/signet/bridge/wire"
	"github.com/signet-dspy/signet/model"
)

// LMSpec is a resolved LM profile as the protocol's LM object. The key
// itself never travels: the worker reads the variable APIKeyEnv names.
type LMSpec struct {
	Model       string
	APIBase     string
	APIKeyEnv   string
	Temperature *float64
	MaxTokens   int
	Cache       bool
	Adapter     string  // "chat" (default), "json", or "json_schema" (JSON enforced by the server's grammar)
	PriceIn     float64 // USD per million prompt tokens; 0 sends null (LiteLLM's price table decides)
	PriceOut    float64 // USD per million completion tokens; 0 sends null
	Free        bool    // calls cost exactly 0 (the local model): cost known, not unknown
	Kwargs      map[string]any
	Pool        string       // the profile's name, when it has Endpoints: what the worker reports them under
	Endpoints   []LMEndpoint // several servers of one openai/ model instead of APIBase (key names only)
	// Cooldown is how long a worker leaves out an endpoint that failed; 0
	// sends none (the worker's default, 30s). Only with Endpoints.
	Cooldown time.Duration
}

// LMEndpoint is one server of a profile that lists several (config.Endpoint
// on the wire: the protocol's `LM.endpoints`).
type LMEndpoint struct {
	APIBase        string  `json:"api_base"`
	APIKeyEnv      string  `json:"api_key_env,omitempty"`
	Weight         float64 `json:"weight,omitempty"`
	MaxConcurrency int     `json:"max_concurrency,omitempty"`
	RPM            int     `json:"rpm,omitempty"`
}

type lmJSON struct {
	Model       string         `json:"model"`
	APIBase     *string        `json:"api_base"`
	APIKeyEnv   *string        `json:"api_key_env"`
	Temperature *float64       `json:"temperature"`
	MaxTokens   *int           `json:"max_tokens"`
	Cache       bool           `json:"cache"`
	Adapter     string         `json:"adapter,omitempty"`
	PriceIn     *float64       `json:"price_in"`
	PriceOut    *float64       `json:"price_out"`
	Free        bool           `json:"free,omitempty"`
	Kwargs      map[string]any `json:"kwargs,omitempty"`
	Pool        string         `json:"pool,omitempty"`
	Endpoints   []LMEndpoint   `json:"endpoints,omitempty"`
	Cooldown    float64        `json:"cooldown_s,omitempty"`
}

func nonEmpty[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// MarshalJSON writes unset optional fields as null, as the protocol has them.
func (l LMSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(lmJSON{Model: l.Model, APIBase: nonEmpty(l.APIBase), APIKeyEnv: nonEmpty(l.APIKeyEnv),
		Temperature: l.Temperature, MaxTokens: nonEmpty(l.MaxTokens), Cache: l.Cache, Adapter: l.Adapter,
		PriceIn: nonEmpty(l.PriceIn), PriceOut: nonEmpty(l.PriceOut), Free: l.Free, Kwargs: l.Kwargs, Pool: l.Pool, Endpoints: l.Endpoints,
		Cooldown: l.Cooldown.Seconds()})
}

// UnmarshalJSON reads the protocol's LM object.
func (l *LMSpec) UnmarshalJSON(b []byte) error {
	var j lmJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*l = LMSpec{Model: j.Model, Temperature: j.Temperature, Cache: j.Cache, Adapter: j.Adapter, Free: j.Free, Kwargs: j.Kwargs, Pool: j.Pool, Endpoints: j.Endpoints,
		Cooldown: time.Duration(j.Cooldown * float64(time.Second))}
	if j.PriceIn != nil {
		l.PriceIn = *j.PriceIn
	}
	if j.PriceOut != nil {
		l.PriceOut = *j.PriceOut
	}
	if j.APIBase != nil {
		l.APIBase = *j.APIBase
	}
	if j.APIKeyEnv != nil {
		l.APIKeyEnv = *j.APIKeyEnv
	}
	if j.MaxTokens != nil {
		l.MaxTokens = *j.MaxTokens
	}
	return nil
}

// ExecuteRequest runs Program on one input.
type ExecuteRequest struct {
	Program   *model.Program
	Inputs    map[string]any
	LM        LMSpec
	ModuleLMs map[string]LMSpec    // per-module overrides, by module name
	State     json.RawMessage      // DSPy dump_state() of the program, or nil
	Trace     bool                 // stream spans
	BaseDir   string               // resolves relative user-code paths; "" = Program.BaseDir (else the worker's working directory)
	Indexes   map[string]IndexSpec // the indexes its retrieve modules search, by name
	// Metric, when set, makes the run one example of an evaluation: the
	// worker scores the prediction against Labels in the same request
	// (docs/protocol.md, execute, "metric").
	Metric *MetricSpec
	Labels map[string]any
	// Metrics are extra metrics scored beside Metric (its result's Scores).
	Metrics []MetricSpec
	// Timeout bounds the run once a worker has it (0: none); past it the
	// call fails with CodeTimeout, not retryable (see Pool.call).
	Timeout time.Duration
	// Gate, when set, admits each LM call of the run before it starts; a
	// refusal fails the request with the code "budget" and the gate's
	// message.
	Gate Gate
	// Encoded, when set, is Program as EncodeProgram wrote it: a caller
	// that runs one program many times (the kernel, per version) encodes
	// it once instead of once per request.
	Encoded *EncodedProgram
}

// EncodedProgram is a program as an execute request carries it.
type EncodedProgram struct {
	json []byte
	key  string // programKey of json with no state
}

// EncodeProgram encodes p for ExecuteRequest.Encoded.
func EncodeProgram(p *model.Program) (*EncodedProgram, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("bridge: encoding program %s: %w", p.Name, err)
	}
	return &EncodedProgram{json: b, key: programKey(b, nil)}, nil
}

// JSON is the encoded program (not to be modified).
func (e *EncodedProgram) JSON() []byte { return e.json }

// keyWith is the program key of e with state.
func (e *EncodedProgram) keyWith(state []byte) string {
	if len(state) == 0 {
		return e.key
	}
	return programKey(e.json, state)
}

// ExecuteResult is what an execution produced.
type ExecuteResult struct {
	Outputs     map[string]any
	Usage       map[string]model.Usage // by model string
	Cost        float64
	CostUnknown bool
	Duration    time.Duration // as the worker measured it
	Score       *float64      // the metric's value; nil without a metric
	EmbedCache  model.EmbedCache
	Scores      map[string]float64 // each extra metric's value, by name
	// Worker is the pool and worker that ran it, "local/2" (Config.Name and
	// the worker's slot): what the execution records.
	Worker string
}

type executeParams struct {
	Program json.RawMessage `json:"program"`
	// ProgramKey digests Program and State (programKey): the worker keys
	// its built programs by it instead of encoding both again per request.
	ProgramKey string               `json:"program_key"`
	Inputs     map[string]any       `json:"inputs"`
	LM         LMSpec               `json:"lm"`
	ModuleLMs  map[string]LMSpec    `json:"module_lms,omitempty"`
	State      json.RawMessage      `json:"state"`
	Trace      bool                 `json:"trace"`
	BaseDir    string               `json:"base_dir,omitempty"`
	Metric     *MetricSpec          `json:"metric,omitempty"`
	Labels     map[string]any       `json:"labels,omitempty"`
	Reserve    bool                 `json:"reserve,omitempty"`
	Indexes    map[string]IndexSpec `json:"indexes,omitempty"`
	Metrics    []MetricSpec         `json:"metrics,omitempty"`
}

// Execute runs a program through DSPy on one worker. Spans stream to onSpan
// (when not nil) as they start and end, with Execution and Seq left for
// the caller to fill.
func (p *Pool) Execute(ctx context.Context, req ExecuteRequest, onSpan func(model.Span)) (*ExecuteResult, error) {
	if req.Program == nil {
		return nil, fmt.Errorf("bridge: execute: no program")
	}
	enc := req.Encoded
	if enc == nil {
		var err error
		if enc, err = EncodeProgram(req.Program); err != nil {
			return nil, fmt.Errorf("bridge: execute %s: %w", req.Program.Name, err)
		}
	}
	params := executeParams{Program: enc.json, ProgramKey: enc.keyWith(req.State), Inputs: req.Inputs,
		LM: req.LM, ModuleLMs: req.ModuleLMs, State: req.State, Trace: req.Trace, BaseDir: baseDir(req.BaseDir, req.Program),
		Metric: req.Metric, Labels: req.Labels, Reserve: req.Gate != nil, Indexes: req.Indexes, Metrics: req.Metrics}
	if params.Metric != nil && params.Labels == nil {
		params.Labels = map[string]any{}
	}
	if params.Inputs == nil {
		params.Inputs = map[string]any{}
	}
	var onEvent func(wire.Event)
	var spanErr error
	if onSpan != nil {
		spans := spanAssembler{open: map[string]model.Span{}}
		onEvent = func(e wire.Event) {
			if e.Event != wire.EventSpans {
				return
			}
			if err := spans.add(e.Data, onSpan); err != nil && spanErr == nil {
				spanErr = fmt.Errorf("span event of request %d: %w", e.ID, err)
			}
		}
	}
	raw, slot, err := p.callAt(ctx, wire.MethodExecute, params, req.Timeout, onEvent, req.Gate)
	if spanErr != nil {
		// A worker bug, not the program's: log it, keep the result.
		p.logf(0, 0, "execute %s: %v", req.Program.Name, spanErr)
	}
	if err != nil {
		var be *Error
		if errors.As(err, &be) && be.Worker != 0 {
			be.Pool = p.cfg.Name
		}
		return nil, err
	}
	var r executeResult
	if err := decodeResult(raw, &r); err != nil {
		return nil, &Error{Code: CodeProtocol, Retryable: true, Method: wire.MethodExecute, Message: "bad execute result: " + err.Error(), Err: err}
	}
	if req.Metric != nil && r.Score == nil {
		return nil, &Error{Code: CodeProtocol, Retryable: true, Method: wire.MethodExecute, Message: "bad execute result: no score for the metric"}
	}
	return &ExecuteResult{Outputs: r.Outputs, Usage: r.Usage, Cost: r.Cost, CostUnknown: r.CostUnknown,
		Duration: time.Duration(r.DurationMS * float64(time.Millisecond)), Score: r.Score, EmbedCache: r.EmbedCache,
		Scores: r.Scores, Worker: workerName(p.cfg.Name, slot)}, nil
}

// programKey is the SHA-256 of a program's JSON, a NUL and its state's
// bytes, as the worker reads them from an execute request (`program_key`,
// docs/protocol.md): equal bytes build the same program; bytes that differ
// only in form cost the worker one more build, never a wrong one.
func programKey(program, state []byte) string {
	h := sha256.New()
	h.Write(program)
	h.Write([]byte{0})
	h.Write(state)
	return hex.EncodeToString(h.Sum(nil))
}

// executeResult is an execute request's result.
type executeResult struct {
	Outputs     map[string]any         `json:"outputs"`
	Usage       map[string]model.Usage `json:"usage"`
	Cost        float64                `json:"cost"`
	CostUnknown bool                   `json:"cost_unknown"`
	DurationMS  float64                `json:"duration_ms"`
	Score       *float64               `json:"score"`
	EmbedCache  model.EmbedCache       `json:"embed_cache"`
	Scores      map[string]float64     `json:"scores"`
}

// decodeResult decodes every execution's result: with goccy/go-json
// (FuzzExecuteResult holds it to encoding/json), and with encoding/json,
// whose error is the one reported, when that refuses it.
func decodeResult(raw []byte, r *executeResult) error {
	if model.UnmarshalFast(raw, r) == nil {
		return nil
	}
	*r = executeResult{}
	return json.Unmarshal(raw, r)
}

// spanAssembler turns an execution's span events into spans: a start is
// the span so far; an end carries only what is new since its start (its end
// time, outputs, completion, usage, cost, error...), merged here over the
// start, so onSpan sees each span whole at its end as before.
type spanAssembler struct {
	open map[string]model.Span // started, not yet ended, by ID
	// sent holds what an ended span carried that a later start may name
	// instead of repeating it, until that start comes.
	sent map[string]sentPayload
}

// sentPayload is a format span's messages (named by its LM span's
// messages_of) or an LM span's completion (named by its parse span's
// completion_of).
type sentPayload struct {
	messages   []model.Message
	completion string
}

// spanEvent is a span event as the worker sends it: an LM span's start may
// name the format span whose messages it was sent, a parse span's start the
// LM span whose completion it parses, instead of repeating them.
type spanEvent struct {
	model.Span
	// Start and End hide the Span's: the worker sends integer nanoseconds.
	Start        stamp  `json:"start"`
	End          stamp  `json:"end"`
	MessagesOf   string `json:"messages_of,omitempty"`
	CompletionOf string `json:"completion_of,omitempty"`
}

// stamp is a span event's start or end: integer Unix nanoseconds, as the
// worker sends them (no formatting in Python, 28 an execution), or RFC 3339
// text (older workers, tests, hand-written events), decoded as time.Time
// decodes it. Nanoseconds decode to the very time.Time the same instant's
// RFC 3339 text in UTC ("Z") decodes to: same value, UTC, same JSON.
type stamp time.Time

// UnmarshalJSON reads a number of nanoseconds or a JSON string.
func (t *stamp) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || string(b) == "null" {
		return (*time.Time)(t).UnmarshalJSON(b)
	}
	ns, ok := nanos(b)
	if !ok {
		return fmt.Errorf("span time %s: not integer nanoseconds nor RFC 3339 text", b)
	}
	*t = stamp(time.Unix(0, ns).UTC())
	return nil
}

// nanos reads a JSON integer (an optional minus, decimal digits) that fits
// an int64, without the string strconv would take (an allocation per time).
func nanos(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64 // 19 digits fit
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// take hands over what span id sent to the start that names it (messages:
// its own copy, the format span keeps its slice).
func (a *spanAssembler) take(id string) sentPayload {
	p := a.sent[id]
	delete(a.sent, id)
	p.messages = slices.Clone(p.messages)
	return p
}

// keep holds an ended format span's messages, or an LM span's completion,
// for the start that may name it.
func (a *spanAssembler) keep(s model.Span) {
	var p sentPayload
	switch {
	case s.End.IsZero():
		return
	case s.Kind == model.SpanAdapter && s.Messages != nil:
		p.messages = s.Messages
	case s.Kind == model.SpanLM && s.Completion != "":
		p.completion = s.Completion
	default:
		return
	}
	if a.sent == nil {
		a.sent = map[string]sentPayload{}
	}
	a.sent[s.ID] = p
}

// add hands each span of a spans event's data to onSpan in order; a bad
// span is skipped and reported.
func (a *spanAssembler) add(data json.RawMessage, onSpan func(model.Span)) error {
	// One pass over the batch, straight into spans: the owner decodes every
	// span event of every traced execution. Only a batch with a bad span
	// (which encoding/json would half-fill and go on) takes the slow path,
	// one span at a time, to skip just that one.
	var batch spanBatch
	if err := decodeBatch(data, &batch); err != nil {
		return a.addEach(data, onSpan)
	}
	for _, e := range batch.Spans {
		a.put(e, onSpan)
	}
	return nil
}

// spanBatch is a spans event's data.
type spanBatch struct {
	Spans []spanEvent `json:"spans"`
}

// decodeBatch decodes a spans event's data with goccy/go-json, three to
// four times encoding/json's speed on the owner's hottest decode (every
// span event of every traced execution; FuzzSpanBatch holds it to
// encoding/json's result). An error, or a panic of that library, sends the
// batch to encoding/json, span by span.
func decodeBatch(data []byte, batch *spanBatch) error { return model.UnmarshalFast(data, batch) }

// addEach is add decoding span by span, skipping and reporting bad ones.
func (a *spanAssembler) addEach(data json.RawMessage, onSpan func(model.Span)) error {
	var batch struct {
		Spans []json.RawMessage `json:"spans"`
	}
	if err := json.Unmarshal(data, &batch); err != nil {
		return err
	}
	var first error
	for _, raw := range batch.Spans {
		var e spanEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			first = cmp.Or(first, err)
			continue
		}
		a.put(e, onSpan)
	}
	return first
}

// put hands on one span event: a start as it is (with the payloads it
// names put back), an end merged over its start.
func (a *spanAssembler) put(e spanEvent, onSpan func(model.Span)) {
	s := e.Span
	s.Start, s.End = time.Time(e.Start), time.Time(e.End)
	if e.MessagesOf != "" {
		s.Messages = a.take(e.MessagesOf).messages
	}
	if e.CompletionOf != "" {
		s.Completion = a.take(e.CompletionOf).completion
	}
	if s.End.IsZero() {
		a.open[s.ID] = s
	} else if start, ok := a.open[s.ID]; ok {
		delete(a.open, s.ID)
		s = mergeSpan(start, s)
	}
	a.keep(s)
	onSpan(s)
}

// mergeSpan is start with the fields end sets (an end event's delta) laid
// over it.
func mergeSpan(start, end model.Span) model.Span {
	s := start
	s.End = end.End
	s.Parent = cmp.Or(end.Parent, s.Parent)
	s.Kind = cmp.Or(end.Kind, s.Kind)
	s.Name = cmp.Or(end.Name, s.Name)
	s.Module = cmp.Or(end.Module, s.Module)
	s.Completion = cmp.Or(end.Completion, s.Completion)
	s.Model = cmp.Or(end.Model, s.Model)
	s.Error = cmp.Or(end.Error, s.Error)
	s.Usage = cmp.Or(end.Usage, s.Usage)
	s.Cost = cmp.Or(end.Cost, s.Cost)
	s.CostUnknown = s.CostUnknown || end.CostUnknown
	s.CacheHit = s.CacheHit || end.CacheHit
	if end.Inputs != nil {
		s.Inputs = end.Inputs
	}
	if end.Outputs != nil {
		s.Outputs = end.Outputs
	}
	if end.Messages != nil {
		s.Messages = end.Messages
	}
	if end.Retrieval != nil {
		s.Retrieval = end.Retrieval
	}
	if !end.Start.IsZero() {
		s.Start = end.Start
	}
	return s
}

// RenderRequest asks for the messages each module would send. Only the
// LM profiles' adapters matter: no LM is built, no key read.
type RenderRequest struct {
	Program   *model.Program
	Inputs    map[string]any
	LM        LMSpec
	ModuleLMs map[string]LMSpec
	State     json.RawMessage // render the prompts of an optimized state
	Module    string          // one module, or "" for all
	BaseDir   string          // as in ExecuteRequest
	Indexes   map[string]IndexSpec
}

// RenderResult holds the rendered prompt of each module.
type RenderResult struct {
	Modules []RenderedModule `json:"modules"`
}

// RenderedModule is one predictor's prompt (a module has one entry per
// predictor; a retrieve module one without messages). Placeholders names
// the inputs known only during a run (an earlier module's output, a ReAct
// trajectory), rendered as {name}; Note says what the prompt is (ReAct's
// first step, a call from a custom module's forward()).
type RenderedModule struct {
	Module       string          `json:"module"`
	Predictor    string          `json:"predictor,omitempty"` // its name in the module: self, predict, extract.predict
	Path         string          `json:"path,omitempty"`      // its key in the program's saved state
	Messages     []model.Message `json:"messages"`
	Placeholders []string        `json:"placeholders"`
	Note         string          `json:"note,omitempty"`
}

// Render renders prompts through DSPy's adapters without calling the LM.
func (p *Pool) Render(ctx context.Context, req RenderRequest) (*RenderResult, error) {
	if req.Program == nil {
		return nil, fmt.Errorf("bridge: render: no program")
	}
	params := struct {
		Program   *model.Program       `json:"program"`
		Inputs    map[string]any       `json:"inputs"`
		LM        LMSpec               `json:"lm"`
		ModuleLMs map[string]LMSpec    `json:"module_lms,omitempty"`
		State     json.RawMessage      `json:"state,omitempty"`
		Module    *string              `json:"module"`
		BaseDir   string               `json:"base_dir,omitempty"`
		Indexes   map[string]IndexSpec `json:"indexes,omitempty"`
	}{req.Program, req.Inputs, req.LM, req.ModuleLMs, req.State, nonEmpty(req.Module), baseDir(req.BaseDir, req.Program), req.Indexes}
	if params.Inputs == nil {
		params.Inputs = map[string]any{}
	}
	var r RenderResult
	if err := p.callInto(ctx, wire.MethodRender, params, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ValidateResult is the data flow of a program as DSPy builds it.
type ValidateResult struct {
	Modules []ValidatedModule `json:"modules"`
	Inputs  []string          `json:"inputs"` // what a caller must give, in first-use order
}

// ValidatedModule names a module's input and output fields. Declared is
// false for a custom module without a signature: its outputs are then its
// predictors' (what forward() returns is known only when it runs).
type ValidatedModule struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Inputs   []string `json:"inputs"`
	Outputs  []string `json:"outputs"`
	Declared *bool    `json:"declared,omitempty"`
}

// Validate builds the program in DSPy without running it; a program that
// does not build is the *Error bad_program, with Detail["module"].
func (p *Pool) Validate(ctx context.Context, prog *model.Program, dir string, indexes map[string]IndexSpec) (*ValidateResult, error) {
	if prog == nil {
		return nil, fmt.Errorf("bridge: validate: no program")
	}
	params := map[string]any{"program": prog, "base_dir": baseDir(dir, prog)}
	if len(indexes) > 0 {
		params["indexes"] = indexes
	}
	var r ValidateResult
	if err := p.callInto(ctx, wire.MethodValidate, params, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Flow is a program's data flow: from its signatures when they say it all,
// else as a worker builds the program (a custom module without a signature
// reads its forward()'s parameters and produces its predictors' outputs).
func (p *Pool) Flow(ctx context.Context, prog *model.Program, dir string, indexes map[string]IndexSpec) (model.Flow, error) {
	if f := prog.StaticFlow(); len(f.Opaque) == 0 {
		return f, nil
	}
	v, err := p.Validate(ctx, prog, dir, indexes)
	if err != nil {
		return model.Flow{}, err
	}
	f := model.Flow{Inputs: v.Inputs}
	seen := map[string]bool{}
	for _, m := range v.Modules {
		for _, o := range m.Outputs {
			if !seen[o] {
				seen[o] = true
				f.Outputs = append(f.Outputs, o)
			}
		}
	}
	return f, nil
}

// baseDir is what relative user-code paths of prog resolve against: the
// request's directory, else the program's own (its file's directory).
func baseDir(req string, prog *model.Program) string {
	if req != "" {
		return req
	}
	return prog.BaseDir
}

func (p *Pool) callInto(ctx context.Context, method string, params, out any) error {
	raw, err := p.Call(ctx, method, params, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{Code: CodeProtocol, Retryable: true, Method: method, Message: "bad " + method + " result: " + err.Error(), Err: err}
	}
	return nil
}

// Embedder names the embedder of an index: a built-in one by Name alone,
// or a hosted one (an LM profile) with its resolved LM.
type Embedder struct {
	Name string  `json:"name"`
	LM   *LMSpec `json:"lm,omitempty"`
}

// IndexSpec is an index a program's retrieve module searches, as every
// request carrying a program sends it (docs/protocol.md, "indexes").
type IndexSpec struct {
	Dir       string    `json:"dir"`
	Retriever string    `json:"retriever"`
	Embedder  *Embedder `json:"embedder"`
	Passages  int       `json:"passages"`
}

// IndexRequest builds an index in Dir from the passages file the caller
// wrote (one {"id", "text"} per line).
type IndexRequest struct {
	Dir       string    `json:"dir"`
	Passages  string    `json:"passages"`
	Retriever string    `json:"retriever"`
	Embedder  *Embedder `json:"embedder"`
}

// IndexResult is what a build wrote and what it cost.
type IndexResult struct {
	Passages    int              `json:"passages"`
	Dim         *int             `json:"dim"`
	Seconds     float64          `json:"seconds"`
	Bytes       int64            `json:"bytes"`
	Usage       json.RawMessage  `json:"usage,omitempty"`
	Cost        float64          `json:"cost"`
	CostUnknown bool             `json:"cost_unknown"`
	Cache       model.EmbedCache `json:"cache"`
}

// Index builds a retrieval index on one worker, handing its progress (done
// of total passages) to onProgress when not nil, on the caller's goroutine.
func (p *Pool) Index(ctx context.Context, req IndexRequest, onProgress func(done, total int)) (*IndexResult, error) {
	if req.Dir == "" || req.Passages == "" {
		return nil, fmt.Errorf("bridge: index: no directory or passages file")
	}
	var handle func(wire.Event)
	if onProgress != nil {
		handle = func(e wire.Event) {
			var pr struct {
				Done  int `json:"done"`
				Total int `json:"total"`
			}
			if e.Event != wire.EventProgress || json.Unmarshal(e.Data, &pr) != nil {
				return // a newer worker's event, or a bad one: progress is advisory
			}
			onProgress(pr.Done, pr.Total)
		}
	}
	raw, err := p.Call(ctx, wire.MethodIndex, req, handle)
	if err != nil {
		return nil, err
	}
	var r IndexResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &Error{Code: CodeProtocol, Retryable: true, Method: wire.MethodIndex, Message: "bad index result: " + err.Error(), Err: err}
	}
	return &r, nil
}
