package model

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// twoRuns is two runs of qa on four validation examples: A (bootstrap)
// adds a demo, B (MIPROv2) rewrites the instructions; example 0 flips.
func twoRuns() (c *Comparison, ex []ID, runA, runB *Optimization) {
	ex = []ID{NewID(), NewID(), NewID(), NewID()}
	base := &Program{Name: "qa", Version: 1, Modules: []Module{{Name: "answer", Instructions: "Answer."}}}
	demo := map[string]any{"question": "Capital of France?", "answer": "Paris"}
	resA := &Program{Name: "qa", Version: 2, Modules: []Module{{Name: "answer", Instructions: "Answer.", Demos: []map[string]any{demo}}}}
	resB := &Program{Name: "qa", Version: 3, Modules: []Module{{Name: "answer", Instructions: "Answer in one word."}}}
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	runA = &Optimization{ID: NewID(), Program: "qa", BaseVersion: 1, ResultVersion: 2, Optimizer: "bootstrap_fewshot",
		State: Completed, Trials: 2, BaselineScore: 0.25, BestScore: 0.75, BestTrial: 2, Cost: 0.5, LMCalls: 40,
		Metric: Metric{Name: "exact_match"}, StartedAt: start, FinishedAt: start.Add(90 * time.Second)}
	runB = &Optimization{ID: NewID(), Program: "qa", BaseVersion: 1, ResultVersion: 3, Optimizer: "mipro_v2",
		State: Completed, Trials: 1, BaselineScore: 0.25, BestScore: 0.5, BestTrial: 1, Cost: 1.5, LMCalls: 90,
		Metric: Metric{Name: "exact_match"}, Duration: time.Minute}
	res := func(pass ...bool) []ExampleResult {
		out := make([]ExampleResult, len(pass))
		for i, p := range pass {
			out[i] = ExampleResult{Example: ex[i], Pass: p}
			if p {
				out[i].Score = 1
			}
		}
		return out
	}
	c = CompareRuns([]RunForCompare{
		{Run: runA, Base: base, Result: resA, Trials: []*Trial{
			{N: 0, Score: 0.25, Results: res(true, false, false, false)},
			{N: 1, Score: 0.5, Results: res(true, true, false, false)},
			{N: 2, Score: 0.75, Results: res(true, true, true, false)},
		}},
		{Run: runB, Base: base, Result: resB, Trials: []*Trial{
			{N: 0, Score: 0.25, Results: res(true, false, false, false)},
			{N: 1, Score: 0.5, Results: res(false, true, true, false)},
		}},
	})
	return c, ex, runA, runB
}

func TestCompareRuns(t *testing.T) {
	c, ex, _, _ := twoRuns()
	if len(c.Runs) != 2 || c.Runs[0].Duration != 90*time.Second || c.Runs[1].Duration != time.Minute {
		t.Fatalf("runs: %+v", c.Runs)
	}
	if c.Runs[0].Before != 0.25 || c.Runs[0].After != 0.75 || c.Runs[1].Optimizer != "mipro_v2" {
		t.Errorf("summary: %+v", c.Runs)
	}
	if len(c.Predictors) != 1 || c.Predictors[0].Name != "answer" {
		t.Fatalf("predictors: %+v", c.Predictors)
	}
	a, b := c.Predictors[0].Runs[0], c.Predictors[0].Runs[1]
	if a.InstructionsChanged || a.DemosAfter != 1 || len(a.DemosAdded) != 1 || len(a.DemosRemoved) != 0 {
		t.Errorf("run A's change: %+v", a)
	}
	if !b.InstructionsChanged || b.NewInstructions != "Answer in one word." || len(b.DemosAdded) != 0 {
		t.Errorf("run B's change: %+v", b)
	}
	// From the best trials: A = T T T F, B = F T T F: example 0 flips.
	if c.Flips != 1 || len(c.Examples) != 4 {
		t.Fatalf("flips %d, rows %d", c.Flips, len(c.Examples))
	}
	for i, row := range c.Examples {
		if row.Example != ex[i] || row.Flip != (i == 0) {
			t.Errorf("row %d: %+v", i, row)
		}
	}
	if *c.Examples[0].Pass[0] != true || *c.Examples[0].Pass[1] != false {
		t.Error("example 0's outcomes are not the best trials'")
	}
	// It survives the API's JSON round trip.
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Comparison
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back.Examples, c.Examples) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestCompareRunsWithoutResults(t *testing.T) {
	base := &Program{Name: "qa", Version: 1, Modules: []Module{{Name: "answer", Instructions: "Answer."}}}
	run := &Optimization{ID: NewID(), Program: "qa", BaseVersion: 1, State: Running}
	c := CompareRuns([]RunForCompare{{Run: run, Base: base}})
	if c.Predictors[0].Runs[0].InstructionsChanged || len(c.Examples) != 0 || c.Flips != 0 {
		t.Fatalf("a run without a result changed something: %+v", c)
	}
}

