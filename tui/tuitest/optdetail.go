package tuitest

import (
	"time"

	"github.com/signet-dspy/signet/model"
)

// SampleOptimizationDetail is three runs whose trials carry what the
// detail of a run shows: a GEPA run (lineage, Pareto front), a MIPROv2
// run (proposals) and a BootstrapFewShot run still running; the
// examples their results name are in Examples.
func SampleOptimizationDetail() *Optimizations {
	start := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	questions := []struct{ q, a string }{
		{"Which hemisphere holds Australia?", "south"}, {"Which hemisphere holds Canada?", "north"},
		{"Which hemisphere holds Chile?", "south"}, {"Which hemisphere holds Egypt?", "north"},
	}
	var examples []*model.Example
	for i, q := range questions {
		examples = append(examples, &model.Example{Dataset: "hemi", ID: FixedID(201 + i), Split: model.Validation,
			Data: map[string]any{"question": q.q, "answer": q.a}})
	}
	// res scores a trial whose program answers answers[i] to question i.
	res := func(answers ...string) []model.ExampleResult {
		out := make([]model.ExampleResult, len(answers))
		for i, a := range answers {
			pass := a == questions[i].a
			score, cost := 0.0, 0.0004*float64(i+1)
			if pass {
				score = 1
			}
			out[i] = model.ExampleResult{Example: examples[i].ID, Score: score, Pass: pass,
				Output: map[string]any{"answer": a}, Cost: &cost}
		}
		return out
	}
	const path = "answer.predict"
	ins := func(s string) map[string]string { return map[string]string{path: s} }
	demo := map[string][]map[string]any{path: {{"question": "Which hemisphere holds Peru?", "answer": "south"}}}
	noDemos := map[string][]map[string]any{path: nil}

	gepa := &model.Optimization{ID: FixedID(11), Program: "hemi", BaseVersion: 1, ResultVersion: 2, Optimizer: "gepa",
		Metric: model.Metric{Name: "exact_match"}, Val: model.DataRef{Dataset: "hemi", Split: model.Validation},
		State: model.Completed, Trials: 3, BaselineScore: 0.5, BestScore: 0.75, BestTrial: 2, LMCalls: 64, Cost: 0.0311,
		StartedAt: start, FinishedAt: start.Add(3 * time.Minute)}
	mipro := &model.Optimization{ID: FixedID(12), Program: "hemi", BaseVersion: 1, ResultVersion: 3, Optimizer: "mipro_v2",
		Metric: model.Metric{Name: "exact_match"}, State: model.Completed, Trials: 3, BaselineScore: 0.5, BestScore: 0.75,
		BestTrial: 2, LMCalls: 90, Cost: 0.042, StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 5*time.Minute)}
	boot := &model.Optimization{ID: FixedID(13), Program: "hemi", BaseVersion: 1, Optimizer: "bootstrap_fewshot",
		Metric: model.Metric{Name: "exact_match"}, State: model.Running, Trials: 1, BaselineScore: 0.5,
		StartedAt: start.Add(2 * time.Hour),
		Progress: &model.OptProgress{Phase: "bootstrap", Trial: 0, Trials: 1, Score: 0.5, BestScore: 0.5, LMCalls: 7,
			Cost: 0.003, Elapsed: 12, ETA: 18}}
	at := func(o *model.Optimization, n int) time.Time {
		return o.StartedAt.Add(time.Duration(n) * 20 * time.Second)
	}
	f := &Optimizations{
		Runs:     []*model.Optimization{boot, mipro, gepa},
		Examples: examples,
		TrialsOf: map[model.ID][]*model.Trial{
			gepa.ID: {
				{Optimization: gepa.ID, N: 0, Score: 0.5, Instructions: ins("Say north or South."), Demos: noDemos,
					Results: res("north", "north", "north", "north"), Cost: 0.004, Duration: 9 * time.Second, At: at(gepa, 0)},
				{Optimization: gepa.ID, N: 1, Score: 0.5, Instructions: ins("South"), Demos: noDemos, Parents: []int{0},
					Reflection: []string{path}, Results: res("south", "south", "south", "south"), Cost: 0.012,
					Duration: 41 * time.Second, At: at(gepa, 1)},
				{Optimization: gepa.ID, N: 2, Score: 0.75, Instructions: ins("Answer south unless the country is north of the equator."),
					Demos: noDemos, Parents: []int{1}, Reflection: []string{path}, Results: res("south", "north", "south", "south"),
					Cost: 0.015, Duration: 52 * time.Second, At: at(gepa, 2)},
			},
			mipro.ID: {
				{Optimization: mipro.ID, N: 0, Score: 0.5, Instructions: ins("Say north or South."), Demos: noDemos,
					Results: res("north", "north", "north", "north"), Cost: 0.004, Duration: 8 * time.Second, At: at(mipro, 0)},
				{Optimization: mipro.ID, N: 1, Score: 0.5, Instructions: ins("Say north or South."), Demos: demo,
					Proposals: map[string][]string{path: {"Say north or South.", "Name the hemisphere of the country.", "South"}},
					Results:   res("north", "north", "south", "north"), Cost: 0.02, Duration: 95 * time.Second, At: at(mipro, 1)},
				{Optimization: mipro.ID, N: 2, Score: 0.75, Instructions: ins("Name the hemisphere of the country."), Demos: demo,
					Results: res("south", "north", "south", "south"), Cost: 0.009, Duration: 30 * time.Second, At: at(mipro, 2)},
			},
			boot.ID: {
				{Optimization: boot.ID, N: 0, Score: 0.5, Instructions: ins("Say north or South."), Demos: noDemos,
					Results: res("north", "north", "north", "north"), Cost: 0.003, Duration: 7 * time.Second, At: at(boot, 0)},
			},
		},
	}
	return f
}

// AddTrial appends a trial to run id, as a worker's trial event stores it.
func (f *Optimizations) AddTrial(id model.ID, t *model.Trial) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.TrialsOf[id] = append(f.TrialsOf[id], t)
	if o := f.run(id); o != nil {
		o.Trials = len(f.TrialsOf[id]) - 1
		if o.Progress != nil {
			o.Progress.Trial = t.N
		}
	}
}
