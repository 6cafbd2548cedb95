package store

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrDiskFull is a write refused because the disk of the database is
// nearly full. Badger writes through memory-mapped files, and a write to a
// mapped page the file system has no room for kills the process (SIGBUS),
// possibly mid-entry; so the store stops writing while room is left, and
// what was committed stays whole.
var ErrDiskFull = errors.New("the disk is nearly full")

// defaultMinFree is the room kept free: Badger may write a whole memtable
// (64 MiB) to a table and a transaction to the logs after a check.
const defaultMinFree = 128 << 20

// A reading of the free space is reused for spaceRecheck, and only while it
// left spaceSlack beyond the room kept free, less the bytes charged against
// it since: a system call per transaction was 1.5% of the owner's CPU in a
// batch, and nothing the store writes between two readings comes near the
// slack (a bulk import charges what it flushes). Closer to the line, every
// write reads it again.
const (
	spaceRecheck = 250 * time.Millisecond
	spaceSlack   = 64 << 20
)

// spaceCache is the last reading of the free space.
type spaceCache struct {
	mu   sync.Mutex
	at   time.Time
	left int64 // bytes free beyond minFree at the reading, less those charged since
	// statfs reads the free space (freeSpace; tests count and steer it).
	statfs func(dir string) (uint64, bool)
}

func (s *Store) minFree() int64 {
	if s.opts.MinFree == 0 {
		return defaultMinFree
	}
	return s.opts.MinFree
}

// roomToWrite refuses a write when less than minFree bytes are left on the
// database's file system; written is what the caller wrote since its last
// check (0 when it does not know: the recheck interval bounds it). When the
// free space cannot be read, Badger tries.
func (s *Store) roomToWrite(written int64) error {
	need := s.minFree()
	if s.opts.InMemory || need < 0 {
		return nil
	}
	c := &s.space
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	c.left -= written
	if !c.at.IsZero() && now.Sub(c.at) < spaceRecheck && now.Sub(c.at) >= 0 && c.left >= spaceSlack {
		return nil
	}
	statfs := c.statfs
	if statfs == nil {
		statfs = freeSpace
	}
	free, ok := statfs(s.opts.Dir)
	if !ok {
		c.at = time.Time{} // unknown: read again next time
		return nil
	}
	c.at, c.left = now, int64(min(free, 1<<62))-need
	if c.left >= 0 {
		return nil
	}
	c.at = time.Time{} // refused: the next write reads again (room may have been freed)
	return fmt.Errorf("store: %s: %w (%s free; Signet keeps %s free so that its database is never cut mid-write): free some space and try again; nothing committed was lost",
		s.opts.Dir, ErrDiskFull, mib(free), mib(uint64(need)))
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
