package bridge

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// awaitExit waits until pid, which need not be our child, has exited
// (a zombie counts): its pidfd becomes readable then.
func awaitExit(pid int, patience time.Duration) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(patience.Milliseconds()))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("waiting for %d: %w", pid, err)
		case n == 0:
			return fmt.Errorf("pid %d outlived its parent by %s", pid, patience)
		}
		return nil
	}
}
