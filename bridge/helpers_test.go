package bridge

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, "bridge") }

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
