package owner

import (
	"context"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// The local server is primed with the program of the newest execution on a
// profile of the local model (its version, or its variant), past runs on
// other profiles and programs deleted since; with none, the demo's qa; with
// neither, nothing.
func TestPrimeTargetPicksTheNextLikelyProgram(t *testing.T) {
	o := openRunsOwner(t, "", "lm: test\nprofiles:\n  mine: {model: signet/local}\n", false)
	ctx := context.Background()
	e, err := o.environment()
	if err != nil {
		t.Fatal(err)
	}
	want := func(step, name string, version int, variant bool) {
		t.Helper()
		p, err := o.primeTarget(ctx, e)
		switch {
		case err != nil:
			t.Fatalf("%s: %v", step, err)
		case name == "" && p != nil:
			t.Fatalf("%s: primes %s v%d, want nothing", step, p.Name, p.Version)
		case name == "":
		case p == nil:
			t.Fatalf("%s: primes nothing, want %s v%d", step, name, version)
		case p.Name != name || p.Version != version || (p.Modules[0].Instructions == "variant") != variant:
			t.Fatalf("%s: primes %s v%d (%q), want %s v%d (variant %v)", step, p.Name, p.Version, p.Modules[0].Instructions, name, version, variant)
		}
	}
	ran := func(program string, version int, lm string, variant *model.Program) {
		t.Helper()
		x := &model.Execution{Program: program, Version: version, LM: lm, State: model.Completed, Variant: variant,
			Inputs: map[string]any{"question": "q"}}
		if err := o.st.PutExecution(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(instructions string) *model.Program {
		return &model.Program{Name: "sum", Modules: []model.Module{
			{Name: "s", Type: model.Predict, Signature: "text -> summary", Instructions: instructions}}}
	}

	want("an empty workspace", "", 0, false)
	createPrograms(t, o, sum("one"))
	want("no qa, no runs", "", 0, false)
	createPrograms(t, o, runsQA)
	want("no runs: the demo's qa", "qa", 1, false)

	ran("sum", 1, "test", nil)
	want("runs on other profiles only", "qa", 1, false)
	ran("sum", 1, "local", nil)
	if _, err := o.SaveProgram(ctx, sum("two")); err != nil {
		t.Fatal(err)
	}
	want("sum ran v1 on local", "sum", 1, false)
	ran("qa", 1, "test", nil)
	want("a newer run on another profile", "sum", 1, false)

	v := sum("variant")
	v.Version = 2
	ran("sum", 2, "mine", v)
	want("a variant on a profile of the local model", "sum", 2, true)

	ran("gone", 1, "local", nil) // its program is not in the store
	want("the newest program deleted", "sum", 2, true)
}
