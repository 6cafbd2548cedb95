// Package otlp maps an execution and its trace to OpenTelemetry spans
// following the GenAI semantic conventions, and back: the OTLP/JSON file
// form (an ExportTraceServiceRequest) that `signet trace ID --format
// otlp-json` writes and `signet trace import` reads, foreign traces of
// DSPy programs instrumented elsewhere included.
//
// The trace id is the execution id (both 16 bytes), so a trace names its
// execution; span ids are derived from the execution and DSPy's call ids,
// so one export gives the same ids each time. The root span is the program
// run; every span without a parent in the trace hangs from it.
package otlp

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
)

// Scope names the instrumentation that made the spans.
const Scope = "github.com/signet-dspy/signet"

// Attribute keys: the GenAI conventions' where they say it, Signet's own
// (signet.*) for what they do not, so that an import gives back what an
// export wrote.
const (
	keyOperation    = "gen_ai.operation.name"
	keySystem       = "gen_ai.system" // the older name of the provider
	keyProvider     = "gen_ai.provider.name"
	keyRequestModel = "gen_ai.request.model"
	keyRespModel    = "gen_ai.response.model"
	keyInTokens     = "gen_ai.usage.input_tokens"
	keyOutTokens    = "gen_ai.usage.output_tokens"
	keyToolName     = "gen_ai.tool.name"

	keyExecution   = "signet.execution.id"
	keyProgram     = "signet.program"
	keyVersion     = "signet.program.version"
	keyLM          = "signet.lm"
	keyState       = "signet.state"
	keyAttempts    = "signet.attempts"
	keyKind        = "signet.span.kind"
	keySpanID      = "signet.span.id"
	keySpanName    = "signet.span.name"
	keyUsage       = "signet.usage"
	keySeq         = "signet.span.seq"
	keyModule      = "signet.module"
	keyCost        = "signet.cost_usd"
	keyCostUnknown = "signet.cost_unknown"
	keyCacheHit    = "signet.cache_hit"
	keyCalls       = "signet.usage.calls"
	keyInputs      = "signet.inputs"
	keyOutputs     = "signet.outputs"
	keyRetrieval   = "signet.retrieval"
	keyIndex       = "signet.retrieval.index"
	keyErrorCode   = "signet.error_code"

	// The GenAI events of a chat's content: one per prompt message
	// (gen_ai.<role>.message) and one for the completion (gen_ai.choice).
	keyContent  = "content"
	eventChoice = "gen_ai.choice"
)

// Options say what an export may carry.
type Options struct {
	// Content lets prompts, completions, inputs, outputs and retrieved
	// passages out. Off, a trace carries names, models, tokens, cost and
	// timings only. Key-shaped secrets are redacted either way.
	Content bool
	// Redact is the redactor of what leaves (the owner's, with the
	// config's key values); nil redacts key shapes.
	Redact *redact.Redactor
}

// Stubs maps an execution and its spans (in any order) to OpenTelemetry
// spans: the root first, then the trace's spans by sequence number.
func Stubs(e *model.Execution, spans []model.Span, opt Options) tracetest.SpanStubs {
	red := opt.Redact
	if red == nil {
		red = redact.New()
	}
	tid := trace.TraceID(e.ID)
	res := resource.NewSchemaless(attribute.String("service.name", "signet"), attribute.String(keyProgram, e.Program))
	scope := instrumentation.Scope{Name: Scope}
	rootID := spanID(e.ID, "")
	known := map[string]bool{}
	for _, s := range spans {
		known[s.ID] = true
	}

	start, end := e.StartedAt, e.FinishedAt
	if start.IsZero() {
		start = e.CreatedAt
	}
	root := tracetest.SpanStub{
		Name:        "run " + e.Program,
		SpanContext: spanContext(tid, rootID),
		SpanKind:    trace.SpanKindInternal,
		StartTime:   start,
		EndTime:     end,
		Attributes: []attribute.KeyValue{
			attribute.String(keyExecution, e.ID.String()),
			attribute.String(keyProgram, e.Program),
			attribute.Int(keyVersion, e.Version),
			attribute.String(keyState, string(e.State)),
			attribute.Int(keyAttempts, e.Attempts),
			attribute.Float64(keyCost, e.Cost),
		},
		Resource:             res,
		InstrumentationScope: scope,
	}
	if len(e.Usage) > 0 {
		root.Attributes = appendJSON(root.Attributes, red, keyUsage, e.Usage)
	}
	if e.LM != "" {
		root.Attributes = append(root.Attributes, attribute.String(keyLM, e.LM))
	}
	if e.CostUnknown {
		root.Attributes = append(root.Attributes, attribute.Bool(keyCostUnknown, true))
	}
	if e.CacheHit {
		root.Attributes = append(root.Attributes, attribute.Bool(keyCacheHit, true))
	}
	if opt.Content {
		root.Attributes = appendJSON(root.Attributes, red, keyInputs, e.Inputs)
		root.Attributes = appendJSON(root.Attributes, red, keyOutputs, e.Outputs)
	}
	if e.ErrorCode != "" || e.Error != "" {
		root.Status = sdktrace.Status{Code: codes.Error, Description: red.String(e.Error)}
		root.Attributes = append(root.Attributes, attribute.String(keyErrorCode, e.ErrorCode))
	} else if e.State == model.Completed {
		root.Status = sdktrace.Status{Code: codes.Ok}
	}

	out := tracetest.SpanStubs{root}
	for _, s := range sortedBySeq(spans) {
		parent := rootID
		if s.Parent != "" && known[s.Parent] {
			parent = spanID(e.ID, s.Parent)
		}
		st := tracetest.SpanStub{
			Name:                 spanName(&s),
			SpanContext:          spanContext(tid, spanID(e.ID, s.ID)),
			Parent:               spanContext(tid, parent),
			SpanKind:             spanKind(s.Kind),
			StartTime:            s.Start,
			EndTime:              s.End,
			Attributes:           spanAttributes(&s, red, opt),
			Resource:             res,
			InstrumentationScope: scope,
		}
		if opt.Content {
			st.Events = contentEvents(&s, red)
		}
		if s.Error != "" {
			st.Status = sdktrace.Status{Code: codes.Error, Description: red.String(s.Error)}
		}
		out = append(out, st)
	}
	return out
}

