package owner

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Cost is the rollups of one program or all, in one month or all, with
// every budget; with Days, also the cost per day of the month.
func (o *Owner) Cost(ctx context.Context, q app.CostQuery) (*app.CostReport, error) {
	var start time.Time
	if q.Month != "" {
		var err error
		if start, err = time.Parse("2006-01", q.Month); err != nil {
			return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "month", Msg: fmt.Sprintf("%q: want YYYY-MM", q.Month)})
		}
	} else if q.Days {
		return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "days", Msg: "the cost per day needs a month"})
	}
	if q.Program != "" {
		if err := model.ValidName("program", q.Program); err != nil {
			return nil, app.Wrap(app.CodeInvalid, err)
		}
	}
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !who.Local && who.Role != model.RoleAdmin {
		return o.userCost(ctx, who.Name, q, start)
	}
	rs, err := o.st.CostRollups(ctx, q.Program, q.Month)
	if err != nil {
		return nil, fail(err)
	}
	budgets, err := o.st.Budgets(ctx)
	if err != nil {
		return nil, fail(err)
	}
	out := &app.CostReport{Month: q.Month, Programs: make([]app.CostRow, 0, len(rs)), Budgets: budgets}
	for _, r := range rs {
		out.Programs = append(out.Programs, app.CostRow{Program: r.Program, Month: r.Month, Executions: r.Executions, Usage: r.Usage, Cost: r.Cost,
			EmbedCache: r.EmbedCache})
		out.Total += r.Cost
	}
	if q.Days {
		if out.Days, err = o.costPerDay(ctx, q.Program, "", start); err != nil {
			return nil, fail(err)
		}
	}
	return out, nil
}

// userCost is Cost for a user who is not an admin: the rollups of its own
// executions, summed from them (the store rolls cost up per program, not
// per user), without the workspace's budgets.
func (o *Owner) userCost(ctx context.Context, user string, q app.CostQuery, start time.Time) (*app.CostReport, error) {
	rows := map[[2]string]*app.CostRow{}
	sq := store.ExecQuery{Program: q.Program, Limit: 1000}
	for {
		page, next, err := o.st.ListExecutions(ctx, sq)
		if err != nil {
			return nil, fail(err)
		}
		for _, x := range page {
			month := x.CreatedAt.UTC().Format("2006-01")
			if x.User != user || !x.State.Terminal() || (q.Month != "" && month != q.Month) {
				continue
			}
			k := [2]string{x.Program, month}
			r := rows[k]
			if r == nil {
				r = &app.CostRow{Program: x.Program, Month: month}
				rows[k] = r
			}
			r.Executions++
			r.Usage = r.Usage.Add(x.TotalUsage())
			r.Cost += x.Cost
		}
		if next == "" {
			break
		}
		sq.Cursor = next
	}
	out := &app.CostReport{Month: q.Month, Programs: make([]app.CostRow, 0, len(rows))}
	for _, r := range rows {
		out.Programs = append(out.Programs, *r)
		out.Total += r.Cost
	}
	slices.SortFunc(out.Programs, func(a, b app.CostRow) int {
		return cmp.Or(cmp.Compare(a.Program, b.Program), cmp.Compare(a.Month, b.Month))
	})
	if q.Days {
		var err error
		if out.Days, err = o.costPerDay(ctx, q.Program, user, start); err != nil {
			return nil, fail(err)
		}
	}
	return out, nil
}

// costPerDay sums the cost of a program's executions (every program's for
// ""; one user's only unless user is "") per UTC day of the month that starts at start, by the day each was
// created, as the month's rollup counts them; the current month's days
// end today. The store rolls cost up per month only, so the executions are
// read, newest first, from the month's end to its start.
func (o *Owner) costPerDay(ctx context.Context, program, user string, start time.Time) ([]float64, error) {
	end := start.AddDate(0, 1, 0)
	n := int(end.Sub(start).Hours() / 24)
	if now := o.now(); now.Before(end) {
		n = 0
		if !now.Before(start) {
			n = now.Day()
		}
	}
	days := make([]float64, n)
	q := store.ExecQuery{Program: program, Limit: 1000}
	for {
		page, next, err := o.st.ListExecutions(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, x := range page {
			at := x.CreatedAt.UTC()
			if at.Before(start) {
				return days, nil
			}
			if d := at.Day() - 1; at.Before(end) && d < n && (user == "" || x.User == user) {
				days[d] += x.Cost
			}
		}
		if next == "" {
			return days, nil
		}
		q.Cursor = next
	}
}

// SetBudget sets the monthly cap of a program, or the workspace's for "";
// 0 removes it. A cap is set only on a program that exists; one can be
// removed from a program that is gone.
func (o *Owner) SetBudget(ctx context.Context, program string, usd float64) error {
	if _, err := o.mayWrite(ctx, "budget", cmp.Or(program, "workspace")); err != nil {
		return err
	}
	if usd < 0 || math.IsNaN(usd) || math.IsInf(usd, 0) {
		return app.Wrap(app.CodeInvalid, &model.FieldError{Field: "usd", Msg: "want a monthly cap in USD ≥ 0 (0 removes the cap)"})
	}
	if usd == 0 {
		return fail(o.st.ClearBudget(ctx, program))
	}
	if program != "" {
		if _, err := o.st.GetProgram(ctx, program); err != nil {
			return fail(err)
		}
	}
	return fail(o.st.SetBudget(ctx, program, usd))
}
