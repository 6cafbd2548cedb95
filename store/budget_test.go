package store

import (
	"context"
	"maps"
	"math"
	"testing"
)

func TestBudgets(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if b, err := s.Budgets(ctx); err != nil || len(b) != 0 {
		t.Fatalf("no budgets: %v %v", b, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetBudget(ctx, "", 50))
	must(s.SetBudget(ctx, "qa", 2))
	must(s.SetBudget(ctx, "q", 0))
	must(s.SetBudget(ctx, "qa", 2.5)) // replaces
	want := map[string]float64{"": 50, "qa": 2.5, "q": 0}
	if b, err := s.Budgets(ctx); err != nil || !maps.Equal(b, want) {
		t.Fatalf("budgets %v %v, want %v", b, err, want)
	}
	if b, _ := s.Budgets(ctx); b != nil {
		b["qa"] = 99 // a caller's copy: the next reader still sees the store's caps
	}
	if b, _ := s.Budgets(ctx); !maps.Equal(b, want) {
		t.Fatalf("budgets after a caller changed its copy %v, want %v", b, want)
	}
	must(s.ClearBudget(ctx, "qa"))
	must(s.ClearBudget(ctx, "never-set"))
	delete(want, "qa")
	if b, _ := s.Budgets(ctx); !maps.Equal(b, want) {
		t.Fatalf("after clear %v, want %v", b, want)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := s.SetBudget(ctx, "qa", bad); err == nil {
			t.Errorf("cap %v accepted", bad)
		}
	}
	if err := s.SetBudget(ctx, "no spaces", 1); err == nil {
		t.Error("invalid program name accepted")
	}
}
