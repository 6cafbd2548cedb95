package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The workbench end to end: the real binary in a real terminal (tmux),
// driven with send-keys and read with capture-pane. make test sets
// SIGNET_REQUIRE_TMUX so that a machine without tmux fails instead of
// skipping.

// tmuxSeq makes socket and session names unique within this process.
var tmuxSeq atomic.Int64

// tuiTerm is one tmux server (on its own socket, so the tests never touch
// the user's tmux) running one session, and a session that keeps the
// server up when that one ends. The server signals tuiExited when the
// program of a pane exits: waitExit waits on it.
type tuiTerm struct {
	t       *testing.T
	socket  string
	session string
}

// tuiExited is the tmux wait-for channel signalled when the pane's program exits.
const tuiExited = "signet-exited"

// tmuxConf is the server's configuration: say when a pane's program exits.
const tmuxConf = "set-hook -g pane-exited 'wait-for -S " + tuiExited + "'\n"

// requireTmux skips without tmux, or fails when SIGNET_REQUIRE_TMUX is set.
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("SIGNET_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is not installed but SIGNET_REQUIRE_TMUX=1: install tmux (`make tools`)")
		}
		t.Skip("tmux is not installed: the workbench end-to-end tests need it (apt-get install tmux; `make test` installs it)")
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tuiWorkspace makes a demo workspace and a config file with the given body
// ("" = no file), and returns the environment that selects them.
func tuiWorkspace(t *testing.T, configBody string) (env []string, configPath string) {
	t.Helper()
	configPath = filepath.Join(t.TempDir(), "config.yaml")
	env = []string{"SIGNET_HOME=" + filepath.Join(t.TempDir(), "ws"), "SIGNET_CONFIG=" + configPath}
	if out, errOut, code := run(t, env, "demo"); code != 0 {
		t.Fatalf("signet demo: exit %d\n%s%s", code, out, errOut)
	}
	if configBody != "" {
		if err := os.WriteFile(configPath, []byte(configBody), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return env, configPath
}

// startTUI runs shellCmd in a new 100x30 tmux session whose environment is
// env plus a fixed PATH, HOME and TERM. The session is killed at cleanup.
func startTUI(t *testing.T, env []string, shellCmd string) *tuiTerm {
	t.Helper()
	requireTmux(t)
	// A short directory of our own: socket paths are limited to ~100 bytes.
	sockDir, err := os.MkdirTemp("", "sgtmux")
	if err != nil {
		t.Fatal(err)
	}
	tt := &tuiTerm{
		t:       t,
		socket:  filepath.Join(sockDir, "s"),
		session: fmt.Sprintf("signet-e2e-%d-%d", os.Getpid(), tmuxSeq.Add(1)),
	}
	full := append(append(testEnv(t.TempDir()), "TERM=xterm-256color"), env...)
	var prefix strings.Builder
	prefix.WriteString("env")
	for _, kv := range full {
		prefix.WriteString(" " + shellQuote(kv))
	}
	conf := filepath.Join(sockDir, "tmux.conf")
	if err := os.WriteFile(conf, []byte(tmuxConf), 0o600); err != nil {
		t.Fatal(err)
	}
	pane := 0
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", tt.socket, "kill-server").Run()
		_ = os.RemoveAll(sockDir)
		// The hangup ends the workbench; wait for it before the test's
		// directories go (a workspace removed under a closing store hangs it).
		if pane != 0 {
			waitExit(t, pane)
		}
	})
	// cat waits on its terminal for good: the server outlives the session.
	tt.tmux("-f", conf, "new-session", "-d", "-s", tt.session+"-keeper", "cat")
	tt.tmux("new-session", "-d", "-s", tt.session, "-x", "100", "-y", "30", prefix.String()+" "+shellCmd)
	// The pane's process: env, which becomes the command it runs.
	pane, _ = strconv.Atoi(strings.TrimSpace(tt.tmux("display-message", "-p", "-t", tt.session, "#{pane_pid}")))
	return tt
}

