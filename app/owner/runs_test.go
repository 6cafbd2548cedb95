package owner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// runsConfig is the config of these tests: the deterministic test LM by
// default, a priced one, one that sleeps in its LM call (so a run is
// still going when it is cancelled or its owner stops), and one whose key
// variable is never set.
const runsConfig = `lm: test
profiles:
  priced: {model: signet/test, cache: false, price_in: 1.0, price_out: 2.0}
  slow: {model: signet/test, cache: false, kwargs: {sleep_ms: 600000}}
  keyed: {model: openai/gpt-4o-mini, api_key_env: SIGNET_OWNER_TEST_UNSET_KEY}
`

// runsQA answers with the last capitalised word of its question (the test
// LM's rule): "What is the capital of France?" → "France".
var runsQA = &model.Program{Name: "qa", Modules: []model.Module{
	{Name: "answer", Type: model.Predict, Signature: "question -> answer"},
}}

// openRunsOwner opens a real owner on dir (a new workspace for ""), with
// config as its config file and, when python, a one-worker pool of the
// worker venv; it is closed at cleanup.
func openRunsOwner(t *testing.T, dir, config string, python bool) *Owner {
	o, _ := openRunsOwnerCloser(t, dir, config, python)
	return o
}

// openRunsOwnerCloser is openRunsOwner for a test that closes the owner
// itself (close is a no-op the second time).
func openRunsOwnerCloser(t *testing.T, dir, config string, python bool) (*Owner, func()) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	os.Unsetenv("SIGNET_OWNER_TEST_UNSET_KEY")
	opts := Options{Dir: dir, Create: true, Command: "test", Workers: 1}
	if python {
		opts.Python = testenv.Python(t)
	}
	o, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	closeOnce := sync.OnceFunc(func() { o.Close(context.Background(), true) })
	t.Cleanup(closeOnce)
	return o, closeOnce
}

// createPrograms stores programs in o's workspace.
func createPrograms(t *testing.T, o *Owner, progs ...*model.Program) {
	t.Helper()
	for _, p := range progs {
		cp := *p
		if _, err := o.CreateProgram(context.Background(), &cp); err != nil {
			t.Fatal(err)
		}
	}
}

// importExamples makes a dataset of examples, in this order.
func importExamples(t *testing.T, o *Owner, name string, examples ...*model.Example) []*model.Example {
	t.Helper()
	ctx := context.Background()
	i := 0
	_, err := o.st.ImportExamples(ctx, &model.Dataset{Name: name}, func() (*model.Example, error) {
		if i == len(examples) {
			return nil, io.EOF
		}
		i++
		return examples[i-1], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := o.st.ListExamples(ctx, store.ExampleQuery{Dataset: name, Limit: len(examples)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantCode fails unless err is an *app.Error of code c whose text has
// every part.
func wantCode(t *testing.T, err error, c app.Code, parts ...string) {
	t.Helper()
	var ae *app.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T): want an *app.Error %s", err, err, c)
	}
	if ae.Code != c {
		t.Fatalf("error %q has code %s, want %s", err, ae.Code, c)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not say %q", err, p)
		}
	}
}

// waitEnded reads events until every execution of ids has ended and
// returns them as the events said.
func waitEnded(t *testing.T, events <-chan app.Event, ids ...model.ID) map[model.ID]*model.Execution {
	t.Helper()
	want := map[model.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[model.ID]*model.Execution{}
	deadline := time.After(2 * time.Minute)
	for len(out) < len(want) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if ev.Kind == app.EventExecution && want[ev.Execution.ID] && ev.Execution.State.Terminal() {
				out[ev.Execution.ID] = ev.Execution
			}
		case <-deadline:
			t.Fatalf("%d of %d executions ended", len(out), len(want))
		}
	}
	return out
}

// waitRunning reads events until execution id is inside its LM call.
func waitRunning(t *testing.T, events <-chan app.Event, id model.ID) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if ev.Kind == app.EventSpan && ev.Span.Execution == id && ev.Span.Kind == model.SpanLM {
				return
			}
		case <-deadline:
			t.Fatalf("execution %s did not reach its LM call", id)
		}
	}
}

