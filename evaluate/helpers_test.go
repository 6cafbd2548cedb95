package evaluate

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func TestMain(m *testing.M) { testenv.Main(m, "evaluate") }

type testLMs map[string]bridge.LMSpec

func (l testLMs) Spec(_ context.Context, profile string) (bridge.LMSpec, error) {
	s, ok := l[profile]
	if !ok {
		return s, fmt.Errorf("no LM profile %q", profile)
	}
	return s, nil
}

// lms: "test" fails its calls on questions about Atlantis (a provider
// outage, retried, then a failed execution); "slow" takes its time.
var lms = testLMs{
	"test":   {Model: "signet/test", Kwargs: map[string]any{"fail_on": "Atlantis"}},
	"slow":   {Model: "signet/test", Kwargs: map[string]any{"sleep_ms": 300, "fail_on": "Atlantis"}},
	"priced": {Model: "signet/test", PriceIn: 10, PriceOut: 30},
}

var qa = &model.Program{Name: "qa", LM: "test", Modules: []model.Module{
	{Name: "answer", Type: model.Predict, Signature: "question -> answer"},
}}

// rows of dataset "caps": the test LM answers a capital question with the
// country's name, so France and Peru match their label, Japan and Chile do
// not, and Atlantis fails.
var rows = []map[string]any{
	{"id": 1, "question": "What is the capital of France?", "answer": "France", "source": "atlas"},
	{"id": 2, "question": "What is the capital of Japan?", "answer": "Tokyo", "source": "atlas"},
	{"id": 3, "question": "What is the capital of Peru?", "answer": "peru.", "source": "web"},
	{"id": 4, "question": "What is the capital of Atlantis?", "answer": "Poseidonis", "source": "myth"},
	{"id": 5, "question": "What is the capital of Chile?", "answer": "Santiago", "source": "web"},
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	cp := *qa
	if _, err := st.CreateProgram(ctx, &cp); err != nil {
		t.Fatal(err)
	}
	k := 0
	_, err = st.ImportExamples(ctx, &model.Dataset{Name: "caps"}, func() (*model.Example, error) {
		if k == len(rows) {
			return nil, io.EOF
		}
		k++
		return &model.Example{Split: model.Validation, Data: rows[k-1]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func startPool(t testing.TB) *bridge.Pool {
	t.Helper()
	log := &testenv.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := bridge.Start(ctx, bridge.Config{Python: testenv.Python(t), Workers: 1, Threads: 4, Workspace: t.TempDir(), Log: log, CancelGrace: time.Second})
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

func startEngine(t testing.TB, st *store.Store, pool engine.Executor) *engine.Engine {
	t.Helper()
	log := &testenv.Buffer{}
	e := engine.New(engine.Options{Store: st, Pool: pool, LMs: lms, DefaultLM: "test", Backoff: time.Millisecond, Log: log})
	if _, err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("engine close: %v", err)
		}
		if t.Failed() {
			t.Logf("engine log:\n%s", log)
		}
	})
	return e
}

// startRunner starts a runner, closed at cleanup (before the engine).
func startRunner(t testing.TB, st *store.Store, eng *engine.Engine) *Runner {
	t.Helper()
	log := &testenv.Buffer{}
	r := New(Options{Store: st, Engine: eng, LMs: lms, DefaultLM: "test", Log: log})
	if _, err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("runner close: %v", err)
		}
		if t.Failed() {
			t.Logf("runner log:\n%s", log)
		}
	})
	return r
}

func wait(t testing.TB, r *Runner, id model.ID) *model.Evaluation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := r.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func storeQuery(program string) store.ExecQuery { return store.ExecQuery{Program: program} }
