package bridge

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// awaitExit waits until pid, which need not be our child, has exited: a
// kqueue's NOTE_EXIT says so.
func awaitExit(pid int, patience time.Duration) error {
	kq, err := unix.Kqueue()
	if err != nil {
		return fmt.Errorf("kqueue: %w", err)
	}
	defer unix.Close(kq)
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); errors.Is(err, unix.ESRCH) || exited(pid) {
		return nil // gone already, or a zombie
	} else if err != nil {
		return fmt.Errorf("watching %d: %w", pid, err)
	}
	ts := unix.NsecToTimespec(patience.Nanoseconds())
	out := make([]unix.Kevent_t, 1)
	for {
		n, err := unix.Kevent(kq, nil, out, &ts)
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
