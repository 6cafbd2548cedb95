package metrics_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/api/metrics"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

func TestMain(m *testing.M) { testenv.Main(m, "metrics") }

// config: the deterministic test LM (cached) by default, a priced one so
// that costs are not zero, and one whose calls fail when the prompt says
// "Oslo".
const config = `lm: test
profiles:
  priced: {model: signet/test, cache: false, price_in: 1.0, price_out: 2.0}
  failing: {model: signet/test, cache: false, kwargs: {fail_on: Oslo}}
`

func openOwner(t *testing.T) (*owner.Owner, func()) {
	t.Helper()
	return openOwnerWith(t, config)
}

// openOwnerWith opens an owner with one worker on this config file's text.
func openOwnerWith(t *testing.T, config string) (*owner.Owner, func()) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	o, err := owner.Open(context.Background(), owner.Options{Dir: t.TempDir(), Create: true, Command: "test", Workers: 1,
		Python: testenv.Python(t)})
	if err != nil {
		t.Fatal(err)
	}
	closeOnce := sync.OnceFunc(func() { o.Close(context.Background(), true) })
	t.Cleanup(closeOnce)
	return o, closeOnce
}

// createQA stores a program of one Predict, question -> answer.
func createQA(t *testing.T, o *owner.Owner, name string) {
	t.Helper()
	if _, err := o.CreateProgram(t.Context(), &model.Program{Name: name, Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}); err != nil {
		t.Fatal(err)
	}
}

// scrape GETs h and parses the exposition.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics is no Prometheus text: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels are labels (name=value
// pairs); ok false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func want(t *testing.T, fams map[string]*dto.MetricFamily, got float64, name string, labels ...string) {
	t.Helper()
	v, ok := value(fams, name, labels...)
	if !ok {
		t.Errorf("%s%v: no sample", name, labels)
		return
	}
	if math.Abs(v-got) > 1e-9*math.Max(1, math.Abs(got)) {
		t.Errorf("%s%v = %v, want %v", name, labels, v, got)
	}
}

func get(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Code, rec.Body.String()
}

