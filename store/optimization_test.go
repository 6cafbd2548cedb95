package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func TestOptimizationsAndTrials(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var qaIDs []model.ID
	for i := range 12 {
		prog := "qa"
		if i%4 == 3 {
			prog = "rag"
		}
		o := &model.Optimization{
			Program: prog, BaseVersion: 1, Optimizer: "MIPROv2", State: model.Pending,
			Train:     model.DataRef{Dataset: "ds", Split: model.Train},
			Metric:    model.Metric{Name: "exact_match", Kind: model.MetricBuiltin},
			CreatedAt: base.Add(time.Duration(i) * time.Minute),
		}
		if err := s.PutOptimization(ctx, o); err != nil {
			t.Fatal(err)
		}
		if o.ID.IsZero() {
			t.Fatal("no ID assigned")
		}
		if prog == "qa" {
			qaIDs = append(qaIDs, o.ID)
		}
	}
	slices.Reverse(qaIDs)

	var got []model.ID
	for cursor := ""; ; {
		page, next, err := s.ListOptimizations(ctx, "qa", cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			got = append(got, o.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, qaIDs) {
		t.Fatalf("ListOptimizations(qa) = %v, want %v", got, qaIDs)
	}
	all, next, err := s.ListOptimizations(ctx, "", "", 0)
	if err != nil || len(all) != 12 || next != "" {
		t.Fatalf("all: %d, %q, %v", len(all), next, err)
	}

	// Update: state changes, and a program change moves the index entry.
	o, err := s.GetOptimization(ctx, qaIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Move(model.Running, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	o.Program = "rag"
	if err := s.PutOptimization(ctx, o); err != nil {
		t.Fatal(err)
	}
	rag, _, _ := s.ListOptimizations(ctx, "rag", "", 0)
	qa, _, _ := s.ListOptimizations(ctx, "qa", "", 0)
	// Newest first: rag's runs 11, then the moved qa run 10, then 7 and 3.
	if len(rag) != 4 || len(qa) != 8 || rag[1].ID != o.ID || rag[1].State != model.Running {
		t.Fatalf("after moving: rag %d qa %d", len(rag), len(qa))
	}
	if k := countKeys(t, s, []byte{keys.OptByProgram}); k != 12 {
		t.Fatalf("%d program index keys for 12 runs", k)
	}

	for _, n := range []int{2, 0, 1} {
		if err := s.PutTrial(ctx, &model.Trial{Optimization: o.ID, N: n, Score: float64(n) / 10, Instructions: map[string]string{"answer": "be brief"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Rewriting a trial replaces it.
	if err := s.PutTrial(ctx, &model.Trial{Optimization: o.ID, N: 1, Score: 0.9}); err != nil {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 3 || trials[0].N != 0 || trials[1].Score != 0.9 || trials[2].N != 2 || trials[0].At.IsZero() {
		t.Fatalf("trials = %+v", trials)
	}
	if other, err := s.Trials(ctx, qaIDs[1]); err != nil || len(other) != 0 {
		t.Fatalf("trials of another run: %v, %v", other, err)
	}
	missing := model.NewID()
	if err := s.PutTrial(ctx, &model.Trial{Optimization: missing}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trial of a missing run: %v", err)
	}
	if _, err := s.Trials(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trials of a missing run: %v", err)
	}
	if _, err := s.GetOptimization(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	if err := s.PutOptimization(ctx, &model.Optimization{Program: "qa", State: "bogus"}); err == nil {
		t.Fatal("bad state accepted")
	}
}

func TestOptimizationCostInRollups(t *testing.T) {
	ctx := context.Background()
	st := newMemStore(t)
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	o := &model.Optimization{Program: "qa", BaseVersion: 1, Optimizer: "mipro_v2", State: model.Running, CreatedAt: at, Cost: 0.25}
	if err := st.PutOptimization(ctx, o); err != nil {
		t.Fatal(err)
	}
	o.Cost = 0.75 // progress: the record is saved again with its cost so far
	if err := st.PutOptimization(ctx, o); err != nil {
		t.Fatal(err)
	}
	x := &model.Execution{Program: "qa", Version: 1, State: model.Pending, CreatedAt: at, Cost: 0.5}
	if err := st.PutExecution(ctx, x); err != nil {
		t.Fatal(err)
	}
	rs, err := st.CostRollups(ctx, "qa", "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || math.Abs(rs[0].Cost-1.25) > 1e-9 || rs[0].Executions != 1 {
		t.Fatalf("rollups %+v, want cost 1.25 over 1 execution", rs)
	}
}
