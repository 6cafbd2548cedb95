package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ManagedVenv is the virtual environment `signet setup` creates, under the
// user cache dir so every workspace shares it (SIGNET_VENV moves it).
func ManagedVenv() (string, error) {
	if d := os.Getenv("SIGNET_VENV"); d != "" {
		return filepath.Abs(d)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache dir: %w", err)
	}
	return filepath.Join(cache, "signet", "venv"), nil
}

// PythonChoice is the interpreter the workers run, and why it was chosen.
type PythonChoice struct {
	Path   string
	Source string // --python, config, SIGNET_PYTHON, VIRTUAL_ENV, managed venv
}

// Python picks the interpreter in the documented order: the flag, the
// config file, SIGNET_PYTHON, an active VIRTUAL_ENV, the managed venv. So a
// user's own project environment, with their own DSPy code, just works.
func Python(flag string, cfg *Config) (PythonChoice, error) {
	switch {
	case flag != "":
		return PythonChoice{flag, "--python"}, nil
	case cfg != nil && cfg.Python != "":
		return PythonChoice{cfg.Python, "config " + cfg.Path()}, nil
	case os.Getenv("SIGNET_PYTHON") != "":
		return PythonChoice{os.Getenv("SIGNET_PYTHON"), "SIGNET_PYTHON"}, nil
	case os.Getenv("VIRTUAL_ENV") != "":
		return PythonChoice{filepath.Join(os.Getenv("VIRTUAL_ENV"), "bin", "python"), "VIRTUAL_ENV"}, nil
	}
	venv, err := ManagedVenv()
	if err != nil {
		return PythonChoice{}, err
	}
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(py); errors.Is(err, fs.ErrNotExist) {
		return PythonChoice{py, "managed venv"}, fmt.Errorf("no Python environment for the workers: run `signet setup` (or point --python, SIGNET_PYTHON or VIRTUAL_ENV at one with dspy installed)")
	}
	return PythonChoice{py, "managed venv"}, nil
}
