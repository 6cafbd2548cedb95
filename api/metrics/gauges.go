package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-dspy/signet/app"
)

// scrapeTimeout bounds the service's answers to one scrape.
const scrapeTimeout = 10 * time.Second

var (
	queueDesc = prometheus.NewDesc("signet_queue_jobs",
		"Jobs of the kernel (executions, evaluations, optimizations) that have not ended, by state (pending, running).",
		[]string{"state"}, nil)
	depthDesc = prometheus.NewDesc("signet_queue_depth",
		"Jobs pending or running: signet_queue_jobs summed.", nil, nil)
	workersDesc = prometheus.NewDesc("signet_workers",
		"Python workers of the pool, by state (starting, ready, busy, draining, restarting, failed, ...).",
		[]string{"state"}, nil)
	creditsDesc = prometheus.NewDesc("signet_user_credits_usd",
		"A user's credits left, in US dollars.", []string{"user"}, nil)
	uptimeDesc = prometheus.NewDesc("signet_owner_uptime_seconds",
		"How long the workspace's owner has run.", nil, nil)
)

// gauges reads what is now (queue, pool, credits) from the service at
// each scrape, so that it is never stale and costs nothing between
// scrapes.
type gauges struct{ svc app.Service }

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range append(append([]*prometheus.Desc{queueDesc, depthDesc, workersDesc, creditsDesc, uptimeDesc}, lmDescs...), remoteDescs...) {
		ch <- d
	}
}

// Collect asks as the workspace's local user (a context without a
// principal): the scraper is authorized by whoever serves /metrics.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if st, err := g.svc.Status(ctx); err != nil {
		for _, d := range []*prometheus.Desc{queueDesc, depthDesc, workersDesc, uptimeDesc} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
	} else {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Queue.Pending), "pending")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Queue.Running), "running")
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(st.Queue.Depth))
		ch <- prometheus.MustNewConstMetric(uptimeDesc, prometheus.GaugeValue, st.Uptime)
		byState := map[string]int{}
		for _, w := range st.Pool {
			byState[w.State]++
		}
		for state, n := range byState {
			ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(n), state)
		}
		collectLMEndpoints(ch, st.LMEndpoints)
		collectRemote(ch, st.NATS, st.Remote)
	}
	users, err := g.svc.ListUsers(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(creditsDesc, err)
		return
	}
	for _, u := range users {
		ch <- prometheus.MustNewConstMetric(creditsDesc, prometheus.GaugeValue, u.Credits, u.Name)
	}
}
