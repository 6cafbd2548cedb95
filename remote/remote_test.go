package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

// fakeRunner stands in for a pool's Python workers: the package's subject
// is the queue, not DSPy (the root e2e test runs real workers).
type fakeRunner struct {
	name string
	// run does the work; nil: one LM span and outputs {"answer": name}.
	run   func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error)
	mu    sync.Mutex
	calls int
}

func (f *fakeRunner) Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.run != nil {
		return f.run(ctx, req, onSpan)
	}
	lmSpan(onSpan, "c-"+f.name, true)
	return &bridge.ExecuteResult{Outputs: map[string]any{"answer": f.name}, Worker: f.name + "/1"}, nil
}

func (f *fakeRunner) Flow(_ context.Context, p *model.Program, _ string, _ map[string]bridge.IndexSpec) (model.Flow, error) {
	return model.Flow{Inputs: []string{"question"}, Outputs: []string{f.name + ":" + p.Modules[0].Source}}, nil
}

func (f *fakeRunner) Status() []bridge.WorkerStatus {
	return []bridge.WorkerStatus{{ID: 1, State: bridge.StateReady, PID: 42}}
}

func (f *fakeRunner) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// recorder is a pool's runner "p" that keeps the last program it ran, as
// the pool handed it over, in *seen.
func recorder() (run *fakeRunner, seen *model.Program) {
	seen = &model.Program{}
	return &fakeRunner{name: "p", run: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		*seen = *req.Program
		return &bridge.ExecuteResult{Outputs: map[string]any{}}, nil
	}}, seen
}

// lmSpan sends an LM span's start, and its end when ended.
func lmSpan(onSpan func(model.Span), id string, ended bool) {
	if onSpan == nil {
		return
	}
	s := model.Span{ID: id, Kind: model.SpanLM, Name: "lm", Start: time.Unix(1, 0).UTC()}
	onSpan(s)
	if ended {
		s.End, s.Usage = time.Unix(2, 0).UTC(), model.Usage{Calls: 1, PromptTokens: 3, CompletionTokens: 1}
		onSpan(s)
	}
}

type rig struct {
	t    *testing.T
	srv  *Server
	d    *Dispatcher
	caps chan int
}

func newRig(t *testing.T, ackWait time.Duration, code CodeMode) *rig {
	t.Helper()
	srv, err := Serve(ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := &rig{t: t, srv: srv, caps: make(chan int, 64)}
	r.d, err = NewDispatcher(context.Background(), DispatcherOptions{Conn: nc, AckWait: ackWait, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	r.d.Follow(func(n int) { r.caps <- n })
	t.Cleanup(r.d.Close)
	return r
}

// join starts a pool on its own connection; stop ends it (and waits).
func (r *rig) join(name string, run *fakeRunner, capacity int) (nc *nats.Conn, stop func()) {
	r.t.Helper()
	return r.joinWith(JoinOptions{Name: name, Runner: run, Capacity: capacity})
}

// joinWith is join with o's options (its connection, cache dir and Ready
// are the rig's).
func (r *rig) joinWith(o JoinOptions) (nc *nats.Conn, stop func()) {
	r.t.Helper()
	name := o.Name
	nc, err := Dial(context.Background(), ClientOptions{URL: r.srv.URL(), Name: name})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	o.Conn, o.CacheDir, o.Ready = nc, filepath.Join(r.t.TempDir(), "code"), ready
	go func() { done <- Join(ctx, o) }()
	select {
	case <-ready:
	case err := <-done:
		r.t.Fatalf("pool %s: %v", name, err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				r.t.Errorf("pool %s: %v", name, err)
			}
			nc.Close()
		}
	}
	r.t.Cleanup(stop)
	return nc, stop
}

// waitCapacity waits for the pools' capacity to reach n.
func (r *rig) waitCapacity(n int) {
	r.t.Helper()
	for c := range r.caps {
		if c == n {
			return
		}
	}
}

type recGate struct {
	mu       sync.Mutex
	reserved []string
	settled  []string
	refuse   string
}

func (g *recGate) Reserve(_ context.Context, call string, est float64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reserved = append(g.reserved, call)
	if call == g.refuse {
		return errors.New("over the cap")
	}
	return nil
}

func (g *recGate) Settle(call string, cost float64, known bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.settled = append(g.settled, call)
}

func program() *model.Program {
	return &model.Program{Name: "qa", Version: 1, Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}
}

func TestExecuteRoundTrip(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeShip)
	run := &fakeRunner{name: "gpu1"}
	run.run = func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		if req.Gate == nil {
			return nil, errors.New("no gate on a gated job")
		}
		if err := req.Gate.Reserve(ctx, "c1", 0.5); err != nil {
			return nil, err
		}
		lmSpan(onSpan, "c1", true)
		req.Gate.Settle("c1", 0.25, true)
		if err := req.Gate.Reserve(ctx, "c2", 0.5); err != nil {
			return nil, &bridge.Error{Code: "budget", Message: err.Error()}
		}
		return nil, errors.New("the refused call should have ended the run")
	}
	r.join("gpu1", run, 3)
	r.waitCapacity(3)

	g := &recGate{refuse: "c2"}
	var spans []model.Span
	_, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program(), Inputs: map[string]any{"question": "q"}, Trace: true, Gate: g},
		func(s model.Span) { spans = append(spans, s) })
	var be *bridge.Error
	if !errors.As(err, &be) || be.Code != "budget" || !strings.Contains(be.Message, "over the cap") || be.Pool != "gpu1" {
		t.Fatalf("want the pool's budget error naming the gate's refusal, got %v (%+v)", err, be)
	}
	if len(spans) != 2 || spans[0].End.IsZero() == false || spans[1].End.IsZero() || spans[1].Usage.Calls != 1 {
		t.Fatalf("spans: want the LM span's start then its end, got %+v", spans)
	}
	if strings.Join(g.reserved, ",") != "c1,c2" || strings.Join(g.settled, ",") != "c1" {
		t.Fatalf("gate: reserved %v settled %v", g.reserved, g.settled)
	}

	// A plain run: the result, the worker that ran it.
	run.run = nil
	res, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program(), Inputs: map[string]any{"question": "q"}}, nil)
	if err != nil || res.Outputs["answer"] != "gpu1" || res.Worker != "gpu1/1" {
		t.Fatalf("got %+v, %v", res, err)
	}
	pools := r.d.Pools()
	if len(pools) != 1 || pools[0].Name != "gpu1" || pools[0].Lost || pools[0].Capacity != 3 || len(pools[0].Workers) != 1 {
		t.Fatalf("pools: %+v", pools)
	}
}

