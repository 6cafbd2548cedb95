package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/signet-dspy/signet/store"
)

// Workspace layout: one Badger database and one log file per workspace.
const (
	dbDir   = "db"
	logFile = "signet.log"
)

// workspaceDir resolves --workspace, then SIGNET_HOME, then XDG_DATA_HOME/signet.
func (a *app) workspaceDir() (string, error) {
	if a.workspace != "" {
		return filepath.Abs(a.workspace)
	}
	if d := os.Getenv("SIGNET_HOME"); d != "" {
		return filepath.Abs(d)
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the default workspace: %w (set --workspace or SIGNET_HOME)", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "signet"), nil
}

// openStore opens the store of an existing workspace. A missing workspace is
// an error rather than silently created, so a typo in --workspace is caught.
func (a *app) openStore(ctx context.Context) (*store.Store, func(), error) {
	dir, err := a.workspaceDir()
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, dbDir)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("workspace %s does not exist: run `signet init` (or `signet --workspace DIR init`) first", dir)
	}
	return openWorkspace(ctx, dir)
}

// openWorkspace opens (creating if needed) the store in dir, logging to the
// workspace log file so Badger never writes to the terminal.
func openWorkspace(ctx context.Context, dir string) (*store.Store, func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating workspace %s: %w", dir, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening log file: %w", err)
	}
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(dir, dbDir), Log: logf})
	if err != nil {
		logf.Close()
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			// One process owns a workspace (Badger's lock); a local API for the
			// others is an open issue.
			return nil, nil, fmt.Errorf("workspace %s is in use by another Signet process; wait for it to finish, or use another --workspace", dir)
		}
		return nil, nil, fmt.Errorf("opening workspace %s: %w", dir, err)
	}
	closeFn := func() {
		st.Close()
		logf.Close()
	}
	return st, closeFn, nil
}
