//go:build !unix

package store

import "os"

// dataRange is the rest of the file where holes cannot be found.
func dataRange(_ *os.File, off, size int64) (start, stop int64) { return off, size }

// lockDir is a no-op where Badger's directory lock is not a flock.
func lockDir(string) (func(), error) { return func() {}, nil }

// freeSpace is unknown here: Badger tries, and reports what fails.
func freeSpace(string) (uint64, bool) { return 0, false }
