package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"

	"github.com/signet-dspy/signet/internal/testenv"
)

// These tests run the real worker package (the embedded copy) with real
// DSPy and its deterministic test LM, signet/test.

var qaProgram = &model.Program{Name: "qa", Modules: []model.Module{
	{Name: "answer", Type: model.Predict, Signature: "question -> answer"},
}}

// threeModules chains predict → chain_of_thought → predict over the record.
var threeModules = &model.Program{Name: "facts", Modules: []model.Module{
	{Name: "recall", Type: model.Predict, Signature: "question -> facts: list[str]",
		Instructions: "List two or three short facts that help answer the question."},
	{Name: "reason", Type: model.ChainOfThought, Signature: "question, facts: list[str] -> answer"},
	{Name: "polish", Type: model.Predict, Signature: "answer -> final: str", Instructions: "Answer in uppercase."},
}}

func testLM(kwargs map[string]any) LMSpec {
	return LMSpec{Model: "signet/test", Kwargs: kwargs}
}

func realConfig(t testing.TB, workers int) Config {
	return Config{Python: testenv.Python(t), Workers: workers}
}

func question(i int) map[string]any {
	return map[string]any{"question": fmt.Sprintf("What is the capital of Country%d?", i)}
}

func TestExecuteEndToEnd(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 1))
	var spans []model.Span
	res, err := p.Execute(context.Background(), ExecuteRequest{Program: threeModules,
		Inputs: map[string]any{"question": "What is the capital of France?"}, LM: testLM(nil), Trace: true},
		func(s model.Span) { spans = append(spans, s) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["answer"] != "France" || res.Outputs["final"] != "FRANCE" {
		t.Fatalf("outputs %v", res.Outputs)
	}
	if facts, ok := res.Outputs["facts"].([]any); !ok || len(facts) == 0 {
		t.Fatalf("facts %v is not a parsed list", res.Outputs["facts"])
	}
	u := res.Usage["signet/test"]
	if u.Calls != 3 || u.PromptTokens == 0 || u.CompletionTokens == 0 {
		t.Fatalf("usage %+v", res.Usage)
	}
	if res.Duration <= 0 {
		t.Fatalf("duration %s", res.Duration)
	}

	// Every span arrives open, then closed, or, when it ended before its
	// start went out (the adapter's format and parse), closed at once,
	// whole; an LM span always arrives open first (the protocol's promise:
	// a call in flight is known). The closed ones form one tree.
	open, closed := map[string]model.Span{}, map[string]model.Span{}
	whole := 0
	for _, s := range spans {
		if s.End.IsZero() {
			if _, dup := open[s.ID]; dup {
				t.Fatalf("span %s started twice", s.ID)
			}
			open[s.ID] = s
			continue
		}
		if _, dup := closed[s.ID]; dup {
			t.Fatalf("span %s ended twice", s.ID)
		}
		if _, ok := open[s.ID]; !ok {
			if s.Kind == "" || s.Name == "" || s.Start.IsZero() || s.Kind == model.SpanLM {
				t.Fatalf("span %s (%s %s) arrived closed, not whole or an LM call", s.ID, s.Kind, s.Name)
			}
			whole++
		}
		if s.End.Before(s.Start) {
			t.Fatalf("span %s ends before it starts", s.ID)
		}
		closed[s.ID] = s
	}
	if len(open)+whole != len(closed) || whole == 0 {
		t.Fatalf("%d spans started, %d arrived whole, %d ended", len(open), whole, len(closed))
	}
	var roots []model.Span
	lms := map[string]int{}
	for _, s := range closed {
		if s.Parent == "" {
			roots = append(roots, s)
			continue
		}
		if _, ok := closed[s.Parent]; !ok {
			t.Fatalf("span %s (%s) has an unknown parent %s", s.ID, s.Name, s.Parent)
		}
		if s.Kind == model.SpanLM {
			// lm → the module's span → … → the program's span, the root.
			if p := closed[s.Parent]; p.Kind != model.SpanModule || p.Module != s.Module {
				t.Fatalf("lm span of %s hangs under %+v, want the module's span", s.Module, p)
			}
			q, depth := s, 0
			for ; q.Parent != "" && depth < 10; depth++ {
				q = closed[q.Parent]
			}
			if q.Parent != "" || q.Name != "facts" {
				t.Fatalf("lm span of %s: %d ancestors up is %+v, not the program's span", s.Module, depth, q)
			}
			lms[s.Module]++
			if len(s.Messages) == 0 || s.Completion == "" || s.Usage.PromptTokens == 0 {
				t.Fatalf("lm span without its prompt, completion or usage: %+v", s)
			}
		}
	}
	if len(roots) != 1 || roots[0].Kind != model.SpanModule || roots[0].Name != "facts" {
		t.Fatalf("roots %+v, want the program's module span", roots)
	}
	if lms["recall"] != 1 || lms["reason"] != 1 || lms["polish"] != 1 {
		t.Fatalf("lm spans per module %v", lms)
	}
}

func TestValidateRenderPing(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 2))
	ctx := context.Background()
	v, err := p.Validate(ctx, threeModules, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Modules) != 3 || v.Modules[1].Name != "reason" || strings.Join(v.Modules[1].Inputs, ",") != "question,facts" ||
		strings.Join(v.Inputs, ",") != "question" {
		t.Fatalf("validate: %+v", v)
	}
	bad := &model.Program{Name: "bad", Modules: []model.Module{{Name: "x", Type: model.Predict, Signature: "question -> "}}}
	_, err = p.Validate(ctx, bad, "", nil)
	if e := asError(t, err); e.Code != "bad_program" || e.Retryable || e.Detail["module"] != "x" || e.Worker == 0 {
		t.Fatalf("validate of a bad program: %#v", e)
	}

	r, err := p.Render(ctx, RenderRequest{Program: threeModules, Inputs: map[string]any{"question": "Why?"}, LM: testLM(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Modules) != 3 || len(r.Modules[0].Messages) == 0 || strings.Join(r.Modules[1].Placeholders, ",") != "facts" ||
		len(r.Modules[1].Messages) == 0 || !strings.Contains(r.Modules[1].Messages[len(r.Modules[1].Messages)-1].Content, "{facts}") {
		t.Fatalf("render: %+v", r)
	}

	if err := p.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Status() {
		if s.State != StateReady || s.PID == 0 || s.DSPy != "3.4.1" || s.Started.IsZero() || s.Current != nil {
			t.Fatalf("status %+v", s)
		}
	}
}

func TestWorkerErrors(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 1))
	_, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1),
		LM: testLM(map[string]any{"fail_on": "Country1"})}, nil)
	if e := asError(t, err); e.Code != "lm_unavailable" || !e.Retryable || e.Worker != 1 || e.Method != "execute" {
		t.Fatalf("fail_on: %#v", e)
	}
	_, err = p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: map[string]any{}, LM: testLM(nil)}, nil)
	if e := asError(t, err); e.Code != "bad_input" || e.Retryable {
		t.Fatalf("missing input: %#v", e)
	}
}

