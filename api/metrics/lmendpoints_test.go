package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api/metrics"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/remote"
)

// chatServer is an OpenAI-compatible chat completions endpoint (the hosted
// LM this stands for cannot run here): 200 with an answer DSPy's
// ChatAdapter parses, or 429 with a Retry-After. It counts its calls.
func chatServer(t *testing.T, status int, calls *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("content-type", "application/json")
		if status != http.StatusOK {
			w.Header().Set("retry-after", "600")
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error": {"message": "slow down"}}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "c", "object": "chat.completion", "created": 1, "model": "m",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"}}},
			"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 2},
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// A pooled profile's endpoints are on /metrics as the worker counted them:
// the rate-limited one backing off with its 429, the other with every call.
func TestMetricsLMEndpoints(t *testing.T) {
	var okCalls, limitedCalls atomic.Int64
	ok, limited := chatServer(t, http.StatusOK, &okCalls), chatServer(t, http.StatusTooManyRequests, &limitedCalls)
	o, _ := openOwnerWith(t, fmt.Sprintf(`profiles:
  team:
    model: openai/m
    cache: false
    kwargs: {num_retries: 0}
    endpoints: [{api_base: %s}, {api_base: %s}]
`, limited, ok))
	ctx := t.Context()
	m, err := metrics.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	createQA(t, o, "qa")
	for _, q := range []string{"a?", "b?", "c?"} {
		x, err := o.Run(ctx, app.RunRequest{Program: "qa", LM: "team", Wait: true, Inputs: map[string]any{"question": q}})
		if err != nil || x.State != model.Completed {
			t.Fatalf("run %s: %v %+v", q, err, x)
		}
	}
	if okCalls.Load() != 3 || limitedCalls.Load() != 1 {
		t.Fatalf("calls: ok %d, limited %d: want 3 and 1 (backing off for its Retry-After after the first)", okCalls.Load(), limitedCalls.Load())
	}
	fams := scrape(t, m.Handler())
	want(t, fams, 3, "signet_lm_endpoint_calls_total", "profile", "team", "endpoint", ok)
	want(t, fams, 30, "signet_lm_endpoint_tokens_total", "profile", "team", "endpoint", ok, "kind", "prompt")
	want(t, fams, 1, "signet_lm_endpoint_state", "profile", "team", "endpoint", ok, "state", "healthy")
	want(t, fams, 0, "signet_lm_endpoint_inflight", "profile", "team", "endpoint", ok)
	want(t, fams, 0, "signet_lm_endpoint_calls_total", "profile", "team", "endpoint", limited)
	want(t, fams, 1, "signet_lm_endpoint_rate_limited_total", "profile", "team", "endpoint", limited)
	want(t, fams, 1, "signet_lm_endpoint_errors_total", "profile", "team", "endpoint", limited)
	want(t, fams, 1, "signet_lm_endpoint_state", "profile", "team", "endpoint", limited, "state", "backing_off")
	want(t, fams, 0, "signet_lm_endpoint_state", "profile", "team", "endpoint", limited, "state", "healthy")
	if v, _ := value(fams, "signet_lm_endpoint_latency_mean_seconds", "profile", "team", "endpoint", ok); v <= 0 {
		t.Errorf("mean latency of the answering endpoint = %v", v)
	}
}

// An owner with a NATS queue shows it and the pools serving it: its own
// workers are the pool "local".
func TestMetricsRemotePools(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("lm: test\nprofiles:\n  test: {model: signet/test, cache: false}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	o, err := owner.Open(t.Context(), owner.Options{Dir: t.TempDir(), Create: true, Command: "test", Workers: 1, Concurrency: 3,
		Python: testenv.Python(t), NATS: &owner.NATSOptions{Listen: "127.0.0.1:0", AckWait: 5 * time.Second, Code: remote.CodeShip}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background(), true)
	m, err := metrics.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	createQA(t, o, "qa")
	x, err := o.Run(t.Context(), app.RunRequest{Program: "qa", Wait: true, Inputs: map[string]any{"question": "a?"}})
	if err != nil || x.State != model.Completed || x.Worker != "local/1" {
		t.Fatalf("run: %v %+v", err, x)
	}
	host, _ := os.Hostname()
	fams := scrape(t, m.Handler())
	want(t, fams, 1, "signet_pool_up", "pool", "local", "host", host)
	want(t, fams, 3, "signet_pool_capacity", "pool", "local", "host", host)
	want(t, fams, 0, "signet_nats_jobs_waiting")
	want(t, fams, 0, "signet_nats_jobs_redelivered_total")
}
