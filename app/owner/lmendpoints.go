package owner

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
)

// lmPingTimeout bounds asking the workers for their endpoint pools: a
// status must come back even while a worker is stuck.
const lmPingTimeout = 2 * time.Second

// lmEndpoints asks the running workers (through their ping) what each has
// seen of the endpoint pools, and sums it per profile and endpoint. A worker
// that does not answer in time is left out: the status is still shown.
func (o *Owner) lmEndpoints(ctx context.Context) []app.LMEndpoint {
	p := o.pool.Load()
	if p == nil || !o.pooledLMs() {
		return nil // nothing to ask the workers: status stays as quick as it was
	}
	ctx, cancel := context.WithTimeout(ctx, lmPingTimeout)
	defer cancel()
	pools, _ := p.LMPools(ctx) // a worker that did not answer shows in the pool's own status
	return sumEndpoints(pools)
}

// pooledLMs says whether a profile of the owner's config lists endpoints,
// or is the local model served by several servers (local: servers).
func (o *Owner) pooledLMs() bool {
	e, err := o.environment()
	if err != nil {
		return false
	}
	for _, n := range e.Config.ProfileNames() {
		if p, _ := e.Config.Profile(n); len(p.Endpoints) > 0 || p.IsLocal() && e.Config.LocalServers() > 1 {
			return true
		}
	}
	return false
}

var stateRank = map[string]int{"healthy": 0, "backing_off": 1, "ejected": 2}

// sumEndpoints adds up the workers' reports, one row per profile and
// endpoint, in the order of profile then the workers' first report.
func sumEndpoints(pools []bridge.LMPool) []app.LMEndpoint {
	var out []app.LMEndpoint
	index := map[[2]string]int{}
	latency := map[int]float64{}
	for _, pool := range pools {
		for _, e := range pool.Endpoints {
			k := [2]string{pool.Pool, e.APIBase}
			i, ok := index[k]
			if !ok {
				i = len(out)
				index[k] = i
				out = append(out, app.LMEndpoint{Profile: pool.Pool, APIBase: e.APIBase, State: "healthy"})
			}
			x := &out[i]
			x.Workers++
			switch e.State {
			case "ejected":
				x.Ejected++
			case "backing_off":
				x.BackingOff++
			}
			if stateRank[e.State] > stateRank[x.State] {
				x.State = e.State
			}
			x.Inflight += e.Inflight
			x.Calls += e.Calls
			x.Errors += e.Errors
			x.RateLimited += e.RateLimited
			x.PromptTokens += e.PromptTokens
			x.CompletionTokens += e.CompletionTokens
			latency[i] += e.Latency
			if e.LastError != "" {
				x.LastError = e.LastError
			}
		}
	}
	for i := range out {
		if out[i].Calls > 0 {
			out[i].Latency = latency[i] / float64(out[i].Calls)
		}
	}
	slices.SortStableFunc(out, func(a, b app.LMEndpoint) int { return cmp.Compare(a.Profile, b.Profile) })
	return out
}
