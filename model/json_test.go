package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
)

// sameAsEncodingJSON fails unless AppendJSON writes what json.Marshal
// writes for v, or fails as it does.
func sameAsEncodingJSON(t *testing.T, v interface{ AppendJSON([]byte) ([]byte, error) }) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := v.AppendJSON([]byte("prefix"))
	if wantErr != nil {
		if err == nil || err.Error() != wantErr.Error() {
			t.Fatalf("%+v: error %v, encoding/json's %v", v, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%+v: %v", v, err)
	}
	if string(got) != "prefix"+string(want) {
		t.Fatalf("encoded as\n%s\nencoding/json:\n%s", got, want)
	}
}

// Every field of a span and an execution is encoded, fields added later
// included: Fill sets them all.
func TestEncodingEveryField(t *testing.T) {
	var sp Span
	testenv.Fill(&sp)
	sameAsEncodingJSON(t, &sp)
	var x Execution
	testenv.Fill(&x)
	sameAsEncodingJSON(t, &x)
}

func TestSpanEncodingIsEncodingJSONs(t *testing.T) {
	at := time.Date(2026, 12, 3, 22, 10, 0, 123456789, time.UTC)
	odd := "<a href=\"x\">&</a>\\ \b\f\n\r\t\x00\x1f\x7f é 中 \u2028\u2029 \xff\xfe bad \xe2\x82 end"
	cases := []Span{
		{}, // every field empty: the zero ID and start
		{Seq: 1, ID: odd, Parent: odd, Kind: SpanTool, Name: odd, Module: odd, Start: at, Completion: odd, Model: odd, Error: odd,
			Messages: []Message{{}, {Role: odd, Content: odd}}},
		{Seq: math.MaxUint64, Start: at.In(time.FixedZone("x", -(3*3600 + 30*60))), End: at.Add(time.Nanosecond)},
		{Seq: 2, Start: at, Usage: Usage{PromptTokens: 1}, Cost: -0.0},
		{Seq: 3, Start: at, Usage: Usage{Calls: 2, CompletionTokens: -3}, Cost: 1e-7, CostUnknown: true, CacheHit: true},
		{Seq: 4, Start: at, Inputs: map[string]any{}, Outputs: map[string]any{"": nil}},
		{Seq: 5, Start: at, Inputs: map[string]any{
			"b": []any{1.0, -0.5, 1e21, 1e20, 123456789.0, 1e-6, 9.99e-7, nil, true, false, odd, []any{}, map[string]any{}},
			"a": map[string]any{"z": map[string]any(nil), "y": []any(nil), odd: odd},
			// not what the worker's JSON decodes to: encoding/json encodes them
			"ints": []int{1, 2}, "n": json.Number("12.50"), "i": 7, "s": struct{ A string }{"<"}, "m": map[int]string{2: "b", 1: "a"},
		}},
		{Seq: 6, Start: at, Kind: SpanRetrieval, Retrieval: &Retrieval{Index: "docs", Search: "bm25", Query: odd, K: 2,
			Passages: []Passage{{ID: "p1", Text: odd, Score: 0.25}}}},
		// what encoding/json refuses
		{Seq: 7, Start: at, Cost: math.NaN()},
		{Seq: 8, Start: at, Outputs: map[string]any{"x": math.Inf(1)}},
		{Seq: 9, Start: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Seq: 10, Start: at, End: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Seq: 12, Start: at.In(time.FixedZone("far", 25*3600))},
		{Seq: 13, Start: at.In(time.FixedZone("lmt", -(17*60 + 30)))}, // an offset with seconds
		{Seq: 11, Start: at, Inputs: map[string]any{"c": make(chan int)}},
	}
	for i := range cases {
		sameAsEncodingJSON(t, &cases[i])
	}
}

func TestExecutionEncodingIsEncodingJSONs(t *testing.T) {
	at := time.Date(2026, 12, 3, 22, 10, 0, 123456789, time.FixedZone("", 3600))
	odd := "<&> \"é\" \u2028 \xff"
	score := 0.5
	cases := []Execution{
		{}, // nil inputs, zero times
		{ID: NewID(), Program: "qa", Version: 3, LM: odd, State: Completed, Attempts: 2, Inputs: map[string]any{},
			Outputs: map[string]any{"answer": odd, "n": []any{1.0, 1e-9}}, Usage: map[string]Usage{"b": {PromptTokens: 1}, "a": {Calls: 1, CompletionTokens: 2}, odd: {}},
			Cost: 1.25e-5, CostUnknown: true, Duration: 1500 * time.Microsecond, EmbedCache: EmbedCache{Misses: 2}, ErrorCode: odd, Error: odd,
			Traceback: odd, CacheHit: true, CacheOf: NewID(), Batch: NewID().String(), User: "ann" + odd, Worker: "gpu" + odd + "/2",
			Variant: &Program{Name: "qa", Description: odd}, Eval: &ExecEval{Evaluation: NewID(), Index: 4, Metric: Metric{Name: "em", Kind: "exact_match"},
				Labels: map[string]any{"answer": odd}, Score: &score, Scores: map[string]float64{"f1": 1}},
			Timeout: time.Minute, CreatedAt: at, StartedAt: at.Add(time.Second), FinishedAt: at.Add(2 * time.Second)},
		{Inputs: map[string]any{"x": 1.0}, Cost: -0.0, EmbedCache: EmbedCache{Hits: 1}, CreatedAt: at},
		{EmbedCache: EmbedCache{Hits: 1, Misses: 1}, CreatedAt: at, Usage: map[string]Usage{}},
		// what encoding/json refuses
		{Cost: math.Inf(-1)},
		{Outputs: map[string]any{"x": math.NaN()}},
		{CreatedAt: at, FinishedAt: time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Eval: &ExecEval{Labels: map[string]any{"c": make(chan int)}}},
	}
	for i := range cases {
		sameAsEncodingJSON(t, &cases[i])
	}
}

// TestEncodingRandom compares random spans and executions made of the
// values the worker's JSON decodes to, with strings drawn from characters
// encoding/json treats apart.
func TestEncodingRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 6))
	pieces := []string{"a", "Z", " ", "\"", "\\", "<", ">", "&", "\n", "\t", "\x01", "\x7f", "é", "中", "😀", "\u2028", "\u2029", "\xff", "\xe2\x82", "[[ ## answer ## ]]"}
	str := func() string {
		var sb strings.Builder
		for range r.IntN(12) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		return sb.String()
	}
	num := func() float64 {
		switch r.IntN(4) {
		case 0:
			return float64(r.IntN(2000) - 1000)
		case 1:
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 2:
			return 0
		}
		return r.Float64()
	}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(7); {
		case k == 0:
			return nil
		case k == 1:
			return r.IntN(2) == 0
		case k == 2:
			return num()
		case k == 3 && depth < 3:
			l := make([]any, r.IntN(4))
			for i := range l {
				l[i] = value(depth + 1)
			}
			return l
		case k == 4 && depth < 3:
			return object(r, str, value, depth+1)
		}
		return str()
	}
	at := time.Unix(1_790_000_000, 0).UTC()
	for i := range 3000 {
		sp := Span{Execution: NewID(), Seq: uint64(i + 1), ID: str(), Parent: str(), Kind: SpanKind(str()), Name: str(),
			Module: str(), Start: at.Add(time.Duration(r.Int64N(1e15))), Completion: str(), Model: str(), Error: str(),
			Cost: num(), CostUnknown: r.IntN(2) == 0, CacheHit: r.IntN(2) == 0,
			Usage: Usage{Calls: r.IntN(3), PromptTokens: r.IntN(3), CompletionTokens: r.IntN(3)}}
		if r.IntN(2) == 0 {
			sp.End = sp.Start.Add(time.Duration(r.Int64N(1e10)))
		}
		if r.IntN(4) > 0 {
			sp.Inputs = object(r, str, value, 0)
		}
		if r.IntN(4) > 0 {
			sp.Outputs = object(r, str, value, 0)
		}
		for range r.IntN(4) {
			sp.Messages = append(sp.Messages, Message{Role: str(), Content: str()})
		}
		sameAsEncodingJSON(t, &sp)

		x := Execution{ID: sp.Execution, Program: str(), Version: r.IntN(3), LM: str(), State: RunState(str()), Attempts: r.IntN(3),
			Cost: num(), CostUnknown: r.IntN(2) == 0, Duration: time.Duration(r.IntN(3)), EmbedCache: EmbedCache{Hits: r.IntN(2), Misses: r.IntN(2)},
			ErrorCode: str(), Error: str(), Traceback: str(), CacheHit: r.IntN(2) == 0, Batch: str(), User: str(), Worker: str(), Timeout: time.Duration(r.IntN(2)),
			Inputs: sp.Inputs, Outputs: sp.Outputs, CreatedAt: sp.Start, FinishedAt: sp.End}
		if r.IntN(2) == 0 {
			x.CacheOf = NewID()
		}
		if r.IntN(2) == 0 {
			x.Usage = map[string]Usage{}
			for range r.IntN(3) {
				x.Usage[str()] = sp.Usage
			}
		}
		sameAsEncodingJSON(t, &x)
	}
}

func object(r *rand.Rand, str func() string, value func(int) any, depth int) map[string]any {
	m := map[string]any{}
	for range r.IntN(20) {
		m[str()] = value(depth)
	}
	return m
}
