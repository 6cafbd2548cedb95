package jobs

import (
	"context"
	"testing"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// A program deleted and created again under its old name reuses version 1:
// the kernel, which keeps the versions it runs decoded, must run what the
// store holds now, not what it ran before.
func TestRunsTheProgramAsStoredAfterItIsReplaced(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", qa)
	got := make(chan string, 4)
	fp := &fakePool{fn: func(_ context.Context, req bridge.ExecuteRequest, _ func(model.Span)) (*bridge.ExecuteResult, error) {
		got <- req.Program.Modules[0].Instructions
		return echo(req), nil
	}}
	k, _ := startKernel(t, Options{Store: st, Pool: fp, LMs: testLM(nil)})
	runOnce := func(i int) string {
		t.Helper()
		x, err := k.Submit(ctx, Request{Program: "qa", Inputs: question(i)})
		if err != nil {
			t.Fatal(err)
		}
		if done := waitAll(t, k, []*model.Execution{x})[0]; done.State != model.Completed || done.Version != 1 {
			t.Fatalf("run %d: %+v", i, done)
		}
		return <-got
	}
	if first := runOnce(1); first != qa.Modules[0].Instructions {
		t.Fatalf("first run ran instructions %q", first)
	}
	if again := runOnce(2); again != qa.Modules[0].Instructions {
		t.Fatalf("second run ran instructions %q", again)
	}
	if err := st.DeleteProgram(ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	replaced := *qa
	replaced.Modules = []model.Module{qa.Modules[0]}
	replaced.Modules[0].Instructions = "Answer in one word."
	if p, err := st.CreateProgram(ctx, &replaced); err != nil || p.Version != 1 {
		t.Fatalf("create again: %v %+v", err, p)
	}
	if now := runOnce(3); now != "Answer in one word." {
		t.Fatalf("after the program was replaced, the run got instructions %q, want the new version 1's", now)
	}
}
