package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// gate is the one budget gate. Before a job's worker call it reserves the
// call's estimate against the monthly caps of the workspace and of the
// job's program: the call is admitted only while what the month has spent
// (the stored rollups) plus what the calls in flight hold plus this estimate
// stays within each cap. After the call the job's real cost is written with
// its record (the rollup moves in the same transaction), and only then is
// the reservation released, so a cost is always counted at least once.
//
// Reservations live in memory, and are rebuilt at recovery rather than
// stored: one exists only while a call is in flight in this process, so
// after a crash there is none to keep (the calls died with the owner), and
// what the interrupted calls did spend is recovered into the rollups from
// what they stored (an execution's LM spans, an optimization's last
// progress). The jobs recovery queues again reserve anew when they are
// dispatched. Storing them would add a write to every dispatch and leave
// stale reservations to clear after a crash.
type gate struct {
	st  *store.Store
	now func() time.Time

	mu   sync.Mutex // serialises admissions: a check and its reservation are one step
	held map[*reservation]struct{}
	hist map[string][]float64 // recent costs of one run, by program and LM profile
}

// reservation is what one call in flight holds against the caps.
type reservation struct {
	program string
	amount  float64
}

// BudgetError refuses a job because a monthly cap is reached, or would be
// by this job's estimate with what is in flight.
type BudgetError struct {
	Scope    string  // "workspace" or "program"
	Program  string  // the program, when Scope is "program"
	Cap      float64 // USD per month
	Spent    float64 // USD spent this month
	Reserved float64 // USD held by the calls in flight
	Estimate float64 // USD this job is expected to cost
	Job      string  // what was refused: "run" or "optimization"
	Month    string  // "2026-11", UTC
}

// Budget scopes.
const (
	ScopeWorkspace = "workspace"
	ScopeProgram   = "program"
)

func (e *BudgetError) Error() string {
	who := "the workspace has"
	if e.Scope == ScopeProgram {
		who = "program " + e.Program + " has"
	}
	s := fmt.Sprintf("budget: %s spent $%.4f of its $%.2f monthly cap for %s", who, e.Spent, e.Cap, e.Month)
	if e.Reserved > 0 {
		s += fmt.Sprintf(", and $%.4f is reserved by the jobs in flight", e.Reserved)
	}
	if e.Estimate > 0 {
		s += fmt.Sprintf("; this %s is estimated at $%.4f", e.Job, e.Estimate)
	}
	if e.Job == "optimization" {
		return s + " (lower the settings, use a smaller dataset, or raise the cap with `signet cost --set-budget`)"
	}
	return s + " (raise the cap with `signet cost --set-budget`)"
}

// reserve admits a call of job (for the error's words) on program estimated
// at est, and holds est until settle; a refusal is a *BudgetError.
func (g *gate) reserve(ctx context.Context, job, program string, est float64) (*reservation, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.checkLocked(ctx, job, program, est, nil); err != nil {
		return nil, err
	}
	r := &reservation{program: program, amount: est}
	if g.held == nil {
		g.held = map[*reservation]struct{}{}
	}
	g.held[r] = struct{}{}
	return r, nil
}

// check says whether reserve would admit such a call now, holding nothing
// (a submission, refused before anything is stored). It also returns what
// the tightest cap leaves for it (ok false: no cap applies).
func (g *gate) check(ctx context.Context, job, program string, est float64) (left float64, ok bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.checkLocked(ctx, job, program, est, nil)
	if err != nil || l == nil {
		return 0, false, err
	}
	return *l, true, nil
}

// left is what the tightest cap over program leaves once what is spent and
// what the other calls in flight hold are taken off (mine is not counted);
// ok false: no cap applies.
func (g *gate) left(ctx context.Context, program string, mine *reservation) (float64, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.checkLocked(ctx, "", program, 0, mine)
	if err != nil || l == nil {
		return 0, false, err
	}
	return *l, true, nil
}

