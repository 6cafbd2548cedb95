package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/internal/testenv"
)

// liveAPI asks a real owner over its socket and holds every answer to the
// OpenAPI document's schema of its operation and status.
type liveAPI struct {
	t   *testing.T
	hc  *http.Client
	c   *jsonschema.Compiler
	doc map[string]any
	mu  sync.Mutex
	sch map[string]*jsonschema.Schema
}

func newLiveAPI(t *testing.T, sock string) *liveAPI {
	doc, err := api.OpenAPIClosed()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", sock)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &liveAPI{t: t, hc: &http.Client{Transport: tr}, c: api.OpenAPICompiler(t, doc), doc: m, sch: map[string]*jsonschema.Schema{}}
}

// pointer escapes a JSON pointer's token.
func pointer(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }

// schema is the document's schema of the answer of pattern with status:
// the operation's own for 200, the shared error response's else.
func (l *liveAPI) schema(pattern string, status int) *jsonschema.Schema {
	l.t.Helper()
	method, path, _ := strings.Cut(pattern, " ")
	loc := "#/components/responses/" + strconv.Itoa(status) + "/content/application~1json/schema"
	if status == http.StatusOK {
		loc = "#/paths/" + pointer(path) + "/" + strings.ToLower(method) + "/responses/200/content/application~1json/schema"
	} else if pattern != "" {
		// The operation documents the status, as a $ref to the shared one.
		op, _ := l.doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		if _, ok := op["responses"].(map[string]any)[strconv.Itoa(status)]; !ok {
			l.t.Fatalf("%s does not document status %d", pattern, status)
		}
	}
	return l.compile(loc)
}

// compile is the document's schema at the JSON pointer loc.
func (l *liveAPI) compile(loc string) *jsonschema.Schema {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.sch[loc]; ok {
		return s
	}
	s, err := l.c.Compile(api.OpenAPIURL + loc)
	if err != nil {
		l.t.Fatalf("the document has no schema at %s: %v", loc, err)
	}
	l.sch[loc] = s
	return s
}

