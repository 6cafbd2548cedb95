package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *cli) initCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the workspace (store and log) if it does not exist",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			// inWorkspace has created and opened it.
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "workspace ready: %s\n", dir)
			return nil
		},
	}
}
