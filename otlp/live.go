package otlp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/signet-dspy/signet/model"
)

// Live export's defaults.
const (
	DefaultQueue = 1024 // ended executions waiting for their export
	DefaultBatch = 64   // executions per OTLP request
	exportWait   = 30 * time.Second
)

// LiveOptions configure the export of every ended execution's trace.
type LiveOptions struct {
	// Endpoint is the OTLP/HTTP receiver: http(s)://HOST:PORT, with the
	// path /v1/traces added when the URL has none.
	Endpoint string
	Options
	Queue, Batch int // 0: the defaults
	// Load reads an ended execution and its spans (the store's).
	Load func(ctx context.Context, id model.ID) (*model.Execution, []model.Span, error)
	// Logf notes drops and failed exports (the workspace log).
	Logf func(format string, args ...any)
}

// Live exports ended executions' traces with the SDK's OTLP/HTTP
// exporter, in batches, from a bounded queue: Ended never waits, and an
// execution that finds the queue full is dropped, counted and logged.
type Live struct {
	opt       LiveOptions
	exp       *otlptrace.Exporter
	transport *http.Transport
	queue     chan model.ID
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once

	dropped, failed, exported atomic.Uint64
}

// EndpointURL checks an OTLP/HTTP endpoint and completes its path.
func EndpointURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q: want http(s)://HOST:PORT, such as http://localhost:4318", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// StartLive starts the export; Shutdown ends it.
func StartLive(ctx context.Context, opt LiveOptions) (*Live, error) {
	endpoint, err := EndpointURL(opt.Endpoint)
	if err != nil {
		return nil, err
	}
	if opt.Queue <= 0 {
		opt.Queue = DefaultQueue
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	// A transport of its own, whose connections Shutdown closes.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter to %s: %w", endpoint, err)
	}
	l := &Live{opt: opt, exp: exp, transport: tr, queue: make(chan model.ID, opt.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Ended queues an ended execution's trace for export; a full queue drops it.
func (l *Live) Ended(id model.ID) {
	select {
	case l.queue <- id:
	default:
		if n := l.dropped.Add(1); n == 1 || n%100 == 0 {
			l.opt.Logf("otlp: export queue full (%d executions): dropped execution %s's trace; %d dropped so far", cap(l.queue), id, n)
		}
	}
}

// Counts are the executions exported, dropped at a full queue, and lost
// to failed exports.
func (l *Live) Counts() (exported, dropped, failed uint64) {
	return l.exported.Load(), l.dropped.Load(), l.failed.Load()
}

func (l *Live) run() {
	defer close(l.done)
	for {
		select {
		case id := <-l.queue:
			l.export(l.batch(id))
		case <-l.stop:
			// What is queued still goes, as long as the receiver answers.
			for len(l.queue) > 0 {
				l.export(l.batch(<-l.queue))
			}
			return
		}
	}
}

// batch is id and what else waits, up to Batch executions.
func (l *Live) batch(id model.ID) []model.ID {
	ids := []model.ID{id}
	for len(ids) < l.opt.Batch {
		select {
		case id := <-l.queue:
			ids = append(ids, id)
		default:
			return ids
		}
	}
	return ids
}

func (l *Live) export(ids []model.ID) {
	ctx, cancel := context.WithTimeout(context.Background(), exportWait)
	defer cancel()
	var spans []sdktrace.ReadOnlySpan
	n := 0
	for _, id := range ids {
		x, ss, err := l.opt.Load(ctx, id)
		if err != nil {
			l.failed.Add(1)
			l.opt.Logf("otlp: execution %s: %v", id, err)
			continue
		}
		spans = append(spans, Stubs(x, ss, l.opt.Options).Snapshots()...)
		n++
	}
	if n == 0 {
		return
	}
	if err := l.exp.ExportSpans(ctx, spans); err != nil {
		l.failed.Add(uint64(n))
		l.opt.Logf("otlp: exporting %d executions' traces to %s: %v", n, l.opt.Endpoint, err)
		return
	}
	l.exported.Add(uint64(n))
}

// Shutdown exports what is queued (until ctx ends) and stops the exporter.
func (l *Live) Shutdown(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	select {
	case <-l.done:
	case <-ctx.Done():
	}
	err := l.exp.Shutdown(ctx)
	l.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("OTLP exporter: %w", err)
	}
	return nil
}
