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

// Workspace layout: one Badger database and one log file per workspace,
// and, while an owner runs, its socket and owner.json (package api).
const (
	dbDir   = "db"
	logFile = "signet.log"
)

// workspaceDir resolves --workspace, then SIGNET_HOME, then XDG_DATA_HOME/signet.
// A command run for a client uses the workspace the client resolved.
func (a *cli) workspaceDir() (string, error) {
	if a.client != nil {
		return a.client.Workspace, nil
	}
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

// abs resolves a path the user typed against the working directory of the
// command line: the client's, when this process runs a client's command.
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

func missingWorkspace(dir string) error {
	return fmt.Errorf("workspace %s does not exist: run `signet init` (or `signet --workspace DIR init`) first", dir)
}

// store is the store of the workspace this process owns. Every command that
// needs it runs through inWorkspace, which makes this process the owner or
// forwards the command to the owner; the store stays open for the owner's
// lifetime, so commands do not close it.
func (a *cli) store() (*store.Store, error) {
	if a.shared == nil {
		return nil, errors.New("internal error: the workspace is not open (the command does not run through inWorkspace)")
	}
	return a.shared.st, nil
}

// openWorkspace opens (creating if needed) the store in dir, logging to the
// workspace log file so Badger never writes to the terminal. A store locked
// by another process is errLocked.
func openWorkspace(ctx context.Context, dir string) (*store.Store, *os.File, func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("creating workspace %s: %w", dir, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening log file: %w", err)
	}
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(dir, dbDir), Log: logf})
	if err != nil {
		logf.Close()
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, nil, nil, fmt.Errorf("workspace %s: %w", dir, errLocked)
		}
		return nil, nil, nil, fmt.Errorf("opening workspace %s: %w", dir, err)
	}
	closeFn := func() {
		st.Close()
		logf.Close()
	}
	return st, logf, closeFn, nil
}
