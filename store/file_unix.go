//go:build unix

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// dataRange is the next run of data of f at or after off: [start, stop),
// skipping holes; start == stop == size when only holes are left.
func dataRange(f *os.File, off, size int64) (start, stop int64) {
	fd := int(f.Fd())
	start, err := unix.Seek(fd, off, unix.SEEK_DATA)
	if err != nil {
		if err == unix.ENXIO {
			return size, size
		}
		return off, size // SEEK_DATA unsupported here: read it all
	}
	stop, err = unix.Seek(fd, start, unix.SEEK_HOLE)
	if err != nil {
		return start, size
	}
	return start, min(stop, size)
}

// lockDir takes the lock Badger takes on a database directory (flock on
// the directory), so that preflight reads files no other process is
// writing. The directory must exist.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, ErrLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

// freeSpace is what an unprivileged process may still write on dir's file
// system.
func freeSpace(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
