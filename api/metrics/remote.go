package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-dspy/signet/app"
)

// The NATS queue and the pools serving it (signet serve --nats-listen).
var (
	poolLabels      = []string{"pool", "host"}
	natsWaiting     = prometheus.NewDesc("signet_nats_jobs_waiting", "Jobs on the NATS queue that no pool has taken yet.", nil, nil)
	natsRedelivered = prometheus.NewDesc("signet_nats_jobs_redelivered_total", "Jobs given to another pool because the one that had them stopped answering within the ack wait.", nil, nil)
	poolUp          = prometheus.NewDesc("signet_pool_up", "A pool serving the queue: 1 while its heartbeats come, 0 once lost.", poolLabels, nil)
	poolCapacity    = prometheus.NewDesc("signet_pool_capacity", "Jobs a pool runs at once.", poolLabels, nil)
	poolRunning     = prometheus.NewDesc("signet_pool_running", "Jobs a pool is running.", poolLabels, nil)
	poolServed      = prometheus.NewDesc("signet_pool_served_total", "Jobs a pool has ended.", poolLabels, nil)
	remoteDescs     = []*prometheus.Desc{natsWaiting, natsRedelivered, poolUp, poolCapacity, poolRunning, poolServed}
)

func collectRemote(ch chan<- prometheus.Metric, q *app.NATS, pools []app.RemotePool) {
	if q == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(natsWaiting, prometheus.GaugeValue, float64(q.Waiting))
	ch <- prometheus.MustNewConstMetric(natsRedelivered, prometheus.CounterValue, float64(q.Redelivered))
	for _, p := range pools {
		up := 0.0
		if p.State == "ready" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(poolUp, prometheus.GaugeValue, up, p.Name, p.Host)
		ch <- prometheus.MustNewConstMetric(poolCapacity, prometheus.GaugeValue, float64(p.Capacity), p.Name, p.Host)
		ch <- prometheus.MustNewConstMetric(poolRunning, prometheus.GaugeValue, float64(p.Running), p.Name, p.Host)
		ch <- prometheus.MustNewConstMetric(poolServed, prometheus.CounterValue, float64(p.Served), p.Name, p.Host)
	}
}
