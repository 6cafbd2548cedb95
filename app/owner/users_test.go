package owner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// as is ctx as a request of user name, as an authenticating face sets it.
func as(t *testing.T, o *Owner, token string) context.Context {
	t.Helper()
	p, err := o.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return app.WithPrincipal(context.Background(), p)
}

// addUser adds a user and returns one token's value for it.
func addUser(t *testing.T, o *Owner, name string, role model.Role, credits float64) string {
	t.Helper()
	ctx := context.Background()
	if _, err := o.AddUser(ctx, model.User{Name: name, Role: role, Credits: credits}); err != nil {
		t.Fatal(err)
	}
	tok, err := o.CreateToken(ctx, name, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

func TestAuthenticate(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	ctx := context.Background()
	value := addUser(t, o, "ann", model.RoleMLUser, 1)
	p, err := o.Authenticate(ctx, value)
	if err != nil || p.Name != "ann" || p.Role != model.RoleMLUser || p.Local {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	for _, bad := range []string{"", "sgt_nope", value + "x", strings.TrimPrefix(value, model.TokenPrefix)} {
		if _, err := o.Authenticate(ctx, bad); !errors.Is(err, app.ErrUnauthenticated) {
			t.Errorf("token %q: %v, want unauthenticated", bad, err)
		}
	}
	d, err := o.User(ctx, "ann")
	if err != nil || len(d.Tokens) != 1 {
		t.Fatalf("user: %+v, %v", d, err)
	}
	if _, err := o.RevokeToken(ctx, d.Tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Authenticate(ctx, value); !errors.Is(err, app.ErrUnauthenticated) {
		t.Fatalf("revoked token: %v, want unauthenticated", err)
	}
}

// The policy as the owner applies it: each rule's allow and deny, without
// workers (every refusal comes before one is needed).
func TestPolicies(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	createPrograms(t, o, runsQA)
	user := as(t, o, addUser(t, o, "ann", model.RoleMLUser, 1))
	broke := as(t, o, addUser(t, o, "bob", model.RoleMLUser, 0))
	eng := as(t, o, addUser(t, o, "eve", model.RoleMLEngineer, 0))
	admin := as(t, o, addUser(t, o, "ada", model.RoleAdmin, 0))
	run := app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "Is Paris big?"}}

	// execute: an ml_user only on a program in production; an ml_engineer never.
	if _, err := o.Run(user, run); !errors.Is(err, app.ErrForbidden) || !strings.Contains(err.Error(), "production") {
		t.Fatalf("ml_user runs a draft: %v, want forbidden naming production", err)
	}
	if _, err := o.Run(eng, run); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("ml_engineer runs: %v, want forbidden", err)
	}
	if _, err := o.SetProgramStatus(context.Background(), "qa", model.Production, ""); err != nil {
		t.Fatal(err)
	}
	variant := run
	variant.Variant = &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer, reason"}}}
	if _, err := o.Run(user, variant); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("ml_user runs a variant of a production program: %v, want forbidden", err)
	}
	if _, err := o.Run(broke, run); !errors.Is(err, app.ErrPaymentRequired) {
		t.Fatalf("ml_user without credits runs: %v, want payment_required", err)
	}
	// compile: ml_engineer (and admin), not ml_user.
	opt := app.OptimizeRequest{Program: "qa", Optimizer: "bootstrap", Train: model.DataRef{Dataset: "none"}}
	if _, err := o.Optimize(user, opt); !errors.Is(err, app.ErrForbidden) || !strings.Contains(err.Error(), "compile") {
		t.Fatalf("ml_user compiles: %v, want forbidden naming compile", err)
	}
	if _, err := o.Optimize(eng, opt); errors.Is(err, app.ErrForbidden) {
		t.Fatalf("ml_engineer compiles: %v", err)
	}
	// manage: admin only; a user reads its own record.
	for name, ctx := range map[string]context.Context{"ml_user": user, "ml_engineer": eng} {
		if _, err := o.AddUser(ctx, model.User{Name: "mal", Role: model.RoleAdmin}); !errors.Is(err, app.ErrForbidden) {
			t.Errorf("%s adds a user: %v, want forbidden", name, err)
		}
		if _, err := o.CreateToken(ctx, "ada", ""); !errors.Is(err, app.ErrForbidden) {
			t.Errorf("%s makes a token: %v, want forbidden", name, err)
		}
		if _, err := o.Audit(ctx, 0); !errors.Is(err, app.ErrForbidden) {
			t.Errorf("%s reads the audit trail: %v, want forbidden", name, err)
		}
	}
	if _, err := o.User(user, "ann"); err != nil {
		t.Fatalf("ann reads her own user: %v", err)
	}
	if _, err := o.User(user, "ada"); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("ann reads ada: %v, want forbidden", err)
	}
	if _, err := o.AddUser(admin, model.User{Name: "fay", Role: model.RoleMLUser}); err != nil {
		t.Fatalf("admin adds a user: %v", err)
	}
	if _, err := o.SetCredits(admin, "bob", "+", 1); err != nil {
		t.Fatalf("admin sets credits: %v", err)
	}

	// Every refusal is in the audit trail, with the rule.
	recs, err := o.Audit(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	denied := map[string]int{}
	for _, r := range recs {
		if r.Outcome == model.OutcomeDenied {
			denied[r.Actor]++
			if !strings.Contains(r.Detail, "rule") && !strings.Contains(r.Detail, "payment required") {
				t.Errorf("a refusal names no rule: %+v", r)
			}
		}
	}
	if denied["ann"] != 7 || denied["eve"] != 4 || denied["bob"] != 1 {
		t.Fatalf("refusals by actor %v, want ann 7, eve 4, bob 1", denied)
	}
}

