package bridge

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// An end event carries only what is new since its start; every field of
// model.Span must survive the merge, whichever of the two events set it.
// A field added to model.Span and not to mergeSpan fails here.
func TestMergeSpanKeepsEveryField(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 1, time.UTC)
	start := model.Span{ID: "c1", Parent: "c0", Kind: model.SpanLM, Name: "signet/test", Module: "recall", Start: t0,
		Inputs: map[string]any{"temperature": 0.0}, Messages: []model.Message{{Role: "user", Content: "hi"}},
		Model: "signet/test"}
	end := model.Span{ID: "c1", End: t0.Add(time.Millisecond), Outputs: map[string]any{"completions": []any{"a", "b"}},
		Completion: "a", Usage: model.Usage{Calls: 1, PromptTokens: 3, CompletionTokens: 1}, Cost: 0.5,
		CostUnknown: true, CacheHit: true, Error: "ValueError: x",
		Retrieval: &model.Retrieval{K: 3}}
	got := mergeSpan(start, end)
	gv, sv, ev := reflect.ValueOf(got), reflect.ValueOf(start), reflect.ValueOf(end)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		if name == "Execution" || name == "Seq" {
			continue // the caller's
		}
		want := sv.Field(i)
		if !ev.Field(i).IsZero() && name != "ID" {
			want = ev.Field(i)
		}
		if want.IsZero() {
			t.Errorf("the test sets no %s: give it a value in start or end", name)
			continue
		}
		if !reflect.DeepEqual(gv.Field(i).Interface(), want.Interface()) {
			t.Errorf("merged %s = %v, want %v", name, gv.Field(i).Interface(), want.Interface())
		}
	}
}

