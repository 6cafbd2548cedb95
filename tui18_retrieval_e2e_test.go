package main

import (
	"strings"
	"testing"
)

// TestTUIBinaryIndexBuildAndDelete (issue 18 items 1 and 5): on the
// Datasets page of the real binary, b builds a BM25 index over the
// selected dataset with a real worker; the index shows under the list,
// and a second workbench (a client of the first) sees it appear through
// the owner's index events; B deletes it, asked first, and the second
// sees it go.
func TestTUIBinaryIndexBuildAndDelete(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	env = append(pythonEnv(t), env...)
	owner := startTUI(t, env, shellQuote(signetBinary(t)))
	owner.waitText("Programs", "qa")
	client := startTUI(t, env, shellQuote(signetBinary(t)))
	client.waitText("Programs", "qa")
	for _, term := range []*tuiTerm{owner, client} {
		term.keys("2")
		term.waitText("NAME", "EXAMPLES", "qa")
	}
	// qa is the first dataset: the cursor is on it.
	owner.keys("b")
	owner.waitText("Build an index over qa", "‹ question", "‹ bm25")
	owner.keys("C-s")
	s := owner.waitTextWithin(4*tuiDeadline, "Indexes over qa (1)", "built index qa:", "passages/s")
	_, section, _ := strings.Cut(s, "Indexes over qa")
	var row []string
	for _, l := range strings.Split(section, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "qa" {
			row = f
		}
	}
	// qa question bm25 - PASSAGES SIZE UNIT Ns ago
	if len(row) != 9 || row[1] != "question" || row[2] != "bm25" || row[3] != "-" || row[4] == "0" || row[8] != "ago" {
		t.Fatalf("the index's row: %q\n%s", row, s)
	}
	// The client follows the owner's event stream.
	client.waitText("Indexes over qa (1)", "question", "bm25")

	owner.keys("B")
	owner.waitText("Delete index qa?", "dataset qa stays")
	owner.keys("y")
	// The last index gone, the section goes with it (a workspace without
	// indexes keeps the page as it was).
	if s := owner.waitText("deleted index qa"); strings.Contains(s, "Indexes over") {
		t.Fatalf("the deleted index is still shown:\n%s", s)
	}
	client.waitFor(tuiDeadline, "the index gone from the client", func(s string) bool {
		return strings.Contains(s, "sentiment") && !strings.Contains(s, "Indexes over")
	})
	for _, term := range []*tuiTerm{client, owner} {
		term.keys("q")
		term.waitExit()
	}
}