// runningLM waits until a span of kind lm has started, so a test acts
// while the worker is inside the LM call.
func runningLM() (func(model.Span), <-chan struct{}) {
	started := make(chan struct{})
	var once sync.Once
	return func(s model.Span) {
		if s.Kind == model.SpanLM && s.End.IsZero() {
			once.Do(func() { close(started) })
		}
	}, started
}

func TestWorkerKilledMidRequest(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 1))
	pid := p.Status()[0].PID
	onSpan, inLM := runningLM()
	go func(pid int) {
		<-inLM
		if st := p.Status()[0]; st.State != StateBusy || st.Inflight != 1 || st.Current == nil || st.Current.Method != "execute" {
			t.Errorf("status during the call: %+v (current %v)", st, st.Current)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}(pid)
	_, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1),
		LM: testLM(map[string]any{"sleep_ms": 30000}), Trace: true}, onSpan)
	e := asError(t, err)
	if e.Code != CodeWorkerDied || !e.Retryable || e.PID != pid || !IsRetryable(err) {
		t.Fatalf("got %#v, want a retryable worker_died naming pid %d", e, pid)
	}
	contains(t, err.Error(), "signal: killed")
	st := slotReady(t, p, 1, pid)
	if st.Restarts != 1 {
		t.Fatalf("status %+v", st)
	}
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(2), LM: testLM(nil)}, nil); err != nil {
		t.Fatalf("after the restart: %v", err)
	}

	// The test LM's crash_on exits the worker from inside DSPy.
	pid = p.Status()[0].PID
	_, err = p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(3),
		LM: testLM(map[string]any{"crash_on": "Country3"})}, nil)
	if e := asError(t, err); e.Code != CodeWorkerDied || !e.Retryable {
		t.Fatalf("crash_on: %#v", e)
	}
	contains(t, err.Error(), "exit status 3")
	slotReady(t, p, 1, pid)
}

