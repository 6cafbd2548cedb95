package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// workspaceDir resolves --workspace, then SIGNET_HOME, then XDG_DATA_HOME/signet.
func (a *cli) workspaceDir() (string, error) {
	if a.workspace != "" {
		return a.abs(a.workspace), nil
	}
	if d := os.Getenv("SIGNET_HOME"); d != "" {
		return a.abs(d), nil
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the default workspace: %w (set --workspace or SIGNET_HOME)", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(a.abs(data), "signet"), nil
}

// abs resolves a path the user typed against the working directory.
func (a *cli) abs(p string) string {
	if p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	if a.cwd == "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return filepath.Join(a.cwd, p)
}

// asTyped makes an error about a file name it as the user typed it, not as
// abs resolved it, so that a client and an owner print the same message.
func asTyped(err error, typed string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = typed
	}
	return err
}
