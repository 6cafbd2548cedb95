package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/config"
)

// The background owner: a command that starts Python workers and finds no
// owner starts `signet serve --background` (this binary, detached) and is
// its client, so that the next command finds the workers warm. The owner
// exits after the config's owner: idle_exit without work.

// noDaemonEnv, set to anything but "" or "0", turns background owners off
// (as --no-daemon does), for scripts and tests.
const noDaemonEnv = "SIGNET_NO_DAEMON"

// Where a background owner writes what it prints, in the workspace.
const (
	ownerLogDir = "logs"
	ownerLog    = "owner.log" // capped as the workspace's log is (owner.OpenLog)
)

// startsWorkers says whether a command may start Python workers (it has
// the pool flags): such a command, finding no owner, starts one in the
// background rather than becoming it for its own short lifetime. This is
// the one place that decides which commands do.
func startsWorkers(c *cobra.Command, mode string) bool {
	return mode == "" && c.Flags().Lookup("workers") != nil
}

// backgroundOff says why this process starts no background owner, or "".
func (a *cli) backgroundOff(dir string) string {
	switch {
	case a.noDaemon:
		return "--no-daemon"
	case os.Getenv(noDaemonEnv) != "" && os.Getenv(noDaemonEnv) != "0":
		return noDaemonEnv
	case testing.Testing():
		return "a test binary is not signet" // it would run the tests, not serve
	}
	if _, err := os.Stat(filepath.Join(dir, owner.DBDir)); err != nil {
		return "no workspace" // the command's own error says so
	}
	cfg, err := config.Load("")
	if err != nil {
		return "the config does not load" // the command's own error says why
	}
	if !cfg.BackgroundOwner() {
		return "owner: background: false"
	}
	return ""
}

// spawnOwner returns owner.Options.Spawn for workspace dir: it starts
// `signet serve --background` with the command's --python and --workers,
// in its own session, stdin /dev/null, stdout and stderr appended to
// <dir>/logs/owner.log. The owner closes the pipe on fd 3 once it listens
// ("ready"), or without a word when another owner got the workspace first.
func spawnOwner(dir, python string, workers int, spawned *atomic.Bool) func(context.Context) (<-chan error, error) {
	return func(ctx context.Context) (<-chan error, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program: %w", err)
		}
		logf, err := openOwnerLog(dir)
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		defer null.Close()
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("ready pipe: %w", err)
		}
		defer w.Close()
		args := []string{"--workspace", dir, "serve", "--background", "--ready-fd", "3"}
		if python != "" {
			args = append(args, "--python", python)
		}
		if workers > 0 {
			args = append(args, "--workers", strconv.Itoa(workers))
		}
		cmd := exec.Command(exe, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, logf, logf
		cmd.ExtraFiles = []*os.File{w}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			r.Close()
			return nil, fmt.Errorf("starting %s serve --background: %w", exe, err)
		}
		ready := make(chan error, 1)
		go func() {
			defer r.Close()
			said, _ := io.ReadAll(io.LimitReader(r, 64))
			if strings.TrimSpace(string(said)) == "ready" {
				spawned.Store(true)
				ready <- nil
				cmd.Wait() // reaps it, should it end while this process runs
				return
			}
			if err := cmd.Wait(); err != nil {
				ready <- fmt.Errorf("the background owner ended: %v; see %s", err, logf.Name())
				return
			}
			ready <- nil // another owner had the workspace: use it
		}()
		return ready, nil
	}
}

// openOwnerLog opens <dir>/logs/owner.log for appending, moving a log past
// owner.LogCap aside first.
func openOwnerLog(dir string) (*os.File, error) {
	logDir := filepath.Join(dir, ownerLogDir)
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, fmt.Errorf("the background owner's log: %w", err)
	}
	f, err := owner.OpenLog(filepath.Join(logDir, ownerLog))
	if err != nil {
		return nil, fmt.Errorf("the background owner's log: %w", err)
	}
	return f, nil
}
