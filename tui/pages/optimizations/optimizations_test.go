package optimizations_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func opts(m tui.Model) *optimizations.Page {
	return m.PageView(tui.PageOptimizations).(*optimizations.Page)
}

// newOptModel is the workbench on the Optimizations page over f; its
// clock sets no timers: the tests deliver the poll's ticks.
func newOptModel(t *testing.T, w, h int, f *tuitest.Optimizations) tui.Model {
	t.Helper()
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: tuitest.SampleDatasets(), Optimizations: f},
		w, h, tuitest.WithLM("local"))
	return tuitest.Send(t, m, tuitest.Key("4"))
}

func TestOptimizationsListAndProgress(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 120, 40, f)
	if m.Page() != tui.PageOptimizations || !opts(m).Loaded() || len(opts(m).Runs()) != 3 {
		t.Fatalf("page %v loaded %v runs %d", m.Page(), opts(m).Loaded(), len(opts(m).Runs()))
	}
	sc := tuitest.Screen(m)
	for _, want := range []string{"sentiment v2", "gepa", "4/10", "trials 4/10", "estimate: at most 240 LM calls, about $0.0300", "best 0.700", "80 LM calls", "~1m03s left", "score per trial"} {
		if !strings.Contains(sc, want) {
			t.Errorf("screen lacks %q:\n%s", want, sc)
		}
	}
	if !opts(m).Polling() {
		t.Error("a running optimization does not schedule a reload")
	}
	// The run finishes; the next tick's reload shows its scores and stops polling.
	f.Mu.Lock()
	f.Runs[0].State, f.Runs[0].Progress, f.Runs[0].BaselineScore, f.Runs[0].BestScore, f.Runs[0].ResultVersion =
		model.Completed, nil, 0.4, 0.7, 3
	f.Mu.Unlock()
	m = tuitest.Run(t, m, func() tea.Msg { return optimizations.Tick() }) // to whoever has the keyboard: the page
	sc = tuitest.Screen(m)
	if !strings.Contains(sc, "0.40→0.70") || !strings.Contains(sc, "saved v3") {
		t.Errorf("finished run not shown:\n%s", sc)
	}
	if opts(m).Polling() {
		t.Error("still polling with every run finished")
	}
}

func TestOptimizationsStartFromForm(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = tuitest.Send(t, m, tuitest.Key("j")) // qa's MIPROv2 run: the form starts from its program and datasets
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if !tuitest.IsTop[*optimizations.RunForm](m) || !tuitest.Typing(m) {
		t.Fatal("n did not open the form")
	}
	// q is text in the form, not quit.
	nm, cmd := m.Update(tuitest.Key("q"))
	if cmd != nil {
		t.Fatal("q in the form returned a command")
	}
	m = tuitest.Send(t, nm.(tui.Model), tuitest.Code(tea.KeyBackspace, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))   // optimizer
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // labeled
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyLeft, 0))  // bootstrap
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyLeft, 0))  // gepa (wraps)
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))   // auto
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))   // train: empty, the run had none
	m = tuitest.Type(t, m, "qa:train")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0)) // val
	m = tuitest.Type(t, m, "qa:val")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0)) // metric
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0)) // settings
	m = tuitest.Type(t, m, "max_labeled_demos")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Started) != 0 || !strings.Contains(tuitest.Screen(m), `settings: "max_labeled_demos" is not key=value`) {
		t.Fatalf("a bad setting was not refused inline:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Type(t, m, "=2")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0)) // budget
	m = tuitest.Type(t, m, "abc")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Started) != 0 || !strings.Contains(tuitest.Screen(m), `budget: "abc" is not an amount`) {
		t.Fatalf("a bad budget was not refused inline:\n%s", tuitest.Screen(m))
	}
	for range 3 {
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0))
	}
	m = tuitest.Type(t, m, "0.50")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Started) != 1 {
		t.Fatalf("started %d runs", len(f.Started))
	}
	// The request as `signet opt run` makes it: settings decoded as --set
	// decodes them, the metric as spelled, a custom metric's file relative
	// to this process's directory.
	cwd, _ := os.Getwd()
	want := app.OptimizeRequest{Program: "qa", Optimizer: "gepa", Train: model.DataRef{Dataset: "qa", Split: model.Train},
		Val: model.DataRef{Dataset: "qa", Split: model.Validation}, Metric: model.Metric{Name: "answer_exact_match", Kind: app.MetricSpelled},
		Budget: 0.5, Settings: map[string]any{"max_labeled_demos": 2.0}, BaseDir: cwd}
	if !reflect.DeepEqual(f.Started[0], want) {
		t.Fatalf("request %+v, want %+v", f.Started[0], want)
	}
	if tuitest.Top(m) != nil || len(opts(m).Runs()) != 4 || !strings.Contains(tuitest.Screen(m), "started gepa on qa") {
		t.Fatalf("after start: %T on top, %d runs\n%s", tuitest.Top(m), len(opts(m).Runs()), tuitest.Screen(m))
	}
	// The new run is selected (the cursor was on the second row).
	if sel := opts(m).Selected(); sel == nil || sel.ID != f.Runs[0].ID {
		t.Fatalf("selected %+v after the start, want the new run %s", sel, f.Runs[0].ID)
	}
}

