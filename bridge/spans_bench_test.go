package bridge

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/signet-dspy/signet/model"
)

// qaSpans is a spans event's data shaped like one traced execution of
// examples/qa.yaml (a Predict with instructions and four demos): the
// program, its module, the adapter's format and parse, and the LM call,
// each a start and an end delta; the prompt travels in the format's end
// and the LM's start.
func qaSpans() json.RawMessage { return qaSpansAs(false) }

// qaSpansAs is qaSpans, with whole the format and parse spans each one
// whole event, as the worker sends a span that ends right after its start.
func qaSpansAs(whole bool) json.RawMessage {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 123456789, time.UTC)
	at := func(us int) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }
	msgs := []model.Message{{Role: "system", Content: strings.Repeat("Your input fields are: question. Answer it. ", 20)}}
	for i := range 4 {
		msgs = append(msgs, model.Message{Role: "user", Content: fmt.Sprintf("[[ ## question ## ]]\nWhat is the capital of Country%d?", i)},
			model.Message{Role: "assistant", Content: fmt.Sprintf("[[ ## answer ## ]]\nCountry%d\n\n[[ ## completed ## ]]", i)})
	}
	msgs = append(msgs, model.Message{Role: "user", Content: "[[ ## question ## ]]\nWhat is the capital of Country7?"})
	in := map[string]any{"question": "What is the capital of Country7?"}
	out := map[string]any{"answer": "Country7"}
	u := model.Usage{Calls: 1, PromptTokens: 310, CompletionTokens: 12}
	spans := []model.Span{
		{ID: "p", Kind: model.SpanModule, Name: "qa", Start: at(0), Inputs: in},
		{ID: "m", Parent: "p", Kind: model.SpanModule, Name: "Predict", Module: "answer", Start: at(10), Inputs: in},
		{ID: "f", Parent: "m", Kind: model.SpanAdapter, Name: "ChatAdapter.format", Module: "answer", Start: at(20),
			Inputs: map[string]any{"signature": "question -> answer", "demos": 4, "inputs": in}},
		{ID: "f", End: at(90), Messages: msgs},
		{ID: "l", Parent: "m", Kind: model.SpanLM, Name: "signet/test", Module: "answer", Model: "signet/test", Start: at(100),
			Messages: msgs, Inputs: map[string]any{"temperature": 0.0, "max_tokens": 4000}},
		{ID: "l", End: at(400), Completion: "[[ ## answer ## ]]\nCountry7\n\n[[ ## completed ## ]]", Usage: u, CostUnknown: true,
			Outputs: map[string]any{"completions": []any{"[[ ## answer ## ]]\nCountry7\n\n[[ ## completed ## ]]"}}},
		{ID: "r", Parent: "m", Kind: model.SpanAdapter, Name: "ChatAdapter.parse", Module: "answer", Start: at(410),
			Completion: "[[ ## answer ## ]]\nCountry7\n\n[[ ## completed ## ]]"},
		{ID: "r", End: at(450), Outputs: out},
		{ID: "m", End: at(460), Outputs: out},
		{ID: "p", End: at(470), Outputs: out},
	}
	if whole {
		for i := 0; i+1 < len(spans); i++ {
			if spans[i].Kind == model.SpanAdapter && spans[i+1].ID == spans[i].ID {
				spans[i] = mergeSpan(spans[i], spans[i+1])
				spans = slices.Delete(spans, i+1, i+2)
			}
		}
	}
	// As the worker sends them: start and end in integer nanoseconds.
	events := make([]map[string]any, len(spans))
	for i, s := range spans {
		raw, err := json.Marshal(s)
		if err != nil {
			panic(err)
		}
		if err := json.Unmarshal(raw, &events[i]); err != nil {
			panic(err)
		}
		delete(events[i], "execution")
		delete(events[i], "seq")
		for key, at := range map[string]time.Time{"start": s.Start, "end": s.End} {
			if _, ok := events[i][key]; ok {
				events[i][key] = at.UnixNano()
			}
		}
	}
	raw, err := json.Marshal(map[string]any{"spans": events})
	if err != nil {
		panic(err)
	}
	return raw
}

