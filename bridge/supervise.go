package bridge

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// What the pool's workers and the local LM server have in common as
// supervised processes: the restart policy and the stderr tail kept to
// explain a death.

// failureCount is a restart policy's memory of failures: a count that
// halves every failureDecay, so that a crash long ago is forgiven.
type failureCount struct {
	n  float64
	at time.Time
}

// next counts a failure now and returns how long to wait before the next
// start: base doubling with each recent failure, capped at backoffMax, with
// ±25% jitter so that processes that died together do not restart
// together; or -1 after maxFailures recent ones (give up).
func (f *failureCount) next(base time.Duration) time.Duration {
	now := time.Now()
	if !f.at.IsZero() {
		f.n *= math.Exp2(-float64(now.Sub(f.at)) / float64(failureDecay))
	}
	f.n++
	f.at = now
	if f.n > maxFailures {
		return -1
	}
	d := min(time.Duration(float64(base)*math.Exp2(f.n-1)), backoffMax)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// lineTail keeps the last stderrTail lines a process wrote, each cut at 500
// bytes, to say why it died.
type lineTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *lineTail) add(s string) {
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == stderrTail {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:stderrTail-1]
	}
	t.lines = append(t.lines, s)
}

// last is the last n lines, joined; "" when there are none.
func (t *lineTail) last(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