// An ml_user's executions record the user and are debited their cost with
// their final record; 32 at once on credits for fewer never take credits
// below 0, and once they are 0 the next run is refused before any LM call.
func TestCreditsUnderConcurrency(t *testing.T) {
	o := openProductionQA(t)
	ctx := context.Background()
	// What one run costs, run by the local user (who pays nothing).
	probe, err := o.Run(ctx, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "Is Oslo cold?"}, Wait: true})
	if err != nil || probe.State != model.Completed || probe.Cost <= 0 || probe.User != "" {
		t.Fatalf("probe: %+v, %v", probe, err)
	}
	const n = 32
	credits := 5.5 * probe.Cost
	user := as(t, o, addUser(t, o, "ann", model.RoleMLUser, credits))

	var wg sync.WaitGroup
	xs := make([]*model.Execution, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Each question differs, so that none is answered from the
			// execution cache (which costs nothing); all cost the same.
			q := fmt.Sprintf("Is Oslo cold? %c", 'A'+i)
			xs[i], errs[i] = o.Run(user, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": q}, Wait: true})
		})
	}
	wg.Wait()
	var spent float64
	ran := 0
	for i := range n {
		if errs[i] != nil {
			if !errors.Is(errs[i], app.ErrPaymentRequired) {
				t.Fatalf("run %d: %v", i, errs[i])
			}
			continue
		}
		if xs[i].User != "ann" || xs[i].State != model.Completed {
			t.Fatalf("run %d: %+v", i, xs[i])
		}
		ran++
		spent += xs[i].Cost
	}
	u, err := o.User(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if u.Credits != 0 {
		t.Fatalf("credits $%v after %d runs costing $%v on $%v, want 0", u.Credits, ran, spent, credits)
	}
	if ran < 6 {
		t.Fatalf("only %d runs went through on credits for 5.5", ran)
	}
	// Those that could not be paid in full are recorded.
	recs, err := o.Audit(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	clamped := 0
	for _, r := range recs {
		if r.Action == "debit" && r.Outcome == model.OutcomeClamped && r.Actor == "ann" {
			clamped++
		}
	}
	if clamped != ran-5 {
		t.Fatalf("%d clamped debits recorded for %d runs on credits for 5.5, want %d", clamped, ran, ran-5)
	}
	// At 0: refused before anything is created or called.
	before, err := o.ListExecutions(ctx, app.ExecutionQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Run(user, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "Is Oslo far?"}, Wait: true}); !errors.Is(err, app.ErrPaymentRequired) {
		t.Fatalf("run at 0 credits: %v, want payment_required", err)
	}
	after, err := o.ListExecutions(ctx, app.ExecutionQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Executions) != len(before.Executions) {
		t.Fatalf("a refused run created an execution: %d → %d", len(before.Executions), len(after.Executions))
	}
	// ann lists and reads her own executions, not the local user's.
	page, err := o.ListExecutions(user, app.ExecutionQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Executions) != ran {
		t.Fatalf("ann lists %d executions, want her %d", len(page.Executions), ran)
	}
	for _, x := range page.Executions {
		if x.User != "ann" {
			t.Fatalf("ann lists %+v", x)
		}
	}
	var mine model.ID
	for _, x := range xs {
		if x != nil {
			mine = x.ID
		}
	}
	if _, err := o.Execution(user, mine); err != nil {
		t.Fatalf("ann reads her execution: %v", err)
	}
	if _, err := o.Execution(user, probe.ID); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("ann reads the local user's execution: %v, want forbidden", err)
	}
	if _, err := o.Spans(user, probe.ID, 0, 0); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("ann reads the local user's trace: %v, want forbidden", err)
	}
}

