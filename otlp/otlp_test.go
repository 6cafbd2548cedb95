package otlp

import (
	"bytes"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// sample is a finished run with one span of every kind, nested as DSPy
// nests them.
func sample() (*model.Execution, []model.Span) {
	t0 := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	x := &model.Execution{ID: model.NewIDAt(t0), Program: "qa", Version: 3, LM: "test", State: model.Completed, Attempts: 1,
		Inputs: map[string]any{"question": "capital of France?"}, Outputs: map[string]any{"answer": "Paris"},
		Usage: map[string]model.Usage{"openai/gpt-4o-mini": {Calls: 1, PromptTokens: 120, CompletionTokens: 9}},
		Cost:  0.00042, CreatedAt: t0, StartedAt: t0, FinishedAt: t0.Add(2 * time.Second), Duration: 2 * time.Second}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	spans := []model.Span{
		{Seq: 1, ID: "m1", Kind: model.SpanModule, Name: "Predict.forward", Module: "answer", Start: at(1), End: at(1900),
			Inputs: map[string]any{"question": "capital of France?"}, Outputs: map[string]any{"answer": "Paris"}},
		{Seq: 2, ID: "a1", Parent: "m1", Kind: model.SpanAdapter, Name: "ChatAdapter.format", Module: "answer", Start: at(2), End: at(3)},
		{Seq: 3, ID: "l1", Parent: "m1", Kind: model.SpanLM, Name: "LM.__call__", Module: "answer", Start: at(4), End: at(1800),
			Messages:   []model.Message{{Role: "system", Content: "Answer questions."}, {Role: "user", Content: "capital of France? key sk-abcdefghijklmnop1234567890"}},
			Completion: "[[ ## answer ## ]]\nParis", Model: "openai/gpt-4o-mini",
			Usage: model.Usage{Calls: 1, PromptTokens: 120, CompletionTokens: 9}, Cost: 0.00042},
		{Seq: 4, ID: "t1", Parent: "m1", Kind: model.SpanTool, Name: "search", Start: at(1801), End: at(1850), Error: "timeout"},
		{Seq: 5, ID: "r1", Parent: "m1", Kind: model.SpanRetrieval, Name: "Retrieve.forward", Start: at(1851), End: at(1860),
			Retrieval: &model.Retrieval{Index: "wiki", Search: "bm25", Query: "France", K: 1, Passages: []model.Passage{{ID: "p1", Text: "Paris is", Score: 1.5}}}},
	}
	for i := range spans {
		spans[i].Execution = x.ID
	}
	return x, spans
}

func export(t *testing.T, x *model.Execution, spans []model.Span, opt Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, Stubs(x, spans, opt)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func load(t *testing.T, b []byte) []Trace {
	t.Helper()
	req, err := ReadJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	trs, err := Traces(req)
	if err != nil {
		t.Fatal(err)
	}
	return trs
}

func TestRoundTripGivesBackTheExecution(t *testing.T) {
	x, spans := sample()
	trs := load(t, export(t, x, spans, Options{Content: true}))
	if len(trs) != 1 {
		t.Fatalf("%d traces, want 1", len(trs))
	}
	got := trs[0].Execution
	if got.ID != x.ID || got.Program != "qa" || got.Version != 3 || got.State != model.Completed || got.LM != "otlp:test" {
		t.Errorf("execution %s %s v%d %s lm %q, want %s qa v3 completed lm otlp:test", got.ID, got.Program, got.Version, got.State, got.LM, x.ID)
	}
	if got.Cost != x.Cost || !reflect.DeepEqual(got.Usage, x.Usage) || got.Duration != x.Duration {
		t.Errorf("cost %v usage %v duration %v, want %v %v %v", got.Cost, got.Usage, got.Duration, x.Cost, x.Usage, x.Duration)
	}
	if !reflect.DeepEqual(got.Inputs, x.Inputs) || !reflect.DeepEqual(got.Outputs, x.Outputs) {
		t.Errorf("inputs %v outputs %v", got.Inputs, got.Outputs)
	}
	if len(trs[0].Spans) != len(spans) {
		t.Fatalf("%d spans, want %d", len(trs[0].Spans), len(spans))
	}
	for i, s := range trs[0].Spans {
		want := spans[i]
		if want.Kind == model.SpanLM { // the secret in the prompt never leaves
			want.Messages = []model.Message{want.Messages[0], {Role: "user", Content: "capital of France? key [redacted]"}}
		}
		if !reflect.DeepEqual(s, want) {
			t.Errorf("span %d:\n got %+v\nwant %+v", i, s, want)
		}
	}
}

func TestContentStaysOutByDefault(t *testing.T) {
	x, spans := sample()
	b := string(export(t, x, spans, Options{}))
	for _, leak := range []string{"capital of France", "Paris", "Answer questions", "sk-abc"} {
		if strings.Contains(b, leak) {
			t.Errorf("export without content carries %q", leak)
		}
	}
	for _, want := range []string{`"gen_ai.usage.input_tokens"`, `"intValue": "120"`, `"gen_ai.request.model"`, `"openai/gpt-4o-mini"`,
		`"gen_ai.provider.name"`, `"signet.cost_usd"`, `"gen_ai.operation.name"`, `"chat"`, `"traceId": "` + hex.EncodeToString(x.ID[:]) + `"`} {
		if !strings.Contains(b, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	got := load(t, []byte(b))[0]
	if !reflect.DeepEqual(got.Execution.Usage, x.Usage) || got.Execution.Cost != x.Cost || len(got.Spans) != len(spans) {
		t.Errorf("without content the numbers still round-trip: got usage %v cost %v, %d spans", got.Execution.Usage, got.Execution.Cost, len(got.Spans))
	}
	if lm := got.Spans[2]; lm.Messages != nil || lm.Completion != "" || got.Spans[0].Inputs != nil {
		t.Errorf("content came back from an export without it: %+v", lm)
	}
}

func TestForeignTraceImports(t *testing.T) {
	b, err := os.ReadFile("testdata/openinference.json")
	if err != nil {
		t.Fatal(err)
	}
	trs := load(t, b)
	if len(trs) != 1 {
		t.Fatalf("%d traces, want 1", len(trs))
	}
	x, spans := trs[0].Execution, trs[0].Spans
	if x.Program != "rag-bot" || x.State != model.Completed || x.LM != "otlp:openai/gpt-4o-mini" {
		t.Errorf("execution %s %s lm %q, want rag-bot completed otlp:openai/gpt-4o-mini", x.Program, x.State, x.LM)
	}
	if x.Inputs["question"] != "What is the capital of France?" || x.Outputs["answer"] != "Paris" {
		t.Errorf("inputs %v outputs %v", x.Inputs, x.Outputs)
	}
	if x.Duration != 1500*time.Millisecond || !x.CostUnknown {
		t.Errorf("duration %v cost unknown %v, want 1.5s and unknown", x.Duration, x.CostUnknown)
	}
	wantUsage := map[string]model.Usage{"openai/gpt-4o-mini": {Calls: 1, PromptTokens: 182, CompletionTokens: 24}, "gpt-4o-mini": {Calls: 1, PromptTokens: 10, CompletionTokens: 2}}
	if !reflect.DeepEqual(x.Usage, wantUsage) {
		t.Errorf("usage %v, want %v", x.Usage, wantUsage)
	}
	type node struct {
		seq          uint64
		kind         model.SpanKind
		name, parent string
	}
	var got []node
	for _, s := range spans {
		got = append(got, node{s.Seq, s.Kind, s.Name, s.Parent})
	}
	want := []node{
		{1, model.SpanModule, "ChainOfThought.forward", ""},
		{2, model.SpanAdapter, "ChatAdapter.format", "eee19b7ec3c1b174"},
		{3, model.SpanLM, "LM.__call__", "eee19b7ec3c1b174"},
		{4, model.SpanLM, "chat gpt-4o-mini", "bbb19b7ec3c1b176"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
	lm := spans[2]
	if len(lm.Messages) != 2 || lm.Messages[1] != (model.Message{Role: "user", Content: "What is the capital of France?"}) || lm.Completion != "[[ ## answer ## ]]\nParis" {
		t.Errorf("LM content %+v %q", lm.Messages, lm.Completion)
	}
	if inner := spans[3]; inner.Error != "rate limited" || inner.Messages[0].Content != "hi" || inner.Completion != "hello" {
		t.Errorf("inner call %+v", inner)
	}
	// The same file gives the same execution: importing it twice is seen.
	if again := load(t, b)[0].Execution.ID; again != x.ID || x.ID.Time().UnixMilli() != 1764806400000 {
		t.Errorf("ids %s then %s (dated %v), want one id dated by the root span", x.ID, again, x.ID.Time())
	}
}

// TestLatestGenAIMessages reads the messages of the latest conventions,
// JSON attributes with parts, on a bare GenAI span.
func TestLatestGenAIMessages(t *testing.T) {
	in := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b174",
		"name":"chat gpt-4o","startTimeUnixNano":"1764806400000000000","endTimeUnixNano":"1764806400500000000","attributes":[
		{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
		{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
		{"key":"gen_ai.usage.input_tokens","value":{"intValue":"7"}},
		{"key":"gen_ai.input.messages","value":{"stringValue":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Weather in Paris?\"}]}]"}},
		{"key":"gen_ai.output.messages","value":{"stringValue":"[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Rainy.\"}],\"finish_reason\":\"stop\"}]"}}]}]}]}]}`
	trs := load(t, []byte(in))
	s := trs[0].Spans[0]
	if s.Kind != model.SpanLM || s.Model != "gpt-4o" || s.Usage.PromptTokens != 7 || len(s.Messages) != 1 ||
		s.Messages[0] != (model.Message{Role: "user", Content: "Weather in Paris?"}) || s.Completion != "Rainy." {
		t.Errorf("span %+v", s)
	}
	if x := trs[0].Execution; x.Program != "imported" || x.LM != "otlp:gpt-4o" {
		t.Errorf("execution %s lm %s, want imported, otlp:gpt-4o", x.Program, x.LM)
	}
}

func TestBrokenInputIsRefused(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{"resourceSpans": [`,
		"short span id": `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"ee","name":"x"}]}]}]}`,
	} {
		req, err := ReadJSON([]byte(in))
		if err == nil {
			_, err = Traces(req)
		}
		if err == nil {
			t.Errorf("%s: imported", name)
		}
	}
}
