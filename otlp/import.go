package otlp

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/signet-dspy/signet/model"
)

// LMPrefix marks an imported execution: its LM is "otlp:<lm or model>".
// Nothing re-runs it: it ran elsewhere.
const LMPrefix = "otlp:"

// Trace is one imported trace: an ended execution and its spans.
type Trace struct {
	Execution *model.Execution
	Spans     []model.Span
}

// otelSpan is a span with its resource's attributes, as read.
type otelSpan struct {
	span     *tracepb.Span
	attrs    map[string]*commonpb.AnyValue
	resource map[string]*commonpb.AnyValue
}

// Traces maps every trace of an OTLP request to an execution, in the order
// of their first spans. A Signet export gives back the execution it was
// made from (its id, program, LM, tokens, cost, span tree); a foreign
// trace (OpenInference, OpenLLMetry, plain GenAI conventions) gives what
// its attributes say, and the rest stays empty.
func Traces(req *coltracepb.ExportTraceServiceRequest) ([]Trace, error) {
	byTrace := map[string][]*otelSpan{}
	var order []string
	for _, rs := range req.GetResourceSpans() {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				if len(s.GetTraceId()) != 16 || len(s.GetSpanId()) != 8 {
					return nil, fmt.Errorf("span %q: trace id of %d bytes, span id of %d: want 16 and 8", s.GetName(), len(s.GetTraceId()), len(s.GetSpanId()))
				}
				t := hex.EncodeToString(s.GetTraceId())
				if _, ok := byTrace[t]; !ok {
					order = append(order, t)
				}
				byTrace[t] = append(byTrace[t], &otelSpan{span: s, attrs: attrMap(s.GetAttributes()), resource: res})
			}
		}
	}
	out := make([]Trace, 0, len(order))
	for _, t := range order {
		tr, err := oneTrace(byTrace[t])
		if err != nil {
			return nil, fmt.Errorf("trace %s: %w", t, err)
		}
		out = append(out, tr)
	}
	return out, nil
}

