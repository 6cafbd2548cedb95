package model

import "testing"

func TestFlipMatrixEvaluationsAgainstARun(t *testing.T) {
	idE1, idE2, idE3, idE4 := ID{1}, ID{2}, ID{3}, ID{4}
	idX1, idX2, idY1, idY2 := ID{11}, ID{12}, ID{21}, ID{22}
	a := EvalFlipSide([]*EvalResult{
		{Example: idE1, Execution: idX1, Score: 1},
		{Example: idE2, Execution: idX2, Score: 0.2},
		{Example: idE3, Score: 0, State: Failed, Error: "boom"}, // failed before an execution was recorded
	})
	b := EvalFlipSide([]*EvalResult{{Example: idE2, Execution: idY2, Score: 0.5}, {Example: idE1, Execution: idY1, Score: 1}})
	run := &Optimization{BestTrial: 2}
	opt := OptFlipSide(run, []*Trial{
		{N: 0, Score: 0, Results: []ExampleResult{{Example: idE1, Pass: false}}},
		{N: 2, Score: 0.5, Results: []ExampleResult{{Example: idE1, Pass: true}, {Example: idE2, Pass: true}, {Example: idE4, Pass: false}}},
	})
	rows, flips := FlipMatrix([]FlipSide{a, b, opt})
	if len(rows) != 4 || flips != 1 {
		t.Fatalf("rows %d flips %d, want 4 rows (e1 e2 e3 e4) and 1 flip (e2)", len(rows), flips)
	}
	e2 := rows[1]
	if e2.Example != idE2 || !e2.Flip || *e2.Pass[0] || !*e2.Pass[1] || !*e2.Pass[2] {
		t.Errorf("e2: %+v", e2)
	}
	if e2.Executions[0] != idX2 || e2.Executions[1] != idY2 || !e2.Executions[2].IsZero() {
		t.Errorf("e2's executions %v: want x2, y2 and none for the optimizer", e2.Executions)
	}
	if rows[2].Example != idE3 || *rows[2].Pass[0] || rows[2].Pass[1] != nil || rows[2].Flip {
		t.Errorf("e3, failed on one side only: %+v", rows[2])
	}
	// Runs alone record no executions: the rows say so with none.
	rows, _ = FlipMatrix([]FlipSide{opt, opt})
	if rows[0].Executions != nil {
		t.Errorf("optimizer sides have executions %v", rows[0].Executions)
	}
}
