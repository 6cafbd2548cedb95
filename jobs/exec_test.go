package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// These tests run real Python workers with DSPy's deterministic test LM.

func TestSubmitCompletesWithTrace(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", facts)
	pool := startPool(t, 1, 0)
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: testLM(nil), DefaultLM: "test"})

	x, err := k.Submit(ctx, Request{Program: "facts", Inputs: map[string]any{"question": "What is the capital of France?"}})
	if err != nil {
		t.Fatal(err)
	}
	if x.State != model.Pending || x.Version != 1 || x.LM != "test" || x.ID.IsZero() {
		t.Fatalf("submitted %+v", x)
	}
	got := waitAll(t, k, []*model.Execution{x})[0]
	if got.State != model.Completed || got.Attempts != 1 || got.CacheHit || got.ErrorCode != "" {
		t.Fatalf("finished %+v", got)
	}
	if got.Outputs["answer"] != "France" || got.Outputs["final"] != "FRANCE" {
		t.Fatalf("outputs %v", got.Outputs)
	}
	if u := got.Usage["signet/test"]; u.Calls != 3 || u.PromptTokens == 0 || u.CompletionTokens == 0 {
		t.Fatalf("usage %+v", got.Usage)
	}
	stored, err := st.GetExecution(ctx, x.ID)
	if err != nil || stored.State != model.Completed || stored.Outputs["final"] != "FRANCE" {
		t.Fatalf("stored %+v %v", stored, err)
	}

	spans := allSpans(t, st, x.ID)
	byID := map[string]model.Span{}
	lms := 0
	for i, s := range spans {
		if s.Seq != uint64(i+1) || s.Execution != x.ID {
			t.Fatalf("span %d has seq %d, execution %s", i, s.Seq, s.Execution)
		}
		if s.End.IsZero() {
			t.Fatalf("span %s (%s) is still open in a finished trace", s.ID, s.Name)
		}
		if _, dup := byID[s.ID]; dup {
			t.Fatalf("span %s stored twice", s.ID)
		}
		byID[s.ID] = s
		if s.Kind == model.SpanLM {
			lms++
		}
	}
	roots := 0
	for _, s := range spans {
		if s.Parent == "" {
			roots++
			continue
		}
		p, ok := byID[s.Parent]
		if !ok || p.Seq >= s.Seq {
			t.Fatalf("span %s (%s): parent %s unknown or after it", s.ID, s.Name, s.Parent)
		}
	}
	if roots != 1 || lms != 3 {
		t.Fatalf("%d roots, %d lm spans in %d spans", roots, lms, len(spans))
	}
}

func TestPoisonInputFailsAfterThreeAttempts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	pool := startPool(t, 2, 0)
	cp := &countingPool{Executor: pool}
	k, _ := startKernel(t, Options{Store: st, Pool: cp, LMs: testLM(map[string]any{"crash_on": "POISON"}),
		Backoff: 100 * time.Millisecond, CacheTTL: -1})

	reqs := []Request{{Program: "qa", Inputs: map[string]any{"question": "What is the capital of POISON?"}}}
	for i := range 20 {
		reqs = append(reqs, Request{Program: "qa", Inputs: question(i)})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	got := waitAll(t, k, xs)
	p := got[0]
	if p.State != model.Failed || p.Attempts != model.MaxAttempts || p.ErrorCode != bridge.CodeWorkerDied ||
		!strings.Contains(p.Error, "after 3 attempts") {
		t.Fatalf("poison: %s attempts %d code %q error %q", p.State, p.Attempts, p.ErrorCode, p.Error)
	}
	// Each records the worker its last attempt ran on, the one that died
	// with the poison too.
	workers := map[string]bool{"local/1": true, "local/2": true}
	if !workers[p.Worker] {
		t.Fatalf("poison: worker %q", p.Worker)
	}
	for i, x := range got[1:] {
		if x.State != model.Completed || x.Outputs["answer"] != fmt.Sprintf("Country%d", i) || !workers[x.Worker] {
			t.Fatalf("#%d: %s after %d attempts (%s: %s) on %q, outputs %v", i, x.State, x.Attempts, x.ErrorCode, x.Error, x.Worker, x.Outputs)
		}
	}
	if n, _ := st.CountExecutions(ctx, store.ExecQuery{State: model.Running}); n != 0 {
		t.Fatalf("%d executions left running", n)
	}
	t.Logf("%d pool calls for 21 executions", cp.calls.Load())
}

func TestNonRetryableFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	bad := &model.Program{Name: "bad", LM: "test", Modules: []model.Module{
		{Name: "mine", Type: model.Custom, Source: "no/such/file.py:Nothing", Signature: "question -> answer"},
	}}
	st := openStore(t, "", qa, bad)
	pool := startPool(t, 1, 0)
	cp := &countingPool{Executor: pool}
	k, _ := startKernel(t, Options{Store: st, Pool: cp, LMs: testLM(map[string]any{"fail_on": "Country7"}),
		Backoff: 20 * time.Millisecond})

	xb, err := k.Submit(ctx, Request{Program: "bad", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	xf, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(7)})
	if err != nil {
		t.Fatal(err)
	}
	got := waitAll(t, k, []*model.Execution{xb, xf})
	if b := got[0]; b.State != model.Failed || b.Attempts != 1 || b.ErrorCode != "bad_program" || strings.Contains(b.Error, "attempts") {
		t.Fatalf("bad program: %s attempts %d %s: %s", b.State, b.Attempts, b.ErrorCode, b.Error)
	}
	// fail_on is a provider outage: retryable, so it takes every attempt.
	if f := got[1]; f.State != model.Failed || f.Attempts != 3 || f.ErrorCode != "lm_unavailable" || !strings.Contains(f.Error, "after 3 attempts") {
		t.Fatalf("lm outage: %s attempts %d %s: %s", f.State, f.Attempts, f.ErrorCode, f.Error)
	}
	if n := cp.calls.Load(); n != 4 {
		t.Fatalf("%d pool calls, want 1 + 3", n)
	}

	// Bad requests are refused before anything is created.
	for _, r := range []Request{
		{Program: "qa", Inputs: map[string]any{}},
		{Program: "qa", Inputs: map[string]any{"question": "q", "extra": 1}},
		{Program: "nope", Inputs: question(1)},
		{Program: "qa", Version: 9, Inputs: question(1)},
		{Program: "qa", LM: "unknown", Inputs: question(1)},
	} {
		if _, err := k.Submit(ctx, r); err == nil {
			t.Errorf("%+v was accepted", r)
		}
	}
	if n, _ := st.CountExecutions(ctx, store.ExecQuery{}); n != 2 {
		t.Fatalf("%d executions stored, want 2", n)
	}
}

func TestRecoveryAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, qa)
	t0 := time.Now().Add(-time.Minute).UTC()
	mk := func(i int, state model.RunState, attempts int) *model.Execution {
		x := &model.Execution{ID: model.NewIDAt(t0.Add(time.Duration(i) * time.Second)), Program: "qa", Version: 1, LM: "test",
			State: state, Attempts: attempts, Inputs: question(i), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if state == model.Running {
			x.StartedAt = t0
		}
		if err := st.PutExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	r1 := mk(1, model.Running, 1)
	r3 := mk(2, model.Running, 3)
	p0 := mk(3, model.Pending, 0)
	done := mk(4, model.Completed, 1)
	// The interrupted run had written part of its trace: one LM call ended
	// (and billed), one under way.
	open := []model.Span{{Seq: 1, ID: "root", Kind: model.SpanModule, Name: "qa", Start: t0},
		{Seq: 2, ID: "lm0", Parent: "root", Kind: model.SpanLM, Name: "signet/test", Model: "signet/test", Start: t0, End: t0,
			Usage: model.Usage{Calls: 1, PromptTokens: 10, CompletionTokens: 2}, Cost: 0.25},
		{Seq: 3, ID: "lm1", Parent: "root", Kind: model.SpanLM, Name: "lm", Start: t0}}
	if err := st.AppendSpans(ctx, r1.ID, open); err != nil {
		t.Fatal(err)
	}

	pool := startPool(t, 1, 0)
	k, rec := startKernel(t, Options{Store: st, Pool: pool, LMs: testLM(nil)})
	if rec.Executions != (Counts{Requeued: 1, Retried: 1, Failed: 1}) {
		t.Fatalf("recovered %+v", rec)
	}
	if err := k.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(id model.ID) *model.Execution {
		x, err := st.GetExecution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	// The interrupted attempt is charged what its trace recorded, and the
	// call it left under way makes the cost unknown.
	if x := get(r1.ID); x.State != model.Completed || x.Attempts != 2 || x.Outputs["answer"] != "Country1" ||
		x.Cost != 0.25 || !x.CostUnknown || x.Usage["signet/test"].Calls != 2 {
		t.Fatalf("running on attempt 1: %+v", x)
	}
	if x := get(r3.ID); x.State != model.Failed || x.Attempts != 3 || x.ErrorCode != CodeInterrupted || !strings.Contains(x.Error, "interrupted") {
		t.Fatalf("running on attempt 3: %+v", x)
	}
	if x := get(p0.ID); x.State != model.Completed || x.Attempts != 1 {
		t.Fatalf("pending: %+v", x)
	}
	if x := get(done.ID); x.State != model.Completed || x.Attempts != 1 || x.Outputs != nil {
		t.Fatalf("completed one was touched: %+v", x)
	}
	if n, _ := st.CountExecutions(ctx, store.ExecQuery{State: model.Running}); n != 0 {
		t.Fatalf("%d left running", n)
	}
	if n, _ := st.CountExecutions(ctx, store.ExecQuery{State: model.Pending}); n != 0 {
		t.Fatalf("%d left pending", n)
	}
	// The retry's spans follow the interrupted attempt's.
	spans := allSpans(t, st, r1.ID)
	if len(spans) <= 3 || spans[0].ID != "root" || spans[2].ID != "lm1" || spans[3].Seq != 4 || spans[3].Parent != "" {
		t.Fatalf("trace after the retry: %d spans, first %+v", len(spans), spans[:min(4, len(spans))])
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	pool := startPool(t, 1, 0)
	cp := &countingPool{Executor: pool}
	lms := testLM(nil)
	priced := lms["test"]
	priced.PriceIn, priced.PriceOut = 1, 2
	lms["test"] = priced
	k, _ := startKernel(t, Options{Store: st, Pool: cp, LMs: lms, CacheTTL: 2 * time.Second})

	run := func(r Request) *model.Execution {
		t.Helper()
		x, err := k.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return waitAll(t, k, []*model.Execution{x})[0]
	}
	r := Request{Program: "qa", Inputs: question(5)}
	first := run(r)
	if first.State != model.Completed || first.CacheHit || first.Cost <= 0 || cp.calls.Load() != 1 {
		t.Fatalf("first: %+v, %d calls", first, cp.calls.Load())
	}
	hit := run(r)
	if !hit.CacheHit || hit.ID == first.ID || hit.CacheOf != first.ID || hit.State != model.Completed || hit.Cost != 0 ||
		len(hit.Usage) != 0 || hit.Outputs["answer"] != first.Outputs["answer"] || cp.calls.Load() != 1 {
		t.Fatalf("second: %+v, %d calls", hit, cp.calls.Load())
	}
	if other := run(Request{Program: "qa", Inputs: question(6)}); other.CacheHit || cp.calls.Load() != 2 {
		t.Fatalf("other inputs hit the cache: %+v", other)
	}
	if nc := run(Request{Program: "qa", Inputs: question(5), NoCache: true}); nc.CacheHit || cp.calls.Load() != 3 {
		t.Fatalf("NoCache: %+v", nc)
	}
	time.Sleep(2100 * time.Millisecond)
	if late := run(r); late.CacheHit || cp.calls.Load() != 4 {
		t.Fatalf("after the ttl: %+v, %d calls", late, cp.calls.Load())
	}
	// Cache hits count as executions in the rollup, at no cost.
	rs, err := st.CostRollups(ctx, "qa", time.Now().UTC().Format("2006-01"))
	if err != nil || len(rs) != 1 || rs[0].Executions != 5 {
		t.Fatalf("rollups %+v %v", rs, err)
	}

	// One engine owns a store at a time.
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	off, _ := startKernel(t, Options{Store: st, Pool: cp, LMs: lms, CacheTTL: -1})
	x, err := off.Submit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if x := waitAll(t, off, []*model.Execution{x})[0]; x.CacheHit || cp.calls.Load() != 5 {
		t.Fatalf("cache off: %+v", x)
	}
}

func TestCostRollupsAndBudgets(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa, facts)
	pool := startPool(t, 2, 0)
	lms := testLMs{"test": {Model: "signet/test", PriceIn: 3, PriceOut: 15}}
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: lms, DefaultLM: "test", CacheTTL: -1})

	var reqs []Request
	for i := range 6 {
		reqs = append(reqs, Request{Program: []string{"qa", "facts"}[i%2], Inputs: question(i)})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	for _, x := range waitAll(t, k, xs) {
		if x.State != model.Completed || x.Cost <= 0 || x.CostUnknown {
			t.Fatalf("%+v", x)
		}
		sums[x.Program] += x.Cost
	}
	month := time.Now().UTC().Format("2006-01")
	rs, err := st.CostRollups(ctx, "", month)
	if err != nil || len(rs) != 2 {
		t.Fatalf("rollups %+v %v", rs, err)
	}
	for _, r := range rs {
		if math.Abs(r.Cost-sums[r.Program]) > 1e-9 || r.Executions != 3 {
			t.Fatalf("rollup %+v, executions cost %v", r, sums[r.Program])
		}
	}

	before, _ := st.CountExecutions(ctx, store.ExecQuery{})
	if err := st.SetBudget(ctx, "qa", sums["qa"]-0.0000001); err != nil {
		t.Fatal(err)
	}
	_, err = k.Submit(ctx, Request{Program: "qa", Inputs: question(100)})
	be, ok := isBudget(err)
	if !ok || be.Scope != ScopeProgram || be.Program != "qa" || be.Month != month || math.Abs(be.Spent-sums["qa"]) > 1e-9 ||
		!strings.HasPrefix(err.Error(), "budget: program qa has spent $") || !strings.Contains(err.Error(), "monthly cap for "+month) {
		t.Fatalf("over the program's budget: %v", err)
	}
	// The other program is under no cap; then the workspace's cap stops it too.
	if _, err := k.SubmitBatch(ctx, []Request{{Program: "facts", Inputs: question(200)}, {Program: "qa", Inputs: question(201)}}); err == nil {
		t.Fatal("a batch with an over-budget program was accepted")
	}
	if err := st.SetBudget(ctx, "", sums["qa"]+sums["facts"]); err != nil {
		t.Fatal(err)
	}
	_, err = k.Submit(ctx, Request{Program: "facts", Inputs: question(101)})
	if be, ok := isBudget(err); !ok || be.Program != "" || be.Scope != ScopeWorkspace || !strings.HasPrefix(err.Error(), "budget: the workspace has spent") {
		t.Fatalf("over the workspace's budget: %v", err)
	}
	if after, _ := st.CountExecutions(ctx, store.ExecQuery{}); after != before {
		t.Fatalf("refused submits created %d executions", after-before)
	}
}

func TestBudgetCheckedAtDispatch(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	fp := &fakePool{}
	k := newKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), CacheTTL: -1})
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)}) // queued until Start
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetBudget(ctx, "qa", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := waitAll(t, k, []*model.Execution{x})[0]
	if got.State != model.Failed || got.ErrorCode != CodeBudget || got.Attempts != 0 || len(fp.order) != 0 {
		t.Fatalf("%+v, %d calls", got, len(fp.order))
	}
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	pool := startPool(t, 1, 0)
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: testLM(map[string]any{"sleep_ms": 5000}), Concurrency: 1})
	events, stop := k.Subscribe(0)
	defer stop()

	running, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(2)})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the first to be inside its LM call.
	next(t, events, "the first execution's LM call", func(ev Event) bool {
		return ev.Kind == EventSpan && ev.Span.Kind == model.SpanLM && ev.Span.Execution == running.ID
	})
	if err := k.Cancel(ctx, pending.ID); err != nil {
		t.Fatal(err)
	}
	if err := k.Cancel(ctx, running.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []model.ID{pending.ID, running.ID} {
		x, err := st.GetExecution(ctx, id)
		if err != nil || x.State != model.Cancelled || x.ErrorCode != CodeCancelled {
			t.Fatalf("%+v %v", x, err)
		}
	}
	if x, _ := st.GetExecution(ctx, pending.ID); x.Attempts != 0 {
		t.Fatalf("the pending one ran: %+v", x)
	}
	if err := k.Cancel(ctx, pending.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancel of a cancelled execution: %v", err)
	}
	// A trace cut short keeps its spans, closed with the reason.
	for _, s := range allSpans(t, st, running.ID) {
		if s.End.IsZero() {
			t.Fatalf("span %s left open", s.Name)
		}
	}
}

