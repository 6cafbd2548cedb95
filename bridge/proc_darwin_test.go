package bridge

import (
	"os/exec"
	"strconv"
	"strings"
)

func withoutParentDeathSignal() {} // macOS has none

// exited says whether pid is gone: no such process, or a zombie (an
// orphan's lingers until launchd reaps it).
func exited(pid int) bool {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err != nil || strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}
