package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// TestCapHoldsWithManyInFlight: 32 executions at concurrency 8 against a
// program's cap, on real workers with a priced test LM. Each call reserves
// its estimate (the program's recent cost per run) before it starts, so
// the calls in flight cannot together overspend: the month ends within the
// cap plus one call's cost, and the runs refused at dispatch fail with code
// budget, having made no call.
func TestCapHoldsWithManyInFlight(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	lms := testLMs{"test": {Model: "signet/test", PriceIn: 3, PriceOut: 15, Kwargs: map[string]any{"sleep_ms": 50}}}
	k, _ := startKernel(t, Options{Store: st, Pool: startPool(t, 2, 4), LMs: lms, Concurrency: 8, CacheTTL: -1})

	// One run first: its cost is what the next are expected to cost.
	first, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(0)})
	if err != nil {
		t.Fatal(err)
	}
	one := waitAll(t, k, []*model.Execution{first})[0].Cost
	if one <= 0 {
		t.Fatalf("a priced run cost %v", one)
	}
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
	a, err := g.reserve(ctx, "run", "qa", 0.6)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.reserve(ctx, "run", "qa", 0.6)
	be, ok := isBudget(err)
	if !ok || be.Scope != ScopeProgram || be.Reserved != 0.6 || be.Estimate != 0.6 {
		t.Fatalf("second reservation over qa's cap: %v", err)
	}
	b, err := g.reserve(ctx, "run", "facts", 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.reserve(ctx, "run", "facts", 0.2); err == nil {
		t.Fatal("the workspace's cap held with $1.4 reserved and $0.2 asked: 1.6 > 1.5")
	} else if be, _ := isBudget(err); be == nil || be.Scope != ScopeWorkspace {
		t.Fatalf("over the workspace's cap: %v", err)
	}
	if left, capped, err := g.left(ctx, "qa", a); err != nil || !capped || left < 0.69 || left > 0.71 {
		t.Fatalf("left for a's job: %v %v %v (the workspace's 1.5 less b's 0.8)", left, capped, err)
	}
	g.settle(a)
	g.settle(b)
	if _, err := g.reserve(ctx, "run", "qa", 0.9); err != nil {
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
