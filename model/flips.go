package model

// PassThreshold is the score at or above which an example passes, as the
// worker counts it in an optimizer's per-example results (metrics.py's
// PASS_THRESHOLD; a bool metric passes when true, which scores 1).
const PassThreshold = 0.5

// FlipSide is one column of a flip matrix: the per-example outcomes of an
// optimization run's trial or of an evaluation.
type FlipSide struct {
	Results []ExampleResult
	// Executions maps an example to the execution that ran it, where one
	// was recorded (an evaluation's examples); nil for an optimizer's.
	Executions map[ID]ID
}

// FlipMatrix sets sides' outcomes per example, in the order examples
// first appear, and counts the flips: examples two sides disagree on.
// Optimization runs (Comparison.Examples) and evaluations share it.
func FlipMatrix(sides []FlipSide) ([]ExampleRow, int) {
	var order []ID
	rows := map[ID]*ExampleRow{}
	traced := false
	for i, side := range sides {
		for _, res := range side.Results {
			row := rows[res.Example]
			if row == nil {
				row = &ExampleRow{Example: res.Example, Pass: make([]*bool, len(sides)), Executions: make([]ID, len(sides))}
				rows[res.Example] = row
				order = append(order, res.Example)
			}
			pass := res.Pass
			row.Pass[i] = &pass
			if x, ok := side.Executions[res.Example]; ok {
				row.Executions[i] = x
				traced = true
			}
		}
	}
	out := make([]ExampleRow, 0, len(order))
	flips := 0
	for _, id := range order {
		row := rows[id]
		if !traced {
			row.Executions = nil
		}
		var first *bool
		for _, p := range row.Pass {
			if p == nil {
				continue
			}
			if first == nil {
				first = p
			} else if *p != *first {
				row.Flip = true
			}
		}
		if row.Flip {
			flips++
		}
		out = append(out, *row)
	}
	return out, flips
}

// EvalFlipSide is an evaluation's results as a flip side: an example
// passes as the optimizer counts it (a failed execution scored 0, so it
// fails), and its execution is kept to open its trace.
func EvalFlipSide(rs []*EvalResult) FlipSide {
	side := FlipSide{Executions: map[ID]ID{}}
	for _, r := range rs {
		if r == nil {
			continue
		}
		side.Results = append(side.Results, ExampleResult{Example: r.Example, Score: r.Score, Pass: r.Score >= PassThreshold})
		if !r.Execution.IsZero() {
			side.Executions[r.Example] = r.Execution
		}
	}
	return side
}

// OptFlipSide is an optimization run's validation results as a flip
// side: those of the trial whose program became its result (else its best
// scored trial with results), as Comparison.Examples shows them.
func OptFlipSide(run *Optimization, trials []*Trial) FlipSide {
	if t := bestTrial(RunForCompare{Run: run, Trials: trials}); t != nil {
		return FlipSide{Results: t.Results}
	}
	return FlipSide{}
}
