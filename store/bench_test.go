package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// The 1M-execution fixture is built once and kept under os.TempDir, so that
// repeated benchmark runs reuse it. Bump fixtureVersion whenever the key
// layout, the record shape or the generator changes.
const (
	fixtureVersion    = "v1"
	fixtureExecutions = 1_000_000
	fixturePrograms   = 20
)

var fixture struct {
	once sync.Once
	dir  string
	err  error
}

func benchProgram(i int) string { return fmt.Sprintf("program-%02d", i%fixturePrograms) }

// fixtureDir returns the directory of a store holding fixtureExecutions
// executions spread over fixturePrograms programs and three months.
func fixtureDir(b *testing.B) string {
	b.Helper()
	fixture.once.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("signet-store-bench-%s-schema%d-%d", fixtureVersion, SchemaVersion, fixtureExecutions))
		done := dir + ".complete"
		if _, err := os.Stat(done); err == nil {
			fixture.dir = dir
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			fixture.err = err
			return
		}
		start := time.Now()
		if err := buildFixture(dir); err != nil {
			fixture.err = fmt.Errorf("build fixture in %s: %w", dir, err)
			return
		}
		if err := os.WriteFile(done, []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			fixture.err = err
			return
		}
		b.Logf("built the %d-execution fixture in %s (%s)", fixtureExecutions, dir, time.Since(start).Round(time.Millisecond))
		fixture.dir = dir
	})
	if fixture.err != nil {
		b.Fatal(fixture.err)
	}
	return fixture.dir
}

