package model

import (
	"reflect"
	"testing"
)

func TestParetoFrontKeepsEveryTrialAtTheBestScorePerExample(t *testing.T) {
	a, b, c := NewID(), NewID(), NewID()
	res := func(scores ...float64) []ExampleResult {
		ids := []ID{a, b, c}
		out := make([]ExampleResult, len(scores))
		for i, s := range scores {
			out[i] = ExampleResult{Example: ids[i], Score: s, Pass: s >= 1}
		}
		return out
	}
	ts := []*Trial{
		{N: 2, Results: res(1, 0, 1)},
		{N: 0, Results: res(0, 1, 0)},
		{N: 1, Results: res(1, 0, 0)},
		{N: 3}, // scored on a minibatch: no per-example results
	}
	got := ParetoFront(ts)
	want := []FrontEntry{{a, 1, []int{1, 2}}, {b, 1, []int{0}}, {c, 1, []int{2}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("front = %+v, want %+v", got, want)
	}
}

func TestMiproProposalsSayWhichTrialUsedWhich(t *testing.T) {
	ts := []*Trial{
		{N: 0, Instructions: map[string]string{"answer.predict": "Say north or South."}},
		{N: 1, Instructions: map[string]string{"answer.predict": "South"},
			Proposals: map[string][]string{"answer.predict": {"Say north or South.", "South", "North"}}},
		{N: 2, Instructions: map[string]string{"answer.predict": "Say north or South."}},
		{N: 3, Instructions: map[string]string{"answer.predict": "South"}},
	}
	got := MiproProposals(ts)
	want := []Proposal{
		{Predictor: "answer.predict", Index: 0, Text: "Say north or South.", Trials: []int{0, 2}},
		{Predictor: "answer.predict", Index: 1, Text: "South", Trials: []int{1, 3}},
		{Predictor: "answer.predict", Index: 2, Text: "North"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("proposals = %+v, want %+v", got, want)
	}
}
