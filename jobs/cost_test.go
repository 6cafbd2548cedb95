package jobs

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// flaky is a user's module that makes one LM call and then raises.
const flaky = `import dspy


class Flaky(dspy.Module):
    def __init__(self):
        super().__init__()
        self.draft = dspy.Predict("question -> answer")

    def forward(self, question):
        self.draft(question=question)
        raise RuntimeError("flaky: gave up after its first LM call")
`

// TestFailedAttemptsAreCharged runs programs whose LM calls succeed and then
// fail: every call made is charged to the execution, on every attempt, also
// when the worker is killed mid-run, and the charge counts in the month's
// rollup and against the budgets.
func TestFailedAttemptsAreCharged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "flaky.py")
	if err := os.WriteFile(src, []byte(flaky), 0o600); err != nil {
		t.Fatal(err)
	}
	// The second module's instructions hold the word the test LM fails or
	// crashes on, so its first module's call has been made (and billed).
	twoStep := func(name string) *model.Program {
		return &model.Program{Name: name, Modules: []model.Module{
			{Name: "first", Type: model.Predict, Signature: "question -> answer"},
			{Name: "second", Type: model.Predict, Signature: "answer -> final", Instructions: "Say BOOM."},
		}}
	}
	custom := &model.Program{Name: "custom", Modules: []model.Module{
		{Name: "mine", Type: model.Custom, Source: src + ":Flaky", Signature: "question -> answer"},
	}}
	st := openStore(t, "", twoStep("outage"), twoStep("killed"), custom)
	pool := startPool(t, 1, 0)
	price := func(kw map[string]any) bridge.LMSpec {
		return bridge.LMSpec{Model: "signet/test", PriceIn: 3, PriceOut: 15, Kwargs: kw}
	}
	lms := testLMs{"fail": price(map[string]any{"fail_on": "BOOM"}), "crash": price(map[string]any{"crash_on": "BOOM"}),
		"test": price(nil)}
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: lms, Backoff: time.Millisecond, CacheTTL: -1})

	for _, c := range []struct {
		program, lm, code string
		attempts          int
		unknown           bool // an LM call was cut short by the worker's death
	}{
		{"outage", "fail", "lm_unavailable", 3, false},
		{"killed", "crash", bridge.CodeWorkerDied, 3, true},
		{"custom", "test", "user_code", 1, false},
	} {
		x, err := k.Submit(ctx, Request{Program: c.program, LM: c.lm, Inputs: question(1)})
		if err != nil {
			t.Fatal(err)
		}
		got := waitAll(t, k, []*model.Execution{x})[0]
		if got.State != model.Failed || got.ErrorCode != c.code || got.Attempts != c.attempts {
			t.Fatalf("%s: %s after %d attempts (%s: %s)", c.program, got.State, got.Attempts, got.ErrorCode, got.Error)
		}
		// Each attempt made one LM call that returned: each is charged.
		var traced float64
		charged := 0
		for _, s := range allSpans(t, st, x.ID) {
			if s.Kind == model.SpanLM && s.Cost > 0 {
				traced += s.Cost
				charged++
			}
		}
		u := got.Usage["signet/test"]
		if got.Cost <= 0 || charged != c.attempts || u.Calls != c.attempts || math.Abs(got.Cost-traced) > 1e-12 ||
			got.CostUnknown != c.unknown {
			t.Fatalf("%s: cost $%v (unknown %v), usage %+v; the trace has %d charged LM calls worth $%v",
				c.program, got.Cost, got.CostUnknown, got.Usage, charged, traced)
		}
		rs, err := st.CostRollups(ctx, c.program, time.Now().UTC().Format("2006-01"))
		if err != nil || len(rs) != 1 || math.Abs(rs[0].Cost-got.Cost) > 1e-9 || rs[0].Usage.Calls != c.attempts {
			t.Fatalf("%s: rollups %+v (%v), want the execution's $%v", c.program, rs, err, got.Cost)
		}
		// What a failed run spent counts against the program's cap.
		if err := st.SetBudget(ctx, c.program, got.Cost*0.99); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Submit(ctx, Request{Program: c.program, LM: c.lm, Inputs: question(2)}); err == nil {
			t.Fatalf("%s: a run over the cap its failed runs spent was accepted", c.program)
		} else if _, ok := isBudget(err); !ok {
			t.Fatalf("%s: over the cap: %v", c.program, err)
		}
	}
}