// TestRunRefusesBeforeWorkers: a run that cannot be done as asked fails
// with the service's code and the words the user needs, before any worker
// starts.
func TestRunRefusesBeforeWorkers(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, false)
	keyed := *runsQA
	keyed.Name, keyed.LM = "keyed", "keyed"
	module := *runsQA
	module.Name = "modkey"
	module.Modules = []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer", LM: "keyed"}}
	createPrograms(t, o, runsQA, &keyed, &module)
	in := map[string]any{"question": "What is the capital of France?"}
	for _, tc := range []struct {
		name  string
		req   app.RunRequest
		code  app.Code
		parts []string
	}{
		{"no such program", app.RunRequest{Program: "nope", Inputs: in}, app.CodeNotFound, []string{"nope"}},
		{"no such version", app.RunRequest{Program: "qa", Version: 7, Inputs: in}, app.CodeNotFound, []string{"qa"}},
		{"a negative version", app.RunRequest{Program: "qa", Version: -1, Inputs: in}, app.CodeInvalid, []string{"version -1"}},
		{"the program's profile has no key", app.RunRequest{Program: "keyed", Inputs: in}, app.CodeInvalid,
			[]string{`"keyed"`, "SIGNET_OWNER_TEST_UNSET_KEY"}},
		{"a module's profile has no key", app.RunRequest{Program: "modkey", Inputs: in}, app.CodeInvalid,
			[]string{"SIGNET_OWNER_TEST_UNSET_KEY"}},
		{"the asked profile has no key", app.RunRequest{Program: "qa", LM: "keyed", Inputs: in}, app.CodeInvalid,
			[]string{"SIGNET_OWNER_TEST_UNSET_KEY"}},
		{"no such profile", app.RunRequest{Program: "qa", LM: "nope", Inputs: in}, app.CodeInvalid, []string{`no LM profile "nope"`}},
		{"a variant whose profile has no key", app.RunRequest{Program: "qa", Inputs: in, Variant: &keyed}, app.CodeInvalid,
			[]string{"SIGNET_OWNER_TEST_UNSET_KEY"}},
		{"an invalid variant", app.RunRequest{Program: "qa", Inputs: in,
			Variant: &model.Program{Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question ->"}}}},
			app.CodeInvalid, []string{"variant"}},
		{"a batch on no dataset", app.RunRequest{}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == "" {
				_, err := o.RunBatch(ctx, app.BatchRequest{Program: "qa"})
				wantCode(t, err, app.CodeInvalid, "data")
				return
			}
			_, err := o.Run(ctx, tc.req)
			wantCode(t, err, tc.code, tc.parts...)
		})
	}
	if o.pool.Load() != nil || o.kern.Load() != nil {
		t.Fatal("a refused run started the workers")
	}
}

