package layout

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestFit(t *testing.T) {
	got := Fit("a long line\nb", 6, 3)
	want := "a lon…\nb     \n      "
	if got != want {
		t.Errorf("Fit = %q, want %q", got, want)
	}
	if got := Fit("1\n2\n3", 1, 2); got != "1\n2" {
		t.Errorf("extra lines kept: %q", got)
	}
}

func TestOverlayKeepsWhatIsAroundTheBox(t *testing.T) {
	below := "top\nrow1\nrow2\nrow3\nend"
	got := strings.Split(Overlay(below, "[x]", 9, 5), "\n")
	if got[0] != "top      " || got[4] != "end      " || got[2] != "   [x]   " {
		t.Errorf("overlay:\n%s", strings.Join(got, "\n"))
	}
	for i, l := range got {
		if w := ansi.StringWidth(l); w != 9 {
			t.Errorf("line %d is %d wide", i, w)
		}
	}
}

func TestReplaceLine(t *testing.T) {
	for _, c := range []struct {
		i    int
		want string
	}{{0, "x\nb\nc"}, {-1, "a\nb\nx"}, {1, "a\nx\nc"}, {3, "a\nb\nc"}, {-4, "a\nb\nc"}} {
		if got := ReplaceLine("a\nb\nc", "x", c.i); got != c.want {
			t.Errorf("ReplaceLine(%d) = %q, want %q", c.i, got, c.want)
		}
	}
}

func TestTextHelpers(t *testing.T) {
	if got := Truncate("abcdef", 4); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate("abc", 4); got != "abc" {
		t.Errorf("Truncate of a short string = %q", got)
	}
	if got := PadRight("ab", 4); got != "ab  " {
		t.Errorf("PadRight = %q", got)
	}
	if got := WrapLines("  ", 20); len(got) != 1 || got[0] != "(none)" {
		t.Errorf("WrapLines of nothing = %q", got)
	}
	if got := WrapLines("a\x1b[2Jb\nc", 20); len(got) != 2 || got[0] != `a\x1b[2Jb` {
		t.Errorf("WrapLines of a line with an escape sequence = %q", got)
	}
	if Spinner(0) == Spinner(1) || Spinner(10) != Spinner(0) || Spinner(-1) != Spinner(9) {
		t.Error("the spinner does not cycle through its frames")
	}
}
