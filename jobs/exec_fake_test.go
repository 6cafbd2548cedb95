package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// These tests put a fake pool behind the engine: no Python needed.

func span(id, parent string, t time.Time, end bool) model.Span {
	s := model.Span{ID: id, Parent: parent, Kind: model.SpanModule, Name: id, Start: t}
	if end {
		s.End = t.Add(time.Millisecond)
	}
	return s
}

func TestRetryThenSuccessKeepsEveryAttemptsTrace(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	var calls atomic.Int32
	fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		n := calls.Add(1)
		now := time.Now()
		root := fmt.Sprintf("root%d", n)
		onSpan(span(root, "", now, false))
		lm := span("lm"+root, root, now, false)
		lm.Kind = model.SpanLM
		onSpan(lm)
		if n < 3 {
			return nil, &bridge.Error{Code: "lm_rate_limit", Message: "slow down", Retryable: true}
		}
		lm.End, lm.Cost, lm.Usage = now, 0.001, model.Usage{Calls: 1, PromptTokens: 10, CompletionTokens: 2}
		onSpan(lm)
		onSpan(span(root, "", now, true))
		res := echo(req)
		res.Cost, res.Usage = lm.Cost, map[string]model.Usage{"": lm.Usage}
		return res, nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), Backoff: time.Millisecond})
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	got := waitAll(t, k, []*model.Execution{x})[0]
	// The failed attempts' LM calls never ended: what they cost is unknown.
	if got.State != model.Completed || got.Attempts != 3 || got.ErrorCode != "" || got.Error != "" || got.Cost != 0.001 ||
		!got.CostUnknown {
		t.Fatalf("%+v", got)
	}
	spans := allSpans(t, st, x.ID)
	if len(spans) != 6 {
		t.Fatalf("%d spans, want 2 per attempt", len(spans))
	}
	for i, s := range spans {
		if s.Seq != uint64(i+1) || s.End.IsZero() {
			t.Fatalf("span %d: %+v", i, s)
		}
		failed := i < 4
		if failed != strings.Contains(s.Error, "ended before this span did") {
			t.Fatalf("span %d (%s) error %q", i, s.Name, s.Error)
		}
	}
}

func TestDispatchIsBoundedAndFIFO(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	for _, conc := range []int{1, 4} {
		// With room for several, the first call waits for a second to be
		// in flight beside it.
		var calls atomic.Int32
		together := make(chan struct{})
		fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
			switch n := calls.Add(1); {
			case conc > 1 && n == 1:
				select {
				case <-together:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			case n == 2:
				close(together)
			}
			return echo(req), nil
		}}
		k := newKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), Concurrency: conc, CacheTTL: -1})
		var reqs []Request
		for i := range 40 {
			reqs = append(reqs, Request{Program: "qa", Inputs: question(i)})
		}
		// Submitted before Start, so all are queued when dispatch begins.
		xs, err := k.SubmitBatch(ctx, reqs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitAll(t, k, xs)
		if err := k.Close(ctx); err != nil {
			t.Fatal(err)
		}
		fp.mu.Lock()
		if fp.peak > conc || fp.peak < min(conc, 2) {
			t.Errorf("concurrency %d: peak %d in flight", conc, fp.peak)
		}
		if conc == 1 {
			for i, q := range fp.order {
				if q != question(i)["question"] {
					t.Fatalf("call %d was %q: not in creation order", i, q)
				}
			}
		}
		fp.mu.Unlock()
	}
}

func TestCloseWritesRunningBackToPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, qa)
	started := make(chan struct{}, 4)
	block := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		onSpan(span("root", "", time.Now(), false))
		started <- struct{}{}
		<-ctx.Done()
		return nil, &bridge.Error{Code: bridge.CodeCancelled, Message: "cancelled", Err: ctx.Err()}
	}}
	k := newKernel(t, Options{Store: st, Pool: block, LMs: testLM(nil), Concurrency: 2})
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var xs []*model.Execution
	for i := range 3 {
		x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(i)})
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	<-started
	<-started
	waitErr := make(chan error, 1)
	go func() { _, err := k.Wait(ctx, xs[0].ID); waitErr <- err }()
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait across Close: %v", err)
	}
	if _, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(9)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	for _, x := range xs {
		got, err := st.GetExecution(ctx, x.ID)
		if err != nil || got.State != model.Pending || got.Attempts != 0 {
			t.Fatalf("after Close: %+v %v", got, err)
		}
	}

	// The next owner runs them all.
	k2, rec := startKernel(t, Options{Store: st, Pool: &fakePool{}, LMs: testLM(nil)})
	if rec.Executions.Requeued != 3 {
		t.Fatalf("recovered %+v", rec)
	}
	for _, x := range waitAll(t, k2, xs) {
		if x.State != model.Completed || x.Attempts != 1 {
			t.Fatalf("%+v", x)
		}
	}
}

