package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
)

// TestTUIOptimizationsAdapter drives the Optimizations page's service
// through a real owner, its optimization worker and DSPy with the test LM:
// the form's fields as typed, two runs, their comparison, and promoting
// the first run's result.
func TestTUIOptimizationsAdapter(t *testing.T) {
	testenv.Python(t)
	ws := t.TempDir()
	mustSignet(t, ws, "demo")
	own(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := tuiDeps{api.NewClient(api.SocketPath(ws))}

	// The form's mistakes come back as errors naming the field.
	for _, c := range []struct {
		req  optimizations.OptimizationRequest
		want string
	}{
		{optimizations.OptimizationRequest{Program: "qa", Optimizer: "nope", Train: "qa", Metric: "exact_match"}, "unknown optimizer"},
		{optimizations.OptimizationRequest{Program: "qa", Optimizer: "labeled", Train: "qa:nope", Metric: "exact_match"}, "train"},
		{optimizations.OptimizationRequest{Program: "qa", Optimizer: "labeled", Train: "qa", Metric: "nope"}, "metric"},
	} {
		req, want := c.req, c.want
		if _, err := o.StartOptimization(ctx, req); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: error %v, want one naming %q", req, err, want)
		}
	}

	if _, err := o.StartOptimization(ctx, optimizations.OptimizationRequest{Program: "qa", Optimizer: "labeled", Train: "qa",
		Metric: "exact_match", Settings: []string{"nokey"}}); err == nil || !strings.Contains(err.Error(), "settings") {
		t.Errorf("a setting without a value: %v", err)
	}

	var runs []*model.Optimization
	for _, opt := range []string{"labeled", "bootstrap"} {
		r, err := o.StartOptimization(ctx, optimizations.OptimizationRequest{Program: "qa", Optimizer: opt, Train: "qa", Metric: "exact_match", LM: "test",
			Settings: []string{"max_labeled_demos=2"}})
		if err != nil {
			t.Fatalf("%s: %v", opt, err)
		}
		runs = append(runs, r)
	}
	done := func(id model.ID) *model.Optimization {
		for {
			list, err := o.ListOptimizations(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range list {
				if x.ID == id && x.State.Terminal() {
					return x
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("run %s did not finish", id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first, second := done(runs[0].ID), done(runs[1].ID)
	for _, r := range []*model.Optimization{first, second} {
		if r.State != model.Completed || r.ResultVersion == 0 {
			t.Fatalf("run %s: %s, result v%d, error %s", r.Optimizer, r.State, r.ResultVersion, r.Error)
		}
	}
	if v, ok := first.Settings["max_labeled_demos"].(float64); !ok || v != 2 {
		t.Errorf("settings of the run: %v", first.Settings)
	}
	trials, err := o.OptimizationTrials(ctx, second.ID)
	if err != nil || len(trials) == 0 {
		t.Fatalf("trials of the bootstrap run: %d, %v", len(trials), err)
	}

	c, err := o.CompareOptimizations(ctx, []model.ID{first.ID, second.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Runs) != 2 || c.Runs[0].ID != first.ID || c.Runs[1].Optimizer != second.Optimizer || len(c.Predictors) == 0 {
		t.Fatalf("comparison: %+v", c)
	}

	p, err := o.PromoteOptimization(ctx, first, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version <= second.ResultVersion || p.CompiledFrom != first.ID.String() || !strings.Contains(p.Note, first.ID.String()) {
		t.Fatalf("promoted: v%d compiled_from %q note %q (second run's result was v%d)", p.Version, p.CompiledFrom, p.Note, second.ResultVersion)
	}
}
