package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// pricedKernel is a kernel at concurrency 8 on real workers with a priced,
// slowed test LM, and what one run of qa cost there: what the next are
// expected to cost.
func pricedKernel(t *testing.T) (*Kernel, *store.Store, float64) {
	t.Helper()
	st := openStore(t, "", qa)
	lms := testLMs{"test": {Model: "signet/test", PriceIn: 3, PriceOut: 15, Kwargs: map[string]any{"sleep_ms": 50}}}
	k, _ := startKernel(t, Options{Store: st, Pool: startPool(t, 2, 4), LMs: lms, Concurrency: 8, CacheTTL: -1})
	first, err := k.Submit(context.Background(), Request{Program: "qa", Inputs: question(0)})
	if err != nil {
		t.Fatal(err)
	}
	one := waitAll(t, k, []*model.Execution{first})[0].Cost
	if one <= 0 {
		t.Fatalf("a priced run cost %v", one)
	}
	return k, st, one
}

// TestCapHoldsWithManyInFlight: 32 executions at concurrency 8 against a
// program's cap, on real workers with a priced test LM. Each call reserves
// its estimate (the program's recent cost per run) before it starts, so
// the calls in flight cannot together overspend: the month ends within the
// cap plus one call's cost, and the runs refused at dispatch fail with code
// budget, having made no call.
func TestCapHoldsWithManyInFlight(t *testing.T) {
	ctx := context.Background()
	k, st, one := pricedKernel(t)
	capUSD := one + 4.5*one
	if err := st.SetBudget(ctx, "qa", capUSD); err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	for i := range 32 {
		reqs = append(reqs, Request{Program: "qa", Inputs: question(100 + i), Batch: "many"})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	completed, refused := 0, 0
	for _, x := range waitAll(t, k, xs) {
		switch {
		case x.State == model.Completed:
			completed++
		case x.ErrorCode == CodeBudget && x.Attempts == 0 && x.Cost == 0:
			refused++
			if !strings.Contains(x.Error, "reserved by the jobs in flight") && !strings.Contains(x.Error, "this run is estimated at") {
				t.Errorf("refusal says %q", x.Error)
			}
		default:
			t.Fatalf("%+v", x)
		}
	}
	spent, err := spentIn(ctx, st, "qa", time.Now().UTC().Format("2006-01"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cap $%.6f, one run $%.6f: %d completed, %d refused, spent $%.6f", capUSD, one, completed, refused, spent)
	if spent > capUSD+one {
		t.Fatalf("spent $%.6f over a cap of $%.6f (one call: $%.6f)", spent, capUSD, one)
	}
	if completed == 0 || refused == 0 || completed+refused != 32 {
		t.Fatalf("%d completed, %d refused", completed, refused)
	}
}

// TestCreditsHoldWithManyInFlight: 32 executions of one user at concurrency
// 8, the user's credits covering about five. Credits are checked when a run
// is admitted, and each run and each of its calls hold their estimate
// against them while in flight, as against a cap: the user is charged at
// most the credits plus one call's cost, the credits never go below 0, and
// the runs refused fail with code budget, having made no call. Before, all
// 32 ran and the debits were clamped at 0: spent far beyond the credits.
func TestCreditsHoldWithManyInFlight(t *testing.T) {
	ctx := context.Background()
	k, st, one := pricedKernel(t)
	credits := one + 4.5*one
	if err := st.CreateUser(ctx, &model.User{Name: "ann", Role: model.RoleMLUser, Credits: credits}); err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	for i := range 32 {
		reqs = append(reqs, Request{Program: "qa", Inputs: question(100 + i), Batch: "many", User: "ann"})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	completed, refused, charged := 0, 0, 0.0
	for _, x := range waitAll(t, k, xs) {
		charged += x.Cost
		switch {
		case x.State == model.Completed:
			completed++
		case x.ErrorCode == CodeBudget && x.Cost == 0:
			refused++
			if !strings.Contains(x.Error, "payment required: user ann has $") {
				t.Errorf("refusal says %q", x.Error)
			}
		default:
			t.Fatalf("%+v", x)
		}
	}
	u, err := st.GetUser(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("credits $%.6f, one run $%.6f: %d completed, %d refused, charged $%.6f, left $%.6f", credits, one, completed, refused, charged, u.Credits)
	if charged > credits+one {
		t.Fatalf("charged $%.6f on credits of $%.6f (one call: $%.6f)", charged, credits, one)
	}
	if u.Credits < 0 || u.Credits > credits-charged+1e-12 && u.Credits != 0 {
		t.Fatalf("credits left $%v after $%v charged on $%v", u.Credits, charged, credits)
	}
	if completed == 0 || refused == 0 || completed+refused != 32 {
		t.Fatalf("%d completed, %d refused", completed, refused)
	}
	// With nothing in flight and credits left short of a run's estimate,
	// a submission is refused before anything is stored.
	if u.Credits < one {
		if _, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(999), User: "ann"}); err == nil {
			t.Fatalf("a run estimated at $%v admitted on $%v of credits", one, u.Credits)
		} else if be, ok := isBudget(err); !ok || be.Scope != ScopeUser {
			t.Fatalf("submission on spent credits: %v", err)
		}
	}
}

// TestEndedRunHoldsNothing: a run that has left the kernel holds nothing
// against the caps, so a submission made as soon as Wait has its outcome is
// weighed against what was spent only. The reservation used to be released
// after the job left, and a submission made in between was refused for a
// run that had ended (TestCapHoldsWithManyInFlight failed in CI on it). A
// watcher checks, under the kernel's lock, that no reservation is held
// while the kernel holds no job.
func TestEndedRunHoldsNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	if err := st.SetBudget(ctx, "qa", 100); err != nil {
		t.Fatal(err)
	}
	lms := testLMs{"test": {Model: "signet/test", PriceIn: 3, PriceOut: 15}}
	k, _ := startKernel(t, Options{Store: st, Pool: startPool(t, 1, 1), LMs: lms, CacheTTL: -1})
	stop := make(chan struct{})
	seen := make(chan int, 1)
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			default:
			}
			k.mu.Lock()
			k.gate.mu.Lock()
			jobs, held := len(k.jobs), len(k.gate.held)
			k.gate.mu.Unlock()
			k.mu.Unlock()
			if jobs == 0 && held > 0 {
				seen <- held
				return
			}
		}
	}()
	for i := range 20 {
		x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(i)})
		if err != nil {
			t.Fatal(err)
		}
		if got := waitAll(t, k, []*model.Execution{x})[0]; got.State != model.Completed {
			t.Fatalf("run %d: %+v", i, got)
		}
	}
	close(stop)
	if held, ok := <-seen; ok {
		t.Fatalf("the kernel held no job while %d reservation(s) were held", held)
	}
}

