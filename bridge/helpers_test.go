package bridge

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, and
// keeps the embedded worker's copy out of the user's cache.
func TestMain(m *testing.M) {
	cache, err := os.MkdirTemp("", "signet-bridge-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(cache) }))
}

// python is the interpreter of the worker venv. `make test` sets
// SIGNET_PYTHON; without it the tests that need Python skip, unless
// SIGNET_REQUIRE_PYTHON=1 makes that a failure.
func python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("SIGNET_PYTHON")
	if py == "" {
		if os.Getenv("SIGNET_REQUIRE_PYTHON") == "1" {
			t.Fatal("SIGNET_PYTHON is not set and SIGNET_REQUIRE_PYTHON=1: point it at the worker venv's python")
		}
		t.Skip("SIGNET_PYTHON is not set (make test sets it to the worker venv's python); skipping a test that runs Python workers")
	}
	return py
}

// syncBuffer is a log sink tests can read while workers write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPool starts a pool that the test closes, and fails the test if
// Close leaves a worker process behind.
func startPool(t testing.TB, cfg Config) (*Pool, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	if cfg.Log == nil {
		cfg.Log = log
	}
	if cfg.Workspace == "" {
		cfg.Workspace = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, log)
	}
	t.Cleanup(func() {
		pids := poolPIDs(p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("worker pid %d is alive after Close", pid)
			}
		}
		if t.Failed() {
			t.Logf("pool log:\n%s", log)
		}
	})
	return p, log
}

func poolPIDs(p *Pool) []int {
	var pids []int
	for _, s := range p.Status() {
		if s.PID != 0 {
			pids = append(pids, s.PID)
		}
	}
	return pids
}

// alive says whether a process exists (a zombie would too: we reap ours).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slotReady waits until worker id runs a process other than oldPID.
func slotReady(t testing.TB, p *Pool, id, oldPID int) WorkerStatus {
	t.Helper()
	var st WorkerStatus
	waitFor(t, 30*time.Second, "the worker to be replaced", func() bool {
		st = p.Status()[id-1]
		return (st.State == StateReady || st.State == StateBusy) && st.PID != 0 && st.PID != oldPID
	})
	return st
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *bridge.Error", err, err)
	}
	return e
}

func contains(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
