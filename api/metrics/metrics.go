// Package metrics is the owner's monitoring over HTTP: /metrics in the
// Prometheus text format, /healthz and /readyz (docs/api.md, Monitoring).
// Everything it reports comes from the one service (app.Service): ended
// executions from its event stream, the rest read at scrape time.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// Metrics counts a service's ended executions as they end and reads its
// gauges when scraped. Its counters start at zero with the process that
// serves them (a restarted owner's counters restart too, as Prometheus's
// rate() expects): they count what ended while it ran, not what the store
// holds.
type Metrics struct {
	reg *prometheus.Registry

	executions *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	latency    *prometheus.HistogramVec
	tokens     *prometheus.CounterVec
	cost       *prometheus.CounterVec
	cacheHits  *prometheus.CounterVec
	requests   *prometheus.CounterVec

	// counted is the ended executions counted; tick is poked after each,
	// for what waits until the counters have seen a number of them.
	counted atomic.Int64
	tick    chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// durationBuckets are seconds: an execution from the execution cache or
// the test LM takes milliseconds, one on a hosted LM seconds to minutes.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// New subscribes to svc's ended executions and counts them until Close
// (or until svc's stream ends, when its owner stops).
func New(ctx context.Context, svc app.Service) (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_executions_total",
			Help: "Executions ended since the owner started, by program and end state (completed, failed, cancelled)."},
			[]string{"program", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_execution_duration_seconds",
			Help: "Running time of ended executions that started (the execution's duration_ns), by program.", Buckets: durationBuckets},
			[]string{"program"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_execution_latency_seconds",
			Help:    "Time from creation to end of ended executions (queue and retries included: what a caller waits), by program.",
			Buckets: durationBuckets},
			[]string{"program"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_tokens_total",
			Help: "LM tokens of ended executions, by program and kind (prompt, completion)."},
			[]string{"program", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_cost_usd_total",
			Help: "Cost in US dollars of ended executions, by program."},
			[]string{"program"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_execution_cache_hits_total",
			Help: "Ended executions answered from the execution cache, by program."},
			[]string{"program"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_http_requests_total",
			Help: "HTTP requests answered by a handler Instrument wraps, by method and status code."},
			[]string{"method", "code"}),
		done: make(chan struct{}), tick: make(chan struct{}, 1),
	}
	m.reg.MustRegister(m.executions, m.duration, m.latency, m.tokens, m.cost, m.cacheHits, m.requests, &gauges{svc: svc})
	ctx, m.cancel = context.WithCancel(ctx)
	ch, err := svc.Subscribe(app.EndedOnly(app.WithoutSpans(ctx)))
	if err != nil {
		m.cancel()
		return nil, fmt.Errorf("metrics: subscribe to the service's events: %w", err)
	}
	go m.count(ch)
	return m, nil
}

// count counts each ended execution once: an execution's state reaches an
// end once (model.RunState's transitions), and the stream never drops an
// execution's event.
func (m *Metrics) count(ch <-chan app.Event) {
	defer close(m.done)
	for ev := range ch {
		if ev.Kind == app.EventExecution && ev.Execution != nil && ev.Execution.State.Terminal() {
			m.ended(ev.Execution)
			m.counted.Add(1)
			select {
			case m.tick <- struct{}{}:
			default:
			}
		}
	}
}

func (m *Metrics) ended(x *model.Execution) {
	m.executions.WithLabelValues(x.Program, string(x.State)).Inc()
	if !x.StartedAt.IsZero() {
		m.duration.WithLabelValues(x.Program).Observe(x.Duration.Seconds())
	}
	if !x.FinishedAt.IsZero() {
		m.latency.WithLabelValues(x.Program).Observe(x.FinishedAt.Sub(x.CreatedAt).Seconds())
	}
	u := x.TotalUsage()
	m.tokens.WithLabelValues(x.Program, "prompt").Add(float64(u.PromptTokens))
	m.tokens.WithLabelValues(x.Program, "completion").Add(float64(u.CompletionTokens))
	m.cost.WithLabelValues(x.Program).Add(x.Cost)
	if x.CacheHit {
		m.cacheHits.WithLabelValues(x.Program).Inc()
	}
}

// Handler answers GET /metrics in the Prometheus text format. A gauge the
// service cannot read (an owner stopping) is left out and the others are
// served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Instrument counts the requests next answers in signet_http_requests_total
// (wrap the HTTP server's handler with it).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.requests, next)
}

// WaitCounted returns once n ended executions have been counted since New,
// or when ctx ends.
func (m *Metrics) WaitCounted(ctx context.Context, n int) error {
	for m.counted.Load() < int64(n) {
		select {
		case <-m.tick:
		case <-m.done:
			if m.counted.Load() < int64(n) {
				return fmt.Errorf("metrics: the event stream ended after %d ended executions of %d", m.counted.Load(), n)
			}
		case <-ctx.Done():
			return fmt.Errorf("metrics: %d ended executions counted of %d: %w", m.counted.Load(), n, ctx.Err())
		}
	}
	return nil
}

// Close stops counting and waits for the counting goroutine to end.
func (m *Metrics) Close() {
	m.once.Do(m.cancel)
	<-m.done
}
