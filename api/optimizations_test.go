package api

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
)

// A run whose result regressed is promoted only with force.
func TestPromoteRegressedNeedsForce(t *testing.T) {
	cl, b, _ := serve(t)
	ctx := context.Background()
	cand := &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer",
		Demos: []map[string]any{{"question": "q", "answer": "a"}}}}, CompiledFrom: "run"}
	o := &model.Optimization{Program: "qa", BaseVersion: 1, Optimizer: "labeled_fewshot", State: model.Completed,
		BaselineScore: 0.5, BestScore: 0, Regressed: true, Candidate: cand}
	if err := b.st.PutOptimization(ctx, o); err != nil {
		t.Fatal(err)
	}
	var ae *Error
	_, err := cl.PromoteOptimization(ctx, o.ID, false)
	if !errors.As(err, &ae) || ae.Code != CodeRegressed || ae.Status != 409 || !errors.Is(err, optimize.ErrRegressed) {
		t.Fatalf("promote without force: %v", err)
	}
	p, err := cl.PromoteOptimization(ctx, o.ID, true)
	if err != nil || p.Version != 2 || len(p.Modules[0].Demos) != 1 {
		t.Fatalf("promote with force: %+v %v", p, err)
	}
	got, err := cl.Optimization(ctx, o.ID)
	if err != nil || got.ResultVersion != 2 || got.Candidate != nil || !got.Regressed {
		t.Fatalf("the run after the promote: %+v %v", got, err)
	}
}