// TestGateReservesAndSettles: a reservation counts against the caps while
// it is held, with what the month spent; settling it frees it. A cap is
// reached by what is held as by what is spent; the workspace's cap counts
// every program's reservations.
func TestGateReservesAndSettles(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa, facts)
	g := &gate{st: st, now: time.Now, hist: map[string][]float64{}}
	if err := st.SetBudget(ctx, "qa", 1); err != nil {
		t.Fatal(err)
	}
	if err := st.SetBudget(ctx, "", 1.5); err != nil {
		t.Fatal(err)
	}
	a, err := g.reserve(ctx, "run", "qa", "", 0.6)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.reserve(ctx, "run", "qa", "", 0.6)
	be, ok := isBudget(err)
	if !ok || be.Scope != ScopeProgram || be.Reserved != 0.6 || be.Estimate != 0.6 {
		t.Fatalf("second reservation over qa's cap: %v", err)
	}
	b, err := g.reserve(ctx, "run", "facts", "", 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.reserve(ctx, "run", "facts", "", 0.2); err == nil {
		t.Fatal("the workspace's cap held with $1.4 reserved and $0.2 asked: 1.6 > 1.5")
	} else if be, _ := isBudget(err); be == nil || be.Scope != ScopeWorkspace {
		t.Fatalf("over the workspace's cap: %v", err)
	}
	if left, capped, err := g.left(ctx, "qa", a); err != nil || !capped || left < 0.69 || left > 0.71 {
		t.Fatalf("left for a's job: %v %v %v (the workspace's 1.5 less b's 0.8)", left, capped, err)
	}
	g.settle(a)
	g.settle(b)
	if _, err := g.reserve(ctx, "run", "qa", "", 0.9); err != nil {
		t.Fatalf("after settling: %v", err)
	}
}

