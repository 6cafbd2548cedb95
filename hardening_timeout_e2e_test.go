package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

// hangEnv is a workspace served by one worker (so that every run shares
// it) with three custom modules: spin (forward() makes one LM call, says so
// on the test's socket, then loops forever), stuck (its file's import says
// so, then loops forever) and the example's custom_qa. It returns the
// environment and a channel of what the hanging modules said.
func hangEnv(t *testing.T) ([]string, string, <-chan string) {
	t.Helper()
	env := pythonEnv(t)
	dir := t.TempDir()
	// A short path: unix socket paths are limited to about 100 bytes.
	sockDir, err := os.MkdirTemp("", "sg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	said := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			said <- strings.TrimSpace(line)
		}
	}()
	// What a hanging module calls to say it has got where it hangs.
	tell := fmt.Sprintf(`
def _tell(what):
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(%q)
    s.sendall(what.encode() + b"\n")
    s.close()
`, sock)
	files := map[string]string{
		"spin.py": "import dspy\n" + tell + `
class Spin(dspy.Module):
    def __init__(self):
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question):
        self.answer(question=question)
        _tell("spin")
        while True:
            pass
`,
		"stuck.py": "import dspy\n" + tell + `
_tell("stuck")
while True:
    pass

class Stuck(dspy.Module):
    pass
`,
		"spin.yaml":   "name: spin\nmodules:\n  - name: spin\n    type: custom\n    source: spin.py:Spin\n    signature: \"question -> answer\"\n",
		"stuck.yaml":  "name: stuck\nmodules:\n  - name: stuck\n    type: custom\n    source: stuck.py:Stuck\n    signature: \"question -> answer\"\n",
		"config.yaml": "cache: \"off\"\nprofiles:\n  test:\n    model: signet/test\n    cache: false\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env = append(env, "SIGNET_HOME="+filepath.Join(dir, "ws"), "SIGNET_CONFIG="+filepath.Join(dir, "config.yaml"))
	for _, args := range [][]string{{"init"}, {"program", "create", "-f", filepath.Join(dir, "spin.yaml")},
		{"program", "create", "-f", filepath.Join(dir, "stuck.yaml")}, {"program", "create", "-f", "examples/custom/program.yaml"}} {
		if out, errOut, code := run(t, env, args...); code != 0 {
			t.Fatalf("signet %v: %d %s %s", args, code, out, errOut)
		}
	}
	serve, serveOut := start(t, env, "serve", "--workers", "1")
	t.Cleanup(func() { stopServe(t, serve, serveOut, filepath.Join(dir, "ws")) })
	waitOwner(t, filepath.Join(dir, "ws"), false)
	return env, filepath.Join(dir, "ws"), said
}

type runJSON struct {
	State     string
	Attempts  int
	ErrorCode string `json:"error_code"`
	Error     string
	Outputs   map[string]any
	Usage     map[string]struct{ Calls int }
}

// runBounded runs `signet run ... --json` and fails the test if it has not
// ended within a minute: a run blocked behind a hung one would never end.
func runBounded(t *testing.T, env []string, args ...string) (runJSON, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, signetBinary(t), append(append([]string{"run"}, args...), "--json")...)
	cmd.Env = append(testEnv(t.TempDir()), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("signet run %v did not end within a minute: it waits behind a hung run", args)
	}
	var r runJSON
	if jerr := json.Unmarshal([]byte(out.String()), &r); jerr != nil {
		t.Fatalf("signet run %v: %v (%v)\n%s\n%s", args, err, jerr, out.String(), errb.String())
	}
	return r, errb.String()
}

// startRun starts `signet run ... --json` in the background; wait gives its result.
func startRun(t *testing.T, env []string, args ...string) (wait func() (runJSON, string)) {
	t.Helper()
	type res struct {
		r   runJSON
		err string
	}
	ch := make(chan res, 1)
	go func() {
		r, e := runBounded(t, env, args...)
		ch <- res{r, e}
	}()
	return func() (runJSON, string) {
		x := <-ch
		return x.r, x.err
	}
}

