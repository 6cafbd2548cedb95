package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
)

// How a command relates to the workspace, as the annotation wsMode says.
// Without it, a command uses the workspace: it runs in the owner, which is
// this process if no other owns the workspace.
const (
	wsMode   = "signet/workspace"
	wsNone   = "none"   // needs no workspace (setup, doctor, lm): runs here
	wsCreate = "create" // creates the workspace if it is missing (init, demo)
	wsAttach = "attach" // needs this terminal (edit): runs here, through the API when another process owns the workspace
)

func withMode(c *cobra.Command, mode string) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[wsMode] = mode
	return c
}

// wrapWorkspaceCommands makes every command that uses the workspace run
// through inWorkspace. A command without a mode has its parent's.
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

// inWorkspace runs a command against the workspace's owner. In the owner
// (this process is it, or runs the command for a client) it just runs.
// Otherwise: if another process owns the workspace, the command line is
// forwarded to it and its output and exit code become this process's; if
// none does, this process becomes the owner for the command's lifetime,
// serving others meanwhile.
func (a *cli) inWorkspace(c *cobra.Command, mode string, run func() error) error {
	if a.shared != nil {
		return run()
	}
	ctx := c.Context()
	dir, err := a.workspaceDir()
	if err != nil {
		return err
	}
	if mode != wsCreate {
		if _, err := os.Stat(filepath.Join(dir, dbDir)); errors.Is(err, fs.ErrNotExist) {
			return missingWorkspace(dir)
		}
	}
	for attempt := 1; ; attempt++ {
		cl, st, o, err := a.acquire(ctx, dir, mode == wsCreate, commandName(c))
		if err != nil {
			return err
		}
		if o != nil {
			a.shared = o
			err := run()
			o.release(ctx, ctx.Err() != nil, a.stderr)
			a.shared = nil
			return err
		}
		if mode == wsAttach {
			a.remote = cl
			return run()
		}
		code, err := a.forward(ctx, c, dir, cl, st)
		if errors.Is(err, api.ErrNoOwner) && attempt < 3 {
			continue // the owner left before the command reached it, so it did not run
		}
		if err != nil {
			return err
		}
		return exitCode(code)
	}
}

// maxStdin bounds what a client sends of its stdin (`program create -f -`).
const maxStdin = 16 << 20

// forward runs this command line in the owner and copies its output here.
func (a *cli) forward(ctx context.Context, c *cobra.Command, dir string, cl *api.Client, st *api.Status) (int, error) {
	req := &api.CLIRequest{Args: append(slices.Clone(a.args), a.extraArgs...), Cwd: a.cwd, Workspace: dir,
		Env: clientEnv(), StdoutTTY: isTTY(a.stdout), StderrTTY: isTTY(a.stderr)}
	if f := c.Flags().Lookup("file"); f != nil && f.Value.String() == "-" {
		b, err := io.ReadAll(io.LimitReader(a.stdin, maxStdin+1))
		if err != nil {
			return 0, fmt.Errorf("reading stdin: %w", err)
		}
		if len(b) > maxStdin {
			return 0, fmt.Errorf("stdin is over %d MiB: give a file instead", maxStdin>>20)
		}
		req.Stdin = b
		a.stdin = bytes.NewReader(b) // read again if the command ends up running here
	}
	code, err := cl.CLI(ctx, req, a.stdout, a.stderr)
	switch {
	case err == nil:
		return code, nil
	case errors.Is(err, api.ErrNoOwner):
		return 0, err
	case ctx.Err() != nil:
		return 0, fmt.Errorf("interrupted; the command ran in the owner of %s (pid %d), where executions it started go on: see `signet exec list`", dir, st.PID)
	}
	return 0, fmt.Errorf("lost the owner of %s (pid %d) before the command ended: %w; `signet exec list` shows where its executions are", dir, st.PID, err)
}

// clientEnv is what of this process's environment the owner sees: Signet's
// and XDG's variables and VIRTUAL_ENV, never API keys. The owner uses its
// own environment; it only tells when these differ (see noteEnv).
func clientEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SIGNET_") || strings.HasPrefix(k, "XDG_") || k == "VIRTUAL_ENV" {
			env[k] = v
		}
	}
	return env
}

// envThatMatters decide the config and the Python of runs.
var envThatMatters = []string{"SIGNET_CONFIG", "SIGNET_PYTHON", "VIRTUAL_ENV", "XDG_CONFIG_HOME"}

// noteEnv tells a client whose environment would choose another config or
// interpreter that runs use the owner's.
func (a *cli) noteEnv() {
	if a.client == nil {
		return
	}
	var diff []string
	for _, k := range envThatMatters {
		if a.client.Env[k] != os.Getenv(k) {
			diff = append(diff, k)
		}
	}
	if len(diff) > 0 {
		fmt.Fprintf(a.stderr, "signet: note: this runs in the workspace's owner (pid %d, `signet %s`), with its configuration and Python; your %s differ(s) from the owner's\n",
			a.shared.info.PID, a.shared.info.Command, strings.Join(diff, ", "))
	}
}

// ownerKeyNote explains a missing API key when the owner is another process.
func (a *cli) ownerKeyNote(err error) error {
	var ke *keyError
	if a.client == nil || !errors.As(err, &ke) {
		return err
	}
	return fmt.Errorf("%w; LMs run in the workspace's owner (pid %d), which has no %s, and keys are never sent over its socket: set it where the owner runs and restart it",
		err, a.shared.info.PID, ke.env)
}

func commandName(c *cobra.Command) string {
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// stderrTTY says whether stderr is a terminal: the client's, for a client's command.
func (a *cli) stderrTTY() bool {
	if a.client != nil {
		return a.client.StderrTTY
	}
	return isTTY(a.stderr)
}
