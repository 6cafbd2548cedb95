package model

import (
	"fmt"
	"strings"
	"testing"
)

func TestWordDiff(t *testing.T) {
	ops := WordDiff("answer: France is nice", "answer: FRANCE is nice")
	var got []string
	for _, op := range ops {
		got = append(got, fmt.Sprintf("%d%q", op.Kind, op.Text))
	}
	want := `0"answer:" 0" " 1"France" 2"FRANCE" 0" " 0"is" 0" " 0"nice"`
	if strings.Join(got, " ") != want {
		t.Fatalf("diff:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// An LCS, not only prefix/suffix: two separate changes.
	ops = WordDiff("a b c d e", "a X c d Y")
	var del, add []string
	for _, op := range ops {
		switch op.Kind {
		case WordDel:
			del = append(del, op.Text)
		case WordAdd:
			add = append(add, op.Text)
		}
	}
	if strings.Join(del, ",") != "b,e" || strings.Join(add, ",") != "X,Y" {
		t.Fatalf("del %v add %v", del, add)
	}
}

func TestWordDiffMarked(t *testing.T) {
	del := func(s string) string { return "[-" + s + "-]" }
	add := func(s string) string { return "{+" + s + "+}" }
	for _, tt := range []struct{ a, b, want string }{
		{"", "Answer briefly.", "{+Answer briefly.+}"},
		{"Answer the question.", "Answer the question in one word.", "Answer the [-question.-] {+question in one word.+}"},
		{"a b c", "a c", "a [-b-] c"},
		{"same", "same", "same"},
		{"a  b\n c", "a b c", "a b c"},
	} {
		if got := WordDiffMarked(tt.a, tt.b, del, add); got != tt.want {
			t.Errorf("WordDiffMarked(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
