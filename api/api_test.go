package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// These tests serve the API from an in-memory store, with a real engine in
// front of a fake pool (no Python), over a real unix socket.

type fakePool struct{}

func (fakePool) Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
	now := time.Now()
	onSpan(model.Span{ID: "root", Kind: model.SpanModule, Name: "qa", Start: now})
	onSpan(model.Span{ID: "root", Kind: model.SpanModule, Name: "qa", Start: now, End: now.Add(time.Millisecond)})
	res := &bridge.ExecuteResult{Outputs: map[string]any{"answer": fmt.Sprint(req.Inputs["question"])}}
	if req.Metric != nil { // an evaluation's example: the worker's contract scores it
		score := 0.0
		if req.Labels["answer"] == res.Outputs["answer"] {
			score = 1
		}
		res.Score = &score
	}
	return res, nil
}

type fakeLMs struct{}

func (fakeLMs) Spec(context.Context, string) (bridge.LMSpec, error) {
	return bridge.LMSpec{Model: "fake/lm"}, nil
}

type backend struct {
	st      *store.Store
	mu      sync.Mutex
	eng     *engine.Engine
	waiting []chan Subscription
	info    Owner
	cli     func(ctx context.Context, req *CLIRequest, stdout, stderr io.Writer) int
}

func (b *backend) Store() *store.Store { return b.st }
func (b *backend) Engine(ctx context.Context) (*engine.Engine, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eng == nil {
		b.eng = engine.New(engine.Options{Store: b.st, Pool: fakePool{}, LMs: fakeLMs{}, DefaultLM: "fake", CacheTTL: -1})
		for _, c := range b.waiting { // subscribed before it starts, as the owner does
			ch, stop := b.eng.Subscribe(1024)
			c <- Subscription{ch, stop}
		}
		b.waiting = nil
		if _, err := b.eng.Start(ctx); err != nil {
			return nil, err
		}
	}
	return b.eng, nil
}
func (b *backend) Started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eng != nil
}
func (b *backend) Subscribe(buffer int) (<-chan Subscription, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := make(chan Subscription, 1)
	if b.eng != nil {
		ch, stop := b.eng.Subscribe(buffer)
		c <- Subscription{ch, stop}
	} else {
		b.waiting = append(b.waiting, c)
	}
	return c, func() {}
}
func (b *backend) Pool() []bridge.WorkerStatus { return nil }
func (b *backend) Owner() Owner                { return b.info }
func (b *backend) CLI(ctx context.Context, req *CLIRequest, stdout, stderr io.Writer) int {
	return b.cli(ctx, req, stdout, stderr)
}

func serve(t *testing.T) (*Client, *backend, *Server) {
	t.Helper()
	return serveWith(t, nil)
}

// serveWith serves wrap(b) instead of the test backend b when wrap is set.
func serveWith(t *testing.T, wrap func(*backend) Backend) (*Client, *backend, *Server) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	prog := &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}
	if _, err := st.CreateProgram(ctx, prog); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "api") // short: a unix socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &backend{st: st, info: Owner{PID: os.Getpid(), Started: time.Now(), Workspace: dir, Command: "test"}}
	sock := SocketPath(dir)
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	var served Backend = b
	if wrap != nil {
		served = wrap(b)
	}
	srv := NewServer(served)
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		<-done
		if c, ok := served.(interface{ close() }); ok {
			c.close() // before the engine it uses
		}
		if b.eng != nil {
			b.eng.Close(context.Background())
		}
	})
	return NewClient(sock), b, srv
}

func TestSocketIsPrivate(t *testing.T) {
	cl, _, _ := serve(t)
	fi, err := os.Lstat(cl.Socket())
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: mode %v, %v", cl.Socket(), fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(cl.Socket()))
	if len(entries) != 1 {
		t.Errorf("the temporary socket name was left behind: %v", entries)
	}
}