// A spans event: each start handed on as it is, each end merged over its
// start; an end whose start was never seen is handed on as it is.
func TestSpanAssembler(t *testing.T) {
	data := json.RawMessage(`{"spans":[
		{"id":"a","kind":"module","name":"facts","start":"2026-12-03T14:00:00.000000001Z","inputs":{"q":"x"}},
		{"id":"b","parent":"a","kind":"lm","name":"m","start":"2026-12-03T14:00:00.000000002Z","messages":[{"role":"user","content":"x"}]},
		{"id":"b","end":"2026-12-03T14:00:00.000000003Z","completion":"y","usage":{"calls":1,"prompt_tokens":1,"completion_tokens":1}},
		{"id":"z","end":"2026-12-03T14:00:00.000000004Z","error":"cancelled"}]}`)
	a := spanAssembler{open: map[string]model.Span{}}
	var got []model.Span
	if err := a.add(data, func(s model.Span) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d spans, want 4", len(got))
	}
	b := got[2]
	if b.Kind != model.SpanLM || b.Parent != "a" || len(b.Messages) != 1 || b.Completion != "y" || b.Usage.Calls != 1 || b.End.IsZero() {
		t.Fatalf("merged end %+v", b)
	}
	if _, open := a.open["b"]; open || len(a.open) != 1 {
		t.Fatalf("open spans after the batch: %v", a.open)
	}
	if got[3].ID != "z" || got[3].Error != "cancelled" {
		t.Fatalf("lone end %+v", got[3])
	}
	// A whole span (it ended before its start went out: one event with a
	// start's fields and an end's) is handed on as it is, and a later start
	// may name what it sent.
	got = nil
	whole := json.RawMessage(`{"spans":[
		{"id":"p","parent":"a","kind":"adapter","name":"ChatAdapter.parse","start":"2026-12-03T14:00:00.000000005Z","completion_of":"b","end":"2026-12-03T14:00:00.000000006Z","outputs":{"answer":"y"}},
		{"id":"f","parent":"a","kind":"adapter","name":"ChatAdapter.format","start":"2026-12-03T14:00:00.000000007Z","end":"2026-12-03T14:00:00.000000008Z","messages":[{"role":"user","content":"x2"}]},
		{"id":"l","parent":"a","kind":"lm","name":"m","start":"2026-12-03T14:00:00.000000009Z","messages_of":"f"}]}`)
	if err := a.add(whole, func(s model.Span) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "p" || got[0].Kind != model.SpanAdapter || got[0].Completion != "y" || got[0].Outputs["answer"] != "y" ||
		got[0].Start.IsZero() || got[0].End.IsZero() || got[1].ID != "f" || len(got[1].Messages) != 1 ||
		len(got[2].Messages) != 1 || got[2].Messages[0].Content != "x2" || !got[2].End.IsZero() {
		t.Fatalf("whole spans handed on as %+v", got)
	}
	if _, open := a.open["p"]; open || len(a.open) != 2 {
		t.Fatalf("open spans after the whole ones: %v", a.open)
	}
	if err := a.add(json.RawMessage(`{"spans":[{"id":1}]}`), func(model.Span) {}); err == nil {
		t.Fatal("a span that is not a span: no error")
	}
	// A bad span among good ones: only it is skipped, the others arrive
	// whole and in order (the batch decoded in one pass would half-fill it).
	got = nil
	err := a.add(json.RawMessage(`{"spans":[
		{"id":"c","kind":"module","name":"c","start":"2026-12-03T14:00:00.000000005Z"},
		{"id":"d","kind":"module","name":"d","start":"not a time"},
		{"id":"c","end":"2026-12-03T14:00:00.000000006Z","outputs":{"a":"1"}}]}`), func(s model.Span) { got = append(got, s) })
	if err == nil {
		t.Fatal("a batch with a bad span: no error")
	}
	if len(got) != 2 || got[0].ID != "c" || got[1].ID != "c" || got[1].Name != "c" || got[1].Outputs["a"] != "1" {
		t.Fatalf("a batch with a bad span handed on %+v, want c's start and c whole", got)
	}
	if _, open := a.open["d"]; open {
		t.Fatal("the bad span was kept open")
	}
}

// An LM span's start that names its format span in messages_of gets that
// span's messages before onSpan sees it, whichever batch the format's end
// came in; the messages are the LM span's own copy. Likewise a parse span's
// completion_of.
func TestSpanAssemblerPayloadsOf(t *testing.T) {
	a := spanAssembler{open: map[string]model.Span{}}
	var got []model.Span
	collect := func(s model.Span) { got = append(got, s) }
	first := json.RawMessage(`{"spans":[
		{"id":"f","kind":"adapter","name":"ChatAdapter.format","start":"2026-12-03T14:00:00.000000001Z","inputs":{"demos":0}},
		{"id":"f","end":"2026-12-03T14:00:00.000000002Z","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]}]}`)
	second := json.RawMessage(`{"spans":[
		{"id":"l","kind":"lm","name":"m","start":"2026-12-03T14:00:00.000000003Z","model":"m","messages_of":"f"},
		{"id":"l","end":"2026-12-03T14:00:00.000000004Z","completion":"y"}]}`)
	for _, batch := range []json.RawMessage{first, second} {
		if err := a.add(batch, collect); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 4 {
		t.Fatalf("got %d spans, want 4", len(got))
	}
	want := []model.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}
	for _, i := range []int{1, 2, 3} {
		if !reflect.DeepEqual(got[i].Messages, want) {
			t.Errorf("span %d (%s %s) messages %v, want %v", i, got[i].ID, got[i].Kind, got[i].Messages, want)
		}
	}
	got[2].Messages[0].Content = "changed"
	if got[1].Messages[0].Content != "s" {
		t.Fatal("the LM span shares its messages with the format span")
	}
	if len(a.sent) != 1 {
		t.Fatalf("kept after their LM span started: %v", a.sent)
	}
	// The parse span names the LM span whose completion it parses.
	got = nil
	third := json.RawMessage(`{"spans":[
		{"id":"p","kind":"adapter","name":"ChatAdapter.parse","start":"2026-12-03T14:00:00.000000005Z","completion_of":"l"}]}`)
	if err := a.add(third, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Completion != "y" {
		t.Fatalf("parse span %+v, want the LM span's completion", got)
	}
	if len(a.sent) != 0 {
		t.Fatalf("kept after their parse span started: %v", a.sent)
	}
}

// The worker sends a span's start and end as integer Unix nanoseconds;
// older workers, tests and hand-written events send RFC 3339 text. The same
// instant either way assembles into the same span: the same time.Time
// (UTC, nanoseconds), the same JSON once stored, through the one-pass
// decoder and the span-by-span one (a batch with a bad span) alike.
func TestSpanTimesAsNanosecondsOrText(t *testing.T) {
	const (
		startNS, endNS     = "1796306400000000001", "1796306400123456789"
		startText, endText = `"2026-12-03T14:00:00.000000001Z"`, `"2026-12-03T14:00:00.123456789Z"`
	)
	batch := func(start, end string, bad bool) json.RawMessage {
		extra := ""
		if bad {
			extra = `,{"id":"x","kind":"module","name":"x","start":"not a time"}`
		}
		return json.RawMessage(`{"spans":[{"id":"a","kind":"lm","name":"m","model":"m","start":` + start + `,` +
			`"messages":[{"role":"user","content":"x"}]}` + extra + `,{"id":"a","end":` + end + `,"completion":"y","cost":0.5}]}`)
	}
	assemble := func(data json.RawMessage) []model.Span {
		a := spanAssembler{open: map[string]model.Span{}}
		var got []model.Span
		err := a.add(data, func(s model.Span) { got = append(got, s) })
		if err != nil && !strings.Contains(string(data), "not a time") {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%s: got %d spans, want 2", data, len(got))
		}
		return got
	}
	want := time.Date(2026, 12, 3, 14, 0, 0, 1, time.UTC)
	text := assemble(batch(startText, endText, false))
	if text[1].Start != want || text[1].End != want.Add(123456788) || text[1].Start.Location() != time.UTC {
		t.Fatalf("from text: start %v end %v", text[1].Start, text[1].End)
	}
	textJSON, _ := json.Marshal(text)
	for _, c := range []struct {
		name       string
		start, end string
		bad        bool
	}{
		{"nanoseconds", startNS, endNS, false},
		{"nanoseconds, span by span", startNS, endNS, true},
		{"text, span by span", startText, endText, true},
		{"a text start, a nanosecond end", startText, endNS, false},
	} {
		got := assemble(batch(c.start, c.end, c.bad))
		if !reflect.DeepEqual(got, text) {
			t.Errorf("%s: %+v, want %+v", c.name, got, text)
		}
		if gotJSON, _ := json.Marshal(got); string(gotJSON) != string(textJSON) {
			t.Errorf("%s: JSON %s, want %s", c.name, gotJSON, textJSON)
		}
		if got[1].Start.Location() != time.UTC || got[1].End.Location() != time.UTC {
			t.Errorf("%s: zone %v, %v, want UTC", c.name, got[1].Start.Location(), got[1].End.Location())
		}
	}
	for _, bad := range []string{`1.5e18`, `"12"`, `true`} {
		a := spanAssembler{open: map[string]model.Span{}}
		if err := a.add(json.RawMessage(`{"spans":[{"id":"a","kind":"module","name":"a","start":`+bad+`}]}`), func(model.Span) {}); err == nil {
			t.Errorf("start %s: no error", bad)
		}
	}
}

// nanos reads what strconv.ParseInt reads in base 10, minus a leading plus
// (JSON has none), and refuses the rest.
func TestNanos(t *testing.T) {
	for _, in := range []string{"0", "1796306400000000001", "-5", "9223372036854775807", "9223372036854775808",
		"-9223372036854775807", "99999999999999999999", "", "-", "1e3", "1.5", "+1", "01", " 1", "12a"} {
		got, ok := nanos([]byte(in))
		want, err := strconv.ParseInt(in, 10, 64)
		if in == "+1" {
			err = strconv.ErrSyntax
		}
		if ok != (err == nil) || ok && got != want {
			t.Errorf("nanos(%q) = %d, %v; strconv: %d, %v", in, got, ok, want, err)
		}
	}
}