// TestTimeoutFailsAHungRunAndOthersGoOn: a custom module whose forward()
// loops forever fails as timed out under --timeout 2s (its LM call still
// charged), its worker is replaced, and runs of another custom module
// during it and after it complete.
func TestTimeoutFailsAHungRunAndOthersGoOn(t *testing.T) {
	env, ws, said := hangEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	evs, err := api.NewClient(api.SocketPath(ws)).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait := startRun(t, env, "spin", "--lm", "test", "--timeout", "2s", "-i", "question=Where?")
	if got := <-said; got != "spin" {
		t.Fatalf("heard %q, want spin", got)
	}
	// forward() spins on the worker's thread; another custom module runs beside it.
	during, errOut := runBounded(t, env, "custom_qa", "--lm", "test", "-i", "question=Who wrote Hamlet?")
	if during.State != "completed" || during.Outputs["answer"] == nil {
		t.Errorf("custom_qa during the hung run: %+v %s", during, errOut)
	}
	hung, errOut := wait()
	if hung.State != "failed" || hung.ErrorCode != "timeout" || !strings.Contains(hung.Error, "timed out after 2s") || hung.Attempts != 1 {
		t.Errorf("hung run: state %s after %d attempts, error %s %q; want failed at once, timeout, \"timed out after 2s\"\n%s",
			hung.State, hung.Attempts, hung.ErrorCode, hung.Error, errOut)
	}
	if hung.Usage["signet/test"].Calls < 1 {
		t.Errorf("hung run's LM call is not charged: usage %+v", hung.Usage)
	}
	after, errOut := runBounded(t, env, "custom_qa", "--lm", "test", "-i", "question=Who wrote Hamlet?")
	if after.State != "completed" {
		t.Errorf("custom_qa after the hung run: %+v %s", after, errOut)
	}
	// The thread spinning in forward() cannot be stopped: its worker is replaced.
	for ev := range evs {
		if ev.Kind == app.EventPool && len(ev.Pool.Pool) == 1 && ev.Pool.Pool[0].Restarts >= 1 {
			if w := ev.Pool.Pool[0]; !strings.Contains(w.LastError, "did not end within") {
				t.Errorf("the worker was replaced for another reason: %q", w.LastError)
			}
			return
		}
	}
	t.Fatalf("the hung run's worker was never replaced (%v)", ctx.Err())
}

// TestHungImportBlocksOnlyItsOwnFile: while one custom module's file hangs
// in its import on the worker, another custom module loads and runs on the
// same worker at its first attempt; the hung one times out.
func TestHungImportBlocksOnlyItsOwnFile(t *testing.T) {
	env, _, said := hangEnv(t)
	wait := startRun(t, env, "stuck", "--lm", "test", "--timeout", "2s", "-i", "question=Where?")
	if got := <-said; got != "stuck" {
		t.Fatalf("heard %q, want stuck", got)
	}
	during, errOut := runBounded(t, env, "custom_qa", "--lm", "test", "-i", "question=Who wrote Hamlet?")
	if during.State != "completed" || during.Attempts != 1 {
		t.Errorf("custom_qa while stuck.py is being imported: state %s after %d attempts (%s) %s", during.State, during.Attempts, during.Error, errOut)
	}
	stuck, errOut := wait()
	if stuck.State != "failed" || !strings.Contains(stuck.Error, "timed out after 2s") {
		t.Errorf("stuck run: state %s, error %q\n%s", stuck.State, stuck.Error, errOut)
	}
}

// TestWorkersFlagIsBounded: --workers beyond what the machine can hold is
// a usage error naming the flag and the range, before anything starts.
func TestWorkersFlagIsBounded(t *testing.T) {
	env := []string{"SIGNET_HOME=" + filepath.Join(t.TempDir(), "ws"), "SIGNET_CONFIG=" + filepath.Join(t.TempDir(), "none.yaml")}
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	for _, args := range [][]string{
		{"run", "qa", "-i", "question=x", "--workers", "10000"},
		{"run", "qa", "-i", "question=x", "--workers", "-1"},
		{"serve", "--workers", "10000"},
	} {
		lo := "1"
		if args[0] == "serve" {
			lo = "0" // serve --workers 0: none of its own, with a NATS queue
		}
		out, errOut, code := run(t, env, args...)
		if code != 2 || !strings.Contains(errOut, "--workers "+args[len(args)-1]+" is out of range ("+lo+" to ") {
			t.Errorf("signet %v: exit %d, %q %q; want exit 2 naming --workers and its range", args, code, out, errOut)
		}
	}
}