func TestCancelBeforeStartAndOfStored(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	k := newKernel(t, Options{Store: st, Pool: &fakePool{}, LMs: testLM(nil)})
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Cancel(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	// One left by an earlier owner and not recovered yet.
	left := &model.Execution{Program: "qa", Version: 1, State: model.Running, Attempts: 1, Inputs: question(2)}
	if err := st.PutExecution(ctx, left); err != nil {
		t.Fatal(err)
	}
	if err := k.Cancel(ctx, left.ID); err != nil {
		t.Fatal(err)
	}
	rec, err := k.Start(ctx)
	if err != nil || rec != (Recovered{}) {
		t.Fatalf("recovered %+v %v", rec, err)
	}
	for _, id := range []model.ID{x.ID, left.ID} {
		got, err := k.Wait(ctx, id)
		if err != nil || got.State != model.Cancelled {
			t.Fatalf("%+v %v", got, err)
		}
	}
	if err := k.Cancel(ctx, model.NewID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel of an unknown id: %v", err)
	}
}

// A long trace streams to the store while it runs and reads back page by page.
func TestLongTraceIsPaged(t *testing.T) {
	n := 100_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	ctx := context.Background()
	st := openStore(t, "", qa)
	fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		t0 := time.Now()
		onSpan(span("root", "", t0, false))
		for i := range n - 1 {
			id := fmt.Sprintf("s%d", i)
			onSpan(span(id, "root", t0, false))
			onSpan(span(id, "root", t0, true))
		}
		onSpan(span("root", "", t0, true))
		return echo(req), nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil)})
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	waitAll(t, k, []*model.Execution{x})
	var after uint64
	pages, total := 0, 0
	for {
		page, err := st.Spans(ctx, x.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, s := range page {
			total++
			if s.Seq != uint64(total) || s.End.IsZero() {
				t.Fatalf("span %d: seq %d, end %v", total, s.Seq, s.End)
			}
		}
		pages++
		after = page[len(page)-1].Seq
	}
	if total != n || pages != (n+999)/1000 {
		t.Fatalf("%d spans in %d pages, want %d", total, pages, n)
	}
}

// Retries after a worker died run one at a time, beside fresh work.
func TestRetriesAfterWorkerDeathRunAlone(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	var mu sync.Mutex
	seen := map[string]int{}
	retrying, peakRetrying := 0, 0
	fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		q := req.Inputs["question"].(string)
		mu.Lock()
		seen[q]++
		first := seen[q] == 1
		if !first {
			retrying++
			peakRetrying = max(peakRetrying, retrying)
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if first {
			return nil, &bridge.Error{Code: bridge.CodeWorkerDied, Message: "exited", Retryable: true}
		}
		retrying--
		return echo(req), nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), Backoff: time.Millisecond, Concurrency: 8})
	var reqs []Request
	for i := range 8 {
		reqs = append(reqs, Request{Program: "qa", Inputs: question(i)})
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range waitAll(t, k, xs) {
		if x.State != model.Completed || x.Attempts != 2 {
			t.Fatalf("%+v", x)
		}
	}
	if fp.peak < 2 || peakRetrying != 1 {
		t.Fatalf("peak in flight %d, peak of retries in flight %d (want 1)", fp.peak, peakRetrying)
	}
}

// An attempt's running record reaches the store no later than its first
// spans: while spans stream in, a stored span means a stored running
// record, attempt counted; a crash at any point leaves either that (and
// recovery counts the attempt and charges its LM spans) or a pending
// record with no trace of the attempt.
func TestRunningRecordGoesWithTheFirstSpans(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	flushed := make(chan model.ID, 64)
	release := make(chan struct{})
	const streamed = spanFlushCount + 6 // enough to make the writer flush
	fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		now := time.Now()
		for i := range streamed {
			onSpan(span(fmt.Sprintf("s%d", i), "", now, true))
		}
		<-release
		return echo(req), nil
	}}
	k := newKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil)})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // before the kernel's close, which waits for the call
	k.flushed = func(id model.ID) { flushed <- id }
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(1)})
	if err != nil {
		t.Fatal(err)
	}
	for id := range flushed {
		if id != x.ID {
			continue
		}
		got, err := st.GetExecution(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := len(allSpans(t, st, x.ID))
		if n > 0 && (got.State != model.Running || got.Attempts != 1) {
			t.Fatalf("%d spans stored beside a record %s after %d attempts, want running after 1", n, got.State, got.Attempts)
		}
		if n >= spanFlushCount {
			break
		}
	}
	let()
	got := waitAll(t, k, []*model.Execution{x})[0]
	if got.State != model.Completed || got.Attempts != 1 {
		t.Fatalf("%+v", got)
	}
	if n := len(allSpans(t, st, x.ID)); n != streamed {
		t.Fatalf("%d spans stored, want %d", n, streamed)
	}
}

