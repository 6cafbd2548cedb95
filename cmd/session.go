package cmd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app/owner"
)

// How a command relates to the workspace, as the annotation wsMode says.
// Without it, a command uses the workspace's service.
const (
	wsMode   = "signet/workspace"
	wsNone   = "none"   // needs no workspace (setup, doctor, lm)
	wsCreate = "create" // creates the workspace if it is missing (init, demo)
)

func withMode(c *cobra.Command, mode string) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[wsMode] = mode
	return c
}

// wrapWorkspaceCommands makes every command that uses the workspace run
// with its service (inWorkspace). A command without a mode has its parent's.
func (a *cli) wrapWorkspaceCommands(c *cobra.Command) {
	mode, ok := c.Annotations[wsMode]
	if !ok && c.HasParent() {
		mode = c.Parent().Annotations[wsMode]
		withMode(c, mode)
	}
	for _, sub := range c.Commands() {
		a.wrapWorkspaceCommands(sub)
	}
	if c.RunE == nil || mode == wsNone {
		return
	}
	run := c.RunE
	c.RunE = func(c *cobra.Command, args []string) error {
		return a.inWorkspace(c, mode, func() error { return run(c, args) })
	}
}

// serveWorkers is the pool of an owner that serves others: the number of
// cores, at least 2 (DESIGN.md section 4).
func serveWorkers() int { return max(2, runtime.NumCPU()) }

// inWorkspace runs a command with the workspace's service in a.svc: a
// client of the owner that runs, or this process as the owner for the
// command's lifetime (serving other processes meanwhile). A command that
// starts workers (startsWorkers) and finds no owner starts one in the
// background first and is its client (daemon.go). The command runs here
// either way, so its output and exit code are the same.
func (a *cli) inWorkspace(c *cobra.Command, mode string, run func() error) error {
	if a.svc != nil {
		return run()
	}
	ctx := c.Context()
	dir, err := a.workspaceDir()
	if err != nil {
		return err
	}
	opts := owner.Options{Dir: dir, Create: mode == wsCreate, Command: commandName(c), Version: Version,
		DefaultWorkers: 1, Notify: a.stderr}
	python, workers := poolFlagsOf(c)
	opts.Python, opts.Workers = python, workers
	var spawned atomic.Bool
	if startsWorkers(c, mode) && a.backgroundOff(dir) == "" {
		opts.Spawn = spawnOwner(dir, python, workers, &spawned)
	}
	s, err := owner.Acquire(ctx, opts)
	if err != nil {
		return err
	}
	if s.Client != nil && (python != "" || workers > 0) && !spawned.Load() {
		fmt.Fprintf(a.stderr, "signet: note: this workspace's owner (see `signet status`) runs with its own Python and workers; --python and --workers apply to the process that starts them\n")
	}
	a.svc, a.sess = s, s
	defer func() { a.svc, a.sess = nil, nil }()
	err = run()
	s.Close(ctx, ctx.Err() != nil)
	return err
}

// poolFlagsOf reads --python (the interpreter, when the command has that
// flag as a string) and --workers from a command's flags.
func poolFlagsOf(c *cobra.Command) (python string, workers int) {
	if f := c.Flags().Lookup("python"); f != nil && f.Value.Type() == "string" {
		python = f.Value.String()
	}
	if f := c.Flags().Lookup("workers"); f != nil {
		fmt.Sscan(f.Value.String(), &workers)
	}
	return python, workers
}

// poolFlags are the flags of the commands that may start Python workers
// (when their process becomes the workspace's owner).
type poolFlags struct {
	python  string
	workers int
}

func (f *poolFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.python, "python", "", "Python interpreter for the workers (default: config, SIGNET_PYTHON, VIRTUAL_ENV, then the managed venv)")
	f.registerWorkers(c)
}

// registerWorkers is register without --python, for a command whose
// --python means something else (program export --python).
func (f *poolFlags) registerWorkers(c *cobra.Command) {
	c.Flags().IntVar(&f.workers, "workers", 0, "worker processes (default: config, else 1 for a single run)")
}

func commandName(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// owned is the owner when this process is it, for what only the owner can
// do (backup, serve's last words); nil for a client.
func (a *cli) owned() *owner.Owner {
	if a.sess == nil {
		return nil
	}
	return a.sess.Owner
}

// noOwner reports that no process owns the workspace (status).
func noOwner(err error) bool { return errors.Is(err, api.ErrNoOwner) || errors.Is(err, os.ErrNotExist) }
