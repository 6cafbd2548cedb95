package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app/owner"
)

func (a *cli) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a full backup of the workspace's store to FILE (- for stdout), also while an owner runs",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			path := a.abs(args[0])
			if path == "-" {
				return a.svc.Backup(c.Context(), a.stdout)
			}
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("backup: %s exists: choose another file", path)
			}
			// Written beside its final name and renamed once complete, so a
			// failed backup never leaves a file that looks whole.
			tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			defer os.Remove(tmp.Name())
			if err := a.svc.Backup(c.Context(), tmp); err != nil {
				tmp.Close()
				return fmt.Errorf("backup to %s: %w", path, err)
			}
			if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
				return fmt.Errorf("backup to %s: %w", path, err)
			}
			if err := os.Rename(tmp.Name(), path); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			st, _ := os.Stat(path)
			fmt.Fprintf(a.stdout, "backed up to %s (%d bytes)\n", path, st.Size())
			return nil
		},
	}
}

func (a *cli) restoreCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Load a backup into a new workspace (--workspace DIR; it must have no store and no owner)",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			var r io.Reader = a.stdin
			if p := a.abs(args[0]); p != "-" {
				f, err := os.Open(p)
				if err != nil {
					return fmt.Errorf("restore: %w", err)
				}
				defer f.Close()
				r = f
			}
			if err := owner.Restore(c.Context(), dir, r); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored %s into workspace %s\n", args[0], dir)
			return nil
		},
	}
}
