package model

import (
	"reflect"
	"testing"
)

func TestSummariseBatch(t *testing.T) {
	done := func(out map[string]any, cost float64, usage Usage) *Execution {
		return &Execution{State: Completed, Outputs: out, Cost: cost, Usage: map[string]Usage{"m": usage}}
	}
	failed := &Execution{State: Failed, Cost: 0.5, Usage: map[string]Usage{"m": {Calls: 1, PromptTokens: 7}}}
	hit := done(map[string]any{"answer": "Paris"}, 0, Usage{})
	hit.CacheHit = true
	tests := []struct {
		name   string
		execs  []*Execution
		labels []map[string]any
		want   BatchSummary
	}{
		{name: "empty", want: BatchSummary{States: map[RunState]int{}}},
		{
			name: "case, spaces and end punctuation do not count; inner text does",
			execs: []*Execution{
				done(map[string]any{"answer": "  paris. "}, 0.25, Usage{Calls: 1, PromptTokens: 10, CompletionTokens: 2}),
				done(map[string]any{"answer": "Lyon"}, 0.25, Usage{Calls: 1, PromptTokens: 10, CompletionTokens: 1}),
				done(map[string]any{"answer": "New  York"}, 0, Usage{}),
			},
			labels: []map[string]any{{"answer": "Paris"}, {"answer": "Paris"}, {"answer": "new york!"}},
			want: BatchSummary{Total: 3, States: map[RunState]int{Completed: 3}, Cost: 0.5,
				Usage:   Usage{Calls: 2, PromptTokens: 20, CompletionTokens: 3},
				Matches: map[string]Match{"answer": {Matched: 2, Of: 3}}},
		},
		{
			name:   "a failed execution is counted and costed, never compared",
			execs:  []*Execution{failed, hit},
			labels: []map[string]any{{"answer": "Paris"}, {"answer": "Paris"}},
			want: BatchSummary{Total: 2, States: map[RunState]int{Failed: 1, Completed: 1}, CacheHits: 1, Cost: 0.5,
				Usage: Usage{Calls: 1, PromptTokens: 7}, Matches: map[string]Match{"answer": {Matched: 1, Of: 1}}},
		},
		{
			name: "each label on its own; a missing output is a miss; an example without the label is not counted",
			execs: []*Execution{
				done(map[string]any{"answer": "4", "unit": "m"}, 0, Usage{}),
				done(map[string]any{"answer": 4.0}, 0, Usage{}),
				done(map[string]any{"answer": []any{"a", "b"}}, 0, Usage{}),
			},
			labels: []map[string]any{{"answer": 4.0, "unit": "M"}, {"answer": "4", "unit": "m"}, {"answer": []any{"a", "b"}}},
			want: BatchSummary{Total: 3, States: map[RunState]int{Completed: 3},
				Matches: map[string]Match{"answer": {Matched: 3, Of: 3}, "unit": {Matched: 1, Of: 2}}},
		},
		{
			name:   "no labels: no matches",
			execs:  []*Execution{done(map[string]any{"answer": "x"}, 0, Usage{})},
			labels: []map[string]any{{}},
			want:   BatchSummary{Total: 1, States: map[RunState]int{Completed: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SummariseBatch(tc.execs, tc.labels)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMatchRate(t *testing.T) {
	for _, tc := range []struct {
		m    Match
		want float64
	}{{Match{}, 0}, {Match{Matched: 1, Of: 4}, 0.25}, {Match{Matched: 3, Of: 3}, 1}} {
		if got := tc.m.Rate(); got != tc.want {
			t.Errorf("%+v.Rate() = %v, want %v", tc.m, got, tc.want)
		}
	}
}
