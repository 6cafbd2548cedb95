package bridge

import (
	"os/exec"
	"testing"
	"time"
)

// awaitExit, which the orphan tests rest on, waits for a live process and
// returns once it has exited.
func TestAwaitExit(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := awaitExit(cmd.Process.Pid, 50*time.Millisecond); err == nil {
		t.Fatal("awaitExit returned while the process ran")
	}
	cmd.Process.Kill() // now a zombie until Wait: exited all the same
	if err := awaitExit(cmd.Process.Pid, time.Minute); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if err := awaitExit(cmd.Process.Pid, time.Minute); err != nil {
		t.Fatalf("a reaped process: %v", err)
	}
}
