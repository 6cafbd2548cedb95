package graphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/api/graphql"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

func TestMain(m *testing.M) { testenv.Main(m, "graphql") }

// testConfig runs everything on the deterministic test LM, which answers
// with the last capitalised word of the question.
const testConfig = "lm: test\n"

// server is the GraphQL handler over a real owner with a one-worker pool
// of real Python workers, behind the bearer authentication the HTTP server
// gives it (a request without a token is the local user's here).
type server struct {
	o   *owner.Owner
	url string
	// subscribed hears each Subscribe the handler makes of the service:
	// a subscription is live once it has, so a test starts what it waits
	// for only then.
	subscribed chan struct{}
}

func start(t *testing.T) *server {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	o, err := owner.Open(context.Background(), owner.Options{Dir: t.TempDir(), Create: true, Command: "test",
		Workers: 1, Python: testenv.Python(t)})
	if err != nil {
		t.Fatal(err)
	}
	closeOwner := sync.OnceFunc(func() { o.Close(context.Background(), true) })
	t.Cleanup(closeOwner)
	s := &server{o: o, subscribed: make(chan struct{}, 16)}
	ts := httptest.NewServer(authenticate(o, graphql.NewHandler(subscribeSignal{Service: o, s: s.subscribed})))
	t.Cleanup(ts.Close) // before the owner closes: cleanups run last first
	s.url = ts.URL
	return s
}

// subscribeSignal is the owner, saying when a Subscribe of it has been made.
type subscribeSignal struct {
	app.Service
	s chan<- struct{}
}

func (w subscribeSignal) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	ch, err := w.Service.Subscribe(ctx)
	w.s <- struct{}{}
	return ch, err
}

// authenticate is what the HTTP server does before the GraphQL handler: a
// bearer token's principal on the request's context, 401 for a bad one.
func authenticate(svc app.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		p, err := svc.Authenticate(r.Context(), tok)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(app.WithPrincipal(r.Context(), p)))
	})
}

// user adds a user of role with credits and returns a token's value.
func (s *server) user(t *testing.T, name string, role model.Role, credits float64) string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.o.AddUser(ctx, model.User{Name: name, Role: role, Credits: credits}); err != nil {
		t.Fatal(err)
	}
	tok, err := s.o.CreateToken(ctx, name, "graphql test")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

// gqlError is one error of an answer.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string { c, _ := e.Extensions["code"].(string); return c }

type answer struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// post sends an operation by POST as token ("" for the local user).
func (s *server) post(t *testing.T, token, query string, vars map[string]any) answer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return s.send(t, token, req)
}

func (s *server) send(t *testing.T, token string, req *http.Request) answer {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s %s: status %d: decoding the answer: %v", req.Method, req.URL, resp.StatusCode, err)
	}
	return a
}

// ok is post that fails the test on any error and decodes the data into out.
func (s *server) ok(t *testing.T, token, query string, vars map[string]any, out any) {
	t.Helper()
	a := s.post(t, token, query, vars)
	if len(a.Errors) > 0 {
		t.Fatalf("%s: errors %+v", query, a.Errors)
	}
	if err := json.Unmarshal(a.Data, out); err != nil {
		t.Fatalf("%s: decoding %s: %v", query, a.Data, err)
	}
}

// refused is post that wants one error of code whose message says every
// part, at path's first element.
func (s *server) refused(t *testing.T, token, query string, vars map[string]any, code string, parts ...string) {
	t.Helper()
	a := s.post(t, token, query, vars)
	if len(a.Errors) != 1 {
		t.Fatalf("%s: %d errors %+v (data %s), want one %s", query, len(a.Errors), a.Errors, a.Data, code)
	}
	e := a.Errors[0]
	if e.code() != code {
		t.Errorf("%s: code %q (%s), want %q", query, e.code(), e.Message, code)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("%s: %q does not say %q", query, e.Message, p)
		}
	}
}

// execution is an Execution as the tests ask for it.
type execution struct {
	ID, Program, State, Error, User, Created string
	Version, Tokens                          int
	Inputs, Outputs                          map[string]any
	Cost                                     float64
	LatencyMs                                *float64
	Ended                                    *string
}

const executionFields = `id program version state inputs outputs cost tokens latencyMs error user created ended`

const executeMutation = `mutation($p: String!, $in: JSON!, $wait: Boolean) {
	executeProgram(program: $p, inputs: $in, wait: $wait) { ` + executionFields + ` } }`

// execute runs program on question as token.
func (s *server) execute(t *testing.T, token, program, question string, wait bool) execution {
	t.Helper()
	var out struct{ ExecuteProgram execution }
	s.ok(t, token, executeMutation, map[string]any{"p": program, "in": map[string]any{"question": question}, "wait": wait}, &out)
	return out.ExecuteProgram
}

// qaProgram is a program as the REST API's JSON gives it.
func qaProgram(name string) map[string]any {
	return map[string]any{"name": name, "description": "answers questions", "modules": []any{
		map[string]any{"name": "answer", "type": "predict", "signature": "question -> answer"},
	}}
}

const createMutation = `mutation($in: JSON!) { createProgram(input: $in) { name version status description modules { name type signature } created } }`

func (s *server) create(t *testing.T, name string) {
	t.Helper()
	var out struct{ CreateProgram struct{ Name string } }
	s.ok(t, "", createMutation, map[string]any{"in": qaProgram(name)}, &out)
}

func (s *server) deploy(t *testing.T, name string) {
	t.Helper()
	var out struct{ DeployProgram struct{ Status string } }
	s.ok(t, "", `mutation($n: String!) { deployProgram(name: $n) { status } }`, map[string]any{"n": name}, &out)
	if out.DeployProgram.Status != "PRODUCTION" {
		t.Fatalf("deploy %s: status %s", name, out.DeployProgram.Status)
	}
}