// Executions run on a real worker (the test LM) are what /metrics counts:
// by program and end state, their tokens, costs, running times and cache
// hits equal the executions' own; the gauges are the queue, the pool and
// the users' credits as the service has them; /readyz waits for a ready
// worker.
func TestMetricsCountExecutions(t *testing.T) {
	o, closeOwner := openOwner(t)
	ctx := t.Context()
	m, err := metrics.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	if code, body := get(t, metrics.Healthz()); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, metrics.Readyz(o)); code != 503 || !strings.Contains(body, "pool has not started") {
		t.Fatalf("/readyz before the pool starts: %d %q", code, body)
	}

	createQA(t, o, "qa")
	createQA(t, o, "qa2")
	if _, err := o.AddUser(ctx, model.User{Name: "ann", Role: model.RoleMLUser, Credits: 2.5}); err != nil {
		t.Fatal(err)
	}
	runs := []app.RunRequest{
		{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "What is the capital of France?"}},
		{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "Where is the Colosseum in Rome?"}},
		{Program: "qa2", Inputs: map[string]any{"question": "Is Paris big?"}},
		{Program: "qa2", Inputs: map[string]any{"question": "Is Paris big?"}}, // from the execution cache
		{Program: "qa2", LM: "failing", Inputs: map[string]any{"question": "Is Oslo cold?"}},
	}
	type key struct{ program, state string }
	ended := map[key]int{}
	cost := map[string]float64{}
	prompt, completion, started, finished, hits := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, req := range runs {
		req.Wait = true
		x, err := o.Run(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !x.State.Terminal() {
			t.Fatalf("a run with wait answered %s", x.State)
		}
		ended[key{x.Program, string(x.State)}]++
		cost[x.Program] += x.Cost
		u := x.TotalUsage()
		prompt[x.Program] += u.PromptTokens
		completion[x.Program] += u.CompletionTokens
		if !x.StartedAt.IsZero() {
			started[x.Program]++
		}
		if !x.FinishedAt.IsZero() {
			finished[x.Program]++
		}
		if x.CacheHit {
			hits[x.Program]++
		}
	}
	// What the test is about must have happened: priced tokens, a cache
	// hit, a failure.
	if cost["qa"] <= 0 || prompt["qa"] == 0 || hits["qa2"] != 1 || ended[key{"qa2", "failed"}] != 1 {
		t.Fatalf("the runs were not what this test needs: ended %v cost %v prompt %v hits %v", ended, cost, prompt, hits)
	}
	if err := m.WaitCounted(ctx, len(runs)); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, m.Handler())
	for k, n := range ended {
		want(t, fams, float64(n), "signet_executions_total", "program", k.program, "state", k.state)
	}
	for _, p := range []string{"qa", "qa2"} {
		want(t, fams, cost[p], "signet_cost_usd_total", "program", p)
		want(t, fams, float64(prompt[p]), "signet_tokens_total", "program", p, "kind", "prompt")
		want(t, fams, float64(completion[p]), "signet_tokens_total", "program", p, "kind", "completion")
		want(t, fams, float64(started[p]), "signet_execution_duration_seconds", "program", p)
	}
	for p, n := range finished {
		want(t, fams, float64(n), "signet_execution_latency_seconds", "program", p)
	}
	want(t, fams, 1, "signet_execution_cache_hits_total", "program", "qa2")
	want(t, fams, 2.5, "signet_user_credits_usd", "user", "ann")
	want(t, fams, 0, "signet_queue_depth")
	want(t, fams, 0, "signet_queue_jobs", "state", "pending")
	want(t, fams, 1, "signet_workers", "state", "ready")
	if v, _ := value(fams, "signet_owner_uptime_seconds"); v <= 0 {
		t.Errorf("signet_owner_uptime_seconds = %v", v)
	}

	if code, body := get(t, metrics.Readyz(o)); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz with a ready worker: %d %q", code, body)
	}

	// The HTTP counter counts what Instrument wraps.
	h := m.Instrument(metrics.Healthz())
	get(t, h)
	get(t, h)
	want(t, scrape(t, m.Handler()), 2, "signet_http_requests_total", "method", "get", "code", "200")

	// Once the owner stops, its stream ends: counting stops, and the
	// store no longer answers readiness.
	closeOwner()
	m.Close()
	if code, _ := get(t, metrics.Readyz(o)); code != 503 {
		t.Fatalf("/readyz of a closed owner: %d", code)
	}
}

// Metrics holds any app.Service: over the owner's socket (api.Client, the
// ended-only event stream of GET /v1/events) it counts and reads the same.
func TestMetricsOverTheSocket(t *testing.T) {
	o, _ := openOwner(t)
	ctx := t.Context()
	m, err := metrics.New(ctx, api.NewClient(api.SocketPath(o.Dir())))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	createQA(t, o, "qa")
	if _, err := o.AddUser(ctx, model.User{Name: "bo", Role: model.RoleAdmin, Credits: 7}); err != nil {
		t.Fatal(err)
	}
	x, err := o.Run(ctx, app.RunRequest{Program: "qa", LM: "priced", Wait: true, Inputs: map[string]any{"question": "Is Bergen wet?"}})
	if err != nil || x.State != model.Completed || x.Cost <= 0 {
		t.Fatalf("run: %+v, %v", x, err)
	}
	if err := m.WaitCounted(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m.Handler())
	want(t, fams, 1, "signet_executions_total", "program", "qa", "state", "completed")
	want(t, fams, x.Cost, "signet_cost_usd_total", "program", "qa")
	want(t, fams, 7, "signet_user_credits_usd", "user", "bo")
	want(t, fams, 1, "signet_workers", "state", "ready")
}
