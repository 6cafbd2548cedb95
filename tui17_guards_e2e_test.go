package main

import (
	"strings"
	"testing"
)

// Issue 17's guards on the real binary in tmux: an edited example is not
// lost to esc or ctrl+c, and the palette acts on what was typed however
// fast.

// openExampleEditor opens the workbench on a demo workspace, the qa
// dataset's first example in its form, "zzz" typed into its question.
func openExampleEditor(t *testing.T) (*tuiTerm, []string) {
	t.Helper()
	env, _ := tuiWorkspace(t, "")
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("1 Programs", "2 Datasets")
	term.keys("2")
	term.waitText("EXAMPLES", "qa", "sentiment")
	term.keys("g", "j", "Enter") // the second: qa, after corpus
	term.waitText("QUESTION", "What is the capital of France?")
	term.keys("Enter")
	term.waitText("question (input)", "What is the capital of France?")
	term.keys("i")
	term.waitText("edit example", "ctrl+s save")
	term.keys("-l", "zzz")
	term.waitText("zzzWhat is the capital of France?")
	return term, env
}

// storedQA is the qa dataset as `signet dataset show` prints it.
func storedQA(t *testing.T, env []string) string {
	t.Helper()
	out, errOut, code := run(t, env, "dataset", "show", "qa", "--json")
	if code != 0 {
		t.Fatalf("dataset show: exit %d\n%s", code, errOut)
	}
	return out
}

func TestTUIBinaryEditExampleEscAsks(t *testing.T) {
	term, env := openExampleEditor(t)
	term.keys("Escape")
	term.waitText("Unsaved changes in example", "s save", "d discard", "esc keep editing")
	// Keep editing: the form, the text intact.
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the form as it was", func(s string) bool {
		return strings.Contains(s, "zzzWhat is the capital of France?") && strings.Contains(s, "ctrl+s save") &&
			!strings.Contains(s, "Unsaved changes")
	})
	// Discard: back on the example, unchanged.
	term.keys("Escape")
	term.waitText("Unsaved changes in example")
	term.keys("d")
	term.waitFor(tuiDeadline, "the example pane, unchanged", func(s string) bool {
		return strings.Contains(s, "question (input)") && strings.Contains(s, "What is the capital of France?") &&
			!strings.Contains(s, "zzz") && !strings.Contains(s, "edit example")
	})
	term.keys("q")
	term.waitExit()
	if out := storedQA(t, env); strings.Contains(out, "zzz") {
		t.Errorf("a discarded edit reached the store:\n%s", out)
	}
}

// ctrl+c with the edit open asks too; s saves it, then the workbench quits.
func TestTUIBinaryCtrlCSavesFirst(t *testing.T) {
	term, env := openExampleEditor(t)
	term.keys("C-c")
	term.waitText("Unsaved changes in example", "ctrl+c again quits without saving")
	term.keys("s")
	term.waitExit()
	if out := storedQA(t, env); !strings.Contains(out, "zzzWhat is the capital of France?") {
		t.Errorf("the edit saved on the way out is not in the store:\n%s", out)
	}
}

// `:theme light` typed in one burst, enter with it: the light theme.
func TestTUIBinaryPaletteThemeTypedFast(t *testing.T) {
	env, _ := tuiWorkspace(t, "")
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "facts", "sentiment")
	// One send-keys: the keys reach the workbench as one write.
	term.keys(":", "t", "h", "e", "m", "e", "Space", "l", "i", "g", "h", "t", "Enter")
	// "theme light" is also the palette's query: wait for the palette to
	// close on the notice, or a slow machine is read before enter lands.
	term.waitFor(tuiDeadline, "the palette closed on the theme's notice", func(s string) bool {
		return strings.Contains(s, "theme light") && !strings.Contains(s, "Commands")
	})
	// The selected row's background is the light theme's selection colour
	// (#d4dcf0; 189 in 256 colours), as TestTUIBinaryLightTheme reads it.
	colored := term.screen("-e")
	if !strings.Contains(colored, "48;5;189m") && !strings.Contains(colored, "48;2;212;220;240m") {
		t.Errorf("`:theme light` + enter typed fast: the selection is not in the light palette:\n%q", colored)
	}
	term.keys("q")
	term.waitExit()
}
