package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
		term.keys("g", "j") // qa, the second dataset, after the demo's corpus
	}
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

// ragProgram is a program whose one module searches the index "qa" (built
// over the qa dataset's questions): no code of the user's, no LM call.
const ragProgram = `name: lookup
modules:
  - name: search
    type: retrieve
    signature: "question -> passages: list[str]"
    retriever: {index: qa, k: 2}
`

// TestTUIBinaryRetrievalTrace (issue 18 item 5): a run of a retrieve
// module over an index the workbench built shows, in the real binary's
// trace, its retrieval span: index, search and k in the tree; the query
// and the ranked passages with ids and scores in the detail.
func TestTUIBinaryRetrievalTrace(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	env = append(pythonEnv(t), env...)
	file := filepath.Join(t.TempDir(), "lookup.yaml")
	if err := os.WriteFile(file, []byte(ragProgram), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, env, "program", "create", "-f", file); code != 0 {
		t.Fatalf("program create: exit %d\n%s%s", code, out, errOut)
	}
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "lookup")
	term.keys("2")
	term.waitText("NAME", "EXAMPLES", "qa")
	term.keys("g", "j", "b") // qa, after the demo's corpus
	term.waitText("Build an index over qa")
	term.keys("C-s")
	term.waitTextWithin(4*tuiDeadline, "Indexes over qa (1)", "built index qa:")

	q := "What is the capital of France?"
	out, errOut, code := run(t, env, "run", "lookup", "--lm", "test", "--json", "--input", "question="+q)
	if code != 0 {
		t.Fatalf("signet run lookup: exit %d\n%s%s", code, out, errOut)
	}
	var res struct {
		ID      string `json:"id"`
		Outputs struct {
			Passages []string `json:"passages"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Outputs.Passages) != 2 {
		t.Fatalf("signet run --json: %v\n%s", err, out)
	}
	term.keys("3")
	term.waitText("lookup", "completed")
	term.keys("Enter")
	term.waitText("SPANS", "⌕ qa")
	// The root, the module, then its search.
	term.keys("j", "j")
	s := term.waitText("⌕ retrieval qa", "── query", q, "── passages (2)", "#1 ", "#2 ")
	if !strings.Contains(lineWith(s, "⌕ qa"), "bm25 k2") {
		t.Errorf("the tree row does not show the search and k:\n%s", s)
	}
	var detail []string // the pane right of the tree, its wrapped lines joined
	for _, l := range strings.Split(s, "\n") {
		if _, r, ok := strings.Cut(l, "│"); ok {
			detail = append(detail, r)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(strings.Join(detail, " ")), " "), "index qa · search bm25 · k 2") {
		t.Errorf("the detail does not show the index, search and k:\n%s", s)
	}
	// The first passage is the run's first output, under its rank and score.
	first := lineWith(s, "#1 ")
	if !strings.Contains(first, "score ") {
		t.Errorf("no score on the first passage: %q\n%s", first, s)
	}
	if w := strings.Fields(res.Outputs.Passages[0]); len(w) > 0 && !strings.Contains(s, w[0]) {
		t.Errorf("the first passage %q is not in the detail:\n%s", res.Outputs.Passages[0], s)
	}
	term.keys("q")
	term.waitExit()
}
