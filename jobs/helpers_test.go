package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func TestMain(m *testing.M) { testenv.Main(m, "jobs") }

// testLMs maps profile names to specs; "test" is the deterministic test LM.
type testLMs map[string]bridge.LMSpec

func (l testLMs) Spec(_ context.Context, profile string) (bridge.LMSpec, error) {
	s, ok := l[profile]
	if !ok {
		return s, fmt.Errorf("no LM profile %q", profile)
	}
	return s, nil
}

func testLM(kwargs map[string]any) testLMs {
	return testLMs{"test": {Model: "signet/test", Kwargs: kwargs}}
}

var qa = &model.Program{Name: "qa", LM: "test", Modules: []model.Module{
	{Name: "answer", Type: model.Predict, Signature: "question -> answer"},
}}

// facts chains predict → chain_of_thought → predict over the record.
var facts = &model.Program{Name: "facts", Modules: []model.Module{
	{Name: "recall", Type: model.Predict, Signature: "question -> facts: list[str]",
		Instructions: "List two or three short facts that help answer the question."},
	{Name: "reason", Type: model.ChainOfThought, Signature: "question, facts: list[str] -> answer"},
	{Name: "polish", Type: model.Predict, Signature: "answer -> final: str", Instructions: "Answer in uppercase."},
}}

func question(i int) map[string]any {
	return map[string]any{"question": fmt.Sprintf("What is the capital of Country%d?", i)}
}

// openStore opens a store on disk in a temp dir (or dir), closed at cleanup.
func openStore(t testing.TB, dir string, progs ...*model.Program) *store.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(context.Background(), store.Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	for _, p := range progs {
		cp := *p
		if _, err := st.CreateProgram(context.Background(), &cp); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// importExamples imports dataset name, whose input is the question.
func importExamples(t testing.TB, st *store.Store, name string, exs []*model.Example) {
	t.Helper()
	k := 0
	_, err := st.ImportExamples(context.Background(), &model.Dataset{Name: name, InputKeys: []string{"question"}}, func() (*model.Example, error) {
		if k == len(exs) {
			return nil, io.EOF
		}
		k++
		return exs[k-1], nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startPool starts real workers, closed at cleanup.
func startPool(t testing.TB, workers, threads int) *bridge.Pool {
	t.Helper()
	log := &testenv.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := bridge.Start(ctx, bridge.Config{Python: testenv.Python(t), Workers: workers, Threads: threads,
		Workspace: t.TempDir(), Log: log, CancelGrace: 2 * time.Second})
	if err != nil {
		t.Fatalf("starting workers: %v\n%s", err, log)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("pool close: %v", err)
		}
		if t.Failed() {
			t.Logf("pool log:\n%s", log)
		}
	})
	return p
}

// optPool is Options.OptPool for a given optimizer.
func optPool(p Optimizer) func(context.Context) (Optimizer, error) {
	return func(context.Context) (Optimizer, error) { return p, nil }
}

// startKernel starts a kernel, closed at cleanup (before the pools and the
// store, which were registered first).
func startKernel(t testing.TB, o Options) (*Kernel, Recovered) {
	t.Helper()
	k := newKernel(t, o)
	rec, err := k.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k, rec
}

// newKernel makes a kernel that is not started, closed at cleanup.
func newKernel(t testing.TB, o Options) *Kernel {
	t.Helper()
	log := &testenv.Buffer{}
	if o.Log == nil {
		o.Log = log
	}
	if o.LMs == nil {
		o.LMs = testLM(nil)
	}
	k := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := k.Close(ctx); err != nil {
			t.Errorf("kernel close: %v", err)
		}
		if t.Failed() {
			t.Logf("kernel log:\n%s", log)
		}
	})
	return k
}

// countingPool counts the calls that reach the pool.
type countingPool struct {
	Executor
	calls atomic.Int64
}

func (c *countingPool) Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
	c.calls.Add(1)
	return c.Executor.Execute(ctx, req, onSpan)
}

// fakePool answers without Python: fn decides each call.
type fakePool struct {
	mu       sync.Mutex
	inflight int
	peak     int
	order    []string // question of each call, in call order
	fn       func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error)
}

func (f *fakePool) Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
	f.mu.Lock()
	f.inflight++
	f.peak = max(f.peak, f.inflight)
	q, _ := req.Inputs["question"].(string)
	f.order = append(f.order, q)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.fn != nil {
		return f.fn(ctx, req, onSpan)
	}
	return echo(req), nil
}

func (f *fakePool) Flow(_ context.Context, p *model.Program, _ string, _ map[string]bridge.IndexSpec) (model.Flow, error) {
	return p.StaticFlow(), nil
}

// echo answers with the question, as if no LM call were made: what calls
// cost is charged from their spans (see TestRetryThenSuccessKeepsEveryAttemptsTrace).
func echo(req bridge.ExecuteRequest) *bridge.ExecuteResult {
	return &bridge.ExecuteResult{Outputs: map[string]any{"answer": req.Inputs["question"]}}
}

// waitDone waits for job id with one of the kernel's Wait methods; the
// deadline is a safety net against a hang, never a measure.
func waitDone[T any](t testing.TB, wait func(context.Context, model.ID) (*T, error), id model.ID) *T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rec, err := wait(ctx, id)
	if err != nil {
		t.Fatalf("wait for %s: %v", id, err)
	}
	return rec
}

func waitAll(t testing.TB, k *Kernel, xs []*model.Execution) []*model.Execution {
	t.Helper()
	out := make([]*model.Execution, len(xs))
	for i, x := range xs {
		out[i] = waitDone(t, k.Wait, x.ID)
	}
	return out
}

func allSpans(t testing.TB, st *store.Store, id model.ID) []model.Span {
	t.Helper()
	var out []model.Span
	var after uint64
	for {
		page, err := st.Spans(context.Background(), id, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

func isBudget(err error) (*BudgetError, bool) {
	var be *BudgetError
	return be, errors.As(err, &be)
}

// next waits for the first event that ok accepts; the deadline is a safety
// net against a hang, never a measure.
func next(t testing.TB, events <-chan Event, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case ev, open := <-events:
			if !open {
				t.Fatalf("the event stream ended before %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event: %s", what)
		}
	}
}
