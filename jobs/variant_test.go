package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// TestVariantRunsInsteadOfTheVersion: a request with a Variant runs it (a
// one-module replay here), records it on the execution, keeps the base
// version, and stays out of the execution cache.
func TestVariantRunsInsteadOfTheVersion(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", facts)
	pool := startPool(t, 1, 0)
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: testLM(nil), DefaultLM: "test"})

	replay := &model.Program{Name: "facts", Note: "replay of module polish", Modules: []model.Module{facts.Modules[2]}}
	in := map[string]any{"answer": "paris"}
	var xs []*model.Execution
	for range 2 {
		x, err := k.Submit(ctx, Request{Program: "facts", Variant: replay, Inputs: in})
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	got := waitAll(t, k, xs)
	for _, x := range got {
		if x.State != model.Completed || x.CacheHit || x.Version != 1 {
			t.Fatalf("variant run %+v", x)
		}
		if x.Outputs["final"] != "PARIS" || x.Variant == nil || len(x.Variant.Modules) != 1 {
			t.Fatalf("outputs %v, variant %+v", x.Outputs, x.Variant)
		}
		if u := x.Usage["signet/test"]; u.Calls != 1 {
			t.Fatalf("usage %+v: the whole program ran, not the variant", x.Usage)
		}
	}
	stored, err := st.GetExecution(ctx, xs[0].ID)
	if err != nil || stored.Variant == nil || stored.Variant.Note != "replay of module polish" {
		t.Fatalf("stored %+v %v", stored, err)
	}
	// A variant under another name, or an invalid one, is refused.
	bad := *replay
	bad.Name = "other"
	var fe *model.FieldError
	if _, err := k.Submit(ctx, Request{Program: "facts", Variant: &bad, Inputs: in}); !errors.As(err, &fe) || fe.Field != "variant.name" {
		t.Fatalf("renamed variant: %v", err)
	}
	bad = *replay
	bad.Modules = nil
	if _, err := k.Submit(ctx, Request{Program: "facts", Variant: &bad, Inputs: in}); !errors.As(err, &fe) {
		t.Fatalf("empty variant: %v", err)
	}
}
