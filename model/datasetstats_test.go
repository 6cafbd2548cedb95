package model

import (
	"encoding/json"
	"testing"
)

func TestStatsCounter(t *testing.T) {
	d := &Dataset{Name: "qa", Fields: []string{"question", "answer"}, InputKeys: []string{"question"}}
	var c StatsCounter
	for _, e := range []*Example{
		{Split: Train, Data: map[string]any{"question": "Who?", "answer": "Ada"}},
		{Split: Train, Data: map[string]any{"question": "Où est-ce?", "answer": ""}},
		{Split: Test, Data: map[string]any{"question": "Why", "answer": nil, "score": json.Number("0.75")}},
		{Split: Validation, Data: map[string]any{"question": "How many?", "answer": 42.0}},
	} {
		c.Add(e)
	}
	st := c.Stats(d)
	if st.Examples != 4 || c.Count() != 4 || st.Splits[Train] != 2 || st.Splits[Validation] != 1 || st.Splits[Test] != 1 {
		t.Fatalf("counts %+v", st)
	}
	want := []FieldStats{
		{Field: "question", Input: true, FillRate: 1, AvgChars: float64(4+10+3+9) / 4}, // "Où est-ce?" is 10 runes
		{Field: "answer", FillRate: 0.5, AvgChars: float64(3+2) / 2},
		{Field: "score", FillRate: 0.25, AvgChars: 4},
	}
	if len(st.Fields) != len(want) {
		t.Fatalf("fields %+v", st.Fields)
	}
	for i, f := range st.Fields {
		if f != want[i] {
			t.Errorf("field %d: %+v, want %+v", i, f, want[i])
		}
	}
	var empty StatsCounter
	if st := empty.Stats(d); st.Examples != 0 || len(st.Fields) != 2 || st.Fields[0].FillRate != 0 || st.Splits[Train] != 0 {
		t.Errorf("empty %+v", st)
	}
}
