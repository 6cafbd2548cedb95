package bridge

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// parentDeathSignal is what Linux sends a child when the thread that forked
// it ends (hence forker). 0 turns it off: the tests that prove the
// parent-death pipe alone is enough do that.
var parentDeathSignal = syscall.SIGKILL

// sysProcAttr puts a child in its own process group and has Linux kill it
// if we die; the parent-death pipe (parentPipe) says the same a second way.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: parentDeathSignal}
}

// rss is the process's resident set size from /proc/<pid>/status.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", strings.TrimSpace(v), err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// zygoteSupported: workers may be forked from a zygote (pidfds, SOCK_SEQPACKET).
const zygoteSupported = true

// zygoteSocketpair is the zygote's channel: ours and the end for its fd 4.
// SOCK_SEQPACKET keeps each message whole, with its descriptors.
func zygoteSocketpair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the zygote's socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "zygote"), os.NewFile(uintptr(fds[1]), "zygote-child"), nil
}

// waitPidfd blocks until the process of pidfd has ended (the fd reads ready).
func waitPidfd(pidfd int) error {
	for {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("polling a pidfd: %w", err)
		}
		if fds[0].Revents != 0 {
			return nil
		}
	}
}
