//go:build linux

package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/signet-dspy/signet/api"
)

// TestTUIBinaryEndsOnHangup: a workbench whose terminal goes away ends, and
// with it the workspace's owner it was, even after it ran an optimization
// (one such workbench went on for good: an owner ignores hangups, and it did
// not notice its terminal was gone).
func TestTUIBinaryEndsOnHangup(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	env = append(pythonEnv(t), env...)
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "qa")
	out, errOut, code := run(t, env, "opt", "run", "qa", "--optimizer", "bootstrap", "--train", "qa", "--lm", "test",
		"--set", "max_bootstrapped_demos=2", "--set", "max_labeled_demos=2")
	if code != 0 {
		t.Fatalf("signet opt run: exit %d\n%s%s", code, out, errOut)
	}
	var ws string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SIGNET_HOME="); ok {
			ws = v
		}
	}
	info, err := api.ReadOwner(ws)
	if err != nil {
		t.Fatalf("the workbench owns no workspace: %v", err)
	}
	t.Cleanup(func() { // a failed test leaves no process behind
		if api.Alive(info.PID) {
			syscall.Kill(info.PID, syscall.SIGKILL)
		}
	})
	if err := exec.Command("tmux", "-S", term.socket, "kill-server").Run(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, info.PID)
}