// TestRunEstimate: a program's first run is estimated from its LM's prices
// for a typical prompt per call; once it has run, from what its runs cost.
func TestRunEstimate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", facts)
	g := &gate{st: st, now: time.Now, hist: map[string][]float64{}}
	spec := bridge.LMSpec{Model: "m", PriceIn: 1, PriceOut: 2}
	want := 3 * (callTokensIn*1.0 + callTokensOut*2.0) / 1e6 // three modules, one call each
	if got := g.runEstimate(ctx, facts, "p", spec); got != want {
		t.Fatalf("first estimate %v, want %v", got, want)
	}
	if got := g.runEstimate(ctx, facts, "free", bridge.LMSpec{Free: true}); got != 0 {
		t.Fatalf("a free profile: %v", got)
	}
	for _, c := range []float64{0.01, 0.03} {
		x := &model.Execution{Program: "facts", Version: 1, LM: "p", State: model.Completed, Attempts: 1, Cost: c}
		g.observe(x)
	}
	if got := g.runEstimate(ctx, facts, "p", spec); got != 0.02 {
		t.Fatalf("estimate from two runs: %v", got)
	}
	// A new gate reads the same history from the store.
	for _, c := range []float64{0.01, 0.03} {
		x := &model.Execution{Program: "facts", Version: 1, LM: "p", State: model.Completed, Attempts: 1, Cost: c}
		if err := st.PutExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	fresh := &gate{st: st, now: time.Now, hist: map[string][]float64{}}
	if got := fresh.runEstimate(ctx, facts, "p", spec); got != 0.02 {
		t.Fatalf("estimate from the stored runs: %v", got)
	}
}

