package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func newExec(program string, st model.RunState, at time.Time) *model.Execution {
	return &model.Execution{
		ID:        model.NewIDAt(at),
		Program:   program,
		Version:   1,
		State:     st,
		Inputs:    map[string]any{"question": "why?"},
		CreatedAt: at.UTC(),
	}
}

func TestExecutionIndexesFollowState(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	programs := []string{"a", "bb", "c"}
	truth := map[model.ID]*model.Execution{}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		e := newExec(programs[i%3], model.Pending, base.Add(time.Duration(i)*time.Second))
		if err := s.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		truth[e.ID] = e
	}
	// Walk every execution along random legal transitions, writing each.
	for round := range 4 {
		for _, e := range truth {
			if e.State.Terminal() {
				continue
			}
			var opts []model.RunState
			for _, to := range model.RunStates {
				if e.State.CanMove(to) {
					opts = append(opts, to)
				}
			}
			if err := e.Move(opts[rng.IntN(len(opts))], base.Add(time.Hour*time.Duration(round+1))); err != nil {
				t.Fatal(err)
			}
			if err := s.PutExecution(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(q ExecQuery) {
		t.Helper()
		var want []model.ID
		for id, e := range truth {
			if (q.Program == "" || e.Program == q.Program) && (q.State == "" || e.State == q.State) {
				want = append(want, id)
			}
		}
		slices.SortFunc(want, func(a, b model.ID) int { return -compareID(a, b) })
		var got []model.ID
		for cursor := ""; ; {
			q.Cursor, q.Limit = cursor, 7
			page, next, err := s.ListExecutions(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				if (q.State != "" && e.State != q.State) || (q.Program != "" && e.Program != q.Program) {
					t.Fatalf("%+v lists a stale entry: %s %s", q, e.Program, e.State)
				}
				got = append(got, e.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: listed %d, want %d (or out of order)", q, len(got), len(want))
		}
		n, err := s.CountExecutions(ctx, ExecQuery{Program: q.Program, State: q.State})
		if err != nil || n != len(want) {
			t.Fatalf("%+v: count = %d, %v; want %d", q, n, err, len(want))
		}
	}
	check(ExecQuery{})
	for _, p := range append(programs, "") {
		for _, st := range append(slices.Clone(model.RunStates), "") {
			check(ExecQuery{Program: p, State: st})
		}
	}
	// Exactly three index keys per execution: no stale ones anywhere.
	idx := countKeys(t, s, []byte{keys.ExecByProgram}) + countKeys(t, s, []byte{keys.ExecByState}) + countKeys(t, s, []byte{keys.ExecByProgState})
	if idx != 3*len(truth) {
		t.Fatalf("%d index keys for %d executions", idx, len(truth))
	}
	got, err := s.GetExecution(ctx, newExec("a", model.Pending, base).ID)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetExecution of an unknown ID: %+v, %v", got, err)
	}
}

func compareID(a, b model.ID) int { return slices.Compare(a[:], b[:]) }

func TestListExecutionsNewestFirstAndCursors(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []model.ID
	for i := range 125 {
		e := newExec("p", model.Completed, base.Add(time.Duration(i)*time.Minute))
		if err := s.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := s.PutExecution(ctx, newExec("other", model.Completed, base.Add(time.Hour*999))); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ids)
	tests := []struct {
		limit int
		pages []int
	}{
		{0, []int{50, 50, 25}},
		{50, []int{50, 50, 25}},
		{125, []int{125}},
		{124, []int{124, 1}},
		{1000, []int{125}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			var got []model.ID
			var sizes []int
			for cursor := ""; ; {
				page, next, err := s.ListExecutions(ctx, ExecQuery{Program: "p", Cursor: cursor, Limit: tt.limit})
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(page))
				for _, e := range page {
					got = append(got, e.ID)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if !reflect.DeepEqual(sizes, tt.pages) || !slices.Equal(got, ids) {
				t.Fatalf("pages %v (want %v), order ok: %v", sizes, tt.pages, slices.Equal(got, ids))
			}
		})
	}
	// A cursor whose key went away (the execution changed state) still works.
	page, next, err := s.ListExecutions(ctx, ExecQuery{State: model.Completed, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	moved := page[9]
	moved.State = model.Failed
	if err := s.PutExecution(ctx, moved); err != nil {
		t.Fatal(err)
	}
	page2, _, err := s.ListExecutions(ctx, ExecQuery{State: model.Completed, Cursor: next, Limit: 1})
	if err != nil || len(page2) != 1 || page2[0].ID != ids[9] {
		t.Fatalf("page after a vanished cursor key: %v, %v (want %s)", page2, err, ids[9])
	}
	for _, q := range []ExecQuery{
		{Program: "p", Cursor: "nothex"},
		{Program: "p", Cursor: next},                     // cursor of another listing
		{Program: "p", Cursor: keys.Cursor([]byte{'y'})}, // too short
	} {
		if _, _, err := s.ListExecutions(ctx, q); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor %q: err = %v, want ErrInvalidCursor", q.Cursor, err)
		}
	}
	if _, _, err := s.ListExecutions(ctx, ExecQuery{State: "sleeping"}); err == nil {
		t.Error("unknown state accepted")
	}
}

func TestRollupsMoveByDeltas(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	nov := time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)
	e := newExec("qa", model.Pending, nov)
	steps := []struct {
		cost  float64
		usage map[string]model.Usage
		state model.RunState
	}{
		{0, nil, model.Pending},
		{0.1, map[string]model.Usage{"m": {Calls: 1, PromptTokens: 100, CompletionTokens: 10}}, model.Running},
		{0.3, map[string]model.Usage{"m": {Calls: 2, PromptTokens: 250, CompletionTokens: 40}, "n": {Calls: 1, PromptTokens: 5}}, model.Completed},
	}
	for _, st := range steps {
		e.Cost, e.Usage, e.State = st.cost, st.usage, st.state
		if err := s.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	other := newExec("qa", model.Completed, nov.AddDate(0, 1, 0))
	other.Cost = 0.05
	if err := s.PutExecution(ctx, other); err != nil {
		t.Fatal(err)
	}
	third := newExec("zz", model.Completed, nov)
	third.Cost = 1.25
	if err := s.PutExecution(ctx, third); err != nil {
		t.Fatal(err)
	}

	want := Rollup{Program: "qa", Month: "2026-11", Executions: 1, Cost: 0.3, Usage: model.Usage{Calls: 3, PromptTokens: 255, CompletionTokens: 40}}
	tests := []struct {
		program, month string
		want           []Rollup
	}{
		{"qa", "2026-11", []Rollup{want}},
		{"qa", "", []Rollup{want, {Program: "qa", Month: "2026-12", Executions: 1, Cost: 0.05}}},
		{"", "2026-11", []Rollup{want, {Program: "zz", Month: "2026-11", Executions: 1, Cost: 1.25}}},
		{"", "", []Rollup{want, {Program: "qa", Month: "2026-12", Executions: 1, Cost: 0.05}, {Program: "zz", Month: "2026-11", Executions: 1, Cost: 1.25}}},
		{"nope", "", nil},
	}
	for _, tt := range tests {
		got, err := s.CostRollups(ctx, tt.program, tt.month)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CostRollups(%q, %q) = %+v, want %+v", tt.program, tt.month, got, tt.want)
		}
	}
	if _, err := s.CostRollups(ctx, "", "November"); err == nil {
		t.Error("bad month accepted")
	}

	// Moving an execution to another program and month moves its cost.
	e.Program, e.CreatedAt = "zz", nov.AddDate(0, 1, 0)
	if err := s.PutExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, _ := s.CostRollups(ctx, "", "")
	wantAfter := []Rollup{
		{Program: "qa", Month: "2026-12", Executions: 1, Cost: 0.05},
		{Program: "zz", Month: "2026-11", Executions: 1, Cost: 1.25},
		{Program: "zz", Month: "2026-12", Executions: 1, Cost: 0.3, Usage: want.Usage},
	}
	if !reflect.DeepEqual(got, wantAfter) {
		t.Fatalf("after moving: %+v, want %+v", got, wantAfter)
	}
}

func TestPutExecutionValidatesAndFills(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	for _, e := range []*model.Execution{
		{Program: "bad name", State: model.Pending},
		{Program: "p", State: "paused"},
		{Program: "p"},
	} {
		if err := s.PutExecution(ctx, e); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
	if k := countKeys(t, s, []byte{keys.Execution}); k != 0 {
		t.Fatalf("%d records written by rejected puts", k)
	}
	e := &model.Execution{Program: "p", State: model.Pending}
	if err := s.PutExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.ID.IsZero() || e.CreatedAt.IsZero() {
		t.Fatalf("ID/CreatedAt not filled: %+v", e)
	}
	got, err := s.GetExecution(ctx, e.ID)
	if err != nil || got.Program != "p" {
		t.Fatalf("GetExecution: %+v, %v", got, err)
	}
}

func TestSpansPaging(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	exec := model.NewID()
	const n = 10_000
	spans := make([]model.Span, n)
	for i := range spans {
		spans[i] = model.Span{Seq: uint64(i + 1), ID: fmt.Sprintf("call-%d", i), Kind: model.SpanLM, Name: "Predict", Completion: "ok"}
	}
	// Write in uneven chunks, as a stream would.
	for i := 0; i < n; {
		j := min(n, i+1+i%777)
		if err := s.AppendSpans(ctx, exec, spans[i:j]); err != nil {
			t.Fatal(err)
		}
		i = j
	}
	// Another execution's spans must not leak into the page.
	if err := s.AppendSpans(ctx, model.NewID(), []model.Span{{Seq: 1, Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	var after uint64
	pages := 0
	for {
		page, err := s.Spans(ctx, exec, after, 999)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, sp := range page {
			if sp.Seq != after+1 || sp.Execution != exec {
				t.Fatalf("span seq %d (exec %s) after %d", sp.Seq, sp.Execution, after)
			}
			after = sp.Seq
		}
	}
	if after != n || pages != 11 {
		t.Fatalf("read up to seq %d in %d pages", after, pages)
	}
	if err := s.AppendSpans(ctx, exec, []model.Span{{Seq: 0}}); err == nil {
		t.Fatal("seq 0 accepted")
	}
	all, err := s.Spans(ctx, exec, 0, 0)
	if err != nil || len(all) != defaultSpanLimit {
		t.Fatalf("default page: %d, %v", len(all), err)
	}
}

func TestAppendSpansBiggerThanATxn(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes ~110k spans")
	}
	ctx := context.Background()
	s := newMemStore(t)
	n := int(s.db.MaxBatchCount()) + 1000
	spans := make([]model.Span, n)
	for i := range spans {
		spans[i] = model.Span{Seq: uint64(i + 1), Kind: model.SpanModule}
	}
	exec := model.NewID()
	if err := s.AppendSpans(ctx, exec, spans); err != nil {
		t.Fatal(err)
	}
	if k := countKeys(t, s, spanPrefix(exec)); k != n {
		t.Fatalf("%d span keys, want %d", k, n)
	}
}

func TestPutExecutionWithSpans(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	e := newExec("p", model.Completed, time.Now())
	e.Cost = 0.5
	spans := []model.Span{{Seq: 1, Name: "a"}, {Seq: 2, Name: "b"}}
	if err := s.PutExecutionWithSpans(ctx, e, spans); err != nil {
		t.Fatal(err)
	}
	got, err := s.Spans(ctx, e.ID, 0, 10)
	if err != nil || len(got) != 2 || got[1].Name != "b" {
		t.Fatalf("spans: %+v, %v", got, err)
	}
	rs, _ := s.CostRollups(ctx, "p", "")
	if len(rs) != 1 || rs[0].Cost != 0.5 {
		t.Fatalf("rollup: %+v", rs)
	}
}

// A finished run whose spans did not stream out while it ran (a burst the
// background writes could not keep up with) still gets its record and its
// whole trace: more spans than one transaction holds are written first, in
// as many as they need, then the record with the last of them.
func TestPutExecutionWithMoreSpansThanATxn(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes ~110k spans")
	}
	ctx := context.Background()
	s := newMemStore(t)
	e := newExec("p", model.Completed, time.Now())
	n := int(s.db.MaxBatchCount()) + 1000
	spans := make([]model.Span, n)
	for i := range spans {
		spans[i] = model.Span{Seq: uint64(i + 1), Kind: model.SpanModule}
	}
	if err := s.PutExecutionWithSpans(ctx, e, spans); err != nil {
		t.Fatal(err)
	}
	if k := countKeys(t, s, spanPrefix(e.ID)); k != len(spans) {
		t.Fatalf("%d span keys, want %d", k, len(spans))
	}
	if got, err := s.GetExecution(ctx, e.ID); err != nil || got.State != model.Completed {
		t.Fatalf("the record: %+v, %v", got, err)
	}
}

// Executions that end at once all move their program's rollup for the
// month: their writes take turns instead of losing races to each other
// (each lost race re-ran the whole transaction), and the rollup is exact.
func TestConcurrentFinishesDoNotConflict(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	const writers, each = 8, 40
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				at := now.Add(time.Duration(w*each+i) * time.Microsecond)
				x := &model.Execution{ID: model.NewIDAt(at), Program: "qa", Version: 1, State: model.Running, CreatedAt: at,
					Inputs: map[string]any{"question": "q"}}
				if err := s.PutExecution(ctx, x); err != nil {
					errs <- err
					return
				}
				done := *x
				done.State, done.Cost = model.Completed, 0.001
				done.Usage = map[string]model.Usage{"test": {Calls: 1, PromptTokens: 10, CompletionTokens: 2}}
				if err := s.PutExecutionWithSpans(ctx, &done, []model.Span{{Seq: 1, ID: "root", Name: "qa", Start: at, End: at}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.conflicts.Load(); n != 0 {
		t.Errorf("%d transactions lost a race and ran again", n)
	}
	rs, err := s.CostRollups(ctx, "qa", monthOf(now))
	if err != nil || len(rs) != 1 {
		t.Fatalf("rollups: %v %+v", err, rs)
	}
	if r := rs[0]; r.Executions != writers*each || r.Usage.Calls != writers*each || math.Abs(r.Cost-0.001*writers*each) > 1e-9 {
		t.Fatalf("rollup %+v, want %d executions, calls and $%.3f", r, writers*each, 0.001*writers*each)
	}
}

// The kernel hands ReplaceExecution the record it last wrote: the store then
// writes exactly what reading that record would have written (record, index
// keys, rollups moved across programs' months and states), and refuses an
// old of another execution.
func TestReplaceExecutionGivenOldWritesWhatReadingWould(t *testing.T) {
	ctx := context.Background()
	read, given := newMemStore(t), newMemStore(t)
	base := time.Date(2026, 10, 31, 23, 59, 0, 0, time.UTC)
	var olds []*model.Execution
	for i := range 6 {
		x := newExec([]string{"a", "b"}[i%2], model.Pending, base.Add(time.Duration(i)*time.Minute)) // across a month's end
		for _, s := range []*Store{read, given} {
			if err := s.CreateExecutions(ctx, []*model.Execution{cloneExec(x)}); err != nil {
				t.Fatal(err)
			}
		}
		olds = append(olds, x)
	}
	steps := []func(x *model.Execution, i int){
		func(x *model.Execution, i int) { noErr(t, x.Move(model.Running, base.Add(time.Hour))) },
		func(x *model.Execution, i int) {
			to := []model.RunState{model.Completed, model.Failed, model.Pending}[i%3]
			noErr(t, x.Move(to, base.Add(2*time.Hour)))
			x.Cost, x.Usage = 0.001*float64(i+1), map[string]model.Usage{"test": {Calls: i + 1, PromptTokens: 10 * i}}
			x.EmbedCache = model.EmbedCache{Hits: i, Misses: 1}
		},
	}
	for n, step := range steps {
		for i, old := range olds {
			next := cloneExec(old)
			step(next, i)
			span := []model.Span{{Seq: uint64(n + 1), ID: fmt.Sprint("s", n), Name: "qa", Start: base, End: base}}
			if err := read.PutExecutionWithSpans(ctx, cloneExec(next), span); err != nil {
				t.Fatal(err)
			}
			if err := given.ReplaceExecution(ctx, old, cloneExec(next), span); err != nil {
				t.Fatal(err)
			}
			olds[i] = next
		}
	}
	a, b := dump(t, read), dump(t, given)
	if !maps.Equal(a, b) {
		t.Fatalf("given the old record, the store holds %d keys; reading it, %d (or values differ)", len(b), len(a))
	}
	if rep, err := given.Verify(ctx); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	err := given.ReplaceExecution(ctx, olds[1], cloneExec(olds[0]), nil)
	if err == nil || !strings.Contains(err.Error(), olds[1].ID.String()) {
		t.Fatalf("an old of another execution: %v", err)
	}
}

func cloneExec(x *model.Execution) *model.Execution { c := *x; return &c }

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Spans are stored as encoding/json wrote them, each value its own bytes
// though they share one buffer.
func TestEncodeSpansIsEncodingJSONs(t *testing.T) {
	spans := benchSpans(time.Now())
	id := model.NewID()
	vals, err := encodeSpans(id, spans)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		want, err := json.Marshal(&spans[i])
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != string(want) || cap(v) != len(v) {
			t.Fatalf("span %d stored as (cap %d)\n%s\nencoding/json:\n%s", i, cap(v), v, want)
		}
	}
}

// TestExecutionsPutInOneMillisecondListInPutOrder: executions given no ID
// and no time (imports, tests) get IDs in the order they were put, even
// within one millisecond of the store's clock: newest first is the reverse
// of that order, not a coin toss of the IDs' random tails.
func TestExecutionsPutInOneMillisecondListInPutOrder(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	var ids []model.ID
	for range 40 {
		e := &model.Execution{Program: "p", Version: 1, State: model.Completed}
		if err := s.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		if !e.CreatedAt.Equal(now) {
			t.Fatalf("created at %v, want the store's clock %v", e.CreatedAt, now)
		}
		ids = append(ids, e.ID)
	}
	slices.Reverse(ids)
	page, _, err := s.ListExecutions(ctx, ExecQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]model.ID, len(page))
	for i, e := range page {
		got[i] = e.ID
	}
	if !slices.Equal(got, ids) {
		t.Fatal("executions put within one millisecond do not list newest first")
	}
}