func TestHungWorker(t *testing.T) {
	cfg := realConfig(t, 1)
	cfg.CancelGrace = 500 * time.Millisecond
	clk := newHeldClock()
	cfg.clock = clk
	p, _ := startPool(t, cfg)
	pid := p.Status()[0].PID
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := p.Execute(ctx, ExecuteRequest{Program: qaProgram, Inputs: question(1),
		LM: testLM(map[string]any{"sleep_ms": 3_600_000})}, nil)
	e := asError(t, err)
	if e.Code != CodeTimeout || !e.Retryable || !errors.Is(err, context.DeadlineExceeded) || e.PID != pid {
		t.Fatalf("got %#v, want a timeout naming pid %d", e, pid)
	}
	// The call returned at its deadline; the worker, in an LM call that
	// cannot be interrupted, still runs it, and is killed when the grace
	// (held until now) ends.
	if st := p.Status()[0]; st.PID != pid || st.Inflight != 1 {
		t.Fatalf("status when the call returned: %+v", st)
	}
	clk.fireFunc(t)
	st := slotReady(t, p, 1, pid)
	contains(t, st.LastError, "did not end within 500ms of its cancel")
	if alive(pid) {
		t.Fatalf("the hung worker %d is alive", pid)
	}
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(2), LM: testLM(nil)}, nil); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 2))
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(i),
				LM: testLM(map[string]any{"sleep_ms": 10}), Trace: true}, func(model.Span) {})
			if err == nil && res.Outputs["answer"] != fmt.Sprintf("Country%d", i) {
				err = fmt.Errorf("answer %v", res.Outputs["answer"])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range p.Status() {
		if s.Served == 0 || s.Restarts != 0 {
			t.Errorf("worker %d served %d, restarted %d times", s.ID, s.Served, s.Restarts)
		}
		total += s.Served
	}
	if total != n {
		t.Fatalf("served %d in all, want %d", total, n)
	}
}

func TestRecycleAfterRequests(t *testing.T) {
	cfg := realConfig(t, 1)
	cfg.MaxRequests = 3
	p, _ := startPool(t, cfg)
	pids := map[int]bool{}
	for i := range 7 {
		pids[p.Status()[0].PID] = true
		if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(i), LM: testLM(nil)}, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	st := awaitPool(t, p, "the second recycle", func(st []WorkerStatus) bool {
		return st[0].Restarts == 2 && st[0].State == StateReady
	})[0]
	pids[st.PID] = true
	if len(pids) != 3 || st.LastError != "" || st.Served != 1 {
		t.Fatalf("after 7 calls with MaxRequests 3: pids %v, status %+v", pids, st)
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	p, err := Start(context.Background(), realConfig(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1), LM: testLM(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	pids := poolPIDs(p)
	want := 2
	if p.zygote() != nil {
		want++ // the zygote too must be gone
	}
	if len(pids) != want {
		t.Fatalf("pids %v", pids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d is alive after Close", pid)
		}
		if syscall.Kill(-pid, 0) == nil {
			t.Errorf("process group %d has members after Close", pid)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCancelHonouredByWorker: a request cancelled between two LM calls ends
// at DSPy's next hook, so the worker is not killed.
func TestCancelHonouredByWorker(t *testing.T) {
	cfg := realConfig(t, 1)
	cfg.CancelGrace = 3 * time.Second
	p, _ := startPool(t, cfg)
	pid := p.Status()[0].PID
	onSpan, inLM := runningLM()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-inLM
		cancel()
	}()
	_, err := p.Execute(ctx, ExecuteRequest{Program: threeModules, Inputs: question(1),
		LM: testLM(map[string]any{"sleep_ms": 300}), Trace: true}, onSpan)
	if e := asError(t, err); e.Code != CodeCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %#v", e)
	}
	awaitPool(t, p, "the worker to end the cancelled request", func(st []WorkerStatus) bool { return st[0].Inflight == 0 })
	if st := p.Status()[0]; st.PID != pid || st.Restarts != 0 {
		t.Fatalf("the worker was replaced: %+v", st)
	}
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(2), LM: testLM(nil)}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestParentDeathPipe: the worker of a process killed with SIGKILL ends,
// even without the parent-death signal (macOS has none) and while it is in
// an hour-long LM call (so EOF on its stdin, which lets running requests
// finish, cannot end it): it reads EOF on the parent-death pipe.
func TestParentDeathPipe(t *testing.T) {
	noOrphans(t, false, func(t *testing.T) []int {
		p, err := Start(context.Background(), realConfig(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		onSpan, inLM := runningLM()
		go p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1),
			LM: testLM(map[string]any{"sleep_ms": 3_600_000}), Trace: true}, onSpan)
		receive(t, "the LM call to start", inLM)
		return poolPIDs(p)
	})
}

// The worker keeps built programs keyed by the program_key Execute sends:
// a request whose state or program differs must not run an earlier build.
func TestExecuteBuildsForEachProgramAndState(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 1))
	withDemo := json.RawMessage(`{"answer": {"traces": [], "train": [], "demos": [{"question": "What is the capital of France?", "answer": "Paris"}], "signature": {"instructions": "Given the fields ` + "`question`" + `, produce the fields ` + "`answer`" + `.", "fields": [{"prefix": "Question:", "description": "${question}"}, {"prefix": "Answer:", "description": "${answer}"}]}, "lm": null}}`)
	upper := &model.Program{Name: "qa", Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Answer in uppercase."},
	}}
	france := map[string]any{"question": "What is the capital of France?"}
	for i, step := range []struct {
		program *model.Program
		state   json.RawMessage
		want    string
	}{
		{qaProgram, nil, "France"},
		{qaProgram, withDemo, "Paris"},
		{qaProgram, nil, "France"},
		{upper, nil, "FRANCE"},
		{qaProgram, withDemo, "Paris"},
	} {
		res, err := p.Execute(context.Background(), ExecuteRequest{Program: step.program, State: step.state,
			Inputs: france, LM: testLM(nil)}, nil)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Outputs["answer"] != step.want {
			t.Fatalf("step %d: answer %v, want %s", i, res.Outputs["answer"], step.want)
		}
	}
}