func TestDemoDiffIgnoresOrderAndKeyOrder(t *testing.T) {
	d1 := map[string]any{"q": "a", "a": "b"}
	d2 := map[string]any{"q": "c", "a": "d"}
	added, removed := demoDiff([]map[string]any{d1, d2}, []map[string]any{{"a": "d", "q": "c"}, d1})
	if len(added)+len(removed) != 0 {
		t.Fatalf("reordered demos differ: +%v -%v", added, removed)
	}
	added, removed = demoDiff([]map[string]any{d1, d1}, []map[string]any{d1})
	if len(added) != 0 || len(removed) != 1 {
		t.Fatalf("a dropped duplicate: +%v -%v", added, removed)
	}
}

func TestScoreVsCost(t *testing.T) {
	a := &Optimization{ID: NewID(), State: Completed, BestScore: 0.8, Cost: 2}
	b := &Optimization{ID: NewID(), State: Cancelled, BestScore: 0.6, Cost: 0.5}
	f := &Optimization{ID: NewID(), State: Failed, Cost: 0.1}
	r := &Optimization{ID: NewID(), State: Running, Cost: 0.2}
	pts := ScoreVsCost([]*Optimization{a, b, f, r})
	if len(pts) != 2 || pts[0].ID != b.ID || pts[1].ID != a.ID {
		t.Fatalf("points: %+v", pts)
	}
}

// A run on a two-predictor module: the comparison is per predictor, from
// the trials' per-predictor state (what DSPy held), not the module's.
func TestComparePerPredictorFromTrials(t *testing.T) {
	base := &Program{Name: "hop", Version: 1, Modules: []Module{{Name: "hop", Type: Custom, Source: "hop.py:Hop"}}}
	d1 := map[string]any{"question": "q1", "query": "x", "augmented": true}
	d2 := map[string]any{"question": "q1", "query": "x", "answer": "a", "augmented": true}
	result := &Program{Name: "hop", Version: 2, Modules: []Module{{Name: "hop", Type: Custom, Source: "hop.py:Hop",
		Predictors: []Predictor{{Name: "first_hop.predict", Demos: []map[string]any{d1}}, {Name: "second_hop.predict", Demos: []map[string]any{d2}}}}}}
	run := &Optimization{ID: NewID(), Program: "hop", BaseVersion: 1, ResultVersion: 2, BestTrial: 1, State: Completed}
	instr := map[string]string{"hop.first_hop.predict": "Find a query.", "hop.second_hop.predict": "Answer."}
	c := CompareRuns([]RunForCompare{{Run: run, Base: base, Result: result, Trials: []*Trial{
		{N: 0, Instructions: instr},
		{N: 1, Instructions: instr, Demos: map[string][]map[string]any{"hop.first_hop.predict": {d1}, "hop.second_hop.predict": {d2}}},
	}}})
	if len(c.Predictors) != 2 || c.Predictors[0].Name != "hop.first_hop.predict" || c.Predictors[1].Name != "hop.second_hop.predict" {
		t.Fatalf("predictors: %+v", c.Predictors)
	}
	for _, p := range c.Predictors {
		ch := p.Runs[0]
		if ch.InstructionsChanged || ch.DemosBefore != 0 || ch.DemosAfter != 1 || len(ch.DemosAdded) != 1 {
			t.Errorf("%s: %+v", p.Name, ch)
		}
	}
	// Without trials, the stored versions say it.
	c = CompareRuns([]RunForCompare{{Run: run, Base: base, Result: result}})
	if len(c.Predictors) != 2 || c.Predictors[0].Name != "hop.first_hop.predict" || c.Predictors[0].Runs[0].DemosAfter != 1 ||
		len(c.Predictors[1].Runs[0].DemosAdded) != 1 {
		t.Errorf("from versions: %+v", c.Predictors)
	}
}