// tmux runs a tmux command on this test's server and fails the test on error.
func (tt *tuiTerm) tmux(args ...string) string {
	tt.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tt.socket}, args...)...).CombinedOutput()
	if err != nil {
		tt.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys sends keys by tmux name (Enter, Escape) or literally with -l.
func (tt *tuiTerm) keys(keys ...string) {
	tt.t.Helper()
	tt.tmux(append([]string{"send-keys", "-t", tt.session}, keys...)...)
}

// screen captures the pane; extra flags: -e (colours), -J (join wrapped lines).
func (tt *tuiTerm) screen(flags ...string) string {
	tt.t.Helper()
	args := append([]string{"capture-pane", "-p", "-t", tt.session}, flags...)
	out, err := exec.Command("tmux", append([]string{"-S", tt.socket}, args...)...).CombinedOutput()
	if err != nil {
		return "" // the session may be between states; the caller polls
	}
	return string(out)
}

const tuiDeadline = 15 * time.Second

// waitFor polls the screen until ok accepts it, and fails with the last
// screen after d. A terminal reports no event when its screen changes:
// this poll, bounded by a deadline, is the one wait on it.
func (tt *tuiTerm) waitFor(d time.Duration, what string, ok func(screen string) bool) string {
	tt.t.Helper()
	deadline := time.Now().Add(d)
	var s string
	for {
		s = tt.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("timed out after %s waiting for %s; screen:\n%s", d, what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until the screen contains every one of want.
func (tt *tuiTerm) waitText(want ...string) string {
	tt.t.Helper()
	return tt.waitTextWithin(tuiDeadline, want...)
}

// waitTextWithin is waitText with a deadline of d, for what starts the
// worker pool (Python and DSPy import on first use).
func (tt *tuiTerm) waitTextWithin(d time.Duration, want ...string) string {
	tt.t.Helper()
	return tt.waitFor(d, fmt.Sprintf("%q", want), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// waitExit waits until the program has exited: the server signals it
// (tmuxConf's pane-exited hook).
func (tt *tuiTerm) waitExit() {
	tt.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tuiDeadline)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "tmux", "-S", tt.socket, "wait-for", tuiExited).CombinedOutput(); err != nil {
		tt.t.Fatalf("the program has not exited %s after quitting (%v %s); screen:\n%s", tuiDeadline, err, out, tt.screen())
	}
}

// TestTUIBinaryProgramsFlow drives the Programs page of the real binary:
// list, fuzzy filter, detail, back, the Datasets page and an examples
// table, quit.
func TestTUIBinaryProgramsFlow(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	term := startTUI(t, env, shellQuote(signetBinary(t)))

	term.waitText("Programs", "facts", "qa", "rag", "sentiment", "1–4 of 4")

	term.keys("/")
	term.keys("-l", "sen")
	s := term.waitText("/sen", "sentiment", "1–1 of 1 (4 total)")
	if strings.Contains(s, "facts") {
		t.Errorf("the filter /sen still lists facts:\n%s", s)
	}

	// The first enter accepts the filter, the next opens the selected program.
	term.keys("Enter")
	term.waitFor(tuiDeadline, "the filter to be accepted", func(s string) bool {
		return strings.Contains(s, "/sen") && !strings.Contains(s, "/sen█")
	})
	term.keys("Enter")
	term.waitText("sentiment  v1", "pipeline", "review -> sentiment")

	term.keys("Escape")
	term.waitFor(tuiDeadline, "the list after esc", func(s string) bool {
		return strings.Contains(s, "NAME") && strings.Contains(s, "sentiment") && !strings.Contains(s, "pipeline")
	})

	// The Datasets page lists the demo datasets (by name: corpus, qa,
	// rag-questions, sentiment); enter on the second opens qa's examples.
	term.keys("2")
	term.waitText("NAME", "EXAMPLES", "INPUTS", "corpus", "qa", "rag-questions", "sentiment", "1–4 of 4")
	term.keys("g", "j", "Enter")
	term.waitText("qa  ", "inputs question", "SPLIT", "QUESTION", "What is the capital of France?")
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the dataset list after esc", func(s string) bool {
		return strings.Contains(s, "sentiment") && !strings.Contains(s, "QUESTION")
	})

	term.keys("q")
	term.waitExit()
}

// TestTUIBinaryLightTheme starts the workbench with theme: light, checks
// that the light palette is what it draws, and quits.
func TestTUIBinaryLightTheme(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "theme: light\n")
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "facts", "sentiment")
	// The selected row's background is the light theme's selection colour
	// (#d4dcf0; 189 in the 256 colours of TERM=xterm-256color), not the
	// dark theme's (#3b3f5c, 238).
	colored := term.screen("-e")
	if !strings.Contains(colored, "48;5;189m") && !strings.Contains(colored, "48;2;212;220;240m") {
		t.Errorf("theme: light, but the selection is not drawn in the light palette:\n%q", colored)
	}
	term.keys("q")
	term.waitExit()
}

