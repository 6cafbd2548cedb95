package owner

import (
	"context"
	"math"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestCost runs priced executions of two programs, then reads the month's
// cost, per program and per day, against the budgets; a budget reached
// refuses the next run.
func TestCost(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, true)
	other := *runsQA
	other.Name = "other"
	createPrograms(t, o, runsQA, &other)
	spent := map[string]float64{}
	var month string
	day := 0
	for _, run := range []struct{ program, question string }{
		{"qa", "What is the capital of France?"}, {"qa", "What is the capital of Peru?"}, {"other", "Is Oslo cold?"},
	} {
		x, err := o.Run(ctx, app.RunRequest{Program: run.program, LM: "priced", Inputs: map[string]any{"question": run.question}, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		if x.State != model.Completed || x.Cost <= 0 || x.CostUnknown {
			t.Fatalf("a priced run: %+v", x)
		}
		spent[run.program] += x.Cost
		month, day = x.CreatedAt.UTC().Format("2006-01"), x.CreatedAt.UTC().Day()
	}

	rep, err := o.Cost(ctx, app.CostQuery{Month: month})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Month != month || len(rep.Programs) != 2 || rep.Days != nil || len(rep.Budgets) != 0 {
		t.Fatalf("the month's report: %+v", rep)
	}
	for _, row := range rep.Programs {
		n := map[string]int{"qa": 2, "other": 1}[row.Program]
		if row.Month != month || row.Executions != n || !sameCost(row.Cost, spent[row.Program]) || row.Usage.Calls != n {
			t.Fatalf("row %+v: want %d executions costing %v", row, n, spent[row.Program])
		}
	}
	if !sameCost(rep.Total, spent["qa"]+spent["other"]) {
		t.Fatalf("total %v, spent %v", rep.Total, spent)
	}

	t.Run("every month", func(t *testing.T) {
		all, err := o.Cost(ctx, app.CostQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if all.Month != "" || len(all.Programs) != 2 || !sameCost(all.Total, rep.Total) {
			t.Fatalf("every month: %+v", all)
		}
	})

	t.Run("per day", func(t *testing.T) {
		for program, want := range map[string]float64{"qa": spent["qa"], "": rep.Total} {
			got, err := o.Cost(ctx, app.CostQuery{Program: program, Month: month, Days: true})
			if err != nil {
				t.Fatal(err)
			}
			// The current month's days end today, which is the runs' day or,
			// past midnight, a later one.
			if len(got.Days) < day || !sameCost(got.Days[day-1], want) || !sameCost(sumDays(got.Days), got.Total) || !sameCost(got.Total, want) {
				t.Fatalf("program %q: days %v, total %v; want %v on day %d", program, got.Days, got.Total, want, day)
			}
		}
		past, err := o.Cost(ctx, app.CostQuery{Program: "qa", Month: "2024-02", Days: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(past.Days) != 29 || sumDays(past.Days) != 0 || len(past.Programs) != 0 || past.Total != 0 {
			t.Fatalf("a past month: %+v", past)
		}
		future, err := o.Cost(ctx, app.CostQuery{Month: "2999-01", Days: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(future.Days) != 0 {
			t.Fatalf("a month to come has days: %v", future.Days)
		}
	})

	t.Run("budgets", func(t *testing.T) {
		if err := o.SetBudget(ctx, "", 100); err != nil {
			t.Fatal(err)
		}
		if err := o.SetBudget(ctx, "other", 3); err != nil {
			t.Fatal(err)
		}
		got, err := o.Cost(ctx, app.CostQuery{Month: month})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Budgets) != 2 || got.Budgets[""] != 100 || got.Budgets["other"] != 3 {
			t.Fatalf("budgets %v", got.Budgets)
		}
		if err := o.SetBudget(ctx, "other", 0); err != nil {
			t.Fatal(err)
		}
		if got, _ := o.Cost(ctx, app.CostQuery{}); len(got.Budgets) != 1 {
			t.Fatalf("budgets after clearing other's: %v", got.Budgets)
		}
		// A cap already spent refuses the program's next run, and only its.
		if err := o.SetBudget(ctx, "qa", spent["qa"]/2); err != nil {
			t.Fatal(err)
		}
		_, err = o.Run(ctx, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "Is Rome old?"}, Wait: true})
		wantCode(t, err, app.CodeBudget, "program qa", month)
		if _, err := o.Run(ctx, app.RunRequest{Program: "other", LM: "priced", Inputs: map[string]any{"question": "Is Rome old?"}, Wait: true}); err != nil {
			t.Fatalf("another program's run: %v", err)
		}
	})

	t.Run("over the socket", func(t *testing.T) {
		cl := api.NewClient(api.SocketPath(o.Dir()))
		got, err := cl.Cost(ctx, app.CostQuery{Program: "qa", Month: month, Days: true})
		if err != nil {
			t.Fatal(err)
		}
		own, err := o.Cost(ctx, app.CostQuery{Program: "qa", Month: month, Days: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Programs) != 1 || got.Programs[0] != own.Programs[0] || got.Total != own.Total || len(got.Days) != len(own.Days) ||
			got.Budgets["qa"] != own.Budgets["qa"] {
			t.Fatalf("through the client %+v, the owner's %+v", got, own)
		}
		if err := cl.SetBudget(ctx, "other", 7); err != nil {
			t.Fatal(err)
		}
		if b, _ := o.st.Budgets(ctx); b["other"] != 7 {
			t.Fatalf("a budget set through the client: %v", b)
		}
		err = cl.SetBudget(ctx, "nope", 1)
		wantCode(t, err, app.CodeNotFound, `program "nope"`)
		_, err = cl.Cost(ctx, app.CostQuery{Month: "May"})
		wantCode(t, err, app.CodeInvalid, `month: "May": want YYYY-MM`)
	})
}

// TestCostRefuses: bad queries and caps fail with the service's code and
// change nothing; none needs a worker.
func TestCostRefuses(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, false)
	createPrograms(t, o, runsQA)
	for _, tc := range []struct {
		name  string
		q     app.CostQuery
		parts []string
	}{
		{"a month that is no month", app.CostQuery{Month: "2026-13"}, []string{"month", "2026-13"}},
		{"days of every month", app.CostQuery{Days: true}, []string{"days", "needs a month"}},
		{"a program that cannot be", app.CostQuery{Program: "a b"}, []string{"program.name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := o.Cost(ctx, tc.q)
			wantCode(t, err, app.CodeInvalid, tc.parts...)
		})
	}
	for _, tc := range []struct {
		name    string
		program string
		usd     float64
		code    app.Code
		parts   []string
	}{
		{"a negative cap", "", -1, app.CodeInvalid, []string{"usd", "≥ 0"}},
		{"not a number", "qa", math.NaN(), app.CodeInvalid, []string{"usd"}},
		{"infinite", "qa", math.Inf(1), app.CodeInvalid, []string{"usd"}},
		{"no such program", "nope", 5, app.CodeNotFound, []string{`program "nope"`}},
		{"a name that cannot be", "a b", 0, app.CodeInvalid, []string{"program.name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := o.SetBudget(ctx, tc.program, tc.usd)
			wantCode(t, err, tc.code, tc.parts...)
			if b, err := o.st.Budgets(ctx); err != nil || len(b) != 0 {
				t.Fatalf("budgets after a refused cap: %v, %v", b, err)
			}
		})
	}
	// Clearing a cap that is not set, or of a program that is gone, is not
	// an error: there is nothing left to cap.
	if err := o.SetBudget(ctx, "gone", 0); err != nil {
		t.Fatal(err)
	}
	if o.pool.Load() != nil {
		t.Fatal("a cost query started the workers")
	}
}

func sumDays(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// sameCost compares costs summed in another order (the store's rollups keep
// nano-dollars).
func sameCost(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
