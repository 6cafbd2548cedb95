package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

func TestUsersAndTokens(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if err := s.CreateUser(ctx, &model.User{Name: "ann", Role: model.RoleMLUser, Credits: 1.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &model.User{Name: "ann", Role: model.RoleAdmin}); !errors.Is(err, ErrExists) {
		t.Fatalf("second ann: %v, want ErrExists", err)
	}
	if err := s.CreateUser(ctx, &model.User{Name: "bob", Role: "boss"}); err == nil {
		t.Fatal("unknown role accepted")
	}
	if err := s.CreateUser(ctx, &model.User{Name: "local", Role: model.RoleAdmin}); err == nil {
		t.Fatal("a user named local accepted")
	}
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing user: %v", err)
	}

	value, err := model.NewTokenValue()
	if err != nil {
		t.Fatal(err)
	}
	tok := &model.Token{User: "ann", Name: "ci", Hash: model.HashToken(value)}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, &model.Token{User: "nobody", Hash: model.HashToken("x")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of a missing user: %v", err)
	}
	got, err := s.TokenByHash(ctx, model.HashToken(value))
	if err != nil || got.ID != tok.ID || got.User != "ann" {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, model.HashToken(value+"x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	// The value is nowhere in the store, neither in a key nor a value.
	for k, v := range dump(t, s) {
		if strings.Contains(k, value) || strings.Contains(v, value) {
			t.Fatalf("the token's value is stored at %s", describeKey([]byte(k)))
		}
	}
	rev, err := s.RevokeToken(ctx, tok.ID)
	if err != nil || !rev.Revoked() {
		t.Fatalf("revoke: %+v, %v", rev, err)
	}
	got, err = s.TokenByHash(ctx, model.HashToken(value))
	if err != nil || !got.Revoked() {
		t.Fatalf("revoked token reads %+v, %v", got, err)
	}
	list, err := s.Tokens(ctx, "ann")
	if err != nil || len(list) != 1 {
		t.Fatalf("tokens: %v, %v", list, err)
	}

	u, err := s.SetCredits(ctx, "ann", CreditSub, 2)
	if err != nil || u.Credits != 0 {
		t.Fatalf("take more than left: %+v, %v", u, err)
	}
	if u, err = s.SetCredits(ctx, "ann", CreditAdd, 0.25); err != nil || u.Credits != 0.25 {
		t.Fatalf("add: %+v, %v", u, err)
	}
	if u, err = s.SetCredits(ctx, "ann", CreditSet, 3); err != nil || u.Credits != 3 {
		t.Fatalf("set: %+v, %v", u, err)
	}
	if rep, err := s.Verify(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

func TestAuditNewestFirst(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	for i := range 5 {
		if err := s.AppendAudit(ctx, &model.AuditRecord{Actor: "local", Action: "user.add", Target: fmt.Sprintf("user:u%d", i), Outcome: model.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.Audit(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Target != "user:u4" || recs[2].Target != "user:u2" {
		t.Fatalf("audit: %+v", recs)
	}
}

// An execution's cost is debited with its record, once however often the
// record is rewritten, and credits never go below 0 however many
// executions end at once.
func TestExecutionDebitsCredits(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if err := s.CreateUser(ctx, &model.User{Name: "ann", Role: model.RoleMLUser, Credits: 0.01}); err != nil {
		t.Fatal(err)
	}
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			e := &model.Execution{Program: "qa", State: model.Pending, User: "ann", Inputs: map[string]any{}}
			if err := s.PutExecution(ctx, e); err != nil {
				errs <- err
				return
			}
			old := *e
			e.State, e.Cost = model.Completed, 0.001
			if err := s.ReplaceExecution(ctx, &old, e, nil); err != nil {
				errs <- err
				return
			}
			// Written again unchanged (a recovery's rewrite): no charge.
			errs <- s.PutExecution(ctx, e)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.GetUser(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if u.Credits != 0 {
		t.Fatalf("credits %v after 32 runs of $0.001 on $0.01, want 0", u.Credits)
	}
	recs, err := s.Audit(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	clamped := 0
	for _, r := range recs {
		if r.Action == "debit" && r.Outcome == model.OutcomeClamped {
			clamped++
		}
	}
	if clamped != n-10 {
		t.Fatalf("%d clamped debits recorded, want %d", clamped, n-10)
	}
}

// Verify finds a token whose lookup by hash is gone.
func TestVerifyTokens(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if err := s.CreateUser(ctx, &model.User{Name: "ann", Role: model.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	tok := &model.Token{User: "ann", Hash: model.HashToken("sgt_x")}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(tokenHashKey(tok.Hash)) }); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Problem, "lookup by hash is missing") || !strings.Contains(rep.Problems[0].Key, "token "+tok.ID.String()) {
		t.Fatalf("verify: %+v", rep.Problems)
	}
}
