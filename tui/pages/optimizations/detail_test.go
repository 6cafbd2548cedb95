package optimizations_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// openDetail is the detail of the run at row (0: the running
// BootstrapFewShot, 1: MIPROv2, 2: GEPA) of the sample.
func openDetail(t *testing.T, f *tuitest.Optimizations, w, h, row int) tui.Model {
	t.Helper()
	m := newOptModel(t, w, h, f)
	for range row {
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	if !tuitest.IsTop[*optimizations.DetailView](m) {
		t.Fatalf("enter did not open the run's detail:\n%s", tuitest.Screen(m))
	}
	return m
}

func TestDetailOpensOnTheTrials(t *testing.T) {
	m := openDetail(t, tuitest.SampleOptimizationDetail(), 140, 40, 2)
	tuitest.WantScreen(t, m, "Optimization 00000011", "hemi v1 · gepa · completed", "baseline 0.500 → best 0.750 (trial #2)",
		"Trials", "Lineage", "Pareto front", "★2", "0.750", "3/4", "from #1", "$0.0150", "52.0s")
	// j/k choose a trial; the candidate view shows its predictors.
	m = tuitest.Send(t, m, tuitest.Key("k"))
	m = tuitest.Send(t, m, tuitest.Tab())
	tuitest.WantScreen(t, m, "Trial #1", "answer.predict", "instructions changed", "South", "demos (0)")
	m = tuitest.Send(t, m, tuitest.Esc())
	if tuitest.Top(m) != nil {
		t.Fatal("esc did not close the detail")
	}
}

func TestDetailExamplesFilterToFailures(t *testing.T) {
	m := openDetail(t, tuitest.SampleOptimizationDetail(), 160, 40, 2)
	m = tuitest.Send(t, m, tuitest.Enter()) // the best trial's examples
	tuitest.WantScreen(t, m, "Trial #2", "3/4 pass", "Which hemisphere holds Chile?", "Which hemisphere holds Egypt?", "FAIL", "$0.0016")
	if got := strings.Count(tuitest.Screen(m), "pass "); got < 3 {
		t.Errorf("%d passing rows:\n%s", got, tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("f"))
	sc := tuitest.Screen(m)
	if !strings.Contains(sc, "failures only") || !strings.Contains(sc, "Egypt") || strings.Contains(sc, "Chile") {
		t.Fatalf("f did not keep the failures only:\n%s", sc)
	}
	// Egypt's row: its input, the expected answer and what the program said.
	row := tuitest.LineWith(sc, "Egypt")
	for _, w := range []string{"FAIL", "0.00", "north", "south"} {
		if !strings.Contains(row, w) {
			t.Errorf("row %q lacks %q", row, w)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("f"))
	tuitest.WantScreen(t, m, "Chile", "f: failures only")
}

func TestDetailFollowsARunningRun(t *testing.T) {
	f := tuitest.SampleOptimizationDetail()
	m := openDetail(t, f, 140, 40, 0)
	tuitest.WantScreen(t, m, "bootstrap · trial 0/1", "~18.0s left", "baseline")
	v := tuitest.TopAs[*optimizations.DetailView](t, m)
	if !v.Polling() {
		t.Fatal("the detail of a running run does not reload")
	}
	// The worker stores trial 1; the next tick shows it.
	cost := 0.001
	f.AddTrial(tuitest.FixedID(13), &model.Trial{Optimization: tuitest.FixedID(13), N: 1, Score: 0.75, Cost: 0.0042,
		Duration: 14 * time.Second, Instructions: map[string]string{"answer.predict": "Say north or South."},
		Results: []model.ExampleResult{{Example: tuitest.FixedID(201), Score: 1, Pass: true, Output: map[string]any{"answer": "south"}, Cost: &cost}}})
	m = tuitest.Run(t, m, func() tea.Msg { return optimizations.DetailTick() })
	tuitest.WantScreen(t, m, "$0.0042", "14.0s", "bootstrap · trial 1/1")
	// It ends: the last reload shows the totals and stops.
	f.Mu.Lock()
	f.Runs[0].State, f.Runs[0].BestScore, f.Runs[0].BestTrial = model.Completed, 0.75, 1
	f.Mu.Unlock()
	m = tuitest.Run(t, m, func() tea.Msg { return optimizations.DetailTick() })
	tuitest.WantScreen(t, m, "baseline 0.500 → best 0.750 (trial #1)", "★1")
	if tuitest.TopAs[*optimizations.DetailView](t, m).Polling() {
		t.Error("still reloading a finished run")
	}
}

func TestDetailGepaLineageAndFront(t *testing.T) {
	m := openDetail(t, tuitest.SampleOptimizationDetail(), 140, 40, 2)
	for range 3 {
		m = tuitest.Send(t, m, tuitest.Tab())
	}
	tuitest.WantScreen(t, m, "#0 → #1 · reflection · score 0.500 → 0.500", "#1 → #2", "answer.predict rewritten",
		"- Say north or South.", "+ South", "+ Answer south unless the country is north of the equator.")
	m = tuitest.Send(t, m, tuitest.Tab())
	// Canada (north) is solved by the baseline and trial 2, Egypt only by the baseline.
	sc := tuitest.Screen(m)
	if row := tuitest.LineWith(sc, "00000202"); !strings.Contains(row, "1.00") || !strings.Contains(row, "#0 #2") {
		t.Errorf("Canada's front %q\n%s", row, sc)
	}
	if row := tuitest.LineWith(sc, "00000204"); !strings.HasSuffix(strings.TrimSpace(row), "#0") {
		t.Errorf("Egypt's front %q", row)
	}
}

func TestDetailMiproProposals(t *testing.T) {
	m := openDetail(t, tuitest.SampleOptimizationDetail(), 140, 40, 1)
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, tea.ModShift)) // round to the last view
	tuitest.WantScreen(t, m, "Proposals", "0. Say north or South.", "used by trials #0 #1", "1. Name the hemisphere of the country.",
		"used by trials #2", "2. South", "not tried")
}

func TestGoldenOptimizationDetail(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			// The views share their dialog: each screen is opened afresh and drawn at once.
			open := func(row, tabs int, keys ...string) string {
				m := openDetail(t, tuitest.SampleOptimizationDetail(), sz[0], sz[1], row)
				for range tabs {
					m = tuitest.Send(t, m, tuitest.Tab())
				}
				for _, k := range keys {
					m = tuitest.Send(t, m, tuitest.Key(k))
				}
				return tuitest.Styled(m)
			}
			screens := map[string]string{
				"trials":    open(2, 0),
				"candidate": open(2, 1),
				"failures":  open(2, 2, "f"),
				"lineage":   open(2, 3),
				"front":     open(2, 4),
				"proposals": open(1, 3),
				"running":   open(0, 0),
			}
			for _, name := range []string{"trials", "candidate", "failures", "lineage", "front", "proposals", "running"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screens[name]))
				})
			}
		})
	}
}
