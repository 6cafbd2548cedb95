package bridge

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
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