func TestNoOwner(t *testing.T) {
	dir := t.TempDir()
	_, err := NewClient(filepath.Join(dir, SocketName)).Status(context.Background())
	if !errors.Is(err, ErrNoOwner) {
		t.Errorf("no socket: %v", err)
	}
	// A socket file nobody listens on, as kill -9 leaves it.
	ln, err := Listen(filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := NewClient(filepath.Join(dir, SocketName)).Status(context.Background()); !errors.Is(err, ErrNoOwner) {
		t.Errorf("stale socket: %v", err)
	}
}

func TestLongWorkspacePathGetsAShortSocket(t *testing.T) {
	long := "/" + strings.Repeat("d", 200)
	p := SocketPath(long)
	if len(p) > maxSocketPath+20 || p != SocketPath(long) || p == SocketPath(long+"x") {
		t.Errorf("SocketPath(long) = %q", p)
	}
}

func TestResourcesAndErrors(t *testing.T) {
	ctx := context.Background()
	cl, _, _ := serve(t)
	st, err := cl.Status(ctx)
	if err != nil || st.PID != os.Getpid() || st.API != Version || st.Engine != "idle" || st.Pool == nil {
		t.Fatalf("status %+v %v", st, err)
	}
	p, err := cl.GetProgram(ctx, "qa")
	if err != nil || p.Version != 1 {
		t.Fatalf("program %+v %v", p, err)
	}
	_, err = cl.GetProgram(ctx, "nope")
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != CodeNotFound || !errors.Is(err, store.ErrNotFound) || err.Error() != `program "nope": not found` {
		t.Errorf("missing program: %#v", err)
	}
	p.Modules[0].Instructions = "Answer in one word."
	saved, err := cl.SaveProgram(ctx, p)
	if err != nil || saved.Version != 2 {
		t.Errorf("save: %+v %v", saved, err)
	}
	p.Modules[0].Signature = "question ->"
	if _, err := cl.SaveProgram(ctx, p); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("invalid program: %v", err)
	}
	var datasets []model.Dataset
	if err := cl.Get(ctx, "/v1/datasets", &datasets); err != nil || datasets == nil {
		t.Errorf("datasets %v %v", datasets, err)
	}
	if err := cl.Get(ctx, "/v1/executions/not-an-id", &struct{}{}); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("bad id: %v", err)
	}
	if err := cl.Get(ctx, "/v1/nothing", &struct{}{}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("unknown route: %v", err)
	}
	if err := cl.Get(ctx, "/v1/executions?state=bogus", &struct{}{}); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("bad state: %v", err)
	}
}