// TestRunWithoutPython: with no interpreter anywhere, a request's own
// mistake is still named first (invalid), and a good run says how to get
// one (unavailable) without starting anything.
func TestRunWithoutPython(t *testing.T) {
	ctx := context.Background()
	t.Setenv("SIGNET_PYTHON", "")
	t.Setenv("VIRTUAL_ENV", "")
	t.Setenv("SIGNET_VENV", filepath.Join(t.TempDir(), "no-venv"))
	o := openRunsOwner(t, "", runsConfig, false)
	keyed := *runsQA
	keyed.Name, keyed.LM = "keyed", "keyed"
	createPrograms(t, o, runsQA, &keyed)
	in := map[string]any{"question": "What is the capital of France?"}

	_, err := o.Run(ctx, app.RunRequest{Program: "keyed", Inputs: in})
	wantCode(t, err, app.CodeInvalid, "SIGNET_OWNER_TEST_UNSET_KEY")
	_, err = o.Run(ctx, app.RunRequest{Program: "qa", Inputs: in})
	wantCode(t, err, app.CodeUnavailable, "signet setup")
	if o.pool.Load() != nil || o.kern.Load() != nil {
		t.Fatal("a run without an interpreter started the workers")
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, o, runsQA)
	france := map[string]any{"question": "What is the capital of France?"}

	x, err := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: france, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if x.State != model.Completed || x.Outputs["answer"] != "France" || x.Version != 1 || x.LM != "test" || x.CacheHit {
		t.Fatalf("run: %+v", x)
	}
	stored, err := o.Execution(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored.Outputs, x.Outputs) || stored.State != x.State {
		t.Fatalf("stored %+v, answered %+v", stored, x)
	}

	t.Run("the same run again is answered from the cache, unless asked not to", func(t *testing.T) {
		hit, err := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: france, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		if !hit.CacheHit || hit.CacheOf != x.ID || hit.Outputs["answer"] != "France" {
			t.Fatalf("a second identical run: %+v", hit)
		}
		fresh, err := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: france, Wait: true, NoCache: true})
		if err != nil {
			t.Fatal(err)
		}
		if fresh.CacheHit || fresh.State != model.Completed || fresh.TotalUsage().Calls != 1 {
			t.Fatalf("a run with no_cache: %+v", fresh)
		}
	})

	t.Run("spans come in pages that end with next 0", func(t *testing.T) {
		all, err := o.Spans(ctx, x.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Spans) < 2 || all.Next != 0 {
			t.Fatalf("the whole trace: %d spans, next %d", len(all.Spans), all.Next)
		}
		var paged []model.Span
		after := uint64(0)
		for pages := 1; ; pages++ {
			page, err := o.Spans(ctx, x.ID, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page.Spans...)
			if page.Next == 0 {
				if pages != len(all.Spans) {
					t.Fatalf("%d spans in %d pages of 1", len(all.Spans), pages)
				}
				break
			}
			after = page.Next
		}
		if !reflect.DeepEqual(paged, all.Spans) {
			t.Fatalf("paged spans differ from the whole trace")
		}
		_, err = o.Spans(ctx, model.NewID(), 0, 0)
		wantCode(t, err, app.CodeNotFound)
	})

	t.Run("a variant runs instead of the version", func(t *testing.T) {
		v := *runsQA
		v.Name = ""
		v.Modules = []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Answer in uppercase."}}
		got, err := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: france, Variant: &v, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != model.Completed || got.Outputs["answer"] != "FRANCE" || got.Variant == nil || got.Version != 1 {
			t.Fatalf("variant run: %+v", got)
		}
		v.Name = "other"
		_, err = o.Run(ctx, app.RunRequest{Program: "qa", Inputs: france, Variant: &v})
		wantCode(t, err, app.CodeInvalid, "variant")
	})

	t.Run("inputs are checked", func(t *testing.T) {
		_, err := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{"query": "x"}})
		wantCode(t, err, app.CodeInvalid, "inputs.question", "missing")
		_, err = o.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "x", "extra": 1}})
		wantCode(t, err, app.CodeInvalid, `no input "extra"`)
	})

	t.Run("without wait it answers at once, and the run goes on", func(t *testing.T) {
		events, err := o.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "Where is Peru?"}})
		if err != nil {
			t.Fatal(err)
		}
		if got.State.Terminal() {
			t.Fatalf("a run without wait answered %s", got.State)
		}
		end := waitEnded(t, events, got.ID)[got.ID]
		if end.State != model.Completed || end.Outputs["answer"] != "Peru" {
			t.Fatalf("ended %+v", end)
		}
	})

	t.Run("executions are listed newest first, by program and state, in pages", func(t *testing.T) {
		page, err := o.ListExecutions(ctx, app.ExecutionQuery{Program: "qa", State: model.Completed, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Executions) != 2 || page.Next == "" || !page.Executions[0].CreatedAt.After(page.Executions[1].CreatedAt) {
			t.Fatalf("first page: %d executions, next %q", len(page.Executions), page.Next)
		}
		rest, err := o.ListExecutions(ctx, app.ExecutionQuery{Program: "qa", State: model.Completed, Cursor: page.Next, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[model.ID]bool{}
		for _, e := range append(page.Executions, rest.Executions...) {
			if e.State != model.Completed || e.Program != "qa" || seen[e.ID] {
				t.Fatalf("listed %s %s %s twice or out of the query", e.ID, e.Program, e.State)
			}
			seen[e.ID] = true
		}
		if !seen[x.ID] || rest.Next != "" {
			t.Fatalf("the first run is not listed, or the list does not end: next %q", rest.Next)
		}
		none, err := o.ListExecutions(ctx, app.ExecutionQuery{State: model.Failed})
		if err != nil || none.Executions == nil || len(none.Executions) != 0 {
			t.Fatalf("failed executions: %v, %v", none, err)
		}
		_, err = o.ListExecutions(ctx, app.ExecutionQuery{State: "done"})
		wantCode(t, err, app.CodeInvalid, "state", `"done"`)
		_, err = o.ListExecutions(ctx, app.ExecutionQuery{Cursor: "zzz"})
		wantCode(t, err, app.CodeInvalid)
		_, err = o.ListExecutions(ctx, app.ExecutionQuery{Program: "no such/name"})
		wantCode(t, err, app.CodeInvalid, "program.name")
		_, err = o.Execution(ctx, model.NewID())
		wantCode(t, err, app.CodeNotFound)
	})

	t.Run("over the socket, answers and errors are the owner's", func(t *testing.T) {
		cl := api.NewClient(api.SocketPath(o.Dir()))
		got, err := cl.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "Is Oslo cold?"}, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := o.Execution(ctx, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != model.Completed || got.Outputs["answer"] != "Oslo" || !reflect.DeepEqual(got.Outputs, stored.Outputs) {
			t.Fatalf("through the client: %+v; stored %+v", got, stored)
		}
		_, want := o.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{}})
		_, err = cl.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{}})
		wantCode(t, err, app.CodeInvalid, want.Error())
		_, want = o.CancelExecution(ctx, got.ID)
		_, err = cl.CancelExecution(ctx, got.ID)
		wantCode(t, err, app.CodeFinished, want.Error())
		page, err := cl.Spans(ctx, got.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		own, err := o.Spans(ctx, got.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Spans) != len(own.Spans) || page.Spans[0].ID != own.Spans[0].ID {
			t.Fatalf("spans through the client: %d, the owner's: %d", len(page.Spans), len(own.Spans))
		}
	})
}

