package owner

import (
	"math"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
)

func TestSumEndpointsOverWorkers(t *testing.T) {
	w1 := bridge.LMPool{Pool: "team", Endpoints: []bridge.LMEndpointReport{
		{APIBase: "http://a/v1", State: "healthy", Calls: 3, PromptTokens: 30, CompletionTokens: 3, Latency: 0.3},
		{APIBase: "http://b/v1", State: "backing_off", Errors: 1, RateLimited: 1, LastError: "HTTP 429"},
	}}
	w2 := bridge.LMPool{Pool: "team", Endpoints: []bridge.LMEndpointReport{
		{APIBase: "http://a/v1", State: "ejected", Calls: 1, Errors: 2, Inflight: 1, Latency: 0.5, LastError: "refused"},
		{APIBase: "http://b/v1", State: "healthy", Calls: 4, Latency: 0.4},
	}}
	other := bridge.LMPool{Pool: "alpha", Endpoints: []bridge.LMEndpointReport{{APIBase: "http://c/v1", State: "healthy"}}}
	got := sumEndpoints([]bridge.LMPool{w1, other, w2})
	want := []app.LMEndpoint{
		{Profile: "alpha", APIBase: "http://c/v1", State: "healthy", Workers: 1},
		// the worst state any worker has it in, and how many have it so
		{Profile: "team", APIBase: "http://a/v1", State: "ejected", Workers: 2, Ejected: 1, Inflight: 1, Calls: 4, Errors: 2,
			PromptTokens: 30, CompletionTokens: 3, Latency: 0.2, LastError: "refused"},
		{Profile: "team", APIBase: "http://b/v1", State: "backing_off", Workers: 2, BackingOff: 1, Calls: 4, Errors: 1,
			RateLimited: 1, Latency: 0.1, LastError: "HTTP 429"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		g := got[i]
		if math.Abs(g.Latency-want[i].Latency) < 1e-9 { // the mean of the calls: summed latency / calls
			g.Latency = want[i].Latency
		}
		if g != want[i] {
			t.Errorf("row %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if sumEndpoints(nil) != nil {
		t.Error("no pools: no rows")
	}
}