func TestProgramKey(t *testing.T) {
	base := programKey([]byte(`{"name":"qa"}`), nil)
	if len(base) != 64 || strings.ToLower(base) != base {
		t.Fatalf("key %q is not 64 lowercase hex digits", base)
	}
	if programKey([]byte(`{"name":"qa"}`), nil) != base {
		t.Fatal("equal bytes gave different keys")
	}
	for _, other := range []string{
		programKey([]byte(`{"name":"qb"}`), nil),
		programKey([]byte(`{"name":"qa"}`), []byte(`{}`)),
		programKey([]byte(`{"name":"q`), []byte(`a"}`)), // the NUL keeps program and state apart
	} {
		if other == base {
			t.Fatalf("different program or state gave the key %s", base)
		}
	}
}

// A program encoded once (the kernel's, per version) goes out as Execute
// encodes one itself: the same bytes, the same key, with and without state.
func TestEncodeProgramIsWhatExecuteSends(t *testing.T) {
	prog := &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict,
		Signature: "question -> answer", Instructions: "Say <it> & \"quote\" it."}}}
	enc, err := EncodeProgram(prog)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(prog)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc.json, want) {
		t.Fatalf("encoded %s, want %s", enc.json, want)
	}
	state := []byte(`{"answer":{"demos":[]}}`)
	for _, st := range [][]byte{nil, {}, state} {
		if got := enc.keyWith(st); got != programKey(want, st) {
			t.Errorf("state %q: key %s, want %s", st, got, programKey(want, st))
		}
	}
	if enc.keyWith(state) == enc.keyWith(nil) {
		t.Error("state left out of the key")
	}
}

// The worker writes non-ASCII text as itself (UTF-8 frames, docs/protocol.md): it reaches the spans whole.
func TestNonASCIITextReachesTheSpans(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 1))
	q := "Où est Zürich — 東京? 🙂"
	var spans []model.Span
	_, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram,
		Inputs: map[string]any{"question": q}, LM: testLM(nil), Trace: true},
		func(s model.Span) { spans = append(spans, s) })
	if err != nil {
		t.Fatal(err)
	}
	var root, prompt bool
	for _, s := range spans {
		if s.Parent == "" && s.Inputs["question"] == q {
			root = true
		}
		for _, m := range s.Messages {
			if s.Kind == model.SpanLM && strings.Contains(m.Content, q) {
				prompt = true
			}
		}
	}
	if !root || !prompt {
		t.Fatalf("question %q in the root's inputs: %v, in an LM span's messages: %v", q, root, prompt)
	}
}
