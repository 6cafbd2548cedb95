package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeChat is an OpenAI-compatible /v1/chat/completions (a hosted LM
// cannot run here): it answers every call with status, in the format
// DSPy's ChatAdapter parses, and counts the calls.
type fakeChat struct {
	status int
	calls  atomic.Int64
	bodies atomic.Value // the last request body
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	f.bodies.Store(string(body))
	w.Header().Set("content-type", "application/json")
	if r.URL.Path != "/v1/chat/completions" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(f.status)
	if f.status != http.StatusOK {
		fmt.Fprint(w, `{"error": {"message": "the GPU is on fire", "type": "server_error"}}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"id": "cmpl-1", "object": "chat.completion", "created": 1, "model": "qwen",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"}}},
		"usage": map[string]any{"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24},
	})
}

// TestLMEndpointPool runs a batch through a profile that lists two
// endpoints, one of them failing: every run completes (the worker fails
// over and ejects the failing one), and `signet lm status --json` shows
// both endpoints with what the owner's workers counted, as do `signet
// status` and the workbench's Workers page.
func TestLMEndpointPool(t *testing.T) {
	env := pythonEnv(t)
	good, bad := &fakeChat{status: http.StatusOK}, &fakeChat{status: http.StatusInternalServerError}
	goodSrv, badSrv := httptest.NewServer(good), httptest.NewServer(bad)
	defer goodSrv.Close()
	defer badSrv.Close()
	dir, ws := t.TempDir(), t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// The failing endpoint listed first: each worker's first call tries it.
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`profiles:
  team:
    model: openai/qwen
    cache: false
    kwargs: {num_retries: 0, timeout: 30}
    endpoints:
      - {api_base: %s/v1}
      - {api_base: %s/v1, weight: 2, max_concurrency: 4}
`, badSrv.URL, goodSrv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var data strings.Builder
	for i := range n {
		fmt.Fprintf(&data, `{"question": "Question %d?", "answer": "Paris"}`+"\n", i)
	}
	dataFile := filepath.Join(dir, "data.jsonl")
	if err := os.WriteFile(dataFile, []byte(data.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	mustRun(t, env, "dataset", "import", dataFile, "--name", "qs")

	var profiles []struct {
		Name      string
		Endpoints []struct {
			APIBase string `json:"api_base"`
			Weight  float64
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "lm", "list", "--json")), &profiles); err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		if p.Name == "team" && (len(p.Endpoints) != 2 || p.Endpoints[1].APIBase != goodSrv.URL+"/v1" || p.Endpoints[1].Weight != 2) {
			t.Errorf("lm list: team's endpoints %+v", p.Endpoints)
		}
	}
	if list := mustRun(t, env, "lm", "list"); !strings.Contains(list, "2 endpoints") {
		t.Errorf("lm list does not say team has 2 endpoints:\n%s", list)
	}

	// Unused yet: listed from the config, nothing counted.
	var st struct {
		Running   bool
		Endpoints []struct {
			Profile          string  `json:"profile"`
			APIBase          string  `json:"api_base"`
			State            string  `json:"state"`
			Workers          int     `json:"workers"`
			Calls            int     `json:"calls"`
			Errors           int     `json:"errors"`
			Inflight         int     `json:"inflight"`
			PromptTokens     int     `json:"prompt_tokens"`
			CompletionTokens int     `json:"completion_tokens"`
			Latency          float64 `json:"latency_s"`
			LastError        string  `json:"last_error"`
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "lm", "status", "--json")), &st); err != nil || st.Running || len(st.Endpoints) != 2 || st.Endpoints[0].State != "" {
		t.Fatalf("lm status with no owner: %+v %v", st, err)
	}

	serve, serveOut := start(t, env, "serve", "--workers", "2")
	waitOwner(t, ws, false)
	defer stopServe(t, serve, serveOut, ws)
	var sum struct {
		Total  int
		States map[string]int
	}
	out := mustRun(t, env, "run", "qa", "--dataset", "qs", "--lm", "team", "--json")
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Total != n || sum.States["completed"] != n {
		t.Fatalf("batch over the pool: %+v %v\n%s", sum, err, out)
	}
	if got := good.calls.Load(); got != n {
		t.Errorf("the healthy endpoint answered %d calls, want %d", got, n)
	}
	// Only the calls a worker had sent it before its first failure came back
	// (a few, in flight at once), not its share of the 50 (a third by weight):
	// then it is ejected for its cool-down.
	if got := bad.calls.Load(); got < 1 || got >= 10 {
		t.Errorf("the failing endpoint was called %d times, want 1 to 9 (then ejected)", got)
	}
	if g, b := good.bodies.Load(), bad.bodies.Load(); g == nil || b == nil || !strings.Contains(b.(string), `"model": "qwen"`) && !strings.Contains(b.(string), `"model":"qwen"`) {
		t.Errorf("request bodies: good %v, bad %v", g, b)
	}

	st.Endpoints = nil
	out = mustRun(t, env, "lm", "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Running || len(st.Endpoints) != 2 {
		t.Fatalf("lm status: %v\n%s", err, out)
	}
	badRow, goodRow := st.Endpoints[0], st.Endpoints[1]
	if badRow.APIBase != badSrv.URL+"/v1" || goodRow.APIBase != goodSrv.URL+"/v1" || badRow.Profile != "team" {
		t.Fatalf("lm status rows: %+v", st.Endpoints)
	}
	if badRow.State != "ejected" || badRow.Errors != int(bad.calls.Load()) || badRow.Calls != 0 || !strings.Contains(badRow.LastError, "the GPU is on fire") {
		t.Errorf("the failing endpoint: %+v", badRow)
	}
	if goodRow.State != "healthy" || goodRow.Calls != n || goodRow.Errors != 0 || goodRow.Inflight != 0 ||
		goodRow.PromptTokens != 20*n || goodRow.CompletionTokens != 4*n || goodRow.Latency <= 0 {
		t.Errorf("the healthy endpoint: %+v", goodRow)
	}
	// The table says the same.
	table := mustRun(t, env, "lm", "status")
	for _, want := range []string{badSrv.URL + "/v1", "ejected", goodSrv.URL + "/v1", "healthy", "the GPU is on fire"} {
		if !strings.Contains(table, want) {
			t.Errorf("lm status lacks %q:\n%s", want, table)
		}
	}
	// So does signet status, a line each.
	status := mustRun(t, env, "status")
	for _, want := range []string{
		fmt.Sprintf("endpoint   team %s/v1: ejected, 0 in flight, 0 calls, %d errors", badSrv.URL, bad.calls.Load()),
		fmt.Sprintf("endpoint   team %s/v1: healthy, 0 in flight, %d calls, 0 errors (0 429s), %d tokens in, %d out, mean ", goodSrv.URL, n, 20*n, 4*n),
	} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}

	// And the workbench's Workers page, a client of the serving owner.
	t.Run("workbench", func(t *testing.T) {
		term := startTUI(t, env, shellQuote(signetBinary(t)))
		term.waitText("Programs", "qa")
		term.keys("5")
		host := func(u string) string { return strings.TrimPrefix(u, "http://") + "/v1" }
		term.waitText("Workers", "LM endpoints (2)", host(badSrv.URL), "ejected", host(goodSrv.URL), "healthy", fmt.Sprint(n))
	})
}