func TestRunBatch(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, o, runsQA)
	exs := importExamples(t, o, "capitals",
		&model.Example{Split: model.Train, Data: map[string]any{"id": 1, "question": "What is the capital of France?", "answer": "france"}},
		&model.Example{Split: model.Train, Data: map[string]any{"id": 2, "question": "What is the capital of Peru?", "answer": "Lima"}},
		&model.Example{Split: model.Train, Data: map[string]any{"id": 3, "question": "What is the capital of Chad?", "answer": "N'Djamena"}},
		&model.Example{Split: model.Test, Data: map[string]any{"id": 4, "question": "What is the capital of Japan?", "answer": "Japan."}},
	)
	events, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}

	b, err := o.RunBatch(ctx, app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals"}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantLab := model.Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}
	if b.Program != "qa" || b.Version != 1 || b.ID.IsZero() || !reflect.DeepEqual(b.Labeling, wantLab) {
		t.Fatalf("batch %+v", b)
	}
	if !reflect.DeepEqual(b.Examples, []model.ID{exs[0].ID, exs[1].ID}) || len(b.Executions) != 2 {
		t.Fatalf("batch examples %v (want the first two of %v), executions %v", b.Examples, exs, b.Executions)
	}
	ended := waitEnded(t, events, b.Executions...)
	execs := make([]*model.Execution, len(b.Executions))
	labels := make([]map[string]any, len(b.Executions))
	for i, id := range b.Executions {
		execs[i] = ended[id]
		_, labels[i] = b.Labeling.Split(exs[i].Data)
		if execs[i].Batch != b.ID.String() || execs[i].Inputs["question"] != exs[i].Data["question"] || len(execs[i].Inputs) != 1 {
			t.Fatalf("execution %d: %+v, of example %+v", i, execs[i], exs[i])
		}
	}
	sum := model.SummariseBatch(execs, labels)
	if sum.States[model.Completed] != 2 || sum.Matches["answer"] != (model.Match{Matched: 1, Of: 2}) {
		t.Fatalf("summary %+v", sum)
	}

	t.Run("a split, with no_cache", func(t *testing.T) {
		b, err := o.RunBatch(ctx, app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals", Split: model.Test}, NoCache: true})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(b.Examples, []model.ID{exs[3].ID}) {
			t.Fatalf("split test: examples %v", b.Examples)
		}
		x := waitEnded(t, events, b.Executions...)[b.Executions[0]]
		if x.State != model.Completed || x.Outputs["answer"] != "Japan" || x.CacheHit {
			t.Fatalf("execution %+v", x)
		}
		// The whole dataset, no_cache unset: the first two are cache hits.
		all, err := o.RunBatch(ctx, app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals"}})
		if err != nil {
			t.Fatal(err)
		}
		got := waitEnded(t, events, all.Executions...)
		hits := 0
		for _, x := range got {
			if x.CacheHit {
				hits++
			}
		}
		if len(all.Executions) != 4 || hits != 3 {
			t.Fatalf("the whole dataset: %d executions, %d from the cache (want 4, 3)", len(all.Executions), hits)
		}
	})

	t.Run("explicit labels", func(t *testing.T) {
		b, err := o.RunBatch(ctx, app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals", Split: model.Test}, Labels: []string{"id"}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(b.Labeling.Labels, []string{"id"}) || !reflect.DeepEqual(b.Labeling.Ignored, []string{"answer"}) {
			t.Fatalf("labeling %+v", b.Labeling)
		}
		waitEnded(t, events, b.Executions...)
	})

	for _, tc := range []struct {
		name  string
		req   app.BatchRequest
		code  app.Code
		parts []string
	}{
		{"a label that is no column", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals"}, Labels: []string{"capital"}},
			app.CodeInvalid, []string{"labels.capital", "capitals"}},
		{"an input as a label", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals"}, Labels: []string{"question"}},
			app.CodeInvalid, []string{"labels.question", "input"}},
		{"an empty split", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals", Split: model.Validation}},
			app.CodeInvalid, []string{"capitals:validation", "no examples"}},
		{"an unknown split", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals", Split: "dev2"}},
			app.CodeInvalid, []string{"dev2"}},
		{"no such dataset", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "nope"}}, app.CodeNotFound, []string{"nope"}},
		{"no such program", app.BatchRequest{Program: "nope", Data: model.DataRef{Dataset: "capitals"}}, app.CodeNotFound, []string{"nope"}},
		{"a negative limit", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals"}, Limit: -1}, app.CodeInvalid, []string{"limit -1"}},
		{"a profile without its key", app.BatchRequest{Program: "qa", Data: model.DataRef{Dataset: "capitals"}, LM: "keyed"},
			app.CodeInvalid, []string{"SIGNET_OWNER_TEST_UNSET_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := o.st.CountExecutions(ctx, store.ExecQuery{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = o.RunBatch(ctx, tc.req)
			wantCode(t, err, tc.code, tc.parts...)
			if after, _ := o.st.CountExecutions(ctx, store.ExecQuery{}); after != before {
				t.Fatalf("a refused batch made %d executions", after-before)
			}
		})
	}
}

