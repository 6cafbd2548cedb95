package cmd

import (
	"strings"
	"testing"
)

// A cell holding control characters is escaped before the table measures
// it, so its columns still line up (the escaped form is what is printed).
func TestTableAlignsEscapedCells(t *testing.T) {
	var b strings.Builder
	tb := newTable(&b, "question", "answer")
	tb.row("hi \x1b[2J there", "x")
	tb.row("plain question", "y")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%q", b.String())
	}
	if strings.ContainsRune(b.String(), 0x1b) {
		t.Errorf("a raw escape reached the output: %q", b.String())
	}
	col := strings.Index(lines[0], "ANSWER")
	for _, l := range lines[1:] {
		if len(l) <= col || (l[col] != 'x' && l[col] != 'y') {
			t.Errorf("the answer column does not start at %d in %q", col, l)
		}
	}
}
