package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/internal/otlprecv"
)

// runUsage is an execution's usage of one model, as --json prints it.
type runUsage struct {
	Calls            int `json:"calls"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// TestBinaryTraceOTLP runs a two-module demo program on the priced test LM
// with the real binary, exports its trace as OTLP JSON (without content,
// then with it), imports that file into another workspace and reads back
// the same span tree, tokens, cost and models; a foreign OpenInference
// trace imports too, and a second import of a file is refused.
func TestBinaryTraceOTLP(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("profiles:\n  priced: {model: signet/test, cache: false, price_in: 1.0, price_out: 2.0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := append(pythonEnv(t), "SIGNET_HOME="+filepath.Join(dir, "src"), "SIGNET_CONFIG="+cfg)
	dst := []string{"SIGNET_HOME=" + filepath.Join(dir, "dst"), "SIGNET_CONFIG=" + cfg}
	mustRun(t, src, "demo")
	mustRun(t, dst, "init")
	var x struct {
		ID    string              `json:"id"`
		Cost  float64             `json:"cost"`
		Usage map[string]runUsage `json:"usage"`
	}
	out := mustRun(t, src, "run", "facts", "--lm", "priced", "--json", "--input", "question=What is the capital of France?")
	if err := json.Unmarshal([]byte(out), &x); err != nil || x.ID == "" || x.Cost <= 0 {
		t.Fatalf("run --json: %v, %+v\n%s", err, x, out)
	}

	bare, content := filepath.Join(dir, "bare.json"), filepath.Join(dir, "content.json")
	mustRun(t, src, "trace", x.ID, "--format", "otlp-json", "-o", bare)
	mustRun(t, src, "trace", "export", x.ID, "--content", "-o", content)
	if _, errOut, code := run(t, src, "trace", x.ID, "-o", bare); code != 2 || !strings.Contains(errOut, "--format otlp-json") {
		t.Errorf("-o without otlp-json: exit %d, %q", code, errOut)
	}
	b, err := os.ReadFile(bare)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"gen_ai.request.model"`, `"signet/test"`, `"gen_ai.usage.input_tokens"`, `"signet.cost_usd"`, `"parentSpanId"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export lacks %s", want)
		}
	}
	if strings.Contains(string(b), "capital of France") {
		t.Error("export without --content carries the question")
	}
	if c, _ := os.ReadFile(content); !strings.Contains(string(c), "capital of France") || !strings.Contains(string(c), `"gen_ai.user.message"`) {
		t.Error("export with --content lacks the prompt")
	}

	if out := mustRun(t, dst, "trace", "import", content); !strings.Contains(out, x.ID) || !strings.Contains(out, "otlp:priced") {
		t.Errorf("import said:\n%s", out)
	}
	// The same trace, span for span, in both workspaces.
	if want, got := mustRun(t, src, "trace", x.ID, "--json"), mustRun(t, dst, "trace", x.ID, "--json"); want != got {
		t.Errorf("imported trace differs:\n got %s\nwant %s", got, want)
	}
	var y struct {
		Cost  float64             `json:"cost"`
		LM    string              `json:"lm"`
		Usage map[string]runUsage `json:"usage"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dst, "exec", "show", x.ID, "--json")), &y); err != nil {
		t.Fatal(err)
	}
	if y.Cost != x.Cost || y.LM != "otlp:priced" || len(y.Usage) != 1 || y.Usage["signet/test"] != x.Usage["signet/test"] || x.Usage["signet/test"].Calls != 2 || x.Usage["signet/test"].PromptTokens == 0 {
		t.Errorf("imported execution cost %v lm %s usage %+v, want cost %v usage %+v", y.Cost, y.LM, y.Usage, x.Cost, x.Usage)
	}
	if _, errOut, code := run(t, dst, "trace", "import", content); code != 1 || !strings.Contains(errOut, "already in the workspace") {
		t.Errorf("second import: exit %d, %q", code, errOut)
	}

	out = mustRun(t, dst, "trace", "import", "otlp/testdata/openinference.json", "--json")
	var res struct {
		Executions []struct {
			ID, Program, LM string
			Spans           int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Executions) != 1 || res.Executions[0].Program != "rag-bot" || res.Executions[0].Spans != 4 {
		t.Fatalf("foreign import: %v, %s", err, out)
	}
	if tr := mustRun(t, dst, "trace", res.Executions[0].ID); !strings.Contains(tr, "182→24 tok") || !strings.Contains(tr, "ChatAdapter.format") {
		t.Errorf("foreign trace:\n%s", tr)
	}
}

// TestBinaryServeOTLP: `signet serve --otlp URL` exports the trace of a
// run another process submits to an in-test OTLP/HTTP receiver, and says
// where it exports.
func TestBinaryServeOTLP(t *testing.T) {
	recv := otlprecv.New(t, false)
	env := append(pythonEnv(t), "SIGNET_HOME="+filepath.Join(t.TempDir(), "ws"), "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	mustRun(t, env, "demo")
	out, stderr, wait := startServe(t, env, "--otlp", recv.URL, "--workers", "1")
	for _, want := range []string{"serving workspace", "exporting every ended execution's trace to " + recv.URL} {
		if line, err := out.ReadString('\n'); err != nil || !strings.HasPrefix(line, want) {
			wait()
			t.Fatalf("signet serve said %q (%v), want %q; stderr %q", line, err, want, stderr.String())
		}
	}
	var x struct {
		ID    string `json:"id"`
		Usage map[string]runUsage
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "run", "qa", "--lm", "test", "--json", "--input", "question=What is the capital of France?")), &x); err != nil {
		t.Fatal(err)
	}
	req := <-recv.Requests
	spans, lm := 0, 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				spans++
				for _, kv := range s.GetAttributes() {
					if kv.GetKey() == "gen_ai.usage.input_tokens" && kv.GetValue().GetIntValue() == int64(x.Usage["signet/test"].PromptTokens) {
						lm++
					}
				}
			}
		}
	}
	if want := strings.ReplaceAll(x.ID, "-", ""); hex.EncodeToString(req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0].GetTraceId()) != want || spans < 4 || lm != 1 {
		t.Errorf("received %d spans (%d LM with the run's tokens) of trace %x, want the run %s's", spans, lm, req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0].GetTraceId(), x.ID)
	}
}