// A pool that stops answering mid-job (killed: no more "in progress", no
// ack) loses nothing: the job is delivered again after the ack wait, to
// the other pool; what the lost delivery left open is ended, its cost
// unknown; a result the lost delivery still sends is refused.
func TestRedeliveryAppliesOnce(t *testing.T) {
	r := newRig(t, time.Second, CodeShip)
	started := make(chan struct{})
	stuck := &fakeRunner{name: "a", run: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		lmSpan(onSpan, "lost-call", false)
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	ncA, stopA := r.join("a", stuck, 1)
	r.waitCapacity(1)

	type outcome struct {
		res *bridge.ExecuteResult
		err error
	}
	var mu sync.Mutex
	var spans []model.Span
	done := make(chan outcome, 1)
	go func() {
		res, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program(), Trace: true}, func(s model.Span) {
			mu.Lock()
			spans = append(spans, s)
			mu.Unlock()
		})
		done <- outcome{res, err}
	}()
	<-started
	// Pool a's machine dies: its connection goes without a word.
	ncA.Close()
	stopA()

	release := make(chan struct{})
	redelivered := make(chan struct{})
	b := &fakeRunner{name: "b", run: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		close(redelivered)
		<-release
		lmSpan(onSpan, "b-call", true)
		return &bridge.ExecuteResult{Outputs: map[string]any{"answer": "b"}, Worker: "b/1"}, nil
	}}
	r.join("b", b, 1)
	<-redelivered

	// The lost delivery's result, had its pool lived to send it: refused.
	var key string
	r.d.mu.Lock()
	for k := range r.d.waiting {
		key = k
	}
	r.d.mu.Unlock()
	zombie, err := Dial(context.Background(), ClientOptions{URL: r.srv.URL(), Name: "zombie"})
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Close()
	body, _ := json.Marshal(out{T: outResult, Delivery: 1, Result: &bridge.ExecuteResult{Outputs: map[string]any{"answer": "zombie"}, Worker: "a/1"}})
	reply, err := zombie.Request(outPrefix+key, body, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var v verdict
	if json.Unmarshal(reply.Data, &v); v.Go || !v.Superseded {
		t.Fatalf("the lost delivery's result: want it refused as superseded (not to be acked), got %+v", v)
	}
	close(release)

	o := <-done
	if o.err != nil || o.res.Outputs["answer"] != "b" || o.res.Worker != "b/1" || !o.res.CostUnknown {
		t.Fatalf("want b's result, its cost unknown (a's call may have been billed), got %+v, %v", o.res, o.err)
	}
	mu.Lock()
	defer mu.Unlock()
	var lost *model.Span
	for i := range spans {
		if spans[i].ID == "lost-call" && !spans[i].End.IsZero() {
			lost = &spans[i]
		}
	}
	if lost == nil || !lost.CostUnknown || !strings.Contains(lost.Error, "pool a stopped answering") {
		t.Fatalf("the lost delivery's open LM span should end, cost unknown, naming pool a: %+v", spans)
	}
	if q := r.d.Queue(context.Background()); q.Redelivered != 1 {
		t.Fatalf("redelivered: %d, want 1", q.Redelivered)
	}
	if b.Calls() != 1 || stuck.Calls() != 1 {
		t.Fatalf("runs: a %d, b %d; want one each", stuck.Calls(), b.Calls())
	}
}

