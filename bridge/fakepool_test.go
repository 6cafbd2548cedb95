package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge/wire"

	"github.com/signet-dspy/signet/internal/testenv"
)

// These tests drive the pool's mechanics with the fake worker of
// fake_test.go; pool_test.go runs the real worker and DSPy.

func fakeConfig(t testing.TB) Config {
	return Config{Python: testenv.Python(t), WorkerDir: fakeWorkerDir(t), Workers: 1, StartTimeout: 20 * time.Second}
}

func TestGarbageOnProtocolStream(t *testing.T) {
	p, log := startPool(t, fakeConfig(t))
	old := p.Status()[0].PID
	ctx := context.Background()

	// A request in flight when the garbage comes fails as well.
	var wg sync.WaitGroup
	var sleepErr error
	onEvent, running := started()
	wg.Go(func() { _, sleepErr = p.Call(ctx, "sleep", map[string]int{"ms": 10000}, onEvent) })
	receive(t, "the sleep to start", running)

	_, err := p.Call(ctx, "garble", nil, nil)
	e := asError(t, err)
	if e.Code != CodeProtocol || !e.Retryable || e.Worker != 1 || e.PID != old {
		t.Fatalf("garble: got %#v, want a retryable protocol error naming worker 1 pid %d", e, old)
	}
	contains(t, e.Error(), "broke the protocol")
	contains(t, e.Error(), "this is not a frame")
	var de *wire.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("the error does not wrap the *wire.DecodeError: %v", err)
	}
	wg.Wait()
	if e := asError(t, sleepErr); e.Code != CodeProtocol || !e.Retryable {
		t.Fatalf("the request in flight: %v, want a retryable protocol error", sleepErr)
	}

	st := slotReady(t, p, 1, old)
	if st.Restarts != 1 || !strings.Contains(st.LastError, "broke the protocol") {
		t.Fatalf("status after the restart: %+v", st)
	}
	if alive(old) {
		t.Fatalf("the garbling worker %d is still alive", old)
	}
	if _, err := p.Call(ctx, "echo", map[string]int{"x": 1}, nil); err != nil {
		t.Fatalf("a call after the restart: %v", err)
	}
	contains(t, log.String(), "broke the protocol")
}

// fakeInterpreter writes a shell script to use as Config.Python.
func fakeInterpreter(t testing.TB, script string) string {
	path := filepath.Join(t.TempDir(), "python")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHandshakeVersionMismatch(t *testing.T) {
	py := fakeInterpreter(t, `echo '{"id":0,"event":"hello","data":{"protocol":999,"dspy":"9","python":"3.99","pid":1,"threads":8}}'
exec sleep 60`)
	// Judged by its hello, not by the start timeout: the error says so.
	_, err := Start(context.Background(), Config{Python: py, WorkerDir: t.TempDir(), Workers: 2})
	if err == nil {
		t.Fatal("Start accepted a worker speaking protocol 999")
	}
	e := asError(t, err)
	if e.Code != CodeProtocol || e.Retryable {
		t.Fatalf("got %#v, want a non-retryable protocol error", e)
	}
	contains(t, err.Error(), "worker speaks protocol 999")
	contains(t, err.Error(), fmt.Sprintf("signet speaks protocol %d", wire.Protocol))
	if alive(e.PID) {
		t.Fatalf("the refused worker (pid %d) is still alive", e.PID)
	}
}

func TestHandshakeFailures(t *testing.T) {
	tests := []struct {
		name, script string
		want         []string
	}{
		{"exit before hello", `echo "ModuleNotFoundError: No module named 'dspy'" >&2; exit 1`,
			[]string{"exited before its hello", "exit status 1", "No module named 'dspy'"}},
		{"silent", `exec sleep 60`, []string{"no hello within 300ms"}},
		{"garbage first", `echo 'Downloading...'; exec sleep 60`, []string{"bad hello", "not JSON"}},
		{"not a hello", `echo '{"id":3,"result":{}}'; exec sleep 60`, []string{"bad hello", "expected the hello"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(context.Background(), Config{Python: fakeInterpreter(t, tt.script), WorkerDir: t.TempDir(),
				Workers: 1, StartTimeout: 300 * time.Millisecond})
			if err == nil {
				t.Fatal("Start succeeded")
			}
			e := asError(t, err)
			if e.Code != CodeProtocol || e.Worker != 1 || e.PID == 0 {
				t.Fatalf("got %#v", e)
			}
			for _, w := range tt.want {
				contains(t, err.Error(), w)
			}
			if alive(e.PID) {
				t.Fatalf("pid %d is alive", e.PID)
			}
		})
	}
	if _, err := Start(context.Background(), Config{}); err == nil || !strings.Contains(err.Error(), "Python") {
		t.Fatalf("Start without Python: %v", err)
	}
	_, err := Start(context.Background(), Config{Python: "/nonexistent/python", WorkerDir: t.TempDir(), Workers: 1})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/python") {
		t.Fatalf("Start with a missing interpreter: %v", err)
	}
}