// checkLocked refuses est on program when a cap would be passed; it returns
// what the tightest cap leaves for this job (nil: no cap).
func (g *gate) checkLocked(ctx context.Context, job, program string, est float64, mine *reservation) (*float64, error) {
	caps, err := g.st.Budgets(ctx)
	if err != nil || len(caps) == 0 {
		return nil, err
	}
	month := g.now().Format("2006-01")
	var tightest *float64
	for _, scope := range []string{"", program} {
		c, ok := caps[scope]
		if !ok {
			continue
		}
		spent, err := spentIn(ctx, g.st, scope, month)
		if err != nil {
			return nil, err
		}
		var held float64
		for r := range g.held {
			if r != mine && (scope == "" || r.program == scope) {
				held += r.amount
			}
		}
		if mine == nil && (spent+held >= c || spent+held+est > c) {
			e := &BudgetError{Scope: ScopeWorkspace, Cap: c, Spent: spent, Reserved: held, Estimate: est, Job: job, Month: month}
			if scope != "" {
				e.Scope, e.Program = ScopeProgram, scope
			}
			return nil, e
		}
		if l := c - spent - held; tightest == nil || l < *tightest {
			tightest = &l
		}
	}
	return tightest, nil
}

// spentIn is what executions and optimization runs of program ("" = all)
// cost in month: the rollups hold both (store.PutOptimization adds a run's
// cost to its program's month).
func spentIn(ctx context.Context, st *store.Store, program, month string) (float64, error) {
	rs, err := st.CostRollups(ctx, program, month)
	var sum float64
	for _, r := range rs {
		sum += r.Cost
	}
	return sum, err
}

// settle releases a reservation once the real cost is written.
func (g *gate) settle(r *reservation) {
	if r == nil {
		return
	}
	g.mu.Lock()
	delete(g.held, r)
	g.mu.Unlock()
}

// hold changes what a reservation holds: what is left of an optimization's
// estimate once part of its cost is stored.
func (g *gate) hold(r *reservation, amount float64) {
	g.mu.Lock()
	r.amount = max(amount, 0)
	g.mu.Unlock()
}

// recentRuns is how many of a program's latest runs make its estimate.
const recentRuns = 20

// runEstimate is what one run of p on profile (resolved to spec) is
// expected to cost. It is an estimate, not a bound: the mean cost of the
// program's latest runs on that profile (retries and failures included, as
// they are billed), else the profile's prices for a typical prompt
// (callTokensIn in, callTokensOut out) per LM call one run makes; 0 for a
// free profile or one without prices, whose calls the caps cannot foresee
// (they then hold on what is spent only).
func (g *gate) runEstimate(ctx context.Context, p *model.Program, profile string, spec bridge.LMSpec) float64 {
	key := p.Name + "\x00" + profile
	g.mu.Lock()
	costs, seeded := g.hist[key]
	g.mu.Unlock()
	if !seeded {
		costs = g.seed(ctx, p.Name, profile)
		g.mu.Lock()
		if _, ok := g.hist[key]; !ok {
			g.hist[key] = costs
		}
		costs = g.hist[key]
		g.mu.Unlock()
	}
	if len(costs) > 0 {
		var sum float64
		for _, c := range costs {
			sum += c
		}
		return sum / float64(len(costs))
	}
	if spec.Free {
		return 0
	}
	calls := float64(callsPerRun(p))
	return calls * (callTokensIn*spec.PriceIn + callTokensOut*spec.PriceOut) / 1e6
}

// seed reads the costs of a program's latest runs on a profile.
func (g *gate) seed(ctx context.Context, program, profile string) []float64 {
	costs := []float64{}
	page, _, err := g.st.ListExecutions(ctx, store.ExecQuery{Program: program, Limit: 10 * recentRuns})
	if err != nil {
		return costs
	}
	for _, x := range page {
		if ranOnce(x) && x.LM == profile && len(costs) < recentRuns {
			costs = append(costs, x.Cost)
		}
	}
	slices.Reverse(costs) // oldest first, as observe appends
	return costs
}

// observe adds a finished run to its program's estimate.
func (g *gate) observe(x *model.Execution) {
	if !ranOnce(x) {
		return
	}
	key := x.Program + "\x00" + x.LM
	g.mu.Lock()
	defer g.mu.Unlock()
	if costs, ok := g.hist[key]; ok {
		if len(costs) == recentRuns {
			costs = costs[1:]
		}
		g.hist[key] = append(costs, x.Cost)
	}
}

// ranOnce: a finished execution that called a worker (not a cache hit, not
// refused) and so says what a run costs.
func ranOnce(x *model.Execution) bool {
	return x.State.Terminal() && !x.CacheHit && x.Attempts > 0 && x.Variant == nil
}
