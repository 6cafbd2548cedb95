package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// gate is the one budget gate. A job reserves its estimate against the
// monthly caps of the workspace and of its program, and against the credits
// of the user it runs for, when it is dispatched,
// and then each of its LM calls reserves that call's estimate before it
// starts (the worker asks, docs/protocol.md "Budgets"): a job or a call is
// admitted only while what the month has spent (the stored rollups) plus
// what the jobs in flight hold plus what it would hold stays within each
// cap. A call's reservation is settled by its real cost when it ends; that
// cost stays held until the job's record, and with it the rollup, carries
// it, and only then is the job's reservation released, so a cost is always
// counted at least once. Since every call is admitted against what every
// other call in flight holds, the month ends above a cap by at most what
// the calls in flight cost beyond their estimates: one call per slot.
//
// Reservations live in memory, and are rebuilt at recovery rather than
// stored: one exists only while a job runs in this process, so after a
// crash there is none to keep (the calls died with the owner), and what
// the interrupted calls did spend is recovered into the rollups from what
// they stored (an execution's LM spans, an optimization's last progress).
// The jobs recovery queues again reserve anew when they are dispatched.
// Storing them would add a write to every call and leave stale
// reservations to clear after a crash.
type gate struct {
	st  *store.Store
	now func() time.Time

	mu   sync.Mutex // serialises admissions: a check and its reservation are one step
	held map[*reservation]struct{}
	seq  uint64               // reservations made: their order, oldest first
	hist map[string][]float64 // recent costs of one run, by program and LM profile
}

// reservation is what one job in flight holds against the caps: at least
// its floor, and at least what its calls hold and, once some have ended,
// what the calls it has still to make will cost at their rate.
type reservation struct {
	program string
	user    string             // whose credits pay ("": the workspace's own user, no credits)
	seq     uint64             // its place in dispatch order: a call yields to older jobs
	floor   float64            // the job's estimate (an optimization's: what is left of it)
	calls   map[string]float64 // the LM calls in flight, by call id: their estimates
	settled float64            // what the job's ended calls cost
	written float64            // the part of settled the rollups already count (an optimization's progress)
	perCall float64            // when > 0, what each call reserves (from the program's history) instead of the worker's estimate
	perRun  int                // the LM calls a run makes, when known (an execution's; 0: an optimization's)
	made    int                // calls settled
}

// amount is what r holds, with one more call of extra when adding.
func (r *reservation) amount(extra float64, adding bool) float64 {
	calls, n := 0.0, len(r.calls)
	if adding {
		calls, n = extra, n+1
	}
	for _, c := range r.calls {
		calls += c
	}
	need := r.settled - r.written + calls
	if r.made > 0 && r.perRun > r.made+n {
		// The rest of the run at the rate of its ended calls: a run that
		// costs more than its estimate holds what it will need, so that a
		// younger run, not this one, is refused midway.
		need += float64(r.perRun-r.made-n) * r.settled / float64(r.made)
	}
	return max(r.floor, need, 0)
}

// sunk is what r's ended calls cost and the rollups do not count yet.
func (r *reservation) sunk() float64 { return max(r.settled-r.written, 0) }

// BudgetError refuses a job or an LM call because a monthly cap is
// reached, or would be by its estimate with what is in flight.
type BudgetError struct {
	Scope    string  // "workspace", "program" or "user"
	Program  string  // the program, when Scope is "program"
	User     string  // the user, when Scope is "user"
	Cap      float64 // USD per month; a user's credits left
	Spent    float64 // USD spent this month
	Reserved float64 // USD held by the jobs in flight
	Estimate float64 // USD this job or call is expected to cost
	Job      string  // what was refused: "run", "optimization" or "LM call"
	Month    string  // "2026-11", UTC
}

// Budget scopes.
const (
	ScopeWorkspace = "workspace"
	ScopeProgram   = "program"
	ScopeUser      = "user" // a user's credits: executions in flight hold them too
)

// jobCall is BudgetError.Job for one LM call of a job.
const jobCall = "LM call"