func TestEventsInOrder(t *testing.T) {
	p, _ := startPool(t, fakeConfig(t))
	var got []int
	raw, err := p.Call(context.Background(), "events", map[string]int{"n": 2000}, func(e wire.Event) {
		var d struct{ I int }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Error(err)
		}
		got = append(got, d.I)
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"n": 2000}` && string(raw) != `{"n":2000}` {
		t.Fatalf("result %s", raw)
	}
	if len(got) != 2000 {
		t.Fatalf("%d events, want 2000", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d is %d", i, v)
		}
	}
}

func TestCancelHonoured(t *testing.T) {
	cfg := fakeConfig(t)
	clk := newHeldClock()
	cfg.clock = clk
	p, log := startPool(t, cfg)
	pid := p.Status()[0].PID
	ctx, cancel := context.WithCancel(context.Background())
	onEvent, running := started()
	go func() {
		<-running
		cancel()
	}()
	_, err := p.Call(ctx, "sleep", map[string]int{"ms": 30000}, onEvent)
	if e := asError(t, err); e.Code != CodeCancelled || e.Retryable || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %#v", e)
	}
	// The worker ends the request itself, so the end of the grace (held
	// until now) finds nothing to kill.
	awaitPool(t, p, "the worker to end the request", func(st []WorkerStatus) bool { return st[0].Inflight == 0 })
	clk.fireFunc(t)
	if st := p.Status()[0]; st.PID != pid || st.Restarts != 0 || st.State != StateReady || strings.Contains(log.String(), "killing") {
		t.Fatalf("the worker was killed: %+v", st)
	}
	if _, err := p.Call(context.Background(), "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCancelIgnoredKills(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.CancelGrace = 300 * time.Millisecond
	clk := newHeldClock()
	cfg.clock = clk
	p, _ := startPool(t, cfg)
	pid := p.Status()[0].PID
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, "sleep", map[string]any{"ms": 30000, "ignore_cancel": true}, nil)
	if e := asError(t, err); e.Code != CodeTimeout || !e.Retryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %#v", e)
	}
	// The call returned at its deadline, not at the worker's end: the
	// worker still runs it until the grace (held until now) ends.
	if st := p.Status()[0]; st.PID != pid || st.Inflight != 1 {
		t.Fatalf("status when the call returned: %+v", st)
	}
	clk.fireFunc(t)
	st := slotReady(t, p, 1, pid)
	contains(t, st.LastError, "did not end within 300ms of its cancel")
	if alive(pid) {
		t.Fatal("the worker that ignored its cancel is alive")
	}
}

func TestHealthPingKillsStuckWorker(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.PingInterval, cfg.PingTimeout = 100*time.Millisecond, 300*time.Millisecond
	p, _ := startPool(t, cfg)
	pid := p.Status()[0].PID
	// SIGSTOP freezes the worker: pings go unanswered.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	st := slotReady(t, p, 1, pid)
	contains(t, st.LastError, "health ping unanswered")
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestGivesUpAfterRepeatedFailures(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.backoff = time.Millisecond
	marker := filepath.Join(t.TempDir(), "broken")
	// After the first crash every start fails before its hello.
	cfg.Python = fakeInterpreter(t, `[ -e `+marker+` ] && { echo "broken for good" >&2; exit 4; }
exec `+testenv.Python(t)+` "$@"`)
	p, _ := startPool(t, cfg)
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := p.Call(context.Background(), "crash", nil, nil)
	if e := asError(t, err); e.Code != CodeWorkerDied || !e.Retryable {
		t.Fatalf("crash: %v", err)
	}
	st := awaitPool(t, p, "the slot to be given up", func(st []WorkerStatus) bool { return st[0].State == StateFailed })[0]
	contains(t, st.LastError, "broken for good")
	_, err = p.Call(context.Background(), "echo", nil, nil)
	if e := asError(t, err); e.Code != CodeWorkerDied || e.Retryable {
		t.Fatalf("a call with every worker failed: %v", err)
	}
	// Restart revives it once the cause is gone.
	os.Remove(marker)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Restart(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Call(ctx, "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRecycleByMemory(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.MemoryInterval = 100 * time.Millisecond
	cfg.MaxRSS = 1 // any process is above it
	p, log := startPool(t, cfg)
	pid := p.Status()[0].PID
	st := slotReady(t, p, 1, pid)
	if st.Restarts < 1 || !strings.Contains(st.LastError, "worker_memory cap of 0 MiB") {
		t.Fatalf("after recycling: %+v", st)
	}
	contains(t, log.String(), "went over the worker_memory cap")
}

func TestRestartAndRecycle(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Workers = 2
	p, _ := startPool(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Recycle lets the running request finish.
	pid := p.Status()[0].PID
	done := make(chan error, 1)
	onEvent, running := started()
	go func() {
		_, err := p.Call(ctx, "sleep", map[string]int{"ms": 500}, onEvent)
		done <- err
	}()
	receive(t, "the sleep to start", running)
	busy := 1
	if p.Status()[1].Inflight == 1 {
		busy, pid = 2, p.Status()[1].PID
	}
	if err := p.Recycle(ctx, busy); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the request running during the recycle: %v", err)
	}
	if st := p.Status()[busy-1]; st.PID == pid || st.Restarts != 1 || st.LastError != "" {
		t.Fatalf("after Recycle: %+v", st)
	}

	// Restart fails the running request as retryable.
	onEvent, running = started()
	go func() {
		_, err := p.Call(ctx, "sleep", map[string]int{"ms": 10000}, onEvent)
		done <- err
	}()
	receive(t, "the sleep to start", running)
	busy = 1
	if p.Status()[1].Inflight == 1 {
		busy = 2
	}
	pid = p.Status()[busy-1].PID
	if err := p.Restart(ctx, busy); err != nil {
		t.Fatal(err)
	}
	if e := asError(t, <-done); e.Code != CodeWorkerDied || !e.Retryable {
		t.Fatalf("the request running during the restart: %v", e)
	}
	if st := p.Status()[busy-1]; st.PID == pid {
		t.Fatalf("after Restart: %+v", st)
	}
	if err := p.Restart(ctx, 3); err == nil {
		t.Fatal("Restart of worker 3 of 2 succeeded")
	}
}

func TestCloseIdempotentAndBounded(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Workers = 2
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pids := poolPIDs(p)
	errc := make(chan error, 1)
	onEvent, running := started()
	go func() {
		_, err := p.Call(context.Background(), "sleep", map[string]any{"ms": 3_600_000, "ignore_cancel": true}, onEvent)
		errc <- err
	}()
	receive(t, "the sleep to start", running)
	// The worker would finish its hour-long request before it exits: Close
	// kills it when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if e := asError(t, <-errc); e.Code != CodeWorkerDied || !strings.Contains(e.Message, "Close's context ended") {
		t.Fatalf("the request running at Close: %v", e)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d alive after Close", pid)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Call(context.Background(), "echo", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
	for _, s := range p.Status() {
		if s.State != StateStopped || s.PID != 0 {
			t.Fatalf("status after Close: %+v", s)
		}
	}
}