// TestCallReservations: each LM call of a job holds its estimate with the
// job's reservation until it settles at its real cost; the cost stays held
// until the job's record carries it; an unknown cost keeps the estimate; a
// job holds at least its floor; a refused call names itself.
func TestCallReservations(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	g := &gate{st: st, now: time.Now, hist: map[string][]float64{}}
	if err := st.SetBudget(ctx, "", 1); err != nil {
		t.Fatal(err)
	}
	a, err := g.reserve(ctx, "run", "qa", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.reserve(ctx, "run", "qa", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.reserveCall(ctx, a, "a1", 0.6); err != nil {
		t.Fatal(err)
	}
	err = g.reserveCall(ctx, b, "b1", 0.5)
	if be, ok := isBudget(err); !ok || be.Job != jobCall || be.Reserved != 0.6 || be.Estimate != 0.5 ||
		!strings.Contains(err.Error(), "this LM call is estimated at $0.5000") {
		t.Fatalf("a call over the cap with 0.6 in flight: %v", err)
	}
	g.settleCall(a, "a1", 0.3, true)
	if got := a.amount(0, false); got != 0.3 {
		t.Fatalf("a settled call holds its cost until the record carries it: %v", got)
	}
	if err := g.reserveCall(ctx, b, "b1", 0.5); err != nil {
		t.Fatalf("0.3 spent in flight, 0.5 asked of 1: %v", err)
	}
	g.settleCall(b, "b1", 0, false)
	if got := b.amount(0, false); got != 0.5 {
		t.Fatalf("a call of unknown cost keeps its estimate: %v", got)
	}
	g.settleCall(b, "b1", 0.1, true) // settled once only
	if got := b.amount(0, false); got != 0.5 {
		t.Fatalf("a second settle moved it: %v", got)
	}
	// An optimization's progress stored: the rollup counts 0.2 of a's calls, and it holds at least its floor.
	g.hold(a, 0.05, 0.2)
	if got := a.amount(0, false); got < 0.0999 || got > 0.1001 {
		t.Fatalf("held after 0.2 of 0.3 written: %v", got)
	}
	g.hold(a, 0.4, 0.2)
	if got := a.amount(0, false); got != 0.4 {
		t.Fatalf("held with a floor of 0.4: %v", got)
	}
	err = g.reserveCall(ctx, b, "b2", 0.2)
	if _, ok := isBudget(err); !ok {
		t.Fatalf("0.4 + 0.5 held, 0.2 asked of 1: %v", err)
	}
	g.settle(a)
	g.settle(b)
	if len(g.held) != 0 {
		t.Fatalf("held after settling: %v", g.held)
	}
}

// TestCallsHoldTheCapUnderConcurrency: 32 jobs in flight at once, each
// making its LM calls in lockstep with the others (every call admitted
// while all the others are in flight), each call costing twice its
// estimate. The month ends at most one call's cost per slot above the cap,
// and the refusals once it is passed report the overshoot.
func TestCallsHoldTheCapUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	g := &gate{st: st, now: time.Now, hist: map[string][]float64{}}
	const (
		capUSD = 5.0
		slots  = 32
		est    = 0.05
		cost   = 2 * est // what a call really costs: its estimate was low
		calls  = 3       // LM calls per job
	)
	if err := st.SetBudget(ctx, "", capUSD); err != nil {
		t.Fatal(err)
	}
	type slot struct {
		r       *reservation
		made    int
		spent   float64
		stopped bool
		called  bool
	}
	ss := make([]*slot, slots)
	for i := range ss {
		ss[i] = &slot{}
	}
	var refusals []string
	var mu sync.Mutex
	round := func(step func(i int, s *slot)) {
		var wg sync.WaitGroup
		for i, s := range ss {
			if !s.stopped {
				wg.Go(func() { step(i, s) })
			}
		}
		wg.Wait()
	}
	admitted := 0
	for n := 0; ; n++ {
		// Every slot reserves its next call at once (a new job first when needed).
		round(func(i int, s *slot) {
			s.called = false
			if s.r == nil {
				r, err := g.reserve(ctx, "run", "qa", "", 0)
				if err != nil {
					s.stopped = true
					return
				}
				s.r = r
			}
			err := g.reserveCall(ctx, s.r, fmt.Sprintf("%d-%d", i, n), est)
			if err != nil {
				mu.Lock()
				refusals = append(refusals, err.Error())
				mu.Unlock()
				s.stopped = true
			}
			s.called = err == nil
		})
		// ... then every admitted call ends, and a job with all its calls made writes its record.
		live := 0
		round(func(i int, s *slot) {
			if !s.called {
				return
			}
			mu.Lock()
			admitted++
			mu.Unlock()
			g.settleCall(s.r, fmt.Sprintf("%d-%d", i, n), cost, true)
			s.made++
			s.spent += cost
		})
		for _, s := range ss {
			if s.r != nil && (s.made == calls || s.stopped) {
				// A refused job's record carries the calls it made, as a failed execution's does.
				x := &model.Execution{Program: "qa", Version: 1, LM: "test", State: model.Completed, Attempts: 1,
					Cost: s.spent, CreatedAt: time.Now()}
				if s.stopped {
					x.State = model.Failed
				}
				if err := st.PutExecution(ctx, x); err != nil {
					t.Fatal(err)
				}
				g.settle(s.r)
				s.r, s.made, s.spent = nil, 0, 0
			}
			if !s.stopped {
				live++
			}
		}
		if live == 0 {
			break
		}
	}
	spent, err := spentIn(ctx, st, "", time.Now().UTC().Format("2006-01"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cap $%.2f, %d slots, calls estimated at $%.2f cost $%.2f: %d admitted, spent $%.2f", capUSD, slots, est, cost, admitted, spent)
	if spent > capUSD+slots*cost+1e-9 {
		t.Fatalf("spent $%.2f: more than one call per slot over the $%.2f cap", spent, capUSD)
	}
	if spent < capUSD-cost {
		t.Fatalf("spent $%.2f: the gate refused calls the cap had room for", spent)
	}
	if len(g.held) != 0 {
		t.Fatalf("held after every job ended: %d", len(g.held))
	}
	// Past the cap, a refusal says by how much and why.
	_, err = g.reserve(ctx, "run", "qa", "", 0)
	be, ok := isBudget(err)
	if !ok || be.Spent <= capUSD || !strings.Contains(err.Error(), "over, from LM calls already in flight") {
		t.Fatalf("a refusal past the cap: %v", err)
	}
	if len(refusals) != slots {
		t.Fatalf("%d refusals, one per slot expected", len(refusals))
	}
}

// TestCappedByCredits: a job for a user who is held to credits reserves
// its LM calls one by one even without a cap; the local user's and an
// admin's do not (admins are not held to credits), unless a cap applies.
func TestCappedByCredits(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	g := &gate{st: st, now: time.Now, hist: map[string][]float64{}}
	for _, u := range []*model.User{{Name: "ann", Role: model.RoleMLUser, Credits: 1}, {Name: "ada", Role: model.RoleAdmin}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for user, want := range map[string]bool{"": false, "ada": false, "ann": true, "gone": true} {
		if got, err := g.capped(ctx, "qa", user); err != nil || got != want {
			t.Errorf("capped for %q: %v, %v; want %v", user, got, err, want)
		}
	}
	if err := st.SetBudget(ctx, "qa", 1); err != nil {
		t.Fatal(err)
	}
	if got, err := g.capped(ctx, "qa", "ada"); err != nil || !got {
		t.Errorf("an admin's job under qa's cap: %v, %v", got, err)
	}
}