func oneTrace(spans []*otelSpan) (Trace, error) {
	ids := map[string]*otelSpan{}
	for _, s := range spans {
		ids[string(s.span.GetSpanId())] = s
	}
	var roots []*otelSpan
	for _, s := range spans {
		if ids[string(s.span.GetParentSpanId())] == nil {
			roots = append(roots, s)
		}
	}
	if len(roots) == 0 { // a cycle: no span is a root
		return Trace{}, fmt.Errorf("no root span (the parent links make a cycle)")
	}
	// A Signet export's root is the program run; any other trace's roots
	// are spans of a run the import makes up.
	var run *otelSpan
	if len(roots) == 1 && str(roots[0].attrs, keyExecution) != "" {
		run = roots[0]
	}
	x := &model.Execution{State: model.Completed, Attempts: 1}
	tid := spans[0].span.GetTraceId()
	var ms []model.Span
	renumber := false
	for _, s := range spans {
		if s == run {
			continue
		}
		m := importSpan(s)
		if p := ids[string(s.span.GetParentSpanId())]; p != nil && p != run {
			m.Parent = callID(p)
		}
		if _, ok := s.attrs[keySeq]; !ok {
			renumber = true
		}
		ms = append(ms, m)
	}
	if renumber { // a foreign trace: by start time
		slices.SortStableFunc(ms, func(a, b model.Span) int { return a.Start.Compare(b.Start) })
		for i := range ms {
			ms[i].Seq = uint64(i + 1)
		}
	} else {
		slices.SortStableFunc(ms, func(a, b model.Span) int { return cmp.Compare(a.Seq, b.Seq) })
	}

	if run != nil {
		a := run.attrs
		x.Program, x.Version = str(a, keyProgram), int(num(a, keyVersion))
		x.LM = str(a, keyLM)
		if st, err := model.ParseRunState(str(a, keyState)); err == nil && st.Terminal() {
			x.State = st
		}
		if n := int(num(a, keyAttempts)); n > 0 {
			x.Attempts = n
		}
		x.Cost, x.CostUnknown, x.CacheHit = flt(a, keyCost), boolean(a, keyCostUnknown), boolean(a, keyCacheHit)
		x.Inputs, x.Outputs = jsonMap(a, keyInputs), jsonMap(a, keyOutputs)
		if u := str(a, keyUsage); u != "" {
			if err := json.Unmarshal([]byte(u), &x.Usage); err != nil {
				return Trace{}, fmt.Errorf("%s: %w", keyUsage, err)
			}
		}
		x.StartedAt, x.FinishedAt = spanTime(run.span.GetStartTimeUnixNano()), spanTime(run.span.GetEndTimeUnixNano())
		if run.span.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			x.ErrorCode, x.Error = str(a, keyErrorCode), run.span.GetStatus().GetMessage()
		}
	} else {
		x.Program = programName(roots[0])
		for _, r := range roots {
			start, end := spanTime(r.span.GetStartTimeUnixNano()), spanTime(r.span.GetEndTimeUnixNano())
			if x.StartedAt.IsZero() || start.Before(x.StartedAt) {
				x.StartedAt = start
			}
			if end.After(x.FinishedAt) {
				x.FinishedAt = end
			}
			if r.span.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				x.State, x.ErrorCode, x.Error = model.Failed, "imported_error", cmp.Or(r.span.GetStatus().GetMessage(), r.span.GetName()+" failed")
			}
		}
		x.Inputs, x.Outputs = freeValue(roots[0].attrs, "input.value", keyInputs, "input"), freeValue(roots[0].attrs, "output.value", keyOutputs, "output")
		for _, m := range ms {
			x.Cost += m.Cost
			x.CostUnknown = x.CostUnknown || m.CostUnknown
		}
	}
	if x.Usage == nil {
		for _, m := range ms {
			if m.Model == "" || m.Usage == (model.Usage{}) {
				continue
			}
			if x.Usage == nil {
				x.Usage = map[string]model.Usage{}
			}
			x.Usage[m.Model] = x.Usage[m.Model].Add(m.Usage)
		}
	}
	if x.Program == "" || model.ValidName("program", x.Program) != nil {
		x.Program = "imported"
	}
	x.LM = LMPrefix + cmp.Or(x.LM, topModel(x.Usage), "unknown")
	if x.StartedAt.IsZero() {
		x.StartedAt = time.Now().UTC()
	}
	x.CreatedAt = x.StartedAt
	if x.FinishedAt.Before(x.StartedAt) {
		x.FinishedAt = x.StartedAt
	}
	x.Duration = x.FinishedAt.Sub(x.StartedAt)
	x.ID = executionID(tid, x.StartedAt)
	for i := range ms {
		ms[i].Execution = x.ID
	}
	return Trace{Execution: x, Spans: ms}, nil
}

// executionID is the trace id when it is one of Signet's (a UUIDv7, as a
// Signet export's is), else the trace id dated by the run's start: the
// same file imports to the same execution each time, listed by its time.
func executionID(tid []byte, start time.Time) model.ID {
	var id model.ID
	copy(id[:], tid)
	if id[6]>>4 == 7 && id[8]>>6 == 2 {
		return id
	}
	at := model.NewIDAt(start)
	copy(id[:6], at[:6])
	id[6] = 0x70 | (id[6] & 0x0f)
	id[8] = 0x80 | (id[8] & 0x3f)
	return id
}

func callID(s *otelSpan) string {
	return cmp.Or(str(s.attrs, keySpanID), hex.EncodeToString(s.span.GetSpanId()))
}