// A job whose caller stopped waiting is dropped by the pool that gets it:
// the runner never runs it.
func TestCancelledJobIsDropped(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeShip)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.d.Execute(ctx, bridge.ExecuteRequest{Program: program()}, nil)
	var be *bridge.Error
	if !errors.As(err, &be) || be.Code != bridge.CodeCancelled {
		t.Fatalf("want cancelled, got %v", err)
	}
	run := &fakeRunner{name: "late"}
	r.join("late", run, 1)
	r.waitCapacity(1)
	// A job that runs proves the earlier one has been taken and dropped:
	// the consumer delivers in order, one at a time to a pool of one.
	res, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program()}, nil)
	if err != nil || res.Worker != "late/1" {
		t.Fatalf("got %+v, %v", res, err)
	}
	if run.Calls() != 1 {
		t.Fatalf("the pool ran %d jobs; want 1 (the cancelled one dropped)", run.Calls())
	}
}

// Shipped code reaches the pool by content: the module's source points at
// a copy with the same bytes in the pool's cache, named like the original.
func TestCodeShipped(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeShip)
	dir := t.TempDir()
	src := "import dspy\nclass Thing(dspy.Module):\n    pass\n"
	if err := os.WriteFile(filepath.Join(dir, "mods.py"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	run, seen := recorder()
	r.join("p", run, 1)
	r.waitCapacity(1)
	prog := &model.Program{Name: "custom", Version: 1, BaseDir: dir, Modules: []model.Module{
		{Name: "m", Type: model.Custom, Source: "mods.py:Thing"},
		{Name: "r", Type: model.ReAct, Signature: "q -> a", Config: map[string]any{"tools": []any{"mods.py:search"}}}}}
	if _, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: prog}, nil); err != nil {
		t.Fatal(err)
	}
	path, name, _ := cutRef(seen.Modules[0].Source)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != src || name != ":Thing" || filepath.Base(path) != "mods.py" || filepath.Dir(path) == dir {
		t.Fatalf("source %q: want a copy of mods.py in the pool's cache: %v", seen.Modules[0].Source, err)
	}
	if tools := seen.Modules[1].Config["tools"].([]any); len(tools) != 1 || tools[0] != path+":search" {
		t.Fatalf("tools: %v", tools)
	}

	// The file edited: the next job brings the new version.
	edited := src + "# edited\n"
	if err := os.WriteFile(filepath.Join(dir, "mods.py"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: prog}, nil); err != nil {
		t.Fatal(err)
	}
	path2, _, _ := cutRef(seen.Modules[0].Source)
	if b, err := os.ReadFile(path2); err != nil || string(b) != edited || path2 == path {
		t.Fatalf("after an edit the pool runs %s: %q, %v", path2, b, err)
	}

	// Without the file, the job fails before any pool sees it, naming it.
	prog.Modules[0].Source = "gone.py:Thing"
	_, err = r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: prog}, nil)
	if err == nil || !strings.Contains(err.Error(), "gone.py") {
		t.Fatalf("want an error naming gone.py, got %v", err)
	}
}

