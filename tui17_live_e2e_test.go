package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// ownerPID is the pid of the workspace's owner, 0 with none running.
func ownerPID(t *testing.T, env []string) int {
	t.Helper()
	out, errOut, code := run(t, env, "status", "--json")
	if code != 0 {
		t.Fatalf("signet status: exit %d\n%s%s", code, out, errOut)
	}
	var st struct {
		Running bool `json:"running"`
		PID     int  `json:"pid"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("signet status --json: %v\n%s", err, out)
	}
	if !st.Running {
		return 0
	}
	return st.PID
}

func (tt *tuiTerm) pid() int {
	tt.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(tt.tmux("display-message", "-p", "-t", tt.session, "#{pane_pid}")))
	if err != nil {
		tt.t.Fatal(err)
	}
	return pid
}

// TestTUIBinaryClientTakesOver (issue 17 item 7): a workbench that is a
// client of another workbench takes the workspace over when that one
// quits, on the same page with the same selection, and serves the CLI.
func TestTUIBinaryClientTakesOver(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	first := startTUI(t, env, shellQuote(signetBinary(t)))
	first.waitText("Programs", "qa", "sentiment")
	if got, want := ownerPID(t, env), first.pid(); got != want {
		t.Fatalf("the owner is pid %d, want the first workbench %d", got, want)
	}
	second := startTUI(t, env, shellQuote(signetBinary(t)))
	second.waitText("Programs", "qa", "sentiment")
	second.keys("2")
	second.waitText("NAME", "EXAMPLES", "qa")
	second.keys("G")
	selected := second.waitFor(tuiDeadline, "the last dataset selected", func(s string) bool {
		return strings.HasPrefix(strings.TrimSpace(lineWith(s, "▌")), "▌sentiment")
	})
	selLine := strings.Join(strings.Fields(lineWith(selected, "▌")), " ")

	first.keys("q")
	first.waitExit()
	// The second takes over: the CLI finds it as the owner...
	second.waitFor(tuiDeadline, "the second workbench to own the workspace", func(string) bool {
		return ownerPID(t, env) == second.pid()
	})
	// ... where it was, with the same row selected, and its pool line back.
	s := second.waitText("Datasets", "pool")
	if got := strings.Join(strings.Fields(lineWith(s, "▌")), " "); got != selLine {
		t.Fatalf("the selection moved: %q, was %q\n%s", got, selLine, s)
	}
	if strings.Contains(s, "owner unreachable") {
		t.Fatalf("the status bar says the owner is unreachable after the takeover:\n%s", s)
	}
	// And it serves: a dataset the CLI imports shows on its page.
	out, errOut, code := run(t, env, "dataset", "import", "examples/qa.jsonl", "--name", "taken")
	if code != 0 {
		t.Fatalf("signet dataset import under the new owner: exit %d\n%s%s", code, out, errOut)
	}
	second.waitText("taken")
	second.keys("q")
	second.waitExit()
}

// lineWith is the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestTUIBinaryFailedRunError (issue 17 item 6): a run that failed (the
// test LM's simulated provider outage) opens on its whole error and Python
// traceback; y copies them.
func TestTUIBinaryFailedRunError(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "profiles:\n  outage: {model: signet/test, kwargs: {fail_on: \"question\"}}\n")
	env = append(pythonEnv(t), env...)
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "qa")
	out, errOut, code := run(t, env, "run", "qa", "--lm", "outage", "--input", "question=What is the capital of France?")
	if code == 0 {
		t.Fatalf("the outage run succeeded:\n%s%s", out, errOut)
	}
	term.keys("3")
	term.waitTextWithin(2*tuiDeadline, "failed")
	term.keys("Enter")
	s := term.waitTextWithin(tuiDeadline, "Failed run", "error lm_unavailable", "Python traceback", "Traceback (most recent call last)")
	if !strings.Contains(strings.Join(strings.Fields(s), " "), "simulated provider outage") {
		t.Fatalf("the error is not shown whole:\n%s", s)
	}
	term.keys("y")
	term.waitText("copied Failed run")
	term.keys("Escape")
	term.waitText("SPANS")
	term.keys("q")
	term.waitExit()
}