func importSpan(s *otelSpan) model.Span {
	a := s.attrs
	m := model.Span{
		Seq:    uint64(num(a, keySeq)),
		ID:     callID(s),
		Kind:   spanKindOf(s),
		Name:   cmp.Or(str(a, keySpanName), s.span.GetName()),
		Module: str(a, keyModule),
		Start:  spanTime(s.span.GetStartTimeUnixNano()),
		End:    spanTime(s.span.GetEndTimeUnixNano()),
		Model:  cmp.Or(str(a, keyRequestModel), str(a, keyRespModel), str(a, "llm.model_name")),
		Usage: model.Usage{
			Calls:            int(num(a, keyCalls)),
			PromptTokens:     int(cmp.Or(num(a, keyInTokens), num(a, "gen_ai.usage.prompt_tokens"), num(a, "llm.token_count.prompt"))),
			CompletionTokens: int(cmp.Or(num(a, keyOutTokens), num(a, "gen_ai.usage.completion_tokens"), num(a, "llm.token_count.completion"))),
		},
		Cost:        flt(a, keyCost),
		CostUnknown: boolean(a, keyCostUnknown),
		CacheHit:    boolean(a, keyCacheHit),
		Inputs:      freeValue(a, "input.value", keyInputs, "input"),
		Outputs:     freeValue(a, "output.value", keyOutputs, "output"),
	}
	if m.Kind == model.SpanLM {
		if _, ok := a[keySeq]; !ok { // a foreign call: one call, at a cost nobody reported
			if m.Usage.Calls == 0 {
				m.Usage.Calls = 1
			}
			if _, ok := a[keyCost]; !ok {
				m.CostUnknown = true
			}
		}
	}
	// An adapter's format has the messages too, its parse the completion.
	m.Messages, m.Completion = chatContent(s)
	if s.span.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		m.Error = cmp.Or(s.span.GetStatus().GetMessage(), "error")
	}
	if r := str(a, keyRetrieval); r != "" {
		var ret model.Retrieval
		if json.Unmarshal([]byte(r), &ret) == nil {
			m.Retrieval = &ret
		}
	} else if ix := str(a, keyIndex); ix != "" {
		m.Retrieval = &model.Retrieval{Index: ix}
	}
	return m
}

// spanKindOf reads Signet's kind, else OpenInference's or OpenLLMetry's,
// else the GenAI operation; a span with a model is an LM call.
func spanKindOf(s *otelSpan) model.SpanKind {
	a := s.attrs
	if k := model.SpanKind(str(a, keyKind)); k != "" {
		return k
	}
	switch strings.ToUpper(cmp.Or(str(a, "openinference.span.kind"), str(a, "traceloop.span.kind"))) {
	case "LLM":
		return model.SpanLM
	case "RETRIEVER", "EMBEDDING":
		return model.SpanRetrieval
	case "TOOL":
		return model.SpanTool
	}
	switch str(a, keyOperation) {
	case "chat", "text_completion", "generate_content":
		return model.SpanLM
	case "execute_tool":
		return model.SpanTool
	case "embeddings":
		return model.SpanRetrieval
	}
	if str(a, keyRequestModel) != "" || str(a, "llm.model_name") != "" {
		return model.SpanLM
	}
	if strings.Contains(s.span.GetName(), "Adapter") {
		return model.SpanAdapter
	}
	return model.SpanModule
}

// indexed matches the flattened message attributes of OpenLLMetry
// (gen_ai.prompt.0.content) and OpenInference
// (llm.input_messages.0.message.content).
var indexed = regexp.MustCompile(`^(gen_ai\.prompt|gen_ai\.completion|llm\.input_messages|llm\.output_messages)\.(\d+)\.(?:message\.)?(role|content)$`)

// chatContent reads a chat's messages and completion from the GenAI
// events, else from the flattened attributes.
func chatContent(s *otelSpan) ([]model.Message, string) {
	var msgs []model.Message
	completion := ""
	for _, e := range s.span.GetEvents() {
		a := attrMap(e.GetAttributes())
		switch name := e.GetName(); {
		case name == eventChoice:
			completion = cmp.Or(str(a, keyContent), str(a, "message.content"))
		case name == "gen_ai.content.completion":
			completion = str(a, "gen_ai.completion")
		case name == "gen_ai.content.prompt":
			msgs = append(msgs, model.Message{Role: "user", Content: str(a, "gen_ai.prompt")})
		case strings.HasPrefix(name, "gen_ai.") && strings.HasSuffix(name, ".message"):
			role := strings.TrimSuffix(strings.TrimPrefix(name, "gen_ai."), ".message")
			msgs = append(msgs, model.Message{Role: role, Content: str(a, keyContent)})
		}
	}
	if msgs != nil || completion != "" {
		return msgs, completion
	}
	// The latest conventions: the messages as JSON attributes.
	if in, out := partsMessages(str(s.attrs, "gen_ai.input.messages")), partsMessages(str(s.attrs, "gen_ai.output.messages")); in != nil || out != nil {
		if len(out) > 0 {
			completion = out[0].Content
		}
		return in, completion
	}
	in, out := map[int]*model.Message{}, map[int]*model.Message{}
	for k, v := range s.attrs {
		g := indexed.FindStringSubmatch(k)
		if g == nil {
			continue
		}
		i, _ := strconv.Atoi(g[2])
		set := in
		if strings.Contains(g[1], "completion") || strings.Contains(g[1], "output") {
			set = out
		}
		if set[i] == nil {
			set[i] = &model.Message{}
		}
		if g[3] == "role" {
			set[i].Role = v.GetStringValue()
		} else {
			set[i].Content = v.GetStringValue()
		}
	}
	for _, i := range slices.Sorted(maps.Keys(in)) {
		msgs = append(msgs, *in[i])
	}
	if m := out[0]; m != nil {
		completion = m.Content
	}
	return msgs, completion
}

