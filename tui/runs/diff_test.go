package runs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/themes"
)

func TestWordDiff(t *testing.T) {
	ops := wordDiff("answer: France is nice", "answer: FRANCE is nice")
	var got []string
	for _, op := range ops {
		got = append(got, fmt.Sprintf("%d%q", op.kind, op.text))
	}
	want := `0"answer:" 0" " 1"France" 2"FRANCE" 0" " 0"is" 0" " 0"nice"`
	if strings.Join(got, " ") != want {
		t.Fatalf("diff:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// An LCS, not only prefix/suffix: two separate changes.
	ops = wordDiff("a b c d e", "a X c d Y")
	var del, add []string
	for _, op := range ops {
		switch op.kind {
		case diffDel:
			del = append(del, op.text)
		case diffAdd:
			add = append(add, op.text)
		}
	}
	if strings.Join(del, ",") != "b,e" || strings.Join(add, ",") != "X,Y" {
		t.Fatalf("del %v add %v", del, add)
	}
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	s := themes.New(p)
	ops = wordDiff("answer: France", "answer: FRANCE")
	right := renderDiff(s, ops, diffAdd, 40)
	left := renderDiff(s, ops, diffDel, 40)
	if !strings.Contains(right, s.DiffAdd.Render("FRANCE")) || strings.Contains(right, "France") {
		t.Errorf("new side: %q", right)
	}
	if !strings.Contains(left, s.DiffDel.Render("France")) || strings.Contains(left, "FRANCE") {
		t.Errorf("old side: %q", left)
	}
	if strings.Contains(left, s.DiffDel.Render("answer:")) {
		t.Error("an unchanged word is highlighted")
	}
}
