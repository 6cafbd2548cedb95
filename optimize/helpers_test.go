package optimize

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func TestMain(m *testing.M) { testenv.Main(m, "optimize") }

type testLMs map[string]bridge.LMSpec

func (l testLMs) Spec(_ context.Context, profile string) (bridge.LMSpec, error) {
	s, ok := l[profile]
	if !ok {
		return s, fmt.Errorf("no LM profile %q", profile)
	}
	return s, nil
}

var lms = testLMs{"test": {Model: "signet/test"}, "slow": {Model: "signet/test", Kwargs: map[string]any{"sleep_ms": 150}},
	"priced": {Model: "signet/test", PriceIn: 10, PriceOut: 30}}

var qa = &model.Program{Name: "qa", LM: "test", Modules: []model.Module{
	{Name: "answer", Type: model.Predict, Signature: "question -> answer"},
}}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	cp := *qa
	if _, err := st.CreateProgram(context.Background(), &cp); err != nil {
		t.Fatal(err)
	}
	return st
}

// capitals are questions whose right answer the test LM gets only from a
// demo with the same question: unaided it answers the country's name.
var capitals = [][2]string{
	{"France", "Paris"}, {"Japan", "Tokyo"}, {"Italy", "Rome"}, {"Spain", "Madrid"}, {"Peru", "Lima"},
	{"Egypt", "Cairo"}, {"Kenya", "Nairobi"}, {"Chile", "Santiago"}, {"Cuba", "Havana"}, {"Iran", "Tehran"},
	{"Mali", "Bamako"}, {"Nepal", "Kathmandu"},
}

// seedCapitals imports dataset "caps": train holds the first nTrain
// questions; validation repeats the first nOverlap of them (which demos
// can answer) and then new ones.
func seedCapitals(t testing.TB, st *store.Store, nTrain, nOverlap, nVal int) {
	t.Helper()
	var exs []*model.Example
	add := func(i int, sp model.Split) {
		c := capitals[i%len(capitals)]
		q := fmt.Sprintf("What is the capital of %s?", c[0])
		if i >= len(capitals) {
			q = fmt.Sprintf("What is the capital city number %d of %s?", i, c[0])
		}
		exs = append(exs, &model.Example{Split: sp, Data: map[string]any{"question": q, "answer": c[1]}})
	}
	for i := range nTrain {
		add(i, model.Train)
	}
	for i := range nOverlap {
		add(i, model.Validation)
	}
	for i := range nVal - nOverlap {
		add(nTrain+i, model.Validation)
	}
	importExamples(t, st, "caps", exs)
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

// startRunner starts a runner, closed at cleanup (before the store).
func startRunner(t testing.TB, o Options) *Runner {
	t.Helper()
	log := &syncBuffer{}
	if o.Log == nil {
		o.Log = log
	}
	if o.LMs == nil {
		o.LMs = lms
	}
	if o.DefaultLM == "" {
		o.DefaultLM = "test"
	}
	r := New(o)
	if _, err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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

func startPool(t testing.TB, threads int) *bridge.Pool {
	t.Helper()
	log := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := bridge.Start(ctx, bridge.Config{Python: testenv.Python(t), Workers: 1, Threads: threads, Workspace: t.TempDir(), Log: log, CancelGrace: 2 * time.Second})
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

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func waitDone(t testing.TB, r *Runner, id model.ID, d time.Duration) *model.Optimization {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	o, err := r.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// events collects what a runner publishes.
type events chan Event

func newEvents() events { return make(events, 10000) }

func (e events) publish(ev Event) {
	select {
	case e <- ev:
	default: // a test that does not read them
	}
}
