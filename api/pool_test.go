package api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/store"

	"github.com/signet-dspy/signet/internal/testenv"
)

// realPoolBackend is the test backend with a real worker pool, started
// by the first Engine call as the owner starts it.
type realPoolBackend struct {
	*backend
	cfg  bridge.Config
	mu   sync.Mutex
	pool *bridge.Pool
}

func (b *realPoolBackend) Engine(ctx context.Context) (*engine.Engine, error) {
	b.mu.Lock()
	if b.pool == nil {
		p, err := bridge.Start(ctx, b.cfg)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.pool = p
	}
	b.mu.Unlock()
	return b.backend.Engine(ctx)
}

func (b *realPoolBackend) Started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pool != nil
}

func (b *realPoolBackend) Pool() []bridge.WorkerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pool == nil {
		return nil
	}
	return b.pool.Status()
}

func (b *realPoolBackend) RestartWorker(ctx context.Context, id int) error {
	return b.pool.Restart(ctx, id)
}

func (b *realPoolBackend) RecycleWorker(ctx context.Context, id int) error {
	return b.pool.Recycle(ctx, id)
}

func pids(a *PoolAnswer) map[int]int {
	out := map[int]int{}
	for _, w := range a.Pool {
		out[w.ID] = w.PID
	}
	return out
}

// TestPoolRoutes starts, restarts and recycles real Python workers
// through POST /v1/pool/start, /restart and /recycle.
func TestPoolRoutes(t *testing.T) {
	py := testenv.Python(t)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir, err := os.MkdirTemp("", "apipool")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &realPoolBackend{backend: &backend{st: st, info: Owner{PID: os.Getpid(), Started: time.Now(), Workspace: dir, Command: "test"}},
		cfg: bridge.Config{Python: py, Workers: 2, Workspace: dir}}
	ln, err := Listen(SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(b)
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		<-done
		if b.eng != nil {
			b.eng.Close(context.Background())
		}
		if b.pool != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			b.pool.Close(cctx)
		}
	})
	cl := NewClient(SocketPath(dir))
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	// Nothing to restart before the pool runs.
	var ae *Error
	if _, err := cl.PoolRestart(ctx, 1); !errors.As(err, &ae) || ae.Code != CodeNotStarted || ae.Status != http.StatusConflict {
		t.Fatalf("restart before start: %v", err)
	}

	start, err := cl.PoolStart(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if start.Engine != "running" || len(start.Pool) != 2 {
		t.Fatalf("after start: %+v", start)
	}
	before := pids(start)
	for id, pid := range before {
		if pid == 0 {
			t.Fatalf("worker %d has no process after start: %+v", id, start.Pool)
		}
	}
	// Starting again is a no-op.
	if again, err := cl.PoolStart(ctx); err != nil || pids(again)[1] != before[1] {
		t.Fatalf("second start: %v, %+v", err, again)
	}

	// Restart one: only its process is replaced.
	got, err := cl.PoolRestart(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	after := pids(got)
	if after[1] == before[1] || after[1] == 0 || after[2] != before[2] {
		t.Fatalf("restart 1: pids %v → %v", before, after)
	}
	if w := got.Pool[0]; w.Restarts != 1 || (w.State != "ready" && w.State != "busy") {
		t.Errorf("worker 1 after restart: %+v", w)
	}

	// Recycle every worker, one after the other.
	got, err = cl.PoolRecycle(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	final := pids(got)
	if final[1] == after[1] || final[2] == after[2] || final[1] == 0 || final[2] == 0 {
		t.Fatalf("recycle all: pids %v → %v", after, final)
	}

	if _, err := cl.PoolRestart(ctx, 9); !errors.As(err, &ae) || ae.Code != CodeNotFound {
		t.Errorf("restart of worker 9: %v", err)
	}
}

// TestPoolRoutesUnsupported: a backend that cannot control workers says so.
func TestPoolRoutesUnsupported(t *testing.T) {
	cl, _, _ := serve(t)
	var ae *Error
	if _, err := cl.PoolRecycle(context.Background(), 0); !errors.As(err, &ae) || ae.Code != CodeUnsupported {
		t.Errorf("recycle on a backend without pool control: %v", err)
	}
	// Start works on any backend: it starts the engine.
	a, err := cl.PoolStart(context.Background())
	if err != nil || a.Engine != "running" {
		t.Errorf("start: %+v, %v", a, err)
	}
}
