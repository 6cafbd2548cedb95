package cmd

import (
	"context"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
)

// remotePrograms reads programs through the owner's API when another process
// owns the workspace.
type remotePrograms struct{ cl *api.Client }

func (r remotePrograms) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	var ps []*model.Program
	if err := r.cl.Get(ctx, "/v1/programs", &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// tuiCommand opens the workbench; `signet` with no arguments runs it. It
// needs this process's terminal, so with another owner running it attaches
// to that owner's API instead of forwarding.
func (a *app) tuiCommand() *cobra.Command {
	return withMode(&cobra.Command{
		Use:   "tui",
		Short: "Open the workbench (also what `signet` with no arguments does)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			f, ok := a.stdout.(*os.File)
			if !ok || !isTerminal(f) {
				return usagef("the workbench needs a terminal; use the subcommands (`signet --help`) in scripts")
			}
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			cfg, err := config.Load("")
			if err != nil {
				return err
			}
			var deps tui.Deps
			switch {
			case a.shared != nil:
				deps.Programs = a.shared.st
			case a.remote != nil:
				deps.Programs = remotePrograms{a.remote}
			default:
				return fmt.Errorf("internal error: the workspace is not open")
			}
			m := tui.New(deps, tui.Options{Workspace: dir, LMProfile: cfg.DefaultLM(), Context: c.Context()})
			_, err = tea.NewProgram(m, tea.WithContext(c.Context()), tea.WithInput(a.stdin), tea.WithOutput(a.stdout)).Run()
			return err
		},
	}, wsAttach)
}
