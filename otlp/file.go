package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Request is the OTLP request that carries spans: one resource and scope
// per run of equal ones, as the SDK's exporters group them.
func Request(spans tracetest.SpanStubs) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	var rs *tracepb.ResourceSpans
	var ss *tracepb.ScopeSpans
	for i := range spans {
		s := &spans[i]
		if rs == nil || (i > 0 && !sameResource(&spans[i-1], s)) {
			rs = &tracepb.ResourceSpans{Resource: &resourcepb.Resource{}}
			if s.Resource != nil {
				rs.Resource.Attributes = keyValues(s.Resource.Attributes())
				rs.SchemaUrl = s.Resource.SchemaURL()
			}
			req.ResourceSpans = append(req.ResourceSpans, rs)
			ss = nil
		}
		if ss == nil || spans[i-1].InstrumentationScope != s.InstrumentationScope {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: s.InstrumentationScope.Name, Version: s.InstrumentationScope.Version}}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, protoSpan(s))
	}
	return req
}

func sameResource(a, b *tracetest.SpanStub) bool {
	if a.Resource == nil || b.Resource == nil {
		return a.Resource == b.Resource
	}
	return a.Resource.Equal(b.Resource)
}

func protoSpan(s *tracetest.SpanStub) *tracepb.Span {
	tid, sid := s.SpanContext.TraceID(), s.SpanContext.SpanID()
	p := &tracepb.Span{
		TraceId:           tid[:],
		SpanId:            sid[:],
		Name:              s.Name,
		Kind:              tracepb.Span_SpanKind(s.SpanKind),
		StartTimeUnixNano: unixNano(s.StartTime),
		EndTimeUnixNano:   unixNano(s.EndTime),
		Attributes:        keyValues(s.Attributes),
		Status:            &tracepb.Status{Message: s.Status.Description},
	}
	if s.Parent.HasSpanID() {
		pid := s.Parent.SpanID()
		p.ParentSpanId = pid[:]
	}
	switch s.Status.Code {
	case codes.Ok:
		p.Status.Code = tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		p.Status.Code = tracepb.Status_STATUS_CODE_ERROR
	}
	for _, e := range s.Events {
		p.Events = append(p.Events, &tracepb.Span_Event{Name: e.Name, TimeUnixNano: unixNano(e.Time), Attributes: keyValues(e.Attributes)})
	}
	return p
}

func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	out := make([]*commonpb.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		v := &commonpb.AnyValue{}
		switch kv.Value.Type() {
		case attribute.BOOL:
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: kv.Value.AsBool()}
		case attribute.INT64:
			v.Value = &commonpb.AnyValue_IntValue{IntValue: kv.Value.AsInt64()}
		case attribute.FLOAT64:
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: kv.Value.AsFloat64()}
		default: // Signet writes no slices
			v.Value = &commonpb.AnyValue_StringValue{StringValue: kv.Value.Emit()}
		}
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: v})
	}
	return out
}

// WriteJSON writes spans in the OTLP/JSON encoding of an
// ExportTraceServiceRequest, the form collectors' file exporters and
// receivers read: protojson's, but with hex trace and span ids and enums
// as numbers, as the OTLP specification has it.
func WriteJSON(w io.Writer, spans tracetest.SpanStubs) error {
	b, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(Request(spans))
	if err != nil {
		return fmt.Errorf("encoding OTLP JSON: %w", err)
	}
	v, err := decodeGeneric(b)
	if err != nil {
		return fmt.Errorf("encoding OTLP JSON: %w", err)
	}
	recodeIDs(v, func(s string) string {
		if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
			return hex.EncodeToString(raw)
		}
		return s
	})
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing OTLP JSON: %w", err)
	}
	return nil
}

// ReadJSON reads an OTLP/JSON ExportTraceServiceRequest. Unknown fields
// are skipped: a newer sender's are no reason to refuse its spans. Ids
// are hex, as the specification has it; base64 ones (protojson's own
// form, which some senders write) are read too.
func ReadJSON(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	v, err := decodeGeneric(b)
	if err != nil {
		return nil, fmt.Errorf("not OTLP JSON: %w", err)
	}
	recodeIDs(v, func(s string) string {
		if raw, err := hex.DecodeString(s); err == nil && (len(raw) == 8 || len(raw) == 16) {
			return base64.StdEncoding.EncodeToString(raw)
		}
		return s
	})
	b, err = json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not OTLP JSON: %w", err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("not OTLP JSON (an ExportTraceServiceRequest): %w", err)
	}
	return req, nil
}

// decodeGeneric decodes JSON keeping numbers as they are written (int64
// token counts and nanosecond times lose nothing).
func decodeGeneric(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// idFields are the OTLP/JSON fields that hold trace and span ids.
var idFields = map[string]bool{"traceId": true, "spanId": true, "parentSpanId": true}

// recodeIDs rewrites every id field's string value in place.
func recodeIDs(v any, f func(string) string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && idFields[k] {
				v[k] = f(s)
			} else {
				recodeIDs(x, f)
			}
		}
	case []any:
		for _, x := range v {
			recodeIDs(x, f)
		}
	}
}

// unixNano is t in OTLP's form: 0 for no time (an open span's end).
func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}
