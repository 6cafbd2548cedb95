package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pricedConfig makes the test LM cost something (and never answer from
// the execution cache), so that credits move.
const pricedConfig = "lm: priced\nprofiles:\n  priced: {model: signet/test, cache: false, price_in: 1.0, price_out: 2.0}\n"

// TestBinaryServeHTTP is the issue's check with the real binary: `signet
// serve --http 127.0.0.1:0` on the demo workspace; an ml_user's token runs
// a production program (credits fall by exactly its cost), cannot compile
// (403 naming the rule), gets 401 without a token and with a revoked one;
// a user at zero credits gets 402 before any LM call; server-sent events
// follow the run; failed authentications are in the audit trail.
func TestBinaryServeHTTP(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(pricedConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+cfg)
	mustRun(t, env, "demo")
	mustRun(t, env, "program", "status", "qa", "production")
	mustRun(t, env, "user", "add", "ada", "--role", "admin")
	mustRun(t, env, "user", "add", "ann", "--role", "ml_user", "--credits", "1")
	mustRun(t, env, "user", "add", "zoe", "--role", "ml_user", "--credits", "0")
	admin := tokenFor(t, env, "ada")
	ann := tokenFor(t, env, "ann")
	doomed := tokenFor(t, env, "ann")
	zoe := tokenFor(t, env, "zoe")

	// A certificate without its key is a usage error.
	if _, errOut, code := run(t, env, "serve", "--http", "127.0.0.1:0", "--tls-cert", cfg); code != 2 || !strings.Contains(errOut, "--tls-key") {
		t.Fatalf("serve --tls-cert alone: exit %d, %q", code, errOut)
	}

	base := serveHTTP(t, env, "--http", "127.0.0.1:0")
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("serve says it listens on %q", base)
	}
	c := &httpClient{t: t, base: base, hc: http.DefaultClient}

	// Health without a token; readiness once the pool is up (serve starts it).
	if code, body := c.do("GET", "/healthz", "", nil, nil); code != 200 || !strings.Contains(string(body), "ok") {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := c.do("GET", "/readyz", "", nil, nil); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}

	// Without a token, with a malformed header, with an unknown token: 401.
	for _, tok := range []string{"", "Basic abc", "Bearer sgt_nope"} {
		hdr := http.Header{}
		if tok != "" {
			hdr.Set("Authorization", tok)
		}
		code, body, h := c.doHeader("GET", "/v1/programs", hdr, nil)
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || errCode(body) != "unauthenticated" {
			t.Fatalf("token %q: %d %s %v", tok, code, body, h)
		}
	}

	// Follow ann's next execution as server-sent events (Accept asks).
	events := c.sse("/v1/events?spans=false", ann)

	// ann runs the production program: 200, completed, charged.
	var x struct {
		ID, State, User string
		Cost            float64
	}
	code, body := c.do("POST", "/v1/executions", ann, map[string]any{"program": "qa", "wait": true,
		"inputs": map[string]any{"question": "What is the capital of France?"}}, &x)
	if code != 200 || x.State != "completed" || x.User != "ann" || x.Cost <= 0 {
		t.Fatalf("ann runs qa: %d %s", code, body)
	}
	if got := userCredits(t, env, "ann"); got != 1-x.Cost {
		t.Fatalf("ann's credits $%v after a run costing $%v on $1, want $%v", got, x.Cost, 1-x.Cost)
	}
	for {
		ev, ok := <-events
		if !ok {
			t.Fatal("the event stream ended before ann's execution did")
		}
		if ev.kind == "execution" && strings.Contains(ev.data, x.ID) && strings.Contains(ev.data, `"completed"`) {
			break
		}
	}

	// ann may not compile: 403 naming the rule.
	code, body = c.do("POST", "/v1/optimizations", ann, map[string]any{"program": "qa", "optimizer": "bootstrap",
		"train": map[string]any{"dataset": "qa"}, "metric": map[string]any{"name": "exact_match"}}, nil)
	if code != 403 || errCode(body) != "forbidden" || !strings.Contains(string(body), "compile: admin or ml_engineer") {
		t.Fatalf("ann compiles: %d %s", code, body)
	}

	// A revoked token is refused from the next request on.
	if code, _ := c.do("GET", "/v1/programs", doomed, nil, nil); code != 200 {
		t.Fatalf("doomed token before revoke: %d", code)
	}
	var shown struct {
		Tokens []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "user", "show", "ann", "--json")), &shown); err != nil || len(shown.Tokens) != 2 {
		t.Fatalf("user show ann: %+v, %v", shown, err)
	}
	for _, tk := range shown.Tokens {
		if code, _, _ := c.doHeader("POST", "/v1/tokens/"+tk.ID+"/revoke", bearerHeader(ann), nil); code != 403 {
			t.Fatalf("ann revokes a token: %d, want 403", code)
		}
	}
	mustRun(t, env, "token", "revoke", shown.Tokens[1].ID)
	if code, body := c.do("GET", "/v1/programs", doomed, nil, nil); code != 401 || errCode(body) != "unauthenticated" {
		t.Fatalf("revoked token: %d %s", code, body)
	}
	if code, _ := c.do("GET", "/v1/programs", ann, nil, nil); code != 200 {
		t.Fatalf("ann's other token after the revoke: %d", code)
	}

	// zoe has no credits: 402 before any LM call, nothing recorded.
	code, body = c.do("POST", "/v1/executions", zoe, map[string]any{"program": "qa", "wait": true,
		"inputs": map[string]any{"question": "What is the capital of Spain?"}}, nil)
	if code != 402 || errCode(body) != "payment_required" {
		t.Fatalf("zoe runs with no credits: %d %s", code, body)
	}
	var page struct {
		Executions []struct{ ID, User string }
	}
	if code, body := c.do("GET", "/v1/executions", admin, nil, &page); code != 200 || len(page.Executions) != 1 || page.Executions[0].ID != x.ID {
		t.Fatalf("executions after zoe's refusal: %d %s; want ann's only", code, body)
	}
	// ann's list is her own; zoe's is empty.
	if code, body := c.do("GET", "/v1/executions", zoe, nil, &page); code != 200 || len(page.Executions) != 0 {
		t.Fatalf("zoe lists executions: %d %s", code, body)
	}
	if code, _ := c.do("GET", "/v1/executions/"+x.ID, zoe, nil, nil); code != 403 {
		t.Fatalf("zoe reads ann's execution: %d, want 403", code)
	}

	// The failed authentications are in the audit trail, no token value.
	var recs []struct{ Actor, Action, Outcome, Detail string }
	if code, body := c.do("GET", "/v1/audit", admin, nil, &recs); code != 200 {
		t.Fatalf("audit: %d %s", code, body)
	}
	anon := 0
	for _, r := range recs {
		if r.Actor == "anonymous" && r.Action == "authenticate" && r.Outcome == "denied" {
			anon++
			if strings.Contains(r.Detail, "sgt_") || !strings.Contains(r.Detail, "127.0.0.1") {
				t.Errorf("audit record of a failed authentication: %+v", r)
			}
		}
	}
	if anon == 0 {
		t.Fatalf("no failed authentication in the audit trail: %+v", recs)
	}
}