// A dataset that does not parse is refused in the form, naming the field.
func TestOptimizationsFormBadDataset(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = tuitest.Send(t, m, tuitest.Key("n"))
	for range 3 { // optimizer, auto, train
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	}
	m = tuitest.Type(t, m, "qa:holdout")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Started) != 0 || !tuitest.IsTop[*optimizations.RunForm](m) || !strings.Contains(tuitest.Screen(m), "train: qa:holdout: ") {
		t.Fatalf("a bad train split was not refused inline (%d started):\n%s", len(f.Started), tuitest.Screen(m))
	}
}

func TestOptimizationsFormErrorFromService(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = tuitest.Send(t, m, tuitest.Key("n"))
	for range 20 {
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0))
	}
	m = tuitest.Type(t, m, "missing")
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, 0))
	m = tuitest.Type(t, m, "qa")
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if !strings.Contains(tuitest.Screen(m), `optimization not started: program "missing": not found`) {
		t.Fatalf("service error not shown:\n%s", tuitest.Screen(m))
	}
	if !tuitest.IsTop[*optimizations.RunForm](m) {
		t.Error("the form closed on an error: what was typed is lost")
	}
}

func TestOptimizationsCancelRunning(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = tuitest.Send(t, m, tuitest.Key("x"))
	if len(f.Cancelled) != 1 || f.Cancelled[0] != tuitest.FixedID(3) {
		t.Fatalf("cancelled %v", f.Cancelled)
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	_ = tuitest.Send(t, m, tuitest.Key("x")) // a finished run: nothing to cancel
	if len(f.Cancelled) != 1 {
		t.Fatalf("cancelled a finished run: %v", f.Cancelled)
	}
}

func TestOptimizationsCompare(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 120, 60, f)
	m = tuitest.Send(t, m, tuitest.Key("C"))
	if tuitest.Top(m) != nil || !strings.Contains(tuitest.Screen(m), "mark two or more") {
		t.Fatal("compare with nothing marked did not explain itself")
	}
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeySpace, 0)) // mark MIPROv2, cursor moves on
	m = tuitest.Send(t, m, tuitest.Code(tea.KeySpace, 0)) // mark bootstrap
	if opts(m).Marked() != 2 {
		t.Fatalf("marked %d", opts(m).Marked())
	}
	m = tuitest.Send(t, m, tuitest.Key("C"))
	cv, ok := tuitest.Top(m).(*optimizations.CompareView)
	if !ok || cv.Comparison() == nil {
		t.Fatal("C did not compare")
	}
	c := cv.Comparison()
	// Best trials: MIPROv2 F T T F, bootstrap T T T F: the first example flips.
	if c.Flips != 1 || c.Runs[0].ID != tuitest.FixedID(2) || c.Runs[1].ID != tuitest.FixedID(1) {
		t.Fatalf("comparison: %d flips, runs %v %v", c.Flips, c.Runs[0].ID, c.Runs[1].ID)
	}
	sc := tuitest.Screen(m)
	for _, want := range []string{"1 flip between runs", "▶ 00000101", "- Answer the question.", "+ Answer in one word.", "demos 0 → 1", "Score versus cost", "every finished run of qa"} {
		if !strings.Contains(sc, want) {
			t.Errorf("comparison lacks %q:\n%s", want, sc)
		}
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEscape, 0))
	if tuitest.Top(m) != nil {
		t.Fatal("esc did not leave the comparison")
	}
}

