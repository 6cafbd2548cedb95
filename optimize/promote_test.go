package optimize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/model"
)

func TestPromote(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mod := func(instr string) []model.Module {
		return []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: instr}}
	}
	if _, err := st.CreateProgram(ctx, &model.Program{Name: "promo", Modules: mod("Answer.")}); err != nil {
		t.Fatal(err)
	}
	run := &model.Optimization{Program: "promo", BaseVersion: 1, Optimizer: "bootstrap_fewshot", State: model.Completed}
	if err := st.PutOptimization(ctx, run); err != nil {
		t.Fatal(err)
	}
	// A run without a result has nothing to promote.
	if _, _, err := Promote(ctx, st, run.ID, false); !errors.Is(err, ErrNoResult) {
		t.Fatalf("promote without a result: %v", err)
	}
	// v2 is the run's result, v3 a later, worse one.
	for _, instr := range []string{"Answer in one word.", "Answer at length."} {
		p := &model.Program{Name: "promo", Modules: mod(instr)}
		if instr == "Answer in one word." {
			p.CompiledFrom = run.ID.String()
		}
		if _, err := st.SaveProgram(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	run.ResultVersion = 2
	if err := st.PutOptimization(ctx, run); err != nil {
		t.Fatal(err)
	}
	p, o, err := Promote(ctx, st, run.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 4 || o.ID != run.ID || p.Modules[0].Instructions != "Answer in one word." ||
		p.CompiledFrom != run.ID.String() || !strings.Contains(p.Note, "promoted v2") {
		t.Fatalf("promoted: %+v", p)
	}
	head, err := st.GetProgram(ctx, "promo")
	if err != nil || head.Version != 4 {
		t.Fatalf("head after promote: %v, %v", head, err)
	}
	// A run that regressed needs force, also once its result is a version.
	run.Regressed = true
	if err := st.PutOptimization(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Promote(ctx, st, run.ID, false); !errors.Is(err, ErrRegressed) {
		t.Fatalf("promote of a regressed run without force: %v", err)
	}
	if p, _, err := Promote(ctx, st, run.ID, true); err != nil || p.Version != 5 {
		t.Fatalf("forced promote: %+v %v", p, err)
	}
}
