package jobs

import (
	"fmt"
	"math"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// Token guesses per LM call, for the estimates' cost (an optimization's, and
// one run's when its program has no history): a program call sends its
// instructions, fields and demos; a proposal call (an optimizer asking the
// LM for instructions or reflecting) sends much more.
const (
	callTokensIn      = 300
	demoTokensIn      = 80
	callTokensOut     = 50
	proposalTokensIn  = 1500
	proposalTokensOut = 200
)

// sizes are the example counts an estimate works from.
type sizes struct{ train, val, test int }

// callsPerRun is how many LM calls one run of the program makes at most.
func callsPerRun(p *model.Program) int {
	n := 0
	for _, m := range p.Modules {
		switch m.Type {
		case model.Retrieve:
		case model.ReAct:
			iters := 10
			if v, ok := m.Config["max_iters"].(float64); ok && v > 0 {
				iters = int(v)
			} else if v, ok := m.Config["max_iters"].(int); ok && v > 0 {
				iters = v
			}
			n += iters + 1 // each step, then the extraction
		default:
			n++
		}
	}
	return max(n, 1)
}

func predictors(p *model.Program) int {
	n := 0
	for _, m := range p.Modules {
		if m.Type != model.Retrieve {
			n++
		}
	}
	return max(n, 1)
}

func setting(s map[string]any, key string, def int) int {
	switch v := s[key].(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return def
}

// autoCandidates is MIPROv2's and GEPA's "auto" presets: the number of
// candidates and (MIPROv2) the validation examples it evaluates at most.
func autoCandidates(auto string) (n, valCap int) {
	switch auto {
	case "medium":
		return 12, 300
	case "heavy":
		return 18, 1000
	}
	return 6, 100
}

// Estimate is an upper bound of the LM calls of an optimization and their
// cost, from the optimizer, its settings, the dataset sizes and the LM's
// prices. It mirrors what each DSPy optimizer does (read from its source);
// the bounds assume every bootstrap attempt runs, so real runs are cheaper.
func estimate(p *model.Program, optimizer string, settings map[string]any, sz sizes, lm bridge.LMSpec) *model.OptEstimate {
	m := callsPerRun(p)
	preds := predictors(p)
	val := sz.val
	if val == 0 {
		val = sz.train // optimizers evaluate on train when given no validation set
	}
	maxDemos := setting(settings, "max_bootstrapped_demos", 4) + setting(settings, "max_labeled_demos", 4)
	runs := 0      // program runs
	proposals := 0 // optimizer's own LM calls
	note := ""
	switch optimizer {
	case "labeled_fewshot":
		runs = val
		maxDemos = setting(settings, "k", 16)
	case "bootstrap_fewshot":
		runs = sz.train*setting(settings, "max_rounds", 1) + val
	case "bootstrap_random_search":
		n := setting(settings, "num_candidate_programs", 16) + 3
		runs = n * (sz.train + val)
	case "mipro_v2":
		auto, _ := settings["auto"].(string)
		n, valCap := autoCandidates(auto)
		if auto == "" {
			n, valCap = setting(settings, "num_candidates", 6), val
		}
		v := min(val, valCap)
		vars := 2 * preds
		trials := setting(settings, "num_trials", int(math.Max(2*float64(vars)*math.Log2(float64(max(n, 2))), 1.5*float64(n))))
		batch := min(setting(settings, "minibatch_size", 35), v)
		full := trials/setting(settings, "minibatch_full_eval_steps", 5) + 1
		runs = n*sz.train + trials*batch + full*v
		proposals = n*preds + 10
		note = fmt.Sprintf("%d candidates, %d trials", n, trials)
	case "copro":
		breadth, depth := setting(settings, "breadth", 10), setting(settings, "depth", 3)
		runs = breadth * depth * preds * sz.train
		proposals = depth * preds
	case "simba":
		steps, cands, bsize := setting(settings, "max_steps", 8), setting(settings, "num_candidates", 6), setting(settings, "bsize", 32)
		bsize = min(bsize, max(sz.train, 1))
		// Each step samples and scores cands trajectories per batch
		// example; at the end the winning programs are scored on the set.
		runs = steps*2*bsize*cands + (cands+1)*val
		proposals = steps * cands
	case "gepa":
		if c := setting(settings, "max_metric_calls", 0); c > 0 {
			runs = c
			note = "max_metric_calls"
		} else {
			auto, _ := settings["auto"].(string)
			if auto == "" {
				auto = "light"
			}
			n, _ := autoCandidates(auto)
			runs = val*(n+1) + n*2*setting(settings, "reflection_minibatch_size", 3)
			note = fmt.Sprintf("auto %s: about %d candidates", auto, n)
		}
		proposals = runs / max(val, 1) * preds
		runs += val // the best candidate's full validation, which max_metric_calls does not bound exactly
	}
	runs += val + 2*sz.test // the baseline, and both programs on the test split
	e := &model.OptEstimate{LMCalls: runs*m + proposals, Train: sz.train, Val: sz.val, Test: sz.test, Note: note}
	e.TokensIn = runs*m*(callTokensIn+demoTokensIn*maxDemos) + proposals*proposalTokensIn
	e.TokensOut = runs*m*callTokensOut + proposals*proposalTokensOut
	switch {
	case lm.Free:
		c := 0.0
		e.Cost = &c
	case lm.PriceIn > 0 || lm.PriceOut > 0:
		c := float64(e.TokensIn)*lm.PriceIn/1e6 + float64(e.TokensOut)*lm.PriceOut/1e6
		e.Cost = &c
	}
	return e
}
