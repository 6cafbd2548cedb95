package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func TestEvaluationsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var qaIDs []model.ID
	for i := range 7 {
		prog := "qa"
		if i%3 == 2 {
			prog = "rag"
		}
		v := &model.Evaluation{Program: prog, Version: 1, Data: model.DataRef{Dataset: "caps", Split: model.Validation},
			Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}, State: model.Pending, Total: 3,
			Labels:    model.Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}},
			CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.PutEvaluation(ctx, v); err != nil {
			t.Fatal(err)
		}
		if v.ID.IsZero() {
			t.Fatal("no ID assigned")
		}
		if prog == "qa" {
			qaIDs = append(qaIDs, v.ID)
		}
	}
	slices.Reverse(qaIDs)
	var got []model.ID
	for cursor := ""; ; {
		page, next, err := s.ListEvaluations(ctx, "qa", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page {
			got = append(got, v.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, qaIDs) {
		t.Fatalf("ListEvaluations(qa) = %v, want %v (newest first)", got, qaIDs)
	}
	if all, _, err := s.ListEvaluations(ctx, "", "", 0); err != nil || len(all) != 7 {
		t.Fatalf("all: %d, %v", len(all), err)
	}

	// Each ended example is written with the evaluation that counts it.
	v, err := s.GetEvaluation(ctx, qaIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Move(model.Running, base); err != nil {
		t.Fatal(err)
	}
	results := []*model.EvalResult{
		{Index: 0, Example: model.NewID(), Execution: model.NewID(), State: model.Completed, Inputs: map[string]any{"question": "q0"},
			Outputs: map[string]any{"answer": "a"}, Expected: map[string]any{"answer": "a"}, Score: 1, Cost: 0.25,
			Usage: map[string]model.Usage{"m": {Calls: 1, PromptTokens: 10, CompletionTokens: 2}}},
		{Index: 2, Example: model.NewID(), Execution: model.NewID(), State: model.Failed, Inputs: map[string]any{"question": "q2"},
			Expected: map[string]any{"answer": "c"}, Cost: 0.5, ErrorCode: "lm_unavailable", Error: "down"},
		{Index: 1, Example: model.NewID(), Execution: model.NewID(), State: model.Completed, Inputs: map[string]any{"question": "q1"},
			Outputs: map[string]any{"answer": "x"}, Expected: map[string]any{"answer": "b"}, Score: 0},
	}
	for _, r := range results {
		v.Add(r)
		if err := s.RecordEvalResult(ctx, v, r); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := s.GetEvaluation(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.N != 3 || stored.Failures != 1 || stored.Sum != 1 || stored.Score != 1.0/3 || stored.Cost != 0.75 ||
		stored.Usage["m"].Calls != 1 || stored.State != model.Running || !reflect.DeepEqual(stored.Labels, v.Labels) {
		t.Fatalf("stored evaluation %+v", stored)
	}
	all, err := s.EvalResults(ctx, v.ID, 0, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("results %d %v", len(all), err)
	}
	for i, r := range all {
		if r.Index != i || r.Evaluation != v.ID {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if all[2].ErrorCode != "lm_unavailable" || all[0].Usage["m"].PromptTokens != 10 || all[1].Outputs["answer"] != "x" {
		t.Errorf("results did not round-trip: %+v %+v %+v", all[0], all[1], all[2])
	}
	page, err := s.EvalResults(ctx, v.ID, 1, 1)
	if err != nil || len(page) != 1 || page[0].Index != 1 {
		t.Fatalf("page from 1: %+v %v", page, err)
	}
	// A zero score is written, never left out.
	b, err := json.Marshal(all[1])
	if err != nil || !strings.Contains(string(b), `"score":0`) {
		t.Errorf("zero score JSON: %s %v", b, err)
	}
	if b, _ := json.Marshal(&model.Evaluation{}); !strings.Contains(string(b), `"score":0`) {
		t.Errorf("evaluation JSON: %s", b)
	}

	// The cost is the executions': an evaluation never touches the rollups.
	if rs, err := s.CostRollups(ctx, "", ""); err != nil || len(rs) != 0 {
		t.Errorf("rollups %+v %v", rs, err)
	}
	if _, err := s.EvalResults(ctx, model.NewID(), 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("results of an unknown evaluation: %v", err)
	}
	if _, err := s.GetEvaluation(ctx, model.NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown evaluation: %v", err)
	}
	if err := s.PutEvaluation(ctx, &model.Evaluation{Program: "bad name!", State: model.Pending}); err == nil {
		t.Error("a bad program name was accepted")
	}
	if k := countKeys(t, s, []byte{keys.EvalByProgram}); k != 7 {
		t.Errorf("%d program index keys, want 7", k)
	}
}
