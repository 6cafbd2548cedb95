package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-dspy/signet/app"
)

// The endpoints of pooled LM profiles (app.LMEndpoint), summed over the
// workers; the counters restart with a worker, which rate() allows for.
var (
	lmLabels          = []string{"profile", "endpoint"}
	lmEndpointState   = prometheus.NewDesc("signet_lm_endpoint_state", "An LM pool endpoint's state: 1 for the one it is in (healthy, ejected, backing_off), else 0.", append(lmLabels, "state"), nil)
	lmEndpointFlight  = prometheus.NewDesc("signet_lm_endpoint_inflight", "Calls to an LM pool endpoint in flight.", lmLabels, nil)
	lmEndpointCalls   = prometheus.NewDesc("signet_lm_endpoint_calls_total", "Calls an LM pool endpoint answered.", lmLabels, nil)
	lmEndpointErrors  = prometheus.NewDesc("signet_lm_endpoint_errors_total", "Calls to an LM pool endpoint that failed (429s among them).", lmLabels, nil)
	lmEndpoint429     = prometheus.NewDesc("signet_lm_endpoint_rate_limited_total", "429s an LM pool endpoint answered.", lmLabels, nil)
	lmEndpointTokens  = prometheus.NewDesc("signet_lm_endpoint_tokens_total", "Tokens of an LM pool endpoint's calls, by kind (prompt, completion).", append(lmLabels, "kind"), nil)
	lmEndpointLatency = prometheus.NewDesc("signet_lm_endpoint_latency_mean_seconds", "Mean latency of an LM pool endpoint's answered calls.", lmLabels, nil)
	lmDescs           = []*prometheus.Desc{lmEndpointState, lmEndpointFlight, lmEndpointCalls, lmEndpointErrors, lmEndpoint429, lmEndpointTokens, lmEndpointLatency}
)

var lmStates = []string{"healthy", "ejected", "backing_off"}

func collectLMEndpoints(ch chan<- prometheus.Metric, es []app.LMEndpoint) {
	for _, e := range es {
		l := []string{e.Profile, e.APIBase}
		for _, s := range lmStates {
			v := 0.0
			if s == e.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(lmEndpointState, prometheus.GaugeValue, v, e.Profile, e.APIBase, s)
		}
		ch <- prometheus.MustNewConstMetric(lmEndpointFlight, prometheus.GaugeValue, float64(e.Inflight), l...)
		ch <- prometheus.MustNewConstMetric(lmEndpointCalls, prometheus.CounterValue, float64(e.Calls), l...)
		ch <- prometheus.MustNewConstMetric(lmEndpointErrors, prometheus.CounterValue, float64(e.Errors), l...)
		ch <- prometheus.MustNewConstMetric(lmEndpoint429, prometheus.CounterValue, float64(e.RateLimited), l...)
		ch <- prometheus.MustNewConstMetric(lmEndpointTokens, prometheus.CounterValue, float64(e.PromptTokens), e.Profile, e.APIBase, "prompt")
		ch <- prometheus.MustNewConstMetric(lmEndpointTokens, prometheus.CounterValue, float64(e.CompletionTokens), e.Profile, e.APIBase, "completion")
		ch <- prometheus.MustNewConstMetric(lmEndpointLatency, prometheus.GaugeValue, e.Latency, l...)
	}
}