func TestGoldenOptimizations(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := newOptModel(t, sz[0], sz[1], tuitest.SampleOptimizations())
			screens := map[string]tui.Model{
				"list":     base,
				"finished": tuitest.Send(t, base, tuitest.Key("G")),
				"form":     tuitest.Send(t, base, tuitest.Key("n")),
			}
			for _, name := range []string{"list", "finished", "form"} { // the comparison: TestGoldenCompareColor
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Screen(screens[name])))
				})
			}
		})
	}
}

func TestOptimizationsPromote(t *testing.T) {
	f := tuitest.SampleOptimizations()
	m := newOptModel(t, 100, 30, f)
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl)) // the running run has no result yet
	if len(f.Promoted) != 0 || !strings.Contains(tuitest.Screen(m), "no result to promote") {
		t.Fatalf("promoted a run without a result: %v\n%s", f.Promoted, tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("G")) // bootstrap: result v2
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Promoted) != 1 || f.Promoted[0] != tuitest.FixedID(1) {
		t.Fatalf("promoted %v", f.Promoted)
	}
	if !strings.Contains(tuitest.Screen(m), "qa v4 is now the result of bootstrap_fewshot run 00000001") {
		t.Fatalf("no notice:\n%s", tuitest.Screen(m))
	}
}

// A result that regressed is shown as such, and promoting it asks first.
func TestOptimizationsPromoteRegressedAsksFirst(t *testing.T) {
	f := tuitest.SampleOptimizations()
	start := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	f.Runs = append(f.Runs, &model.Optimization{ID: tuitest.FixedID(4), Program: "qa", BaseVersion: 1, Optimizer: "labeled_fewshot",
		Metric: model.Metric{Name: "exact_match"}, State: model.Completed, Trials: 1, BaselineScore: 0.636, BestScore: 0,
		BestTrial: 1, Regressed: true, Candidate: f.Programs["qa@2"], StartedAt: start, FinishedAt: start.Add(time.Minute)})
	m := newOptModel(t, 110, 30, f)
	m = tuitest.Send(t, m, tuitest.Key("G"))
	for _, want := range []string{"regressed: not saved", "Regressed: the result scored 0.000 on validation, below the baseline's 0.636",
		"newest version (ctrl+s promotes it anyway)"} {
		if !strings.Contains(tuitest.Screen(m), want) {
			t.Fatalf("the regressed run does not say %q:\n%s", want, tuitest.Screen(m))
		}
	}
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	if len(f.Promoted) != 0 || !strings.Contains(tuitest.Screen(m), "Promote a result that regressed?") || !strings.Contains(tuitest.Screen(m), "promote anyway") {
		t.Fatalf("no confirmation (promoted %v):\n%s", f.Promoted, tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if len(f.Promoted) != 0 || strings.Contains(tuitest.Screen(m), "Promote a result that regressed?") {
		t.Fatalf("n promoted or kept the dialog (promoted %v):\n%s", f.Promoted, tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Code('s', tea.ModCtrl))
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if len(f.Promoted) != 1 || f.Promoted[0] != tuitest.FixedID(4) || !f.Forced[0] {
		t.Fatalf("promoted %v (forced %v)", f.Promoted, f.Forced)
	}
	if !strings.Contains(tuitest.Screen(m), "qa v4 is now the result of labeled_fewshot run 00000004") {
		t.Fatalf("no notice:\n%s", tuitest.Screen(m))
	}
}

// Esc in the new-run form with something typed asks; keep editing keeps
// it; discard closes the form.
func TestOptRunFormEscAsksBeforeDiscarding(t *testing.T) {
	m := newOptModel(t, 120, 40, tuitest.SampleOptimizations())
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("n")), "x")
	form := tuitest.TopAs[*optimizations.RunForm](t, m)
	m = tuitest.Send(t, m, tuitest.Esc())
	if !strings.Contains(tuitest.Screen(m), "Unsaved changes in the new optimization run") {
		t.Fatalf("esc did not ask:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if tuitest.Top(m) != form || !form.Dirty() {
		t.Fatalf("keep editing: %T on top", tuitest.Top(m))
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("d"))
	if tuitest.Top(m) != nil {
		t.Fatalf("discard: %T on top", tuitest.Top(m))
	}
	// Unchanged: esc closes at once.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("n")), tuitest.Esc())
	if tuitest.Top(m) != nil {
		t.Fatalf("esc on an unchanged form: %T on top", tuitest.Top(m))
	}
}
