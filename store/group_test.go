package store

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

// held makes the next group's leader wait on the rollup lock (it takes its
// batch, then blocks), and returns a channel told the queue's length as
// each request joins it and as a leader takes its group, and the function
// that lets the leader go.
func held(t *testing.T, s *Store) (<-chan int, func()) {
	t.Helper()
	queued := make(chan int, 64)
	s.group.mu.Lock()
	s.group.queued = func(n int) { queued <- n }
	s.group.mu.Unlock()
	s.rollups.Lock()
	return queued, s.rollups.Unlock
}

// put runs PutExecutionWithSpans on its own goroutine and returns its
// outcome's channel.
func put(s *Store, e *model.Execution, spans []model.Span) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.PutExecutionWithSpans(context.Background(), e, spans) }()
	return done
}

func TestPutsWaitingTogetherCommitAsOneGroup(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	queued, release := held(t, s)
	var waits []<-chan error
	var xs []*model.Execution
	const n = 6
	for i := range n {
		x := newExec("qa", model.Completed, at.Add(time.Duration(i)*time.Second))
		x.Cost, x.Usage = 0.002, map[string]model.Usage{"test": {Calls: 1, PromptTokens: 7}}
		xs = append(xs, x)
		waits = append(waits, put(s, x, []model.Span{{Seq: 1, ID: "root", Name: "qa", Start: at, End: at}}))
		if i == 0 {
			// The first leads: it joins, takes its own request and blocks.
			<-queued
			if got := <-queued; got != 0 {
				t.Fatalf("the leader left %d queued", got)
			}
			continue
		}
		if got := <-queued; got != i { // each other one waits behind it
			t.Fatalf("request %d: queue of %d", i, got)
		}
	}
	release()
	for i, w := range waits {
		if err := <-w; err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if g := s.group.groups.Load(); g != 2 {
		t.Errorf("%d groups committed, want 2: the leader's own, then the %d that waited", g, n-1)
	}
	for _, x := range xs {
		got, err := s.GetExecution(ctx, x.ID)
		if err != nil || got.State != model.Completed || got.Cost != 0.002 {
			t.Fatalf("%s: %+v %v", x.ID, got, err)
		}
		if sp, err := s.Spans(ctx, x.ID, 0, 0); err != nil || len(sp) != 1 || sp[0].Execution != x.ID {
			t.Fatalf("%s: spans %+v %v", x.ID, sp, err)
		}
	}
	rs, err := s.CostRollups(ctx, "qa", "2026-11")
	if err != nil || len(rs) != 1 || rs[0].Executions != n || rs[0].Usage.Calls != n || rs[0].Usage.PromptTokens != 7*n {
		t.Fatalf("rollups %+v %v, want %d executions of 1 call each", rs, err, n)
	}
}

// A request that fails in a group fails alone: the others are committed,
// and its error is its own.
func TestGroupWithABadRecordCommitsTheOthers(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	bad := newExec("qa", model.Running, at)
	if err := s.PutExecution(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(execKey(bad.ID), []byte("{not json")) }); err != nil {
		t.Fatal(err)
	}
	queued, release := held(t, s)
	first := put(s, newExec("qa", model.Pending, at.Add(time.Second)), nil)
	<-queued // it joins, then takes its own request and blocks
	<-queued
	var good []*model.Execution
	var waits []<-chan error
	for i := range 3 {
		x := newExec("qa", model.Pending, at.Add(time.Duration(i+2)*time.Second))
		good = append(good, x)
		waits = append(waits, put(s, x, nil))
		<-queued
	}
	bad.State = model.Completed
	badDone := put(s, bad, nil)
	<-queued
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	err := <-badDone
	if err == nil || !strings.Contains(err.Error(), bad.ID.String()) || !strings.Contains(err.Error(), "old record") {
		t.Fatalf("the bad record's put: %v, want an error naming it and its old record", err)
	}
	for i, w := range waits {
		if err := <-w; err != nil {
			t.Fatalf("good put %d in the bad one's group: %v", i, err)
		}
		if _, err := s.GetExecution(ctx, good[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.CountExecutions(ctx, ExecQuery{State: model.Pending}); err != nil || n != 4 {
		t.Fatalf("%d pending (%v), want 4", n, err)
	}
}

// The store keeps the rollups it committed, to skip reading them back: what
// a transaction moved counts only once it commits, and a failed one's moves
// are forgotten, in the store and in what it keeps.
func TestRollupMovesOfAFailedTransactionDoNotStick(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	put := func(i int) {
		t.Helper()
		x := newExec("qa", model.Completed, at.Add(time.Duration(i)*time.Second))
		x.Cost = 0.002
		if err := s.PutExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	boom := errors.New("boom")
	err := s.updateRollups(ctx, func(txn *badger.Txn) error {
		if err := s.addRollup(txn, rollupKey("qa", monthOf(at)), rollupRecord{Executions: 5, CostNanos: 7}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	put(1)
	rs, err := s.CostRollups(ctx, "qa", monthOf(at))
	if err != nil || len(rs) != 1 || rs[0].Executions != 2 || math.Abs(rs[0].Cost-0.004) > 1e-12 {
		t.Fatalf("rollups after a failed transaction: %+v %v", rs, err)
	}
}