// TestSubmitAndEvents follows the event stream while executions are
// submitted through the API: every state change arrives, in order.
func TestSubmitAndEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, _, _ := serve(t)

	type seen struct {
		states []model.RunState
		spans  int
	}
	var mu sync.Mutex
	got := map[model.ID]*seen{}
	first := make(chan struct{})
	streamed := make(chan error, 1)
	go func() {
		once := sync.Once{}
		streamed <- cl.Events(ctx, func(ev *Event) error {
			once.Do(func() { close(first) })
			mu.Lock()
			defer mu.Unlock()
			switch ev.Kind {
			case EventExecution:
				s := got[ev.Execution.ID]
				if s == nil {
					s = &seen{}
					got[ev.Execution.ID] = s
				}
				s.states = append(s.states, ev.Execution.State)
			case EventSpan:
				if s := got[ev.Span.Execution]; s != nil {
					s.spans++
				}
			}
			return nil
		})
	}()
	<-first // the pool line: subscribed

	const n = 20
	var ids []model.ID
	for i := range n {
		x, err := cl.Submit(ctx, SubmitRequest{Program: "qa", Inputs: map[string]any{"question": fmt.Sprint(i)}, Wait: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (x.State != model.Completed || x.Outputs["answer"] != "0") {
			t.Errorf("submit with wait: %+v", x)
		}
		ids = append(ids, x.ID)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := 0
		for _, id := range ids {
			if s := got[id]; s != nil && len(s.states) > 0 && s.states[len(s.states)-1] == model.Completed {
				done++
			}
		}
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d completions streamed", done, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	for _, id := range ids {
		s := got[id]
		if want := []model.RunState{model.Pending, model.Running, model.Completed}; fmt.Sprint(s.states) != fmt.Sprint(want) {
			t.Errorf("execution %s streamed %v, want %v", id, s.states, want)
		}
	}
	mu.Unlock()

	// Cancelling a finished execution is a conflict, with the engine's error.
	var ae *Error
	err := cl.do(ctx, http.MethodPost, "/v1/executions/"+ids[0].String()+"/cancel", nil, &struct{}{})
	if !errors.As(err, &ae) || ae.Code != CodeFinished || !errors.Is(err, engine.ErrFinished) {
		t.Errorf("cancel of a finished execution: %v", err)
	}
	var spans SpanPage
	if err := cl.Get(ctx, "/v1/executions/"+ids[0].String()+"/spans", &spans); err != nil || len(spans.Spans) != 1 {
		t.Errorf("spans: %+v %v", spans, err)
	}
	page, err := cl.Executions(ctx, "qa", "completed", "", 5)
	if err != nil || len(page.Executions) != 5 || page.Next == "" {
		t.Errorf("executions page: %d, next %q, %v", len(page.Executions), page.Next, err)
	}
	var cost Cost
	if err := cl.Get(ctx, "/v1/cost?month=all", &cost); err != nil || len(cost.Programs) != 1 || cost.Programs[0].Executions != n {
		t.Errorf("cost: %+v %v", cost, err)
	}
	cancel()
	if err := <-streamed; !errors.Is(err, context.Canceled) {
		t.Errorf("events ended with %v", err)
	}
}

// TestCLIFrames runs a fake command that writes to both streams, including
// bytes that are not UTF-8: the client gets them back exactly, in order.
func TestCLIFrames(t *testing.T) {
	cl, b, srv := serve(t)
	binary := []byte{0xff, 0xfe, 'x', '\n'}
	b.cli = func(ctx context.Context, req *CLIRequest, stdout, stderr io.Writer) int {
		if srv.Clients() != 1 {
			t.Errorf("clients while a command runs: %d", srv.Clients())
		}
		fmt.Fprintf(stdout, "args %v cwd %s stdin %s\n", req.Args, req.Cwd, req.Stdin)
		for i := range 1000 {
			fmt.Fprintf(stdout, "row %d\t", i) // many small writes, as a table makes
		}
		fmt.Fprintln(stderr, "a warning")
		stdout.Write(binary)
		return 3
	}
	var out, errb bytes.Buffer
	code, err := cl.CLI(context.Background(), &CLIRequest{Args: []string{"x", "y"}, Cwd: "/here", Stdin: []byte("in")}, &out, &errb)
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v", code, err)
	}
	var want bytes.Buffer
	fmt.Fprintf(&want, "args [x y] cwd /here stdin in\n")
	for i := range 1000 {
		fmt.Fprintf(&want, "row %d\t", i)
	}
	want.Write(binary)
	if !bytes.Equal(out.Bytes(), want.Bytes()) || errb.String() != "a warning\n" {
		t.Errorf("stdout %q\nstderr %q", out.String(), errb.String())
	}
	// The exit line can reach the client a moment before the handler returns.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Errorf("clients after the command: %d", srv.Clients())
	}
}

// TestShutdownInterruptsCommands: a forced stop cancels what clients run
// and ends their event streams.
func TestShutdownInterruptsCommands(t *testing.T) {
	cl, b, srv := serve(t)
	started := make(chan struct{})
	b.cli = func(ctx context.Context, req *CLIRequest, stdout, stderr io.Writer) int {
		close(started)
		<-ctx.Done()
		fmt.Fprintln(stderr, "interrupted")
		return 1
	}
	type res struct {
		code int
		err  error
		out  string
	}
	ch := make(chan res, 1)
	go func() {
		var errb bytes.Buffer
		code, err := cl.CLI(context.Background(), &CLIRequest{}, io.Discard, &errb)
		ch <- res{code, err, errb.String()}
	}()
	<-started
	srv.Interrupt()
	r := <-ch
	if r.err != nil || r.code != 1 || r.out != "interrupted\n" {
		t.Errorf("interrupted command: %+v", r)
	}
	if err := srv.WaitIdle(context.Background()); err != nil {
		t.Error(err)
	}
}