func TestSubscriberSeesEveryStateChange(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	pool := startPool(t, 2, 0)
	k := newKernel(t, Options{Store: st, Pool: pool, LMs: testLM(nil), CacheTTL: -1, Concurrency: 8})
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	events, stop := k.Subscribe(1)
	defer stop()
	states := map[model.ID][]model.RunState{}
	spans := 0
	got := make(chan struct{})
	go func() {
		defer close(got)
		for ev := range events {
			time.Sleep(time.Millisecond) // a slow consumer
			switch ev.Kind {
			case EventExecution:
				states[ev.Execution.ID] = append(states[ev.Execution.ID], ev.Execution.State)
			case EventSpan:
				spans++
			}
		}
	}()
	var reqs []Request
	for i := range 50 {
		reqs = append(reqs, Request{Program: "qa", Inputs: question(i)})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(ctx); err != nil { // ends the subscription after its last event
		t.Fatal(err)
	}
	<-got
	want := []model.RunState{model.Pending, model.Running, model.Completed}
	for _, x := range xs {
		if fmt.Sprint(states[x.ID]) != fmt.Sprint(want) {
			t.Fatalf("execution %s: states %v, want %v", x.ID, states[x.ID], want)
		}
	}
	t.Logf("%d span events delivered to a slow subscriber (some may drop)", spans)
}
