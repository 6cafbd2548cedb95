//go:build linux || darwin

package bridge

import "syscall"

// signalGroup sends sig to the process group whose leader is pid: every
// child starts its own group (sysProcAttr), so one signal also reaches
// whatever DSPy, llama.cpp or user code started.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
