package tui_test

import (
	"strings"
	"testing"

	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestFooterShowsKeysOfFocus: the footer line is the keys of what has the
// keyboard: the page's list, then an open dialog's own.
func TestFooterShowsKeysOfFocus(t *testing.T) {
	m := tuitest.Sample(t, 160, 30)
	footer := func() string { return tuitest.LastLines(tuitest.Screen(m), 1) }
	if f := footer(); !strings.HasPrefix(f, "? help") || !strings.Contains(f, "n new program from a template") {
		t.Fatalf("the Programs list's footer: %q", f)
	}
	m = tuitest.Send(t, m, tuitest.Key("2"))
	if f := footer(); strings.Contains(f, "new program") || !strings.Contains(f, "I import") {
		t.Fatalf("the Datasets page's footer: %q", f)
	}
	m = tuitest.Send(t, m, tuitest.Key("o"))
	if f := footer(); !strings.Contains(f, "y copy all") || strings.Contains(f, "I import") {
		t.Fatalf("an open row's footer: %q", f)
	}
}
