package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBinaryUsers manages users, tokens and credits with the real binary,
// once owning the workspace itself and once as a client of a running owner:
// the same output either way, a token's value printed once and never again.
func TestBinaryUsers(t *testing.T) {
	for _, served := range []bool{false, true} {
		name := "own"
		if served {
			name = "served"
		}
		t.Run(name, func(t *testing.T) {
			ws := filepath.Join(t.TempDir(), "ws")
			env := []string{"SIGNET_HOME=" + ws, "SIGNET_CONFIG=" + filepath.Join(t.TempDir(), "none.yaml")}
			mustRun(t, env, "init")
			if served {
				// An owner starts its workers' pool: it needs the workers'
				// interpreter.
				env = append(env, pythonEnv(t)...)
				serveForeground(t, env)
			}
			testUsers(t, env, ws)
		})
	}
}

// serveForeground runs `signet serve` on env's workspace until the test ends; it
// returns once the owner serves (it says so on its first line).
func serveForeground(t *testing.T, env []string) {
	t.Helper()
	out, stderr, wait := startServe(t, env)
	line, err := out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "serving workspace") {
		wait()
		t.Fatalf("signet serve said %q (%v), stderr %q", line, err, stderr.String())
	}
}

// startServe starts `signet serve ARGS` on env's workspace, stopped with
// SIGTERM when the test ends, and returns its stdout, its stderr so far
// and a wait for its end.
func startServe(t *testing.T, env []string, args ...string) (*bufio.Reader, *strings.Builder, func()) {
	t.Helper()
	cmd, out, errb := startSignet(t, env, "", append([]string{"serve"}, args...)...)
	return bufio.NewReader(out), errb, func() { cmd.Wait() }
}

// startSignet starts the binary with ARGS in dir ("": here), stopped with
// SIGTERM when the test ends: the process, its stdout and its stderr.
func startSignet(t testing.TB, env []string, dir string, args ...string) (*exec.Cmd, io.Reader, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(signetBinary(t), args...)
	cmd.Env = append(testEnv(t.TempDir()), env...)
	cmd.Dir = dir
	errb := new(strings.Builder)
	cmd.Stderr = errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	return cmd, out, errb
}

func testUsers(t *testing.T, env []string, ws string) {
	if out := mustRun(t, env, "user", "add", "ann", "--role", "ml_user", "--credits", "2.5"); !strings.Contains(out, "user ann added: role ml_user, credits $2.5") {
		t.Fatalf("user add: %q", out)
	}
	if _, errOut, code := run(t, env, "user", "add", "ann", "--role", "admin"); code != 1 || !strings.Contains(errOut, `user "ann": already exists`) {
		t.Fatalf("second ann: exit %d, %q", code, errOut)
	}
	if _, errOut, code := run(t, env, "user", "add", "bob", "--role", "boss"); code != 2 || !strings.Contains(errOut, `unknown role "boss"`) {
		t.Fatalf("bad role: exit %d, %q", code, errOut)
	}
	value, errOut, code := run(t, env, "token", "create", "ann", "--name", "ci")
	value = strings.TrimSpace(value)
	if code != 0 || !strings.HasPrefix(value, "sgt_") || len(value) < 40 || !strings.Contains(errOut, "not shown again") {
		t.Fatalf("token create: exit %d, %q, %q", code, value, errOut)
	}
	if _, errOut, code := run(t, env, "token", "create", "nobody"); code != 1 || !strings.Contains(errOut, `user "nobody": not found`) {
		t.Fatalf("token for nobody: exit %d, %q", code, errOut)
	}

	out := mustRun(t, env, "user", "show", "ann", "--json")
	var shown struct {
		Name    string
		Role    string
		Credits float64
		Tokens  []struct {
			ID, Name  string
			RevokedAt string `json:"revoked_at"`
		}
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("user show --json: %v\n%s", err, out)
	}
	if shown.Name != "ann" || shown.Role != "ml_user" || shown.Credits != 2.5 || len(shown.Tokens) != 1 || shown.Tokens[0].Name != "ci" {
		t.Fatalf("user show: %+v", shown)
	}
	if strings.Contains(out, value) || strings.Contains(out, "sha256") {
		t.Fatalf("user show prints the token's value or hash: %s", out)
	}

	if out := mustRun(t, env, "user", "credits", "ann", "-3"); !strings.Contains(out, "credits $0") {
		t.Fatalf("credits -3 on 2.5: %q", out)
	}
	if out := mustRun(t, env, "user", "credits", "ann", "=1.25"); !strings.Contains(out, "credits $1.25") {
		t.Fatalf("credits =1.25: %q", out)
	}
	if _, _, code := run(t, env, "user", "credits", "ann", "5"); code != 2 {
		t.Fatalf("credits without a sign: exit %d, want 2", code)
	}
	var users []struct {
		Name    string
		Credits float64
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "user", "list", "--json")), &users); err != nil || len(users) != 1 || users[0].Credits != 1.25 {
		t.Fatalf("user list: %+v (%v)", users, err)
	}

	if out := mustRun(t, env, "token", "revoke", shown.Tokens[0].ID); !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke: %q", out)
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "user", "show", "ann", "--json")), &shown); err != nil || shown.Tokens[0].RevokedAt == "" {
		t.Fatalf("revoked token shows %+v (%v)", shown.Tokens, err)
	}

	var recs []struct{ Actor, Action, Target, Outcome string }
	if err := json.Unmarshal([]byte(mustRun(t, env, "audit", "--json")), &recs); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		if r.Actor != "local" || r.Outcome != "ok" {
			t.Errorf("audit record %+v", r)
		}
		actions = append(actions, r.Action)
	}
	want := "token.revoke user.credits user.credits token.create user.add"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit actions %q, want %q", got, want)
	}
	if out := mustRun(t, env, "audit", "--limit", "1"); !strings.Contains(out, "token.revoke") || strings.Contains(out, "user.add") {
		t.Fatalf("audit --limit 1: %q", out)
	}

	// The value is in no file of the workspace.
	err := filepath.WalkDir(ws, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), value) {
			t.Errorf("%s holds the token's value", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
