package store

import (
	"errors"
	"fmt"
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

func (s *Store) minFree() int64 {
	if s.opts.MinFree == 0 {
		return defaultMinFree
	}
	return s.opts.MinFree
}

// roomToWrite refuses a write when less than minFree bytes are left on the
// database's file system. When the free space cannot be read, Badger tries.
func (s *Store) roomToWrite() error {
	need := s.minFree()
	if s.opts.InMemory || need < 0 {
		return nil
	}
	free, ok := freeSpace(s.opts.Dir)
	if !ok || free >= uint64(need) {
		return nil
	}
	return fmt.Errorf("store: %s: %w (%s free; Signet keeps %s free so that its database is never cut mid-write): free some space and try again; nothing committed was lost",
		s.opts.Dir, ErrDiskFull, mib(free), mib(uint64(need)))
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