// spanID derives an 8-byte span id from the execution and a DSPy call id
// ("" is the root).
func spanID(exec model.ID, call string) trace.SpanID {
	h := sha256.New()
	h.Write(exec[:])
	h.Write([]byte(call))
	var id trace.SpanID
	copy(id[:], h.Sum(nil))
	return id
}

func spanContext(t trace.TraceID, s trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: t, SpanID: s, TraceFlags: trace.FlagsSampled})
}

// spanName is the conventions' "{operation} {model}" for an LM call, the
// DSPy name otherwise.
func spanName(s *model.Span) string {
	switch {
	case s.Kind == model.SpanLM && s.Model != "":
		return "chat " + s.Model
	case s.Kind == model.SpanTool:
		return "execute_tool " + s.Name
	}
	return s.Name
}

// spanKind: an LM call (and a hosted embedder's) leaves the process.
func spanKind(k model.SpanKind) trace.SpanKind {
	if k == model.SpanLM {
		return trace.SpanKindClient
	}
	return trace.SpanKindInternal
}

func spanAttributes(s *model.Span, red *redact.Redactor, opt Options) []attribute.KeyValue {
	a := []attribute.KeyValue{
		attribute.String(keyKind, string(s.Kind)),
		attribute.String(keySpanID, s.ID),
		attribute.String(keySpanName, s.Name),
		attribute.Int64(keySeq, int64(s.Seq)),
	}
	if s.Module != "" {
		a = append(a, attribute.String(keyModule, s.Module))
	}
	switch s.Kind {
	case model.SpanLM:
		a = append(a, attribute.String(keyOperation, "chat"))
	case model.SpanTool:
		a = append(a, attribute.String(keyOperation, "execute_tool"), attribute.String(keyToolName, s.Name))
	}
	if s.Model != "" {
		provider := Provider(s.Model)
		a = append(a, attribute.String(keyProvider, provider), attribute.String(keySystem, provider),
			attribute.String(keyRequestModel, s.Model), attribute.String(keyRespModel, s.Model))
	}
	if u := s.Usage; u != (model.Usage{}) {
		a = append(a, attribute.Int(keyInTokens, u.PromptTokens), attribute.Int(keyOutTokens, u.CompletionTokens))
		if u.Calls != 0 {
			a = append(a, attribute.Int(keyCalls, u.Calls))
		}
	}
	if s.Cost != 0 {
		a = append(a, attribute.Float64(keyCost, s.Cost))
	}
	if s.CostUnknown {
		a = append(a, attribute.Bool(keyCostUnknown, true))
	}
	if s.CacheHit {
		a = append(a, attribute.Bool(keyCacheHit, true))
	}
	if s.Retrieval != nil {
		a = append(a, attribute.String(keyIndex, s.Retrieval.Index))
		if opt.Content {
			a = appendJSON(a, red, keyRetrieval, s.Retrieval)
		}
	}
	if opt.Content {
		a = appendJSON(a, red, keyInputs, s.Inputs)
		a = appendJSON(a, red, keyOutputs, s.Outputs)
	}
	return a
}

// contentEvents are a chat's messages and completion, as GenAI events.
func contentEvents(s *model.Span, red *redact.Redactor) []sdktrace.Event {
	var ev []sdktrace.Event
	for _, m := range s.Messages {
		ev = append(ev, sdktrace.Event{Name: "gen_ai." + m.Role + ".message", Time: s.Start,
			Attributes: []attribute.KeyValue{attribute.String(keyContent, red.String(m.Content))}})
	}
	if s.Completion != "" {
		t := s.End
		if t.IsZero() {
			t = s.Start
		}
		ev = append(ev, sdktrace.Event{Name: eventChoice, Time: t,
			Attributes: []attribute.KeyValue{attribute.Int("index", 0), attribute.String(keyContent, red.String(s.Completion))}})
	}
	return ev
}

// appendJSON adds v as a JSON string attribute, unless it is empty.
func appendJSON[T any](a []attribute.KeyValue, red *redact.Redactor, key string, v T) []attribute.KeyValue {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" || string(b) == "{}" {
		return a
	}
	return append(a, attribute.String(key, string(red.Bytes(b))))
}

// Provider is the provider part of a LiteLLM model string
// ("openai/gpt-4o-mini" → "openai"); a bare model name has none.
func Provider(model string) string {
	if p, _, ok := strings.Cut(model, "/"); ok {
		return p
	}
	return "unknown"
}

func sortedBySeq(spans []model.Span) []model.Span {
	out := slices.Clone(spans)
	slices.SortStableFunc(out, func(a, b model.Span) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}