// Failed authentications reach the audit trail at most once a second per
// client address, the next record counting those left out; never with
// the token's value.
func TestAuthFailuresAudited(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o.authFails.now = func() time.Time { return clock }
	from := func(addr string) context.Context { return app.WithRemote(context.Background(), addr) }
	bad := model.TokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for range 50 {
		if _, err := o.Authenticate(from("10.0.0.1"), bad); !errors.Is(err, app.ErrUnauthenticated) {
			t.Fatalf("bad token: %v", err)
		}
	}
	o.Authenticate(from("10.0.0.2"), "")     // another client: its own record
	clock = clock.Add(time.Second)           // the next second
	o.Authenticate(from("10.0.0.1"), "nope") // one record, counting the 49 left out
	recs, err := o.Audit(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Actor != Anonymous || r.Action != "authenticate" || r.Outcome != model.OutcomeDenied {
			t.Errorf("record %+v", r)
		}
		if strings.Contains(r.Detail, bad) {
			t.Errorf("the token's value is in the audit trail: %+v", r)
		}
		got = append(got, r.Detail)
	}
	want := []string{
		"the token is unknown or revoked; from 10.0.0.1 (and 49 more failures from there since the last record)",
		"no token (want the header Authorization: Bearer <token>); from 10.0.0.2",
		"the token is unknown or revoked; from 10.0.0.1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit records, newest first:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A user's event stream carries its own executions and the shared
// records' names, never another user's executions, their spans or the
// pool.
func TestSubscribeOwnEventsOnly(t *testing.T) {
	o := openProductionQA(t)
	ann := as(t, o, addUser(t, o, "ann", model.RoleMLUser, 10))
	bob := as(t, o, addUser(t, o, "bob", model.RoleMLUser, 10))
	ctx, cancel := context.WithCancel(bob)
	defer cancel()
	evs, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := o.Run(ann, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "Is Lima far?"}, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	mine, err := o.Run(bob, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "Is Quito high?"}, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	// One kernel stream, in order: ann's run's events came before bob's
	// run ended; the pool's line is the first a stream is sent.
	for ev := range evs {
		switch {
		case ev.Kind == app.EventExecution && ev.Execution.ID == mine.ID:
			if ev.Execution.State == model.Completed {
				return
			}
		case ev.Kind == app.EventSpan && ev.Span.Execution == mine.ID:
		case ev.Kind == app.EventProgram:
		default:
			t.Fatalf("bob's stream carries %s (of %s's execution %s?): %+v", ev.Kind, theirs.User, theirs.ID, ev)
		}
	}
	t.Fatal("the stream ended")
}