// partsMessages reads gen_ai.input.messages / gen_ai.output.messages:
// [{"role", "parts": [{"type": "text", "content"}]}], the text parts of
// each message joined.
func partsMessages(v string) []model.Message {
	if v == "" {
		return nil
	}
	var ms []struct {
		Role  string `json:"role"`
		Parts []struct {
			Type    string `json:"type"`
			Content any    `json:"content"`
		} `json:"parts"`
	}
	if json.Unmarshal([]byte(v), &ms) != nil {
		return nil
	}
	out := make([]model.Message, 0, len(ms))
	for _, m := range ms {
		var text []string
		for _, p := range m.Parts {
			if c, ok := p.Content.(string); ok && p.Type == "text" {
				text = append(text, c)
			}
		}
		out = append(out, model.Message{Role: m.Role, Content: strings.Join(text, "\n")})
	}
	return out
}

// programName is the run's program as the trace names it: Signet's
// attribute, else the service's name.
func programName(root *otelSpan) string {
	for _, a := range []map[string]*commonpb.AnyValue{root.attrs, root.resource} {
		if p := str(a, keyProgram); p != "" {
			return p
		}
	}
	return str(root.resource, "service.name")
}

// topModel is the model with the most calls, for an import's LM name.
func topModel(u map[string]model.Usage) string {
	best, n := "", -1
	for _, m := range slices.Sorted(maps.Keys(u)) {
		if c := u[m].Calls + u[m].Total(); c > n {
			best, n = m, c
		}
	}
	return best
}

func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

func str(a map[string]*commonpb.AnyValue, k string) string { return a[k].GetStringValue() }

func boolean(a map[string]*commonpb.AnyValue, k string) bool { return a[k].GetBoolValue() }

// num reads an integer, sent as one or (by some SDKs) as a double or string.
func num(a map[string]*commonpb.AnyValue, k string) int64 {
	switch v := a[k].GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return v.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return int64(v.DoubleValue)
	case *commonpb.AnyValue_StringValue:
		n, _ := strconv.ParseInt(v.StringValue, 10, 64)
		return n
	}
	return 0
}

func flt(a map[string]*commonpb.AnyValue, k string) float64 {
	switch v := a[k].GetValue().(type) {
	case *commonpb.AnyValue_DoubleValue:
		return v.DoubleValue
	case *commonpb.AnyValue_IntValue:
		return float64(v.IntValue)
	case *commonpb.AnyValue_StringValue:
		f, _ := strconv.ParseFloat(v.StringValue, 64)
		return f
	}
	return 0
}

func jsonMap(a map[string]*commonpb.AnyValue, k string) map[string]any {
	var m map[string]any
	if s := str(a, k); s != "" && json.Unmarshal([]byte(s), &m) == nil {
		return m
	}
	return nil
}

// freeValue is Signet's JSON object under key, else a foreign value
// (OpenInference's input.value): a JSON object as it is, other text under
// the field name field.
func freeValue(a map[string]*commonpb.AnyValue, foreign, key, field string) map[string]any {
	if m := jsonMap(a, key); m != nil {
		return m
	}
	if m := jsonMap(a, foreign); m != nil {
		return m
	}
	if s := str(a, foreign); s != "" {
		return map[string]any{field: s}
	}
	return nil
}

func spanTime(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}