func TestCancelExecution(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, o, runsQA)
	events, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	x, err := o.Run(ctx, app.RunRequest{Program: "qa", LM: "slow", Inputs: map[string]any{"question": "Is it late?"}})
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, events, x.ID)
	got, err := o.CancelExecution(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != x.ID || got.State != model.Cancelled {
		t.Fatalf("cancelled: %+v", got)
	}
	_, err = o.CancelExecution(ctx, x.ID)
	wantCode(t, err, app.CodeFinished, x.ID.String(), "already finished", "cancelled")
	_, err = o.CancelExecution(ctx, model.NewID())
	wantCode(t, err, app.CodeNotFound)
}

// TestAbandonedWaitCancels: a client waiting for its run (signet run) that
// goes away (ctrl-c, a dropped connection) cancels the run, rather than
// leaving a background owner spending on nobody's behalf.
func TestAbandonedWaitCancels(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, o, runsQA)
	events, err := o.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cl := api.NewClient(api.SocketPath(o.Dir()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := cl.Run(ctx, app.RunRequest{Program: "qa", LM: "slow", Inputs: map[string]any{"question": "Is it late?"}, Wait: true})
		done <- err
	}()
	var id model.ID
	for id.IsZero() {
		if ev := <-events; ev.Kind == app.EventExecution && ev.Execution.State == model.Running {
			id = ev.Execution.ID
		}
	}
	waitRunning(t, events, id)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("an abandoned wait returned no error")
	}
	k, err := o.kernel(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A failure's bound, not a synchronisation: the slow LM sleeps ten minutes.
	wctx, wcancel := context.WithTimeout(t.Context(), time.Minute)
	defer wcancel()
	x, err := k.Wait(wctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if x.State != model.Cancelled {
		t.Fatalf("the run its client abandoned: %s, want cancelled", x.State)
	}
}

// TestResumeExecutions: an owner stopped with one run inside its LM call
// and one waiting; the next owner of the workspace recovers both and runs
// them to their end.
func TestResumeExecutions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first, closeFirst := openRunsOwnerCloser(t, dir, runsConfig+"concurrency: 1\n", true)
	createPrograms(t, first, runsQA)
	events, err := first.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []model.ID
	for _, q := range []string{"Is Rome old?", "Is Bern small?"} {
		x, err := first.Run(ctx, app.RunRequest{Program: "qa", LM: "slow", Inputs: map[string]any{"question": q}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
	}
	waitRunning(t, events, ids[0])
	closeFirst()

	// The same profile, no longer slow, for the next owner.
	next := openRunsOwner(t, dir, strings.Replace(runsConfig, "sleep_ms: 600000", "sleep_ms: 0", 1), true)
	for _, id := range ids {
		x, err := next.Execution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if x.State != model.Pending {
			t.Fatalf("execution %s left %s by a stopped owner", id, x.State)
		}
	}
	events, err = next.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := next.ResumeExecutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if *rec != (app.Recovered{Requeued: 2}) {
		t.Fatalf("recovered %+v, want 2 requeued", *rec)
	}
	ended := waitEnded(t, events, ids...)
	if ended[ids[0]].State != model.Completed || ended[ids[0]].Outputs["answer"] != "Rome" || ended[ids[1]].Outputs["answer"] != "Bern" {
		t.Fatalf("resumed: %+v, %+v", ended[ids[0]], ended[ids[1]])
	}
	again, err := next.ResumeExecutions(ctx)
	if err != nil || *again != (app.Recovered{}) {
		t.Fatalf("a second resume: %+v, %v", again, err)
	}
}