func (e *BudgetError) Error() string {
	if e.Scope == ScopeUser {
		return e.creditsError()
	}
	who := "the workspace has"
	if e.Scope == ScopeProgram {
		who = "program " + e.Program + " has"
	}
	s := fmt.Sprintf("budget: %s spent $%.4f of its $%.2f monthly cap for %s", who, e.Spent, e.Cap, e.Month)
	if over := e.Spent - e.Cap; over > 0 {
		s += fmt.Sprintf(": $%.4f over, from LM calls already in flight when it was reached", over)
	}
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

// creditsError says that a user's credits, less what their jobs in flight
// hold, do not cover this job or call.
func (e *BudgetError) creditsError() string {
	s := fmt.Sprintf("payment required: user %s has $%.4f of credits left", e.User, e.Cap)
	if e.Reserved > 0 {
		s += fmt.Sprintf(", and $%.4f of them is held by their executions in flight", e.Reserved)
	}
	if e.Estimate > 0 {
		s += fmt.Sprintf("; this %s is estimated at $%.4f", e.Job, e.Estimate)
	}
	return s + fmt.Sprintf(" (an admin adds credits: `signet user credits %s +USD`)", e.User)
}

// reserve admits a job (for the error's words) on program for user ("":
// the workspace's own) estimated at est, and holds est until settle; a
// refusal is a *BudgetError.
func (g *gate) reserve(ctx context.Context, job, program, user string, est float64) (*reservation, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.checkLocked(ctx, job, program, user, nil, est, est); err != nil {
		return nil, err
	}
	g.seq++
	r := &reservation{program: program, user: user, seq: g.seq, floor: est, calls: map[string]float64{}}
	if g.held == nil {
		g.held = map[*reservation]struct{}{}
	}
	g.held[r] = struct{}{}
	return r, nil
}

// reserveCall admits one LM call of the job holding r, estimated at est,
// and holds est with r until settleCall; a refusal is a *BudgetError.
func (g *gate) reserveCall(ctx context.Context, r *reservation, call string, est float64) error {
	if r.perCall > 0 {
		est = r.perCall
	}
	est = max(est, 0)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.checkLocked(ctx, jobCall, r.program, r.user, r, est, r.amount(est, true)); err != nil {
		return err
	}
	r.calls[call] += est
	return nil
}

// settleCall replaces an admitted call's estimate with what it cost (known
// false: nothing priced it, and its estimate stays held as its cost).
func (g *gate) settleCall(r *reservation, call string, cost float64, known bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	est, ok := r.calls[call]
	if !ok {
		return
	}
	delete(r.calls, call)
	if !known {
		cost = est
	}
	r.settled += max(cost, 0)
	r.made++
}

// check says whether reserve would admit such a job now, holding nothing
// (a submission, refused before anything is stored). It also returns what
// the tightest cap leaves for it (ok false: no cap applies).
func (g *gate) check(ctx context.Context, job, program, user string, est float64) (left float64, ok bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.checkLocked(ctx, job, program, user, nil, est, est)
	if err != nil || l == nil {
		return 0, false, err
	}
	return *l, true, nil
}

// left is what the tightest cap over program leaves once what is spent and
// what the other jobs in flight hold are taken off (mine is not counted);
// ok false: no cap applies.
func (g *gate) left(ctx context.Context, program string, mine *reservation) (float64, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.checkLocked(ctx, "", program, mine.user, mine, 0, 0)
	var be *BudgetError
	if errors.As(err, &be) {
		err = nil // only what is left is asked for
	}
	if err != nil || l == nil {
		return 0, false, err
	}
	return *l, true, nil
}

// capped says whether a monthly cap applies to program, or the job runs
// for a user's credits (an admin's are not held): only then do its LM
// calls reserve one by one.
func (g *gate) capped(ctx context.Context, program, user string) (bool, error) {
	if user != "" {
		u, err := g.st.GetUser(ctx, user)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		if u == nil || u.Role != model.RoleAdmin {
			return true, nil
		}
	}
	caps, err := g.st.Budgets(ctx)
	if err != nil {
		return false, err
	}
	_, ws := caps[""]
	_, own := caps[program]
	return ws || own, nil
}

// checkLocked weighs a job or call on program that would make mine (nil: a
// new job) hold want, est of it new, against every cap over program: it is
// refused when a cap is reached by what is spent and held, or would be
// passed by want. A call of mine yields to older jobs: of the younger ones
// only what their ended calls cost counts (so the oldest runs finish and
// the youngest are refused; what their calls in flight may cost is the
// overshoot, one call per slot). It returns what the tightest cap leaves
// once what is spent and what the other jobs hold are taken off (nil: no
// cap).
//
// A user's credits are one more cap, with nothing spent (the credits left
// are what the debits left): only that user's jobs hold them.
func (g *gate) checkLocked(ctx context.Context, job, program, user string, mine *reservation, est, want float64) (*float64, error) {
	caps, err := g.st.Budgets(ctx)
	if err != nil {
		return nil, err
	}
	if user != "" {
		u, err := g.st.GetUser(ctx, user)
		switch {
		case errors.Is(err, store.ErrNotFound):
			caps = maps.Clone(caps)
			caps[userScope] = 0
		case err != nil:
			return nil, err
		case u.Role == model.RoleAdmin:
			// An admin's executions are debited, but not held to credits
			// (app.Authorize: admins may do everything).
		default:
			caps = maps.Clone(caps)
			caps[userScope] = u.Credits
		}
	}
	if len(caps) == 0 {
		return nil, nil
	}
	month := g.now().Format("2006-01")
	var tightest *float64
	var refused error
	for _, scope := range []string{"", program, userScope} {
		c, ok := caps[scope]
		if !ok {
			continue
		}
		var spent float64
		if scope != userScope {
			if spent, err = spentIn(ctx, g.st, scope, month); err != nil {
				return nil, err
			}
		}
		var held float64
		for r := range g.held {
			switch {
			case r == mine || (scope == userScope && r.user != user) || (scope != "" && scope != userScope && r.program != scope):
			case job == jobCall && r.seq > mine.seq:
				held += r.sunk()
			default:
				held += r.amount(0, false)
			}
		}
		var cur float64
		if mine != nil {
			cur = mine.amount(0, false)
		}
		if l := c - spent - held; tightest == nil || l < *tightest {
			tightest = &l
		}
		if refused == nil && (spent+held+cur >= c || spent+held+want > c) {
			e := &BudgetError{Scope: ScopeWorkspace, Cap: c, Spent: spent, Reserved: held + cur, Estimate: est, Job: job, Month: month}
			switch scope {
			case "":
			case userScope:
				e.Scope, e.User = ScopeUser, user
			default:
				e.Scope, e.Program = ScopeProgram, scope
			}
			refused = e
		}
	}
	return tightest, refused
}

// userScope keys a user's credits among the caps: no program's name (a
// program's name is a valid name, and has no NUL).
const userScope = "\x00user"

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

// settle releases a job's reservation once its real cost is written.
func (g *gate) settle(r *reservation) {
	if r == nil {
		return
	}
	g.mu.Lock()
	delete(g.held, r)
	g.mu.Unlock()
}

// holding makes r the reservation j's attempt holds, released as j leaves
// the kernel (releaseLocked).
func (k *Kernel) holding(j *job, r *reservation) {
	k.mu.Lock()
	j.hold = r
	k.mu.Unlock()
}

// hold changes what a reservation holds once part of a job's cost is
// stored: floor, what is left of an optimization's estimate, and written,
// what of its calls' cost the rollups now count.
func (g *gate) hold(r *reservation, floor, written float64) {
	g.mu.Lock()
	r.floor, r.written = max(floor, 0), max(written, 0)
	g.mu.Unlock()
}

// callGate is the bridge.Gate of one job's worker request: its LM calls
// reserve with the job's reservation.
type callGate struct {
	g *gate
	r *reservation
}

func (c callGate) Reserve(ctx context.Context, call string, estimate float64) error {
	return c.g.reserveCall(ctx, c.r, call, estimate)
}

func (c callGate) Settle(call string, cost float64, known bool) {
	c.g.settleCall(c.r, call, cost, known)
}

// callGate is the gate a job's worker request reserves its LM calls with,
// each at perCall when it is > 0, else at the worker's estimate, the job
// making perRun calls (0: unknown): nil when no cap applies to the job's
// program (no call then waits for an answer).
func (g *gate) callGate(ctx context.Context, r *reservation, perCall float64, perRun int) (bridge.Gate, error) {
	capped, err := g.capped(ctx, r.program, r.user)
	if err != nil || !capped {
		return nil, err
	}
	g.mu.Lock()
	r.perCall, r.perRun = perCall, perRun
	g.mu.Unlock()
	return callGate{g, r}, nil
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
	if mean, ok := g.meanRun(ctx, p.Name, profile); ok {
		return mean
	}
	if spec.Free {
		return 0
	}
	calls := float64(callsPerRun(p))
	return calls * (callTokensIn*spec.PriceIn + callTokensOut*spec.PriceOut) / 1e6
}

// callEstimate is what one LM call of a run of p on profile is expected to
// cost from the program's latest runs (their mean over the calls a run
// makes); ok false without runs, when the worker's estimate from the
// call's own prompt and its profile's prices stands.
func (g *gate) callEstimate(ctx context.Context, p *model.Program, profile string) (float64, bool) {
	mean, ok := g.meanRun(ctx, p.Name, profile)
	return mean / float64(callsPerRun(p)), ok
}

// meanRun is the mean cost of a program's latest runs on profile.
func (g *gate) meanRun(ctx context.Context, program, profile string) (float64, bool) {
	key := program + "\x00" + profile
	g.mu.Lock()
	costs, seeded := g.hist[key]
	g.mu.Unlock()
	if !seeded {
		costs = g.seed(ctx, program, profile)
		g.mu.Lock()
		if _, ok := g.hist[key]; !ok {
			g.hist[key] = costs
		}
		costs = g.hist[key]
		g.mu.Unlock()
	}
	if len(costs) == 0 {
		return 0, false
	}
	var sum float64
	for _, c := range costs {
		sum += c
	}
	return sum / float64(len(costs)), true
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
