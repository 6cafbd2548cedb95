package cmd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestTUIOptimizations drives the Optimizations page against a real owner
// through its API, its optimization worker and DSPy with the test LM: the
// form's mistakes come back naming the field (the form kept), two runs
// started from it end, their comparison, and promoting the first run's
// result.
func TestTUIOptimizations(t *testing.T) {
	testenv.Python(t)
	ws := t.TempDir()
	mustSignet(t, ws, "demo")
	own(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := api.NewClient(api.SocketPath(ws))
	m := workbench(t, cl, 220, 90) // tall enough for the whole comparison
	m = tuitest.Send(t, m, tuitest.Key("4"))
	m = tuitest.Send(t, m, tuitest.Key("n"))
	// The form: program, optimizer, auto, train, val, metric, settings, budget, lm.
	const fields = 9
	// Validation held out from train: the demo qa's own demos come from
	// train, and scored on them its baseline would beat two labeled demos.
	m = fill(t, m, fields, map[int]string{0: "qa", 1: "nope", 3: "qa:train", 4: "qa:validation", 8: "test"})
	for _, c := range []struct {
		set  map[int]string
		want string
	}{
		{map[int]string{}, `optimization not started: unknown optimizer "nope"`},
		{map[int]string{1: "labeled", 3: "qa:nope"}, `train: qa:nope: unknown split "nope"`},
		{map[int]string{3: "qa:train", 5: "nope"}, `optimization not started: unknown metric "nope"`},
		{map[int]string{5: "exact_match", 6: "nokey"}, `settings: "nokey" is not key=value`},
	} {
		m = fill(t, m, fields, c.set)
		m = tuitest.Send(t, m, tuitest.Ctrl('s'))
		mustShow(t, m, fmt.Sprintf("the form with %v", c.set), "New optimization run", c.want)
	}
	evs := subscribed(t, ctx, cl)
	m = fill(t, m, fields, map[int]string{6: "max_labeled_demos=2"})
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	mustShow(t, m, "the first start", "started labeled_fewshot on qa")
	// The form starts from the selected run: the same program, data and LM.
	m = tuitest.Send(t, m, tuitest.Key("n"))
	m = fill(t, m, fields, map[int]string{1: "bootstrap", 6: "max_labeled_demos=2"})
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	mustShow(t, m, "the second start", "started bootstrap_fewshot on qa")

	ended := endedOf(t, ctx, evs, app.EventOptimization, 2)
	runs := map[string]*model.Optimization{}
	for _, id := range ended {
		r, err := cl.Optimization(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != model.Completed || r.ResultVersion == 0 {
			t.Fatalf("run %s: %s, result v%d, error %s", r.Optimizer, r.State, r.ResultVersion, r.Error)
		}
		runs[r.Optimizer] = r
	}
	first, second := runs["labeled_fewshot"], runs["bootstrap_fewshot"]
	if first == nil || second == nil {
		t.Fatalf("runs %v", runs)
	}
	if v, ok := first.Settings["max_labeled_demos"].(float64); !ok || v != 2 {
		t.Errorf("settings of the run: %v", first.Settings)
	}

	// Reloaded, newest first: mark both from the top, compare.
	m = tuitest.Send(t, m, tuitest.Ctrl('r'))
	mark := tuitest.Code(tea.KeySpace, 0)
	m = tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("g")), mark), mark)
	m = tuitest.Send(t, m, tuitest.Key("C"))
	mustShow(t, m, "the comparison", "Score versus cost", "every finished run of qa", format.RunID(first.ID), format.RunID(second.ID))
	m = tuitest.Send(t, m, tuitest.Esc())

	// Promote the first run's result (the older, second row).
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("g")), tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	p, err := cl.Program(ctx, "qa", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustShow(t, m, "the promote", fmt.Sprintf("qa v%d is now the result of labeled_fewshot run %s", p.Version, format.RunID(first.ID)))
	if p.Version <= second.ResultVersion || p.CompiledFrom != first.ID.String() || !strings.Contains(p.Note, first.ID.String()) {
		t.Fatalf("promoted: v%d compiled_from %q note %q (second run's result was v%d)", p.Version, p.CompiledFrom, p.Note, second.ResultVersion)
	}
}