// buildFixture bulk-loads executions with a WriteBatch, through the same key
// and rollup code as PutExecution, without a read per record.
func buildFixture(dir string) error {
	s, err := Open(context.Background(), Options{Dir: dir, GCInterval: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	step := 90 * 24 * time.Hour / fixtureExecutions
	rollups := map[string]*rollupRecord{}
	for i := range fixtureExecutions {
		e := benchExecution(i, base.Add(time.Duration(i)*step))
		rec, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := wb.Set(execKey(e.ID), rec); err != nil {
			return err
		}
		for _, k := range execIndexKeys(e) {
			if err := wb.Set(k, nil); err != nil {
				return err
			}
		}
		rk := string(rollupKey(e.Program, monthOf(e.CreatedAt)))
		r := rollups[rk]
		if r == nil {
			r = &rollupRecord{}
			rollups[rk] = r
		}
		r.Executions++
		r.CostNanos += costNanos(e.Cost)
		r.Usage = r.Usage.Add(e.TotalUsage())
	}
	for k, r := range rollups {
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := wb.Set([]byte(k), v); err != nil {
			return err
		}
	}
	return wb.Flush()
}

var benchStates = []model.RunState{model.Completed, model.Completed, model.Completed, model.Completed, model.Completed, model.Completed, model.Completed, model.Failed, model.Cancelled, model.Pending}

// benchExecution is a finished run of a two-module program, about 600 bytes
// of JSON.
func benchExecution(i int, at time.Time) *model.Execution {
	st := benchStates[i%len(benchStates)]
	e := &model.Execution{
		ID:        model.NewIDAt(at),
		Program:   benchProgram(i),
		Version:   1 + i%7,
		LM:        "openai/gpt-4o-mini",
		State:     st,
		Attempts:  1,
		Inputs:    map[string]any{"question": fmt.Sprintf("What is the capital of country number %d, and why is it there?", i)},
		Usage:     map[string]model.Usage{"openai/gpt-4o-mini": {Calls: 2, PromptTokens: 812 + i%300, CompletionTokens: 96 + i%50}},
		Cost:      0.00015*0.812 + 0.0006*0.096,
		CreatedAt: at,
	}
	if st != model.Pending {
		e.StartedAt = at.Add(20 * time.Millisecond)
		e.FinishedAt = at.Add(1500 * time.Millisecond)
		e.Duration = e.FinishedAt.Sub(e.StartedAt)
	}
	switch st {
	case model.Completed:
		e.Outputs = map[string]any{"reasoning": "The capital is where the government sits; it has been there since the nineteenth century.", "answer": fmt.Sprintf("City %d", i)}
	case model.Failed:
		e.ErrorCode, e.Error = "lm_timeout", "LM call timed out after 30s"
	}
	return e
}

var (
	benchSystem = strings.Repeat("Your input fields are: `question` (str). Your output fields are: `reasoning` (str), `answer` (str). ", 3)
	benchUser   = "[[ ## question ## ]]\nWhat is the capital of this country, and why is it there?\n\nRespond with the corresponding output fields."
	benchReply  = "[[ ## reasoning ## ]]\nThe capital is where the government sits.\n\n[[ ## answer ## ]]\nSomewhere\n\n[[ ## completed ## ]]"
)

// benchSpans is the trace of one run: 5 module spans around 5 predictors,
// each with an adapter format, an LM call and an adapter parse (20 spans).
func benchSpans(at time.Time) []model.Span {
	spans := make([]model.Span, 0, 20)
	add := func(sp model.Span) {
		sp.Seq = uint64(len(spans) + 1)
		sp.ID = fmt.Sprintf("call-%d", sp.Seq)
		sp.Start = at.Add(time.Duration(sp.Seq) * 10 * time.Millisecond)
		sp.End = sp.Start.Add(5 * time.Millisecond)
		spans = append(spans, sp)
	}
	for m := range 5 {
		mod := fmt.Sprintf("step%d", m)
		add(model.Span{Kind: model.SpanModule, Name: "ChainOfThought", Module: mod, Inputs: map[string]any{"question": "What is the capital?"}, Outputs: map[string]any{"answer": "Somewhere"}})
		add(model.Span{Kind: model.SpanAdapter, Name: "ChatAdapter.format", Module: mod, Parent: "call-1"})
		add(model.Span{Kind: model.SpanLM, Name: "openai/gpt-4o-mini", Module: mod, Parent: "call-1", Model: "openai/gpt-4o-mini",
			Messages:   []model.Message{{Role: "system", Content: benchSystem}, {Role: "user", Content: benchUser}},
			Completion: benchReply, Usage: model.Usage{Calls: 1, PromptTokens: 412, CompletionTokens: 48}, Cost: 0.00009})
		add(model.Span{Kind: model.SpanAdapter, Name: "ChatAdapter.parse", Module: mod, Parent: "call-1", Outputs: map[string]any{"reasoning": "The capital is where the government sits.", "answer": "Somewhere"}})
	}
	return spans
}

// BenchmarkWriteExecutions writes 100k finished executions with 20 spans each
// into a fresh on-disk store, one transaction per execution and its spans,
// as the engine does when a run finishes. "serial" is one writer; "parallel"
// is four, as a worker pool would be, which also exercises conflict retries
// on the shared rollup keys.
func BenchmarkWriteExecutions(b *testing.B) {
	const n, spansPer = 100_000, 20
	for _, writers := range []int{1, 4} {
		name := "serial"
		if writers > 1 {
			name = fmt.Sprintf("parallel-%d", writers)
		}
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				s, err := Open(context.Background(), Options{Dir: dir, GCInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				base := time.Now()
				b.StartTimer()
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				for w := range writers {
					wg.Go(func() {
						for j := w; j < n; j += writers {
							at := base.Add(time.Duration(j) * time.Millisecond)
							if err := s.PutExecutionWithSpans(context.Background(), benchExecution(j, at), benchSpans(at)); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				total += time.Since(start)
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			sec := total.Seconds()
			b.ReportMetric(float64(n*b.N)/sec, "executions/s")
			b.ReportMetric(float64(n*spansPer*b.N)/sec, "spans/s")
		})
	}
}

// BenchmarkListNewest50 lists the newest 50 executions of one program in the
// 1M-execution store (target: under 5 ms).
func BenchmarkListNewest50(b *testing.B) {
	dir := fixtureDir(b)
	s, err := Open(context.Background(), Options{Dir: dir, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		page, next, err := s.ListExecutions(ctx, ExecQuery{Program: benchProgram(i), Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) != 50 || next == "" {
			b.Fatalf("page of %d, next %q", len(page), next)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(el.Microseconds())/1000/float64(b.N), "ms/list")
	b.ReportMetric(5, "target-ms/list")
}

// BenchmarkOpen1M opens and closes the 1M-execution store (target: under
// 500 ms for the open).
func BenchmarkOpen1M(b *testing.B) {
	dir := fixtureDir(b)
	ctx := context.Background()
	var open, closing time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		s, err := Open(ctx, Options{Dir: dir, GCInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		open += t1.Sub(t0)
		closing += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(open.Microseconds())/1000/float64(b.N), "ms/open")
	b.ReportMetric(float64(closing.Microseconds())/1000/float64(b.N), "ms/close")
	b.ReportMetric(500, "target-ms/open")
}

// BenchmarkReplaceExecution is the kernel's write of an ended execution over
// its pending record (no spans): "read" lets the store read and decode the
// old record (PutExecution), "given" hands it over (ReplaceExecution, as the
// kernel does). It reports this process's CPU per write.
func BenchmarkReplaceExecution(b *testing.B) {
	b.Run("read", func(b *testing.B) { benchReplace(b, false, false) })
	b.Run("given", func(b *testing.B) { benchReplace(b, true, false) })
	// given, with the trace of a ChainOfThought (module, format, LM call,
	// parse), as a batch's execution ends
	b.Run("given-trace", func(b *testing.B) { benchReplace(b, true, true) })
}

func benchReplace(b *testing.B, given, trace bool) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: b.TempDir(), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Now()
	olds := make([]*model.Execution, b.N)
	for i := range olds {
		x := benchExecution(9, base.Add(time.Duration(i)*time.Microsecond)) // pending
		x.Usage, x.Cost = nil, 0
		olds[i] = x
	}
	for c := range slices.Chunk(olds, MaxExecutionBatch) {
		if err := s.CreateExecutions(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	c0 := cpuTime()
	for i, old := range olds {
		next := benchExecution(0, old.CreatedAt) // completed
		next.ID, next.Program = old.ID, old.Program
		var spans []model.Span
		if trace {
			spans = benchSpans(old.CreatedAt)[:4]
		}
		if given {
			err = s.ReplaceExecution(ctx, old, next, spans)
		} else {
			err = s.PutExecution(ctx, next)
		}
		if err != nil {
			b.Fatal(i, err)
		}
	}
	cpu := cpuTime() - c0
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(b.N), "cpu-us/write")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodeSpans encodes one run's 20 spans for the store, as the
// store did (encoding/json) and does.
func BenchmarkEncodeSpans(b *testing.B) {
	spans := benchSpans(time.Now())
	id := model.NewID()
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			for i := range spans {
				spans[i].Execution = id
				if _, err := json.Marshal(&spans[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeSpans(id, spans); err != nil {
				b.Fatal(err)
			}
		}
	})
}
