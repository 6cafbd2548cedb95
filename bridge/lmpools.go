package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// LMPool is one worker's view of a profile's endpoints (the `lm_pools` of
// its ping result, docs/protocol.md): each worker balances its own share.
type LMPool struct {
	Pool      string             `json:"pool"`
	Endpoints []LMEndpointReport `json:"endpoints"`
}

// LMEndpointReport is what one worker has seen of one endpoint since it started.
type LMEndpointReport struct {
	APIBase          string  `json:"api_base"`
	State            string  `json:"state"` // healthy, ejected or backing_off
	Inflight         int     `json:"inflight"`
	Calls            int     `json:"calls"`
	Errors           int     `json:"errors"`
	RateLimited      int     `json:"rate_limited"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Latency          float64 `json:"latency_s"` // summed over Calls
	LastError        string  `json:"last_error"`
}

// LMPools pings every ready worker and returns the endpoint pools each
// reports (nothing from a worker that has used none). A worker that does
// not answer is named in the error; the others' reports still come back.
func (p *Pool) LMPools(ctx context.Context) ([]LMPool, error) {
	results, err := p.pingAll(ctx, true)
	if errors.Is(err, ErrClosed) {
		return nil, err
	}
	var out []LMPool
	for _, r := range results {
		var res struct {
			Pools []LMPool `json:"lm_pools"`
		}
		if jerr := json.Unmarshal(r.raw, &res); jerr != nil {
			err = errors.Join(err, fmt.Errorf("worker %d: reading its ping: %w", r.slot, jerr))
			continue
		}
		out = append(out, res.Pools...)
	}
	return out, err
}
