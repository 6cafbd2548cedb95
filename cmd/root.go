// Package cmd is Signet's command line and composition root: it resolves the
// workspace, opens the store and hands concrete values to the other parts.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
)

// Version is set at build time with -ldflags "-X .../cmd.Version=...".
var Version = "dev"

// usageError marks mistakes in how a command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode is an exit code a command chose after printing what it had to
// say (a batch with failures).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// cli carries what every command needs; flags fill it before RunE runs.
type cli struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	workspace string
	noDaemon  bool // --no-daemon: never start a background owner
	args      []string
	cwd       string // relative paths resolve here

	// svc is the workspace's service while a command that uses it runs:
	// this process as the owner, or a client of the owner (sess says which).
	svc  app.Service
	sess *owner.Session
}

// Execute runs the command line and returns the process exit code:
// 0 success, 1 failure, 2 bad usage.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cwd, _ := os.Getwd()
	a := &cli{stdin: stdin, stdout: safeWriter{stdout}, stderr: safeWriter{stderr}, args: args, cwd: cwd}
	return a.execute(ctx)
}

func (a *cli) execute(ctx context.Context) int {
	root := a.rootCommand()
	root.SetArgs(a.args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	fmt.Fprintf(a.stderr, "signet: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func (a *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "signet",
		Short:         "A terminal workbench for DSPy programs",
		Long:          "Signet keeps DSPy programs, datasets and their runs in a local workspace,\nruns them through real DSPy, and shows what every call cost.",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.workspace, "workspace", "", "workspace directory (default $SIGNET_HOME, else $XDG_DATA_HOME/signet)")
	root.PersistentFlags().BoolVar(&a.noDaemon, "no-daemon", false, "do not start a background owner: a command that finds none owns the workspace itself while it runs (also "+noDaemonEnv+"=1, or owner: {background: false} in the config)")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return checkFlagRanges(c) }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w", c.CommandPath(), err)}
	})
	root.AddCommand(
		withMode(a.initCommand(), wsCreate),
		a.programCommand(),
		a.datasetCommand(),
		a.indexCommand(),
		a.indexesCommand(),
		withMode(a.demoCommand(), wsCreate),
		withMode(a.setupCommand(), wsNone),
		withMode(a.doctorCommand(), wsNone),
		a.backupCommand(),
		withMode(a.restoreCommand(), wsNone),
		a.runCommand(),
		a.renderCommand(),
		withMode(a.lmCommand(), wsNone),
		a.execCommand(),
		a.optCommand(),
		a.evalCommand(),
		a.traceCommand(),
		a.costCommand(),
		a.userCommand(),
		a.tokenCommand(),
		a.auditCommand(),
		withMode(a.serveCommand(), wsNone),
		withMode(a.statusCommand(), wsNone),
		withMode(a.stopCommand(), wsNone),
		withMode(a.workerCommand(), wsNone),
	)
	tuiCmd := a.tuiCommand()
	root.AddCommand(tuiCmd)
	a.wrapWorkspaceCommands(root)
	// `signet` alone opens the workbench; anything else unknown is an error.
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q (see `signet --help`)", args[0])
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, args []string) error {
		tuiCmd.SetContext(c.Context())
		return tuiCmd.RunE(tuiCmd, args)
	}
	return root
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == len(names):
		case len(names) == 0:
			return usagef("%s takes no arguments, got %q; usage: %s", c.CommandPath(), args, c.UseLine())
		default:
			return usagef("%s wants %d argument(s) (%s), got %d; usage: %s", c.CommandPath(), len(names), strings.Join(names, " "), len(args), c.UseLine())
		}
		return nil
	}
}
