package bridge

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts a child in its own process group. macOS has no
// parent-death signal: the parent-death pipe (parentPipe) is how a child
// learns that we are gone.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// rss is the process's resident set size as ps(1) reports it: macOS has no
// /proc, and another process's task info needs libproc (cgo).
func rss(pid int) (int64, error) {
	out, err := exec.Command("ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0, fmt.Errorf("ps -o rss= -p %d: %w", pid, err)
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ps -o rss= -p %d printed %q: %w", pid, out, err)
	}
	return kb << 10, nil
}

// zygoteSupported: macOS keeps the plain spawn (fork without exec is unsafe
// there once system frameworks are loaded, and it has no pidfds).
const zygoteSupported = false

func zygoteSocketpair() (ours, theirs *os.File, err error) {
	return nil, nil, errors.New("no zygote on macOS")
}

func waitPidfd(int) error { return errors.New("no pidfds on macOS") }