// TestBinaryServeHTTPS serves TLS with a certificate made here: a request
// over https with the certificate trusted works; plain http to it does not.
func TestBinaryServeHTTPS(t *testing.T) {
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"))
	mustRun(t, env, "init")
	mustRun(t, env, "user", "add", "ada", "--role", "admin")
	admin := tokenFor(t, env, "ada")
	certFile, keyFile, pool := selfSigned(t)

	base := serveHTTP(t, env, "--http", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("serve with TLS says it listens on %q", base)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := &httpClient{t: t, base: base, hc: hc}
	if code, body := c.do("GET", "/v1/programs", admin, nil, nil); code != 200 {
		t.Fatalf("GET /v1/programs over https: %d %s", code, body)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a TLS 1.1 client was served: %s", resp.Status)
	}
	plain := "http://" + strings.TrimPrefix(base, "https://")
	if resp, err := http.Get(plain + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plain http to the TLS face answered 200: %s", body)
		}
	}
}

// serveHTTP runs `signet serve ARGS` until the test ends and returns the
// URL it says it serves HTTP on.
func serveHTTP(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r, stderr, wait := startServe(t, env, args...)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			wait()
			t.Fatalf("signet serve %v ended before serving HTTP (%v); stderr %q", args, err, stderr.String())
		}
		if rest, ok := strings.CutPrefix(line, "serving HTTP on "); ok {
			go io.Copy(io.Discard, r)
			url, _, _ := strings.Cut(rest, " ")
			return strings.TrimSpace(url)
		}
	}
}

func tokenFor(t *testing.T, env []string, user string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, env, "token", "create", user))
}

func userCredits(t *testing.T, env []string, user string) float64 {
	t.Helper()
	var u struct{ Credits float64 }
	if err := json.Unmarshal([]byte(mustRun(t, env, "user", "show", user, "--json")), &u); err != nil {
		t.Fatal(err)
	}
	return u.Credits
}

func bearerHeader(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// errCode is the code of an error body.
func errCode(body []byte) string {
	var e struct{ Error struct{ Code string } }
	json.Unmarshal(body, &e)
	return e.Error.Code
}

// httpClient speaks to the HTTP face as a service of a team would.
type httpClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// do sends a JSON request with token (none for "") and decodes a 200's
// body into out (when not nil).
func (c *httpClient) do(method, path, token string, in, out any) (int, []byte) {
	c.t.Helper()
	code, body, _ := c.doHeader(method, path, bearerHeader(token), in)
	if out != nil && code == 200 {
		if err := json.Unmarshal(body, out); err != nil {
			c.t.Fatalf("%s %s: %v\n%s", method, path, err, body)
		}
	}
	return code, body
}

func (c *httpClient) doHeader(method, path string, h http.Header, in any) (int, []byte, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = h
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

type sseEvent struct{ kind, data string }

// sse opens a server-sent event stream and yields its events until the
// test ends; it returns once the stream's headers are in.
func (c *httpClient) sse(path, token string) <-chan sseEvent {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = bearerHeader(token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		c.t.Fatalf("GET %s as text/event-stream: %s, %s", path, resp.Status, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.kind != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts the certificate.
func selfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signet test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
