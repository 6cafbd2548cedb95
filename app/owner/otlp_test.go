package owner

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/otlprecv"
	"github.com/signet-dspy/signet/model"
)

// TestExportTracesLive runs a program on the priced test LM through a real
// owner exporting to an in-test OTLP/HTTP receiver: the receiver gets the
// run's whole span tree (root = the run, every span under its DSPy parent)
// with the GenAI attributes of its LM call, and no content by default.
func TestExportTracesLive(t *testing.T) {
	ctx := context.Background()
	recv := otlprecv.New(t, false)
	o := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, o, runsQA)
	stop, err := o.ExportTraces(ctx, recv.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	x, err := o.Run(ctx, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "What is the capital of France?"}, Wait: true})
	if err != nil || x.State != model.Completed {
		t.Fatalf("run: %+v, %v", x, err)
	}
	spans := spansOf(t, o, x.ID)
	req := <-recv.Requests

	type got struct {
		name, parent string
		attrs        map[string]any
	}
	byID := map[string]got{}
	var root string
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				n++
				if tid := hex.EncodeToString(s.GetTraceId()); tid != hex.EncodeToString(x.ID[:]) {
					t.Errorf("span %s in trace %s, want the execution's id", s.GetName(), tid)
				}
				a := map[string]any{}
				for _, kv := range s.GetAttributes() {
					v := kv.GetValue()
					switch {
					case v.GetStringValue() != "":
						a[kv.GetKey()] = v.GetStringValue()
					case v.GetDoubleValue() != 0:
						a[kv.GetKey()] = v.GetDoubleValue()
					default:
						a[kv.GetKey()] = v.GetIntValue()
					}
				}
				id := string(s.GetSpanId())
				byID[id] = got{s.GetName(), string(s.GetParentSpanId()), a}
				if len(s.GetParentSpanId()) == 0 {
					root = id
				}
				if len(s.GetEvents()) != 0 {
					t.Errorf("span %s carries content events by default", s.GetName())
				}
			}
		}
	}
	if n != len(spans)+1 || byID[root].name != "run qa" || byID[root].attrs["signet.cost_usd"] != x.Cost {
		t.Fatalf("%d spans (want %d), root %+v", n, len(spans)+1, byID[root])
	}
	lms := 0
	for id, s := range byID {
		if id != root && byID[s.parent].name == "" {
			t.Errorf("span %s has a parent outside the trace", s.name)
		}
		if s.attrs["signet.span.kind"] != "lm" {
			continue
		}
		lms++
		u := x.Usage["signet/test"]
		if s.name != "chat signet/test" || s.attrs["gen_ai.operation.name"] != "chat" || s.attrs["gen_ai.request.model"] != "signet/test" ||
			s.attrs["gen_ai.provider.name"] != "signet" || s.attrs["gen_ai.usage.input_tokens"] != int64(u.PromptTokens) ||
			s.attrs["gen_ai.usage.output_tokens"] != int64(u.CompletionTokens) || s.attrs["signet.cost_usd"] != x.Cost {
			t.Errorf("LM span %s %v, want usage %+v cost %v", s.name, s.attrs, u, x.Cost)
		}
		if _, ok := s.attrs["signet.inputs"]; ok {
			t.Error("LM span carries inputs by default")
		}
	}
	if lms != 1 {
		t.Errorf("%d LM spans, want 1", lms)
	}
}