// do sends the request of pattern (its path filled in as target), wants
// status, and validates the answer; it returns the answer decoded.
func (l *liveAPI) do(pattern, target string, body any, status int, header ...string) any {
	l.t.Helper()
	method, _, _ := strings.Cut(pattern, " ")
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			l.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
		// What is sent is what the document says the operation takes.
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		_, path, _ := strings.Cut(pattern, " ")
		loc := "#/paths/" + pointer(path) + "/" + strings.ToLower(method) + "/requestBody/content/application~1json/schema"
		if err := l.compile(loc).Validate(v); err != nil {
			l.t.Fatalf("%s %s: the request body does not match the document:\n%v\n%s", method, target, err, j)
		}
	}
	req, err := http.NewRequestWithContext(l.t.Context(), method, "http://signet"+target, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		l.t.Fatal(err)
	}
	if resp.StatusCode != status {
		l.t.Fatalf("%s %s: status %d, want %d: %s", method, target, resp.StatusCode, status, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		l.t.Fatalf("%s %s: content type %q", method, target, ct)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, target, err)
	}
	if err := l.schema(pattern, status).Validate(v); err != nil {
		l.t.Fatalf("%s %s: the answer does not match the document (%s, %d):\n%v\n%s", method, target, pattern, status, err, raw)
	}
	var out any
	json.Unmarshal(raw, &out)
	return out
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// Live answers of a real owner, with a worker running DSPy on the test LM,
// match the document's schemas: the operations a client of the HTTP API
// uses most, and the error bodies.
func TestOpenAPIMatchesLiveAnswers(t *testing.T) {
	py := testenv.Python(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("lm: test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	o, err := owner.Open(context.Background(), owner.Options{Dir: t.TempDir(), Create: true, Command: "test", Workers: 1, Python: py})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close(context.Background(), true) })
	l := newLiveAPI(t, api.SocketPath(o.Dir()))

	l.do("GET /v1/status", "/v1/status", nil, 200)
	served := l.do("GET /v1/openapi.json", "/v1/openapi.json", nil, 200)
	var want any
	if b, err := api.OpenAPI(); err != nil || json.Unmarshal(b, &want) != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served, want) {
		t.Fatal("GET /v1/openapi.json is not api.OpenAPI()")
	}

	// Programs.
	qa := map[string]any{"name": "qa", "modules": []any{map[string]any{"name": "answer", "type": "predict", "signature": "question -> answer"}}}
	l.do("POST /v1/programs", "/v1/programs", qa, 200)
	l.do("PUT /v1/programs/{name}/status", "/v1/programs/qa/status", map[string]any{"status": "production", "note": "live"}, 200)
	l.do("GET /v1/programs", "/v1/programs", nil, 200)
	l.do("GET /v1/programs/{name}", "/v1/programs/qa?version=1", nil, 200)
	l.do("GET /v1/programs/{name}/versions", "/v1/programs/qa/versions", nil, 200)
	l.do("GET /v1/lm-profiles", "/v1/lm-profiles", nil, 200)

	// Datasets: a file imported, then read back.
	l.do("POST /v1/datasets/{name}/import", "/v1/datasets/caps/import",
		`{"question": "What is the capital of France?", "answer": "France"}`+"\n"+`{"question": "Where is Rome?", "answer": "Rome"}`+"\n", 200,
		"Signet-Request", `{"file": "caps.jsonl", "inputs": ["question"], "split": "train"}`)
	l.do("GET /v1/datasets", "/v1/datasets", nil, 200)
	l.do("GET /v1/datasets/{name}", "/v1/datasets/caps", nil, 200)
	page := l.do("GET /v1/datasets/{name}/examples", "/v1/datasets/caps/examples?limit=1", nil, 200)
	exs, _ := field(page, "examples").([]any)
	if len(exs) != 1 || field(page, "next_cursor") == "" {
		t.Fatalf("a page of 1 of 2 examples: %v", page)
	}
	l.do("GET /v1/datasets/{name}/examples/{id}", "/v1/datasets/caps/examples/"+field(exs[0], "id").(string), nil, 200)
	l.do("GET /v1/datasets/{name}/stats", "/v1/datasets/caps/stats", nil, 200)

	// Executions: one waited for on a worker, then read back with its trace.
	x := l.do("POST /v1/executions", "/v1/executions",
		map[string]any{"program": "qa", "inputs": map[string]any{"question": "What is the capital of France?"}, "wait": true}, 200)
	if field(x, "state") != "completed" || field(x, "outputs", "answer") != "France" {
		t.Fatalf("execution on the test LM: %v", x)
	}
	id := field(x, "id").(string)
	l.do("GET /v1/executions/{id}", "/v1/executions/"+id, nil, 200)
	l.do("GET /v1/executions", "/v1/executions?program=qa&state=completed", nil, 200)
	spans := l.do("GET /v1/executions/{id}/spans", "/v1/executions/"+id+"/spans", nil, 200)
	if n, _ := field(spans, "spans").([]any); len(n) == 0 {
		t.Fatalf("an execution on a worker has no spans: %v", spans)
	}
	l.do("POST /v1/executions/{id}/cancel", "/v1/executions/"+id+"/cancel", nil, 409)
	l.follow(t, map[string]any{"program": "qa", "inputs": map[string]any{"question": "Where is Oslo?"}})
	l.do("GET /v1/program-summaries", "/v1/program-summaries?name=qa", nil, 200)

	// Jobs, cost, workers.
	l.do("POST /v1/optimizations/estimate", "/v1/optimizations/estimate", map[string]any{"program": "qa", "optimizer": "bootstrap",
		"train": map[string]any{"dataset": "caps"}, "metric": map[string]any{"name": "exact_match"}}, 200)
	l.do("GET /v1/optimizations", "/v1/optimizations", nil, 200)
	l.do("GET /v1/evaluations", "/v1/evaluations", nil, 200)
	l.do("GET /v1/cost", "/v1/cost?days=true&month="+url.QueryEscape(field(x, "created_at").(string)[:7]), nil, 200)
	l.do("GET /v1/pool", "/v1/pool", nil, 200)
	l.do("GET /v1/store/check", "/v1/store/check", nil, 200)

	// Users and tokens (the local user over the socket may manage them).
	l.do("POST /v1/users", "/v1/users", map[string]any{"name": "ann", "role": "ml_user", "credits": 5}, 200)
	l.do("GET /v1/users", "/v1/users", nil, 200)
	tok := l.do("POST /v1/users/{name}/tokens", "/v1/users/ann/tokens", map[string]any{"name": "ci"}, 200)
	l.do("GET /v1/users/{name}", "/v1/users/ann", nil, 200)
	l.do("POST /v1/users/{name}/credits", "/v1/users/ann/credits", map[string]any{"op": "+", "usd": 1}, 200)
	l.do("POST /v1/authenticate", "/v1/authenticate", map[string]any{"token": field(tok, "value")}, 200)
	l.do("GET /v1/audit", "/v1/audit?limit=5", nil, 200)

	// Errors: the body every operation documents.
	l.do("GET /v1/programs/{name}", "/v1/programs/nosuch", nil, 404)
	l.do("GET /v1/executions/{id}", "/v1/executions/not-an-id", nil, 400)
	l.do("GET /v1/executions", "/v1/executions?limit=many", nil, 400)
	l.do("POST /v1/programs", "/v1/programs", qa, 409)
	l.do("POST /v1/authenticate", "/v1/authenticate", map[string]any{"token": "sgt_nosuch"}, 401)
	l.do("", "/v1/nosuch", nil, 404)
}

// follow submits run without waiting and reads GET /v1/events (spans on)
// until the execution has ended: every line, an execution's and its
// spans' (which the stream writes with model's AppendJSON, not
// encoding/json), must match the document's Event.
func (l *liveAPI) follow(t *testing.T, run map[string]any) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://signet/v1/events?spans=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("GET /v1/events: %d %q", resp.StatusCode, ct)
	}
	sc := l.compile("#/paths/~1v1~1events/get/responses/200/content/application~1x-ndjson/schema")
	x := l.do("POST /v1/executions", "/v1/executions", run, 200)
	id := field(x, "id").(string)
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 16<<20)
	kinds := map[string]int{}
	for lines.Scan() {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(lines.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Validate(v); err != nil {
			t.Fatalf("an event does not match the document:\n%v\n%s", err, lines.Bytes())
		}
		kinds[field(v, "kind").(string)]++
		if field(v, "execution", "id") == id {
			if st := field(v, "execution", "state"); st == "completed" || st == "failed" || st == "cancelled" {
				if kinds["span"] == 0 {
					t.Fatalf("the execution ended with no span event before: %v", kinds)
				}
				return
			}
		}
	}
	t.Fatalf("the event stream ended before execution %s did (%v): %v", id, kinds, lines.Err())
}
