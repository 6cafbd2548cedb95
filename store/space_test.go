package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
)

// steerSpace makes s read a free space of *free (under mu) through a
// counted statfs, on a clock the test moves.
type steerSpace struct {
	mu    sync.Mutex
	free  uint64
	reads int
	now   time.Time
}

func (f *steerSpace) set(free uint64) { f.mu.Lock(); f.free = free; f.mu.Unlock() }
func (f *steerSpace) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
func (f *steerSpace) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.reads }

func steeredStore(t *testing.T, free uint64) (*Store, *steerSpace) {
	t.Helper()
	s := openDir(t, t.TempDir(), nil)
	t.Cleanup(func() { s.Close() })
	f := &steerSpace{free: free, now: time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)}
	s.space.mu.Lock()
	s.space.statfs = func(string) (uint64, bool) { f.mu.Lock(); defer f.mu.Unlock(); f.reads++; return f.free, true }
	s.space.mu.Unlock()
	s.now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	return s, f
}

func putOne(s *Store, i int) error {
	x := newExec("qa", model.Completed, time.Date(2026, 12, 3, 0, 0, i, 0, time.UTC))
	return s.PutExecution(context.Background(), x)
}

// With room to spare, a burst of writes reads the free space once, not once
// per transaction; the reading is taken again once it is old.
func TestDiskSpaceReadingReusedWhileRoomToSpare(t *testing.T) {
	s, f := steeredStore(t, 10<<30)
	for i := range 20 {
		if err := putOne(s, i); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(); n != 1 {
		t.Fatalf("20 writes read the free space %d times, want 1", n)
	}
	f.advance(spaceRecheck)
	if err := putOne(s, 21); err != nil {
		t.Fatal(err)
	}
	if n := f.count(); n != 2 {
		t.Fatalf("a write after the reading aged read it %d times in all, want 2", n)
	}
}

// The guarantee holds: a disk that filled since the last reading refuses
// the first write after the reading aged, with the clear error; near the
// line every write reads again; once room is freed, writes go on.
func TestDiskFullRefusedOnceTheReadingAges(t *testing.T) {
	s, f := steeredStore(t, 10<<30)
	if err := putOne(s, 0); err != nil {
		t.Fatal(err)
	}
	f.set(64 << 20) // below the 128 MiB kept free
	f.advance(spaceRecheck)
	err := putOne(s, 1)
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), s.opts.Dir) || !strings.Contains(err.Error(), "64.0 MiB free") {
		t.Fatalf("a write onto a full disk: %v", err)
	}
	// Just above the line (less than the slack left): every write reads.
	f.set(defaultMinFree + spaceSlack - 1)
	before := f.count()
	for i := range 3 {
		if err := putOne(s, 2+i); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count() - before; n != 3 {
		t.Fatalf("3 writes near the line read the free space %d times, want 3", n)
	}
	f.set(defaultMinFree - 1)
	if err := putOne(s, 9); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("near the line, a disk that filled between two writes: %v", err)
	}
}

// A bulk writer charges what it wrote against the reading: an import that
// writes through the slack reads the free space again before going on.
func TestDiskSpaceChargedWrites(t *testing.T) {
	s, f := steeredStore(t, defaultMinFree+spaceSlack+8<<20)
	if err := s.roomToWrite(0); err != nil {
		t.Fatal(err)
	}
	if err := s.roomToWrite(4 << 20); err != nil || f.count() != 1 {
		t.Fatalf("4 MiB charged within the slack: %v, %d readings", err, f.count())
	}
	f.set(defaultMinFree - 1)
	if err := s.roomToWrite(5 << 20); !errors.Is(err, ErrDiskFull) || f.count() != 2 {
		t.Fatalf("9 MiB charged, past the slack: %v, %d readings", err, f.count())
	}
}
