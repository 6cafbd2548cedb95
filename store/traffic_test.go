package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

func TestTrafficSplit(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if _, err := s.CreateProgram(ctx, qa("qa")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveProgram(ctx, qa("qa")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TrafficSplit(ctx, "qa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a split before any: %v", err)
	}
	sp := &model.TrafficSplit{Program: "qa", Arms: []model.Arm{{Version: 1, Percent: 90}, {Version: 2, Percent: 10}}, SetBy: "ann"}
	got, err := s.SetTrafficSplit(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	if got.SetAt.IsZero() {
		t.Error("no SetAt")
	}
	read, err := s.TrafficSplit(ctx, "qa")
	if err != nil || read.String() != "v1=90 v2=10" || read.SetBy != "ann" {
		t.Fatalf("read back %+v, %v", read, err)
	}
	// A version past the head, a program that does not exist, a bad sum.
	bad := []struct {
		sp   model.TrafficSplit
		want string
	}{
		{model.TrafficSplit{Program: "qa", Arms: []model.Arm{{Version: 1, Percent: 50}, {Version: 3, Percent: 50}}}, "v3: no such version (the newest is v2)"},
		{model.TrafficSplit{Program: "nope", Arms: []model.Arm{{Version: 1, Percent: 100}}}, "not found"},
		{model.TrafficSplit{Program: "qa", Arms: []model.Arm{{Version: 1, Percent: 60}}}, "sum to 60"},
	}
	for _, b := range bad {
		if _, err := s.SetTrafficSplit(ctx, &b.sp); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err = %v, want %q", b.sp.String(), err, b.want)
		}
	}
	if err := s.ClearTrafficSplit(ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearTrafficSplit(ctx, "qa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a second clear: %v", err)
	}
	// Deleting the program deletes its split: one made again starts clean.
	if _, err := s.SetTrafficSplit(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProgram(ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProgram(ctx, qa("qa")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TrafficSplit(ctx, "qa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the deleted program's split is still there: %v", err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestFeedback(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	at := time.Now()
	running := newExec("qa", model.Running, at)
	done := newExec("qa", model.Completed, at)
	done.Cost = 0.5
	for _, x := range []*model.Execution{running, done} {
		if err := s.PutExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.SetFeedback(ctx, running.ID, model.Feedback{Score: 1}); !errors.Is(err, ErrNotEnded) {
		t.Fatalf("feedback on a running execution: %v", err)
	}
	if _, _, err := s.SetFeedback(ctx, model.NewID(), model.Feedback{Score: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("feedback on no execution: %v", err)
	}
	x, prior, err := s.SetFeedback(ctx, done.ID, model.Feedback{Score: 0.25, Note: "meh", By: "ann"})
	if err != nil || prior != nil || x.Feedback.Score != 0.25 {
		t.Fatalf("first feedback: %+v %+v %v", x, prior, err)
	}
	x, prior, err = s.SetFeedback(ctx, done.ID, model.Feedback{Score: 0.75})
	if err != nil || prior == nil || prior.Note != "meh" || x.Feedback.Score != 0.75 {
		t.Fatalf("second feedback: %+v %+v %v", x, prior, err)
	}
	read, err := s.GetExecution(ctx, done.ID)
	if err != nil || read.Feedback == nil || read.Feedback.Score != 0.75 || read.Feedback.At.IsZero() || read.Cost != 0.5 {
		t.Fatalf("read back %+v, %v", read, err)
	}
	// The rollup still counts the execution's cost once.
	rows, err := s.CostRollups(ctx, "qa", "")
	if err != nil || len(rows) != 1 || rows[0].Cost != 0.5 || rows[0].Executions != 2 {
		t.Fatalf("rollups %+v %v", rows, err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
