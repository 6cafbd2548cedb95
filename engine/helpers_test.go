package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func TestMain(m *testing.M) { testenv.Main(m, "engine") }

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

// openStore opens a store on disk in a temp dir, closed at cleanup.
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

// startPool starts real workers, closed at cleanup.
func startPool(t testing.TB, workers, threads int) *bridge.Pool {
	t.Helper()
	log := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := bridge.Start(ctx, bridge.Config{Python: testenv.Python(t), Workers: workers, Threads: threads,
		Workspace: t.TempDir(), Log: log, CancelGrace: time.Second})
	if err != nil {
		t.Fatalf("starting workers: %v\n%s", err, log)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

// startEngine starts an engine, closed at cleanup (before the pool and the
// store, which were registered first).
func startEngine(t testing.TB, o Options) (*Engine, Recovered) {
	t.Helper()
	log := &syncBuffer{}
	if o.Log == nil {
		o.Log = log
	}
	e := New(o)
	rec, err := e.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("engine close: %v", err)
		}
		if t.Failed() {
			t.Logf("engine log:\n%s", log)
		}
	})
	return e, rec
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

// echo answers with the question, as if no LM call were made: what calls
// cost is charged from their spans (see TestRetryThenSuccessKeepsEveryAttemptsTrace).
func echo(req bridge.ExecuteRequest) *bridge.ExecuteResult {
	return &bridge.ExecuteResult{Outputs: map[string]any{"answer": req.Inputs["question"]}}
}

func waitAll(t testing.TB, e *Engine, xs []*model.Execution) []*model.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make([]*model.Execution, len(xs))
	for i, x := range xs {
		got, err := e.Wait(ctx, x.ID)
		if err != nil {
			t.Fatalf("wait for #%d (%s): %v", i, x.ID, err)
		}
		out[i] = got
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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func isBudget(err error) (*BudgetError, bool) {
	var be *BudgetError
	return be, errors.As(err, &be)
}
