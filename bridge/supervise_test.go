package bridge

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestFailureCountBacksOffThenGivesUp(t *testing.T) {
	var f failureCount
	base := 100 * time.Millisecond
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxFailures {
		d := f.next(now, base)
		want := base << i
		if d < want*3/4 || d > want*5/4 {
			t.Fatalf("failure %d: delay %v, want %v ±25%%", i+1, d, want)
		}
	}
	if d := f.next(now, base); d != -1 {
		t.Fatalf("failure %d: delay %v, want -1 (give up)", maxFailures+1, d)
	}
	// The count halves every failureDecay: two decays after six failures
	// it is 1.5, so the next failure makes it 2.5 and waits base·2^1.5.
	now = now.Add(2 * failureDecay)
	want := time.Duration(float64(base) * math.Exp2(1.5))
	if d := f.next(now, base); d < want*3/4 || d > want*5/4 {
		t.Fatalf("two decays later: delay %v, want %v ±25%%", d, want)
	}
	// A failure long after the last ones starts nearly afresh (the count is
	// 1 + 2.5·2^-10).
	want = time.Duration(float64(base) * math.Exp2(2.5/1024))
	if d := f.next(now.Add(10*failureDecay), base); d < want*3/4 || d > want*5/4 {
		t.Fatalf("after a long quiet: delay %v, want %v ±25%%", d, want)
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