// The kernel hands each write of an execution the record it last wrote
// instead of letting the store read it back: over every path a record takes
// (submitted or recovered; run and written once ended, or written running
// with its first spans; retried; failed; cancelled before it ran), the index
// entries still match the records and the cost rollup sums them.
func TestKernelWritesKeepIndexesAndRollupsWhole(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	var tries sync.Map // question → attempts so far
	fp := &fakePool{fn: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		q, _ := req.Inputs["question"].(string)
		n, _ := tries.LoadOrStore(q, new(atomic.Int32))
		attempt := n.(*atomic.Int32).Add(1)
		var i int
		fmt.Sscanf(q[strings.Index(q, "Country")+len("Country"):], "%d?", &i)
		now := time.Now()
		lm := span(fmt.Sprint("lm", attempt), "", now, false)
		lm.Kind = model.SpanLM
		onSpan(lm)
		lm.End, lm.Cost, lm.Usage = now, 0.001*float64(i+1), model.Usage{Calls: 1, PromptTokens: 10 + i, CompletionTokens: 2}
		onSpan(lm)
		switch i % 4 {
		case 1: // written running with its first spans
			for s := range spanFlushCount {
				onSpan(span(fmt.Sprint("s", attempt, s), "", now, true))
			}
		case 2:
			if attempt == 1 {
				return nil, &bridge.Error{Code: "lm_rate_limit", Message: "slow down", Retryable: true}
			}
		case 3:
			return nil, &bridge.Error{Code: "lm_error", Message: "no"}
		}
		res := echo(req)
		res.Cost, res.Usage = lm.Cost, map[string]model.Usage{"": lm.Usage}
		return res, nil
	}}
	// Left by an earlier owner: one running (its attempt is counted), one pending.
	var left []*model.Execution
	for i, s := range []model.RunState{model.Running, model.Pending} {
		x := &model.Execution{Program: "qa", Version: 1, LM: "test", State: s, Inputs: question(100 + 4*i)}
		if s == model.Running {
			x.Attempts = 1
		}
		if err := st.PutExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
		left = append(left, x)
	}
	k := newKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil), Backoff: time.Millisecond, Concurrency: 4})
	cancelled, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(200)})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Cancel(ctx, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := make([]Request, 24)
	for i := range reqs {
		reqs[i] = Request{Program: "qa", Batch: "b", Inputs: question(i)}
	}
	xs, err := k.SubmitBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	all := waitAll(t, k, append(append(xs, left...), cancelled))
	want := recordSums{}
	states := map[model.RunState]int{}
	for _, x := range all {
		want.Executions++
		want.Cost += x.Cost
		want.Usage = want.Usage.Add(x.TotalUsage())
		states[x.State]++
	}
	if states[model.Completed] != 20 || states[model.Failed] != 6 || states[model.Cancelled] != 1 {
		t.Fatalf("states %v", states)
	}
	rep, err := st.Verify(ctx)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify: %v %+v", err, rep.Problems)
	}
	for s, n := range states {
		if got, err := st.CountExecutions(ctx, store.ExecQuery{Program: "qa", State: s}); err != nil || got != n {
			t.Errorf("%s: %d listed, %v; want %d", s, got, err, n)
		}
	}
	rs, err := st.CostRollups(ctx, "qa", time.Now().UTC().Format("2006-01"))
	if err != nil || len(rs) != 1 {
		t.Fatalf("rollups %+v %v", rs, err)
	}
	if got := rs[0]; got.Executions != want.Executions || math.Abs(got.Cost-want.Cost) > 1e-9 || got.Usage != want.Usage {
		t.Fatalf("rollup %+v, the records sum to %+v", got, want)
	}
}

// recordSums is what the records of a program sum to.
type recordSums struct {
	Executions int
	Cost       float64
	Usage      model.Usage
}
