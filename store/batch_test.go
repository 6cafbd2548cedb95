package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

func TestCreateExecutionsIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	at := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	var batch []*model.Execution
	for i := range 300 {
		e := newExec([]string{"a", "b"}[i%2], model.Pending, at.Add(time.Duration(i)*time.Millisecond))
		if i == 7 {
			e.State, e.Cost = model.Completed, 0.25
		}
		batch = append(batch, e)
	}
	if err := s.CreateExecutions(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountExecutions(ctx, ExecQuery{Program: "b", State: model.Pending}); n != 149 {
		t.Fatalf("b pending: %d, want 149", n)
	}
	rs, err := s.CostRollups(ctx, "", "2026-11")
	if err != nil || len(rs) != 2 || rs[0].Executions != 150 || rs[1].Executions != 150 || rs[1].Cost != 0.25 {
		t.Fatalf("rollups %+v %v", rs, err)
	}

	// A batch with one execution that exists already writes none of its others.
	again := []*model.Execution{newExec("c", model.Pending, at), batch[3]}
	if err := s.CreateExecutions(ctx, again); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v, want ErrExists", err)
	}
	if n, _ := s.CountExecutions(ctx, ExecQuery{Program: "c"}); n != 0 {
		t.Fatalf("%d executions of c after a failed batch", n)
	}
	if rs, _ := s.CostRollups(ctx, "c", ""); len(rs) != 0 {
		t.Fatalf("rollup of c after a failed batch: %+v", rs)
	}
	if err := s.CreateExecutions(ctx, make([]*model.Execution, MaxExecutionBatch+1)); err == nil {
		t.Fatal("an over-long batch was accepted")
	}
}
