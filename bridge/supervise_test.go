package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFailureCountBacksOffThenGivesUp(t *testing.T) {
	var f failureCount
	base := 100 * time.Millisecond
	for i := range maxFailures {
		d := f.next(base)
		want := base << i
		if d < want*3/4 || d > want*5/4 {
			t.Fatalf("failure %d: delay %v, want %v ±25%%", i+1, d, want)
		}
	}
	if d := f.next(base); d != -1 {
		t.Fatalf("failure %d: delay %v, want -1 (give up)", maxFailures+1, d)
	}
	// A failure long after the last ones starts nearly afresh.
	f.at = time.Now().Add(-10 * failureDecay)
	if d := f.next(base); d < 0 || d > base*2 {
		t.Fatalf("after a long quiet: delay %v", d)
	}
}

func TestLineTailKeepsTheLastLines(t *testing.T) {
	var tl lineTail
	if tl.last(5) != "" {
		t.Fatal("an empty tail is not empty")
	}
	for i := range stderrTail + 3 {
		tl.add(fmt.Sprint("line ", i))
	}
	tl.add(strings.Repeat("x", 600))
	lines := strings.Split(tl.last(stderrTail+10), "\n")
	if len(lines) != stderrTail || lines[0] != "line 4" || !strings.HasSuffix(lines[len(lines)-1], "...") || len(lines[len(lines)-1]) != 503 {
		t.Fatalf("tail: %d lines, first %q, last %d bytes", len(lines), lines[0], len(lines[len(lines)-1]))
	}
	if got := tl.last(2); got != "line "+fmt.Sprint(stderrTail+2)+"\n"+strings.Repeat("x", 500)+"..." {
		t.Fatalf("last(2) = %q", got)
	}
}