func TestServerAuth(t *testing.T) {
	if _, err := Serve(ServerOptions{Listen: "0.0.0.0:0", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "--nats-nkeys") {
		t.Fatalf("listening off loopback without keys: want a refusal naming --nats-nkeys, got %v", err)
	}
	seed, pub, err := NewUserKey()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Serve(ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir(), NKeys: []string{pub}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if nc, err := Dial(context.Background(), ClientOptions{URL: srv.URL()}); err == nil {
		nc.Close()
		t.Fatal("a pool without a key got in")
	}
	seedFile := filepath.Join(t.TempDir(), "pool.nk")
	os.WriteFile(seedFile, seed, 0o600)
	nc, err := Dial(context.Background(), ClientOptions{URL: srv.URL(), NKey: seedFile})
	if err != nil {
		t.Fatalf("a pool with its key: %v", err)
	}
	nc.Close()
	owner, err := srv.Connect()
	if err != nil {
		t.Fatalf("the owner's own connection: %v", err)
	}
	owner.Close()

	bad := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(bad, []byte("# pools\n"+pub+"\n"+string(seed)+"\n"), 0o600)
	if _, err := ReadNKeys(bad); err == nil || !strings.Contains(err.Error(), bad+":3") {
		t.Fatalf("a seed in the public keys file: want an error naming line 3, got %v", err)
	}
}

func TestMain(m *testing.M) { testenv.Main(m, "remote") }

// A key the pool's machine holds never leaves it: a span that echoes the
// value of the variable the job's LM names arrives redacted.
func TestPoolRedactsJobKeys(t *testing.T) {
	const key = "sk-remote-0123456789abcdefXYZ"
	t.Setenv("SIGNET_TEST_REMOTE_KEY", key)
	r := newRig(t, 30*time.Second, CodeShip)
	run := &fakeRunner{name: "p", run: func(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
		onSpan(model.Span{ID: "s", Kind: model.SpanLM, Completion: "the key is " + key, Start: time.Unix(1, 0)})
		return &bridge.ExecuteResult{Outputs: map[string]any{"answer": "echo " + key}}, nil
	}}
	r.join("p", run, 1)
	r.waitCapacity(1)
	var spans []model.Span
	res, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program(), Trace: true,
		LM: bridge.LMSpec{Model: "openai/x", APIKeyEnv: "SIGNET_TEST_REMOTE_KEY"}}, func(s model.Span) { spans = append(spans, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 1 || strings.Contains(spans[0].Completion, key) || !strings.HasPrefix(spans[0].Completion, "the key is ") {
		t.Fatalf("span: %+v", spans)
	}
	if a := res.Outputs["answer"].(string); strings.Contains(a, key) {
		t.Fatalf("outputs hold the key: %q", a)
	}
}

// An owner without workers of its own asks a pool for a custom module's
// data flow.
func TestFlowAskedOfAPool(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeRequire)
	run := &fakeRunner{name: "p"}
	r.join("p", run, 1)
	r.waitCapacity(1)
	prog := &model.Program{Name: "custom", Version: 1, Modules: []model.Module{{Name: "m", Type: model.Custom, Source: "mods.py:Thing"}}}
	f, err := r.d.Flow(context.Background(), prog, "", nil)
	if err != nil || len(f.Outputs) != 1 || f.Outputs[0] != "p:mods.py:Thing" {
		t.Fatalf("flow from pool p: %+v, %v", f, err)
	}
}

// With a certificate the embedded server speaks TLS: a pool that trusts
// its root gets in, one that does not is refused; the owner's own
// connection needs neither.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := selfSigned(t, dir)
	srv, err := Serve(ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir(), TLSCert: cert, TLSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL(), "tls://127.0.0.1:") {
		t.Fatalf("URL %q: want tls://", srv.URL())
	}
	if nc, err := Dial(context.Background(), ClientOptions{URL: srv.URL()}); err == nil {
		nc.Close()
		t.Fatal("a pool that does not trust the server's root got in")
	}
	nc, err := Dial(context.Background(), ClientOptions{URL: srv.URL(), CA: ca})
	if err != nil {
		t.Fatalf("a pool with the root: %v", err)
	}
	nc.Close()
	owner, err := srv.Connect()
	if err != nil {
		t.Fatalf("the owner's own connection: %v", err)
	}
	owner.Close()
}

// selfSigned writes a certificate for 127.0.0.1 signed by itself: its
// file, its key's, and itself as the root to trust.
func selfSigned(t *testing.T, dir string) (cert, key, ca string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signet test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key, cert
}

// Under CodeRequire nothing is shipped: the references resolve against the
// pool's own code directory.
func TestCodeRequired(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeRequire)
	run, seen := recorder()
	codeDir := t.TempDir()
	r.joinWith(JoinOptions{Name: "p", Runner: run, Capacity: 1, CodeDir: codeDir})
	r.waitCapacity(1)
	prog := &model.Program{Name: "custom", Version: 1, BaseDir: "/owner/only", Modules: []model.Module{{Name: "m", Type: model.Custom, Source: "mods.py:Thing"}}}
	if _, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: prog}, nil); err != nil {
		t.Fatal(err)
	}
	if seen.BaseDir != codeDir || seen.Modules[0].Source != "mods.py:Thing" {
		t.Fatalf("the pool ran %q from %q; want mods.py:Thing from its code dir %q", seen.Modules[0].Source, seen.BaseDir, codeDir)
	}
}

