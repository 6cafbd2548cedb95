package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// TestFailedRunKeepsTraceback: a run that fails in the user's code or in
// an LM call is stored with the Python traceback its worker sent, read
// back from the store; a completed retry of it would clear it.
func TestFailedRunKeepsTraceback(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "flaky.py")
	if err := os.WriteFile(src, []byte(flaky), 0o600); err != nil {
		t.Fatal(err)
	}
	custom := &model.Program{Name: "custom", Modules: []model.Module{
		{Name: "mine", Type: model.Custom, Source: src + ":Flaky", Signature: "question -> answer"},
	}}
	outage := &model.Program{Name: "outage", Modules: []model.Module{
		{Name: "only", Type: model.Predict, Signature: "question -> answer", Instructions: "Say BOOM."},
	}}
	st := openStore(t, "", custom, outage)
	pool := startPool(t, 1, 0)
	lms := testLMs{"test": bridge.LMSpec{Model: "signet/test"},
		"fail": bridge.LMSpec{Model: "signet/test", Kwargs: map[string]any{"fail_on": "BOOM"}}}
	k, _ := startKernel(t, Options{Store: st, Pool: pool, LMs: lms, Backoff: time.Millisecond, CacheTTL: -1})
	for _, c := range []struct{ program, lm, code, says string }{
		{"custom", "test", "user_code", "RuntimeError: flaky: gave up"}, // and the user's file
		{"outage", "fail", "lm_unavailable", "Error"},
	} {
		x, err := k.Submit(ctx, Request{Program: c.program, LM: c.lm, Inputs: question(1)})
		if err != nil {
			t.Fatal(err)
		}
		waitAll(t, k, []*model.Execution{x})
		got, err := st.GetExecution(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != model.Failed || got.ErrorCode != c.code || !strings.HasPrefix(got.Traceback, "Traceback (most recent call last):") ||
			!strings.Contains(got.Traceback, c.says) {
			t.Fatalf("%s: %s (%s: %s), traceback:\n%s", c.program, got.State, got.ErrorCode, got.Error, got.Traceback)
		}
		if c.program == "custom" && !strings.Contains(got.Traceback, "flaky.py") {
			t.Fatalf("the user's traceback does not name its file:\n%s", got.Traceback)
		}
	}
}