// The owner decodes every span event of every traced execution: a batch's
// cost on the Go side.
// "pairs": every span a start and an end; "whole": the format and parse
// spans whole, as the worker sends them.
func BenchmarkSpanAssembler(b *testing.B) {
	for _, whole := range []bool{false, true} {
		b.Run(map[bool]string{false: "pairs", true: "whole"}[whole], func(b *testing.B) {
			data := qaSpansAs(whole)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				a := spanAssembler{open: map[string]model.Span{}}
				if err := a.add(data, func(model.Span) { n++ }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzSpanBatch: the fast decoder of spans events gives what encoding/json
// gives for every valid JSON document (the wire decoder lets no other
// through) whose keys are in lower case, as the worker writes them, or an
// error (then add falls back to encoding/json). encoding/json also matches a
// field's key in another case (ID for id); that decoder does not always.
func FuzzSpanBatch(f *testing.F) {
	f.Add([]byte(qaSpans()))
	f.Add([]byte(`{"spans":[{"id":"a","kind":"lm","start":"2026-12-03T14:00:00Z","usage":{"prompt_tokens":1e2}}]}`))
	f.Add([]byte(`{"spans":[{"id":"a","kind":"module","inputs":{"x":[1,"2",null,{"y":true}]},"messages":[{"role":"user","content":"\u00e9\ud83d\ude00"}]}]}`))
	f.Add([]byte(`{"spans":[{"id":"a","id":"b","end":"2026-12-03T14:00:00.5+02:00","cost":1.5e-7,"messages_of":"f"}]}`))
	f.Add([]byte(`{"spans":[{"id":"a","start":1796306400000000001,"end":-5},{"id":"b","start":1e3,"end":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc any // the wire decoder lets only valid UTF-8 and valid JSON through
		if !utf8.Valid(data) || json.Unmarshal(data, &doc) != nil || !lowerKeys(doc) {
			return
		}
		var fast, std spanBatch
		errFast := decodeBatch(data, &fast)
		errStd := json.Unmarshal(data, &std)
		if errFast != nil || errStd != nil {
			if errStd == nil {
				t.Logf("only the fast decoder refused %q: %v (add falls back)", data, errFast)
			}
			return
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q:\nfast %+v\nstd  %+v", data, fast, std)
		}
	})
}

// The fast decoder of execute results gives what encoding/json gives.
func FuzzExecuteResult(f *testing.F) {
	f.Add([]byte(`{"outputs":{"answer":"Paris","n":[1,2.5e3,null,{"Deep":true}]},"usage":{"signet/test":{"calls":1,"prompt_tokens":204,"completion_tokens":11}},"cost":0.0000228,"cost_unknown":true,"duration_ms":1.25,"embed_cache":{"hits":1,"misses":2}}`))
	f.Add([]byte(`{"outputs":{},"score":0.5,"scores":{"f1":1,"em":0}}`))
	f.Add([]byte(`{"outputs":{"a":"\u00e9\ud83d\ude00"},"score":null,"cost":1e-7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc any
		if !utf8.Valid(data) || json.Unmarshal(data, &doc) != nil || !resultKeysLower(doc) {
			return
		}
		var fast, std executeResult
		errFast := decodeResult(data, &fast)
		errStd := json.Unmarshal(data, &std)
		if (errFast == nil) != (errStd == nil) {
			t.Fatalf("%q: fast %v, std %v", data, errFast, errStd)
		}
		if errStd == nil && !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q:\nfast %+v\nstd  %+v", data, fast, std)
		}
	})
}

// resultKeysLower is lowerKeys for the keys that name struct fields of a
// result (the two decoders fold case differently there); the keys of
// outputs and scores are a map's and may be anything.
func resultKeysLower(doc any) bool {
	m, ok := doc.(map[string]any)
	if !ok {
		return true
	}
	for k, v := range m {
		if strings.ToLower(k) != k {
			return false
		}
		switch k {
		case "usage":
			if u, ok := v.(map[string]any); ok {
				for _, x := range u {
					if !lowerKeys(x) {
						return false
					}
				}
			}
		case "embed_cache":
			if !lowerKeys(v) {
				return false
			}
		}
	}
	return true
}

// lowerKeys says whether every object key in v is in lower case.
func lowerKeys(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.ToLower(k) != k || !lowerKeys(x) {
				return false
			}
		}
	case []any:
		for _, x := range v {
			if !lowerKeys(x) {
				return false
			}
		}
	}
	return true
}
