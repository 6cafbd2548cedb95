package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func newMemStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{InMemory: true})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func openDir(t testing.TB, dir string, log *syncBuffer) *Store {
	t.Helper()
	o := Options{Dir: dir, GCInterval: -1}
	if log != nil {
		o.Log = log
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

// countKeys counts raw keys under prefix, bypassing every store method.
func countKeys(t testing.TB, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(keyOnly(prefix, false))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestOpenWritesSchemaAndLogs(t *testing.T) {
	dir := t.TempDir()
	var log syncBuffer
	s := openDir(t, dir, &log)
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if got := binary.BigEndian.Uint32(v); got != SchemaVersion {
			t.Errorf("schema version = %d, want %d", got, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if !bytes.Contains([]byte(log.String()), []byte("INFO")) {
		t.Errorf("Badger's log lines did not reach Options.Log: %q", log.String())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, nil)
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(schemaKey, binary.BigEndian.AppendUint32(nil, SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), Options{Dir: dir})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("open of a newer store: err = %v, want ErrNewerSchema", err)
	}
	// The refused open must release the directory lock: a second try gets
	// the same answer, not a lock error.
	_, err = Open(context.Background(), Options{Dir: dir})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("second open: err = %v, want ErrNewerSchema", err)
	}
}

func TestOpenNeedsDir(t *testing.T) {
	if _, err := Open(context.Background(), Options{}); err == nil {
		t.Fatal("open without a directory succeeded")
	}
}

func TestRunGCOnDisk(t *testing.T) {
	s := openDir(t, t.TempDir(), nil)
	defer s.Close()
	ctx := context.Background()
	for i := range 200 {
		e := newExec("p", model.Completed, time.Now())
		e.Outputs = map[string]any{"answer": bytes.Repeat([]byte("x"), 2000), "i": i}
		if err := s.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { s.RunGC(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("RunGC did not return")
	}
}

func TestUpdateRetriesConflicts(t *testing.T) {
	s := newMemStore(t)
	ctx := context.Background()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				e := newExec("hot", model.Completed, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
				e.Cost = 0.001
				errs <- s.PutExecution(ctx, e)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.CostRollups(ctx, "hot", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Executions != workers*each || rs[0].Cost != 0.2 {
		t.Fatalf("rollup after concurrent writes = %+v, want 200 executions costing 0.2", rs)
	}
}

func TestCancelledContext(t *testing.T) {
	s := newMemStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListPrograms(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListPrograms with a cancelled ctx: %v", err)
	}
	if err := s.PutExecution(ctx, newExec("p", model.Pending, time.Now())); !errors.Is(err, context.Canceled) {
		t.Errorf("PutExecution with a cancelled ctx: %v", err)
	}
	if _, err := Open(ctx, Options{InMemory: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled ctx: %v", err)
	}
}

func TestKeysOfTablesDoNotCollide(t *testing.T) {
	// A sanity check of the layout: the head and versions of one program and
	// of a program whose name extends it never share a prefix.
	a := programVersionPrefix("ab")
	b := programVersionPrefix("a")
	if bytes.HasPrefix(a, b) || bytes.HasPrefix(b, a) {
		t.Fatalf("version prefixes of %q and %q overlap: %x %x", "ab", "a", a, b)
	}
	if k := keys.New(keys.Rollup).Str("a").Str("bc").Bytes(); bytes.Equal(k, keys.New(keys.Rollup).Str("ab").Str("c").Bytes()) {
		t.Fatal("two-string keys collide")
	}
}
