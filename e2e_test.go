package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// signetBinary builds the real binary once for the end-to-end tests.
func signetBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signet-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "signet")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building signet: %v", buildErr)
	}
	return binPath
}

// run runs the binary with env added to a minimal environment.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(signetBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running signet %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestBinaryFirstSteps is the check, with the real binary and the
// workspace chosen by XDG_DATA_HOME as on a fresh machine.
func TestBinaryFirstSteps(t *testing.T) {
	data := t.TempDir()
	env := []string{"XDG_DATA_HOME=" + data}
	steps := [][]string{
		{"init"},
		{"dataset", "import", "examples/qa.jsonl", "--split", "train"},
		{"program", "create", "-f", "examples/qa.yaml"},
	}
	for _, s := range steps {
		if out, errOut, code := run(t, env, s...); code != 0 {
			t.Fatalf("signet %v: exit %d\n%s%s", s, code, out, errOut)
		}
	}
	out, errOut, code := run(t, env, "program", "list", "--json")
	if code != 0 {
		t.Fatalf("program list: exit %d: %s", code, errOut)
	}
	var progs []struct {
		Name    string
		Version int
	}
	if err := json.Unmarshal([]byte(out), &progs); err != nil || len(progs) != 1 || progs[0].Name != "qa" || progs[0].Version != 1 {
		t.Fatalf("program list --json = %q (%v)", out, err)
	}
	if _, err := os.Stat(filepath.Join(data, "signet", "db")); err != nil {
		t.Errorf("workspace not under XDG_DATA_HOME: %v", err)
	}
	// Badger logs to the workspace log file, never to the terminal.
	if strings.Contains(errOut, "badger") {
		t.Errorf("badger wrote to stderr: %q", errOut)
	}

	// SIGNET_HOME overrides XDG_DATA_HOME; a missing workspace is an error.
	_, errOut, code = run(t, append(env, "SIGNET_HOME="+filepath.Join(data, "other")), "program", "list")
	if code != 1 || !strings.Contains(errOut, "other does not exist") {
		t.Errorf("missing SIGNET_HOME workspace: exit %d, %q", code, errOut)
	}
	// Bad usage exits 2.
	if _, _, code := run(t, env, "program", "show"); code != 2 {
		t.Errorf("missing argument: exit %d, want 2", code)
	}
}
