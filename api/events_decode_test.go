package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

// sameAsStd fails unless decodeEvent gives what encoding/json gives.
func sameAsStd(t *testing.T, line []byte) {
	t.Helper()
	var fast, std app.Event
	errFast := decodeEvent(line, &fast)
	errStd := json.Unmarshal(line, &std)
	if (errFast == nil) != (errStd == nil) || errFast != nil && errFast.Error() != errStd.Error() {
		t.Fatalf("%s: error %v, encoding/json's %v", line, errFast, errStd)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("%s:\ndecoded %+v\nencoding/json %+v", line, fast, std)
	}
}

// filledEvents is one event of each kind, every field set.
func filledEvents(t *testing.T) [][]byte {
	kinds := []app.EventKind{app.EventExecution, app.EventSpan, app.EventPool, app.EventOptimization, app.EventEvaluation,
		app.EventProgram, app.EventDataset, app.EventIndex}
	var lines [][]byte
	for _, k := range kinds {
		var ev app.Event
		testenv.Fill(&ev)
		ev.Kind = k
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	return lines
}

// The client decodes the owner's events as encoding/json does, every
// field of every kind; what that library refuses, it refuses with
// encoding/json's error.
func TestEventDecode(t *testing.T) {
	for _, line := range filledEvents(t) {
		sameAsStd(t, line)
	}
	for _, line := range []string{
		`{"kind":"execution","execution":{"id":"","state":"completed","inputs":null,"outputs":{}}}`,
		`{"kind":"span","span":{"id":"s","start":"2026-12-03T14:00:00.5+02:00","inputs":{"x":[1,"2",null,{"y":true}]}}}`,
		`{"kind":"execution","execution":{"id":"not an id"}}`,
		`{"kind":"execution","execution":{"cost":"1"}}`,
		`{"kind":"execution"`,
	} {
		sameAsStd(t, []byte(line))
	}
}

// The stream is read line by line, a line longer than the reader's buffer
// included, and blank lines are skipped.
func TestReadLine(t *testing.T) {
	long := app.Event{Kind: app.EventSpan, Span: &model.Span{ID: "big", Completion: strings.Repeat("é long completion ", 20000)}}
	var stream bytes.Buffer
	lines := filledEvents(t)
	var want []app.Event
	lines = slices.Insert(lines, 3, append(must(json.Marshal(long)), "\n  \n"...)) // and a blank line
	for _, line := range lines {
		var ev app.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
		stream.Write(line)
		stream.WriteByte('\n')
	}
	rd := bufio.NewReaderSize(&stream, 16)
	var buf []byte
	var got []app.Event
	for {
		line, err := readLine(rd, &buf)
		if err != nil {
			break
		}
		var ev app.Event
		if err := decodeEvent(line, &ev); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		got = append(got, ev)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %d events, want %d: %+v", len(got), len(want), got)
	}
}

// FuzzEventDecode: the client's decoder gives what encoding/json gives
// for every event the owner may write (what encoding/json decodes the
// fuzzer's data to, encoded again as the owner encodes it).
func FuzzEventDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"execution","execution":{"id":"0190f2a4-5b6c-7d8e-9f00-112233445566","program":"qa","version":2,"state":"completed","attempts":1,"inputs":{"q":"é"},"outputs":{"a":[1,2.5e3,null,{"d":true}]},"usage":{"m":{"calls":1,"prompt_tokens":4,"completion_tokens":2}},"cost":1e-7,"created_at":"2026-12-03T14:00:00Z"}}`))
	f.Add([]byte(`{"kind":"span","span":{"id":"s","start":"2026-12-03T14:00:00.5+02:00","inputs":{"x":[1,"2",null,{"y":true}]},"messages":[{"role":"user","content":"\u00e9\ud83d\ude00"}]}}`))
	f.Add([]byte(`{"kind":"pool","pool":{"engine":"ready","pool":[{"id":1}]}}`))
	f.Add([]byte(`{"kind":"index","index_name":"docs","index_progress":{"done":1,"total":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev app.Event
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		line, err := json.Marshal(ev)
		if err != nil {
			return
		}
		sameAsStd(t, line)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The owner writes each event as a json.Encoder does.
func TestEventWriter(t *testing.T) {
	var evs []app.Event
	for _, line := range filledEvents(t) {
		var ev app.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev, app.Event{Kind: ev.Kind, Execution: ev.Execution}, app.Event{Kind: ev.Kind, Span: ev.Span})
	}
	evs = append(evs, app.Event{Kind: app.EventExecution}, app.Event{Kind: app.EventSpan},
		app.Event{Kind: app.EventExecution, Execution: &model.Execution{Cost: math.NaN()}},
		app.Event{Kind: app.EventSpan, Span: &model.Span{ID: "a", Inputs: map[string]any{"<": "\u2028"}}})
	var got, want bytes.Buffer
	ew := eventWriter{w: &got, enc: json.NewEncoder(&got)}
	enc := json.NewEncoder(&want)
	for _, ev := range evs {
		errGot, errWant := ew.write(ev), enc.Encode(ev)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%+v: error %v, json.Encoder's %v", ev, errGot, errWant)
		}
		if got.String() != want.String() {
			t.Fatalf("%+v written as\n%s\njson.Encoder:\n%s", ev, got.String(), want.String())
		}
	}
}

// BenchmarkEventStream writes and reads the ended executions of a batch as
// the owner and its client did (json.Encoder, json.Decoder) and do.
func BenchmarkEventStream(b *testing.B) {
	now := time.Now()
	var evs []app.Event
	for i := range 1000 {
		evs = append(evs, app.Event{Kind: app.EventExecution, Execution: &model.Execution{ID: model.NewID(), Program: "cot", Version: 1,
			LM: "fast", State: model.Completed, Attempts: 1, Inputs: map[string]any{"question": "What is the capital of country " + strings.Repeat("x", i%7) + "?"},
			Outputs: map[string]any{"reasoning": "The capital is where the government sits.", "answer": "Somewhere"},
			Usage:   map[string]model.Usage{"openai/test": {Calls: 1, PromptTokens: 412, CompletionTokens: 48}},
			Cost:    0.00009, Duration: time.Millisecond, Batch: "0190f2a4-5b6c-7d8e-9f00-112233445566", CreatedAt: now, StartedAt: now, FinishedAt: now}})
	}
	var stream bytes.Buffer
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			stream.Reset()
			enc := json.NewEncoder(&stream)
			for _, ev := range evs {
				if err := enc.Encode(ev); err != nil {
					b.Fatal(err)
				}
			}
			dec := json.NewDecoder(bufio.NewReaderSize(&stream, 64<<10))
			for range evs {
				var ev app.Event
				if err := dec.Decode(&ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
	b.Run("signet", func(b *testing.B) {
		for b.Loop() {
			stream.Reset()
			ew := eventWriter{w: &stream, enc: json.NewEncoder(&stream)}
			for _, ev := range evs {
				if err := ew.write(ev); err != nil {
					b.Fatal(err)
				}
			}
			rd := bufio.NewReaderSize(&stream, 64<<10)
			var long []byte
			for range evs {
				line, err := readLine(rd, &long)
				if err != nil {
					b.Fatal(err)
				}
				var ev app.Event
				if err := decodeEvent(line, &ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
}