// A run whose LM listens on the owner's loopback (the local model) stays
// on the owner's own workers: no pool elsewhere could reach it.
func TestLoopbackLMStaysOnTheOwner(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeShip)
	local := &fakeRunner{name: "local"}
	r.d.o.Local = local
	remote := &fakeRunner{name: "far"}
	r.join("far", remote, 1)
	r.waitCapacity(1)
	for _, lm := range []bridge.LMSpec{
		{Model: "openai/local", APIBase: "http://127.0.0.1:8080/v1"},
		{Model: "openai/m", Endpoints: []bridge.LMEndpoint{{APIBase: "http://gpu:8000/v1"}, {APIBase: "http://localhost:8001/v1"}}},
	} {
		res, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program(), LM: lm}, nil)
		if err != nil || res.Worker != "local/1" {
			t.Fatalf("%+v: ran on %+v, %v; want the owner's own workers", lm, res, err)
		}
	}
	res, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program(), LM: bridge.LMSpec{Model: "openai/m", APIBase: "http://gpu:8000/v1"}}, nil)
	if err != nil || res.Worker != "far/1" {
		t.Fatalf("a reachable LM: ran on %+v, %v; want the queue", res, err)
	}
}

// A pool that dies between its pull and its question to the owner loses
// nothing either: the job comes back after the ack wait, and counts as
// redelivered.
func TestPulledNeverStartedIsRedelivered(t *testing.T) {
	r := newRig(t, time.Second, CodeShip)
	done := make(chan error, 1)
	go func() {
		_, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program()}, nil)
		done <- err
	}()
	// The dying pool: it pulls the job and is gone before asking.
	nc, err := Dial(context.Background(), ClientOptions{URL: r.srv.URL(), Name: "dies"})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(t.Context(), Stream, Consumer)
	if err != nil {
		t.Fatal(err)
	}
	for got := 0; got == 0; {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() {
			got++
		}
	}
	nc.Close()

	run := &fakeRunner{name: "b"}
	r.join("b", run, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if q := r.d.Queue(context.Background()); q.Redelivered != 1 || run.Calls() != 1 {
		t.Fatalf("redelivered %d, runs on b %d; want 1 and 1", q.Redelivered, run.Calls())
	}
}

// A program with no directory of its own names its code relative to the
// owner's working directory, as the owner's own workers would read it.
func TestCodeShippedFromTheOwnersDirectory(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeShip)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mods.py"), []byte("X = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	run, seen := recorder()
	r.join("p", run, 1)
	r.waitCapacity(1)
	prog := &model.Program{Name: "custom", Version: 1, Modules: []model.Module{{Name: "m", Type: model.Custom, Source: "mods.py:Thing"}}}
	if _, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: prog}, nil); err != nil {
		t.Fatal(err)
	}
	if path, _, _ := cutRef(seen.Modules[0].Source); filepath.Base(path) != "mods.py" || !filepath.IsAbs(path) {
		t.Fatalf("source %q: want the shipped copy", seen.Modules[0].Source)
	}
}

// A pool's result reaches the owner whole: every field of it, those added
// later too.
func TestResultTravelsWhole(t *testing.T) {
	r := newRig(t, 30*time.Second, CodeShip)
	var want bridge.ExecuteResult
	testenv.Fill(&want)
	run := &fakeRunner{name: "p", run: func(context.Context, bridge.ExecuteRequest, func(model.Span)) (*bridge.ExecuteResult, error) {
		res := want
		return &res, nil
	}}
	r.join("p", run, 1)
	r.waitCapacity(1)
	got, err := r.d.Execute(context.Background(), bridge.ExecuteRequest{Program: program()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("the owner got\n%+v\nthe pool sent\n%+v", *got, want)
	}
}
