package evaluations_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/flips"
	"github.com/signet-dspy/signet/tui/pages/evaluations"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// everyEvaluation is the workbench on the list of every program's
// evaluations (E on the Optimizations page), the running evaluation (v3)
// with results of its own: example 1 passes there and fails in v2's.
func everyEvaluation(t *testing.T, w, h int) (tui.Model, *tuitest.Runner) {
	t.Helper()
	f := tuitest.SampleEvaluations()
	v2 := f.List[1]
	var v3 []*model.EvalResult
	for _, r := range f.Results[v2.ID] {
		c := *r
		c.Evaluation, c.Execution = f.List[0].ID, tuitest.FixedID(400+r.Index)
		if r.Index == 1 {
			c.Outputs, c.Score = map[string]any{"answer": "Tokyo"}, 1
		}
		v3 = append(v3, &c)
	}
	f.Results[f.List[0].ID] = v3
	runner := tuitest.NewRunner()
	for _, r := range append(f.Results[v2.ID], v3...) {
		runner.Execs[r.Execution] = &model.Execution{ID: r.Execution, Program: "qa", Version: 2, State: model.Completed, Inputs: r.Inputs, Outputs: r.Outputs}
	}
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Runner: runner,
		Optimizations: tuitest.SampleOptimizations(), Evaluations: f}, w, h, tuitest.WithLM("local"))
	m = tuitest.Send(t, m, tuitest.Key("4"))
	m = tuitest.Send(t, m, tuitest.Key("E"))
	return m, runner
}

func TestEveryEvaluationFromTheShell(t *testing.T) {
	m, _ := everyEvaluation(t, 120, 40)
	es := evalScreenOf(t, m)
	if len(es.Evals()) != 3 || tuitest.Typing(m) {
		t.Fatalf("E on Optimizations: %d evaluations, typing %v", len(es.Evals()), tuitest.Typing(m))
	}
	sc := tuitest.Screen(m)
	for _, want := range []string{"Evaluations of every program", "qa on caps:validation", "summarize on docs"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the list lacks %q:\n%s", want, sc)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("n")) // no program to evaluate: said, no form
	if _, ok := tuitest.Top(m).(*evaluations.Screen); !ok || !strings.Contains(m.Notice().Text, "Programs page") {
		t.Errorf("n: top %T, notice %q", tuitest.Top(m), m.Notice().Text)
	}
}

func TestEvaluationFlipsOpenBothTraces(t *testing.T) {
	m, _ := everyEvaluation(t, 120, 40)
	m = tuitest.Send(t, m, tuitest.Key("C"))
	if !strings.Contains(m.Notice().Text, "mark two or more") {
		t.Fatalf("C with nothing marked: %q", m.Notice().Text)
	}
	m = tuitest.Send(t, m, tuitest.Space()) // v3, the cursor moves on
	m = tuitest.Send(t, m, tuitest.Space()) // v2
	m = tuitest.Send(t, m, tuitest.Key("C"))
	v, ok := tuitest.Top(m).(*flips.View)
	if !ok {
		t.Fatalf("C opened %T", tuitest.Top(m))
	}
	sc := tuitest.Screen(m)
	for _, want := range []string{"4 examples · 1 flip", "▶ 00000201  pass ●    fail ●", "A 00000012 qa v3 on caps:validation"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the flip view lacks %q:\n%s", want, sc)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("j")) // example 1, the flip
	if row, _ := v.Selected(); !row.Flip {
		t.Fatalf("selected %+v", row)
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	sc = tuitest.Screen(m)
	// Both executions' traces, side by side, each loaded from its own id.
	for _, want := range []string{"Example 00000201", "00000012 qa v3 on caps:validation · pass", "00000011 qa v2 on caps:validation · fail", "Trace qa v2 completed · 0190b6c8-0000-7000-8000-0000000004", "Trace qa v2 completed · 0190b6c8-0000-7000-8000-00000000030"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the traces lack %q:\n%s", want, sc)
		}
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if tuitest.Top(m) != v {
		t.Errorf("esc left %T on top, not the flip view", tuitest.Top(m))
	}
}

func TestGoldenEvaluationFlips(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			open := func() tui.Model {
				m, _ := everyEvaluation(t, sz[0], sz[1])
				return m
			}
			marked := func() tui.Model {
				m := tuitest.Send(t, tuitest.Send(t, open(), tuitest.Space()), tuitest.Space())
				return tuitest.Send(t, m, tuitest.Key("C"))
			}
			screens := map[string]func() tui.Model{
				"every":  open,
				"flips":  marked,
				"traces": func() tui.Model { return tuitest.Send(t, tuitest.Send(t, marked(), tuitest.Key("j")), tuitest.Enter()) },
			}
			for _, name := range []string{"every", "flips", "traces"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Styled(screens[name]())))
				})
			}
		})
	}
}

// O sets the selected evaluation against an optimization run of its
// program, chosen by a digit: the run's validation results (those of the
// trial that became its result) are one more side of the flip view.
func TestEvaluationAgainstAnOptimizationRun(t *testing.T) {
	f := tuitest.SampleEvaluations()
	done := f.List[1] // qa v2: examples 200..203, 1 and 2 fail
	run := &model.Optimization{ID: tuitest.FixedID(900), Program: "qa", Optimizer: "bootstrap_fewshot", State: model.Completed,
		BaselineScore: 0.25, BestScore: 0.75, ResultVersion: 3}
	unfinished := &model.Optimization{ID: tuitest.FixedID(901), Program: "qa", Optimizer: "gepa", State: model.Running}
	var results []model.ExampleResult
	for i := range 4 {
		results = append(results, model.ExampleResult{Example: tuitest.FixedID(200 + i), Score: 1, Pass: i != 3})
	}
	f.Runs = &tuitest.Optimizations{Runs: []*model.Optimization{unfinished, run}, TrialsOf: map[model.ID][]*model.Trial{
		run.ID: {{Optimization: run.ID, N: 1, Score: 0.75, Results: results}}}}
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Runner: tuitest.NewRunner(),
		Optimizations: tuitest.SampleOptimizations(), Evaluations: f}, 120, 40, tuitest.WithLM("local"))
	m = tuitest.Send(t, m, tuitest.Key("4"))
	m = tuitest.Send(t, m, tuitest.Key("E"))
	m = tuitest.Send(t, m, tuitest.Key("j")) // v2, the finished one
	if v := evalScreenOf(t, m).SelectedEval(); v == nil || v.ID != done.ID {
		t.Fatalf("selected %+v", v)
	}
	m = tuitest.Send(t, m, tuitest.Key("O"))
	sc := tuitest.Screen(m)
	if !strings.Contains(sc, "against which optimization run") || !strings.Contains(sc, "00000900 bootstrap_fewshot on qa, 0.250 → 0.750") ||
		strings.Contains(sc, "gepa") {
		t.Fatalf("the choice of runs (finished ones only):\n%s", sc)
	}
	m = tuitest.Send(t, m, tuitest.Key("1"))
	v, ok := tuitest.Top(m).(*flips.View)
	if !ok {
		t.Fatalf("choosing a run opened %T:\n%s", tuitest.Top(m), tuitest.Screen(m))
	}
	sc = tuitest.Screen(m)
	// v2 fails 201 and 202, the run fails 203: three flips.
	for _, want := range []string{"optimization run 00000900", "4 examples · 3 flips", "B 00000900 bootstrap_fewshot on qa (validation)"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the flip view lacks %q:\n%s", want, sc)
		}
	}
	if row, _ := v.Selected(); row.Example != tuitest.FixedID(200) || row.Flip {
		t.Errorf("first row %+v", row)
	}
}
