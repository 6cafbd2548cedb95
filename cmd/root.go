// Package cmd is Signet's command line and composition root: it resolves the
// workspace, opens the store and hands concrete values to the other parts.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cmd.Version=...".
var Version = "dev"

// usageError marks mistakes in how a command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// app carries what every command needs; flags fill it before RunE runs.
type app struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	workspace string
}

// Execute runs the command line and returns the process exit code:
// 0 success, 1 failure, 2 bad usage.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "signet: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "signet",
		Short:         "A terminal workbench for DSPy programs",
		Long:          "Signet keeps DSPy programs, datasets and their runs in a local workspace,\nruns them through real DSPy, and shows what every call cost.",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.workspace, "workspace", "", "workspace directory (default $SIGNET_HOME, else $XDG_DATA_HOME/signet)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w", c.CommandPath(), err)}
	})
	root.AddCommand(
		a.initCommand(),
		a.programCommand(),
		a.datasetCommand(),
		a.demoCommand(),
		a.setupCommand(),
		a.doctorCommand(),
		a.runCommand(),
		a.lmCommand(),
		a.execCommand(),
		a.traceCommand(),
		a.costCommand(),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s: want %d argument(s) (%v), got %d", c.CommandPath(), len(names), names, len(args))
		}
		return nil
	}
}