// TestTUIBinaryBadLook: a bad theme or key override in the config is an
// error naming the config file before the workbench starts.
func TestTUIBinaryBadLook(t *testing.T) {
	requireTmux(t)
	tests := []struct {
		name   string
		config string
		files  map[string]string // written next to the config file
		want   []string
	}{
		{name: "unknown theme", config: "theme: solarized\n", want: []string{`theme: "solarized" is neither a built-in theme`}},
		{name: "broken theme file", config: "theme: mine.yaml\n", files: map[string]string{"mine.yaml": "extends: dark\naccent: red\n"},
			want: []string{"theme:", "mine.yaml", "accent"}},
		{name: "unknown key action", config: "keys:\n  frobnicate: [x]\n", want: []string{`keys: unknown action "frobnicate"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, cfg := tuiWorkspace(t, tc.config)
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// The shell stays after signet exits, waiting on the terminal, so
			// the pane keeps its output.
			term := startTUI(t, env, shellQuote("sh")+" -c "+shellQuote(shellQuote(signetBinary(t))+`; echo "EXIT=$?"; read line`))
			term.waitText("EXIT=")
			// The error is longer than the pane is wide: join wrapped lines.
			s := term.screen("-J")
			for _, w := range append([]string{cfg + ":", "EXIT=1"}, tc.want...) {
				if !strings.Contains(s, w) {
					t.Errorf("output lacks %q:\n%s", w, s)
				}
			}
			if strings.Contains(s, "NAME") {
				t.Errorf("the workbench started despite the bad config:\n%s", s)
			}
		})
	}
}

// TestTUIBinaryAttachedDatasets browses datasets with the workbench
// attached to another owner (`signet serve`), through the owner's API.
func TestTUIBinaryAttachedDatasets(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	ws := strings.TrimPrefix(env[0], "SIGNET_HOME=")
	serve, serveOut := start(t, append(pythonEnv(t), env...), "serve")
	defer serve.Process.Kill()
	waitOwner(t, ws, true)

	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "qa", "sentiment")
	term.keys("2")
	term.waitText("EXAMPLES", "qa", "sentiment", "1–4 of 4")
	term.keys("G", "Enter") // the last: sentiment
	term.waitText("sentiment  ", "inputs review", "REVIEW", "SENTIMENT")
	// Escape on its own: followed at once by g, a terminal reads alt+g.
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the dataset list after esc", func(s string) bool {
		return strings.Contains(s, "EXAMPLES") && !strings.Contains(s, "REVIEW")
	})
	term.keys("g", "j", "Enter") // the second: qa, after corpus
	term.waitText("qa  ", "What is the capital of France?", "Paris")
	term.keys("q")
	term.waitExit()
	stopServe(t, serve, serveOut, ws)
}

// TestTUIBinaryEditExample browses a dataset in the real binary, opens an
// example, edits a field, saves, sees it changed, and finds the change in
// the store afterwards (`signet dataset show`).
func TestTUIBinaryEditExample(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("1 Programs", "2 Datasets")

	term.keys("2")
	term.waitText("EXAMPLES", "qa", "sentiment", "1–4 of 4")
	term.keys("g", "j", "Enter") // the second: qa, after corpus
	term.waitText("qa  ", "QUESTION", "What is the capital of France?")
	term.keys("Enter")
	term.waitText("question (input)", "What is the capital of France?", "answer")

	term.keys("i")
	term.waitText("edit example", "ctrl+s save")
	term.keys("Tab", "C-e")
	for range 30 {
		term.keys("BSpace")
	}
	term.keys("-l", "Paris, on the Seine")
	term.waitText("│ Paris, on the Seine")
	term.keys("C-s")
	s := term.waitText("saved example", "Paris, on the Seine")
	if strings.Contains(s, "ctrl+s save") {
		t.Errorf("the form is still open after saving:\n%s", s)
	}
	// Back in the table, the row shows the new answer.
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the table with the edited row", func(s string) bool {
		return strings.Contains(s, "QUESTION") && strings.Contains(s, "Paris, on the Seine")
	})
	term.keys("q")
	term.waitExit()

	out, errOut, code := run(t, env, "dataset", "show", "qa", "--json")
	if code != 0 {
		t.Fatalf("dataset show: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, `"answer": "Paris, on the Seine"`) && !strings.Contains(out, `"answer":"Paris, on the Seine"`) {
		t.Errorf("the edit is not in the store:\n%s", out)
	}
}

// TestTUIBinaryEditProgram is issue 6's flow on the real binary: open,
// filter, open a program, edit an instruction in place, save, see version
// 2 in the history, diff it against version 1, edit again in $EDITOR
// (a script standing in for the user), quit. The workbench is the owner
// here, so its writes go through its own API socket.
func TestTUIBinaryEditProgram(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	editor := filepath.Join(t.TempDir(), "editor.sh")
	script := "#!/bin/sh\nsed -i 's/^instructions: .*/instructions: Edited in the editor./' \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env = append(env, "VISUAL=", "EDITOR="+editor)
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "facts", "qa", "sentiment", "LAST RUN", "MONTH COST", "never")

	term.keys("/")
	term.keys("-l", "qa")
	term.waitText("/qa", "1–1 of 1 (4 total)")
	term.keys("Enter")
	term.waitFor(tuiDeadline, "the filter to be accepted", func(s string) bool {
		return strings.Contains(s, "/qa") && !strings.Contains(s, "/qa█")
	})
	term.keys("Enter")
	term.waitText("qa  v1", "pipeline", "▸ 1. answer", "question -> answer")

	// Edit in place: i, tab to the instructions (cursor at their start), type, save.
	term.keys("i")
	term.waitText("Edit qa", "Signature", "Instructions", "ctrl+s save")
	term.keys("Tab")
	term.keys("-l", "Be brief. ")
	term.waitText("Be brief. Answer the question", "modified")
	term.keys("C-s")
	term.waitText("saved qa v2", "qa  v2", "Be brief. Answer the question")

	// The history lists version 2; D diffs it against version 1.
	term.keys("v")
	term.waitText("history", "2 versions", "v2", "v1")
	term.keys("D")
	s := term.waitText("v1 → v2", "modules.answer.instructions", "+ Be brief. Answer the question")
	if !strings.Contains(s, "- Answer the question") {
		t.Errorf("the diff lacks the old instruction:\n%s", s)
	}
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the history after esc", func(s string) bool {
		return strings.Contains(s, "2 versions") && !strings.Contains(s, "v1 → v2")
	})
	term.keys("Escape")
	term.waitText("qa  v2", "pipeline")

	// $EDITOR: the script rewrites the instruction; the TUI comes back and saves v3.
	term.keys("e")
	term.waitText("saved qa v3", "qa  v3", "Edited in the editor.")

	term.keys("q")
	term.waitExit()
	// The versions are in the store: the CLI sees them.
	out, errOut, code := run(t, env, "program", "versions", "qa", "--json")
	var versions []struct {
		Version int `json:"version"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &versions) != nil || len(versions) != 3 || versions[2].Version != 3 {
		t.Errorf("program versions qa: exit %d, want versions 1 to 3\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, env, "program", "show", "qa", "--json")
	if code != 0 || !strings.Contains(out, "Edited in the editor.") {
		t.Errorf("program show qa: exit %d, want the edit of v3\n%s%s", code, out, errOut)
	}
}

// TestTUIBinaryLiveExecutions is issue 9's check with the real binary: the
// workbench is open (and owns the workspace) in one terminal; `signet run`
// in another completes, prints its outputs, and shows up live on the
// Executions page; the Workers page shows the pool; then the workbench is
// killed with kill -9, and `signet exec list` takes over the workspace and
// lists every execution.
func TestTUIBinaryLiveExecutions(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	env = append(pythonEnv(t), env...)
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "qa", "sentiment")
	term.keys("3")
	term.waitText("Executions", "all states · live", "No executions yet")

	var ids []string
	for _, q := range []string{"What is the capital of France?", "Who wrote Hamlet?"} {
		out, errOut, code := run(t, env, "run", "qa", "--lm", "test", "--input", "question="+q)
		if code != 0 || !strings.Contains(out, "answer:") || !strings.Contains(out, "completed") {
			t.Fatalf("signet run: exit %d\n%s%s", code, out, errOut)
		}
		_, after, ok := strings.Cut(out, "(execution ")
		id, _, ok2 := strings.Cut(after, ")")
		if !ok || !ok2 {
			t.Fatalf("no execution id in the run's output:\n%s", out)
		}
		ids = append(ids, id)
		// The run has ended when it returns: the TUI shows it completed.
		term.waitFor(tuiDeadline, fmt.Sprintf("%d completed executions", len(ids)), func(s string) bool {
			return strings.Count(s, "completed") == len(ids) && strings.Contains(s, fmt.Sprintf("1–%d of %d", len(ids), len(ids)))
		})
	}
	term.waitText("pool", "1/1 ready")
	// The Workers page shows the pool the runs started.
	term.keys("5")
	term.waitText("Workers", "engine running", "PID", "ready")

	// kill -9 the workbench, the owner.
	pid, err := strconv.Atoi(strings.TrimSpace(term.tmux("display-message", "-p", "-t", term.session, "#{pane_pid}")))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	term.waitExit()
	out, errOut, code := run(t, env, "exec", "list")
	if code != 0 {
		t.Fatalf("exec list after kill -9 of the workbench: exit %d\n%s%s", code, out, errOut)
	}
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Errorf("exec list lacks %s:\n%s", id, out)
		}
	}
	if n := strings.Count(out, "completed"); n != len(ids) {
		t.Errorf("%d completed executions listed, want %d:\n%s", n, len(ids), out)
	}
}

// TestTUIBinaryRunIterate (issue 7): run the demo qa program with the test
// LM from the workbench, step through its LM calls, edit the module's
// instruction to "Answer in uppercase.", re-run the same inputs, see the
// side-by-side difference, and save the variant as version 2.
func TestTUIBinaryRunIterate(t *testing.T) {
	requireTmux(t)
	py := pythonEnv(t)
	env, _ := tuiWorkspace(t, "lm: test\n")
	env = append(env, py...)
	bin := signetBinary(t)
	term := startTUI(t, env, shellQuote(bin))
	term.waitText("Programs", "facts", "qa", "sentiment")

	term.keys("/")
	term.keys("-l", "qa")
	term.waitText("/qa")
	term.keys("Enter")
	term.waitFor(tuiDeadline, "the filter to be accepted", func(s string) bool { return !strings.Contains(s, "/qa█") })
	term.keys("r")
	term.waitText("Run qa", "question")
	term.keys("-l", "What is the capital of France?")
	term.keys("Enter")

	// The trace: live, then completed with its LM call.
	s := term.waitTextWithin(90*time.Second, "Trace qa v1", "completed", "signet/test")
	if !strings.Contains(s, "Predict") {
		t.Errorf("the trace has no module span:\n%s", s)
	}
	term.keys("n")
	term.waitText("λ lm signet/test", "[system]", "tokens")
	term.keys("p", "n") // back and forth among the LM calls
	term.waitText("λ lm signet/test")

	// Iterate on the module: replace its instruction and re-run.
	term.keys("i")
	term.waitText("Iterate qa", "module answer", "#0")
	term.waitTextWithin(30*time.Second, "#0 ✓ original")
	term.keys("i")
	term.waitText("Editing instructions")
	term.keys("C-u")
	term.keys("-l", "Answer in uppercase.")
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the editor to close", func(s string) bool { return !strings.Contains(s, "Editing instructions") })
	term.keys("r")
	s = term.waitTextWithin(60*time.Second, "#1 vs #0", "#1 ✓", "FRANCE")
	if !strings.Contains(s, "answer: France") {
		t.Errorf("the old output is not beside the new one:\n%s", s)
	}
	// The changed words are drawn in the diff's colours: a style starts
	// right before each of them.
	colored := term.screen("-e")
	for _, changed := range []string{"FRANCE", "France"} {
		if !regexp.MustCompile(`\x1b\[[0-9;]*m` + changed).MatchString(colored) {
			t.Errorf("%s is not highlighted in the side-by-side:\n%q", changed, colored)
		}
	}

	term.keys("C-s")
	term.waitText("saved qa v2")

	// The render preview: the module's prompt for these inputs, no LM call.
	term.keys("w")
	// The demo qa's demos come first: page down to the question itself.
	term.waitTextWithin(30*time.Second, "Render preview qa", "no LM called", "[system]", "demo 1")
	for i := 0; !strings.Contains(term.screen(), "What is the capital of France?"); i++ {
		if i == 6 {
			t.Fatalf("the render preview never shows the question:\n%s", term.screen())
		}
		before := term.screen()
		term.keys("NPage")
		term.waitFor(tuiDeadline, "the preview to scroll", func(s string) bool { return s != before })
	}
	term.keys("Escape")
	term.waitText("Iterate qa")
	term.keys("Escape")
	term.waitText("Trace qa v1")
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the Programs page", func(s string) bool { return strings.Contains(s, "NAME") && !strings.Contains(s, "Trace qa") })
	term.keys("q")
	term.waitExit()

	out, errOut, code := run(t, env, "program", "show", "qa", "--version", "2", "--json")
	if code != 0 || !strings.Contains(out, "Answer in uppercase.") {
		t.Errorf("qa after saving: exit %d\n%s%s", code, out, errOut)
	}
}
