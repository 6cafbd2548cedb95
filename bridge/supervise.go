package bridge

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Supervision shared by the pool's workers and the local LM server: a place
// (a pool slot, the server) runs a succession of child processes; between
// two, the restart policy waits; after too many quick failures it gives up.

// Restart policy: a place's failure count grows by one per unexpected death
// and halves every minute; each restart waits backoffBase·2^(count-1) (with
// ±25% jitter, at most backoffMax), and above maxFailures the place is
// given up as failed until revived.
const (
	backoffBase  = 200 * time.Millisecond
	backoffMax   = 30 * time.Second
	maxFailures  = 5
	failureDecay = time.Minute // the count halves over this long
)

// clock is the time of the supervision delays that tests hold or fire at
// will: restart backoffs, the cancel grace, the failure count's decay.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
	AfterFunc(d time.Duration, f func())
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) AfterFunc(d time.Duration, f func())    { time.AfterFunc(d, f) }

// supervisor is the life of one place: its state, counts and restart
// policy. The owner's mutex guards it, so that the owner's snapshots
// (Status) and its other fields change together.
type supervisor struct {
	lock    sync.Locker // the owner's mutex; it guards the fields below
	changed func()      // the owner's broadcast, called with lock held after each change
	closing <-chan struct{}
	revive  <-chan struct{} // start now, skipping the backoff, or revive a failed place; nil: never
	backoff time.Duration   // the first restart delay
	clock   clock
	logf    func(format string, args ...any)

	// Guarded by lock.
	state    State
	gen      int // processes that became ready here
	restarts int // processes after the first
	lastErr  string
	fails    failureCount
}

// life is what a supervisor does with its owner's processes of type P.
type life[P any] struct {
	// spawn starts a process and waits until it serves; on error nothing runs.
	spawn func() (P, error)
	// watch follows a process until it has exited, and says whether its end
	// counts as a failure, and why it ended when that is worth keeping as
	// the place's last error ("": keep the last one).
	watch func(P) (failed bool, why string)
	// attach and detach, under lock, make the owner run P or nothing.
	attach func(P)
	detach func()
}

// ready makes p, fresh from spawn, the place's process.
func ready[P any](s *supervisor, l life[P], p P) {
	s.lock.Lock()
	defer s.lock.Unlock()
	if s.gen > 0 {
		s.restarts++
	}
	s.gen++
	l.attach(p)
	s.state = StateReady
	s.changed()
}

// supervise keeps the place running from p, which is ready, until closing;
// the state is then stopped.
func supervise[P any](s *supervisor, l life[P], p P) {
	for {
		failed, why := l.watch(p)
		s.lock.Lock()
		l.detach()
		if why != "" {
			s.lastErr = why
		}
		if isClosed(s.closing) {
			s.state = StateStopped
			s.changed()
			s.lock.Unlock()
			return
		}
		s.state = StateRestarting
		var delay time.Duration
		if failed {
			delay = s.fails.next(s.clock.Now(), s.backoff)
		}
		s.changed()
		s.lock.Unlock()
		var ok bool
		if p, ok = restart(s, l, delay); !ok {
			return
		}
		ready(s, l, p)
	}
}

// restart starts the next process after delay (after a revive when delay
// is negative: given up), trying again after each failed start. It returns
// false, with the state stopped, when closing comes first.
func restart[P any](s *supervisor, l life[P], delay time.Duration) (P, bool) {
	var none P
	for {
		if delay < 0 {
			hint := ""
			if s.revive != nil {
				hint = " (Restart to try again)"
			}
			s.lock.Lock()
			last := s.lastErr
			s.lock.Unlock()
			// Logged first: whoever sees the failed state finds the reason in the log.
			s.logf("given up after repeated failures%s: %s", hint, last)
			s.set(StateFailed)
			select {
			case <-s.revive:
				s.lock.Lock()
				s.fails = failureCount{}
				s.state = StateRestarting
				s.changed()
				s.lock.Unlock()
			case <-s.closing:
				s.set(StateStopped)
				return none, false
			}
		} else if delay > 0 {
			select {
			case <-s.clock.After(delay):
			case <-s.revive:
			case <-s.closing:
				s.set(StateStopped)
				return none, false
			}
		}
		p, err := l.spawn()
		if err == nil {
			return p, true
		}
		s.lock.Lock()
		if isClosed(s.closing) {
			s.state = StateStopped
			s.changed()
			s.lock.Unlock()
			return none, false
		}
		s.lastErr = err.Error()
		delay = s.fails.next(s.clock.Now(), s.backoff)
		s.changed()
		s.lock.Unlock()
	}
}

func (s *supervisor) set(st State) {
	s.lock.Lock()
	s.state = st
	s.changed()
	s.lock.Unlock()
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// closer is an owner's Close: the first call keeps its context (closeCtx
// bounds the stop), closes closing and waits until done; a later call
// waits for done until its own context ends.
type closer struct {
	once     sync.Once
	closeCtx context.Context // the first Close's context, read after closing is closed
	closing  chan struct{}
	done     chan struct{} // the owner closes it when nothing of it runs any more
}

func newCloser() closer {
	return closer{closing: make(chan struct{}), done: make(chan struct{})}
}

// close runs then after closing is closed, on the first call only.
func (c *closer) close(ctx context.Context, then func()) error {
	first := false
	c.once.Do(func() {
		first = true
		c.closeCtx = ctx
		close(c.closing)
		then()
	})
	if first {
		<-c.done // bounded: every supervisor kills after its grace
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopBounds says when a process asked to stop is killed: when Close's
// context ends, or def later when that context has no deadline.
func stopBounds(ctx context.Context, def time.Duration) (<-chan struct{}, <-chan time.Time) {
	if _, ok := ctx.Deadline(); ok {
		return ctx.Done(), nil
	}
	return ctx.Done(), time.After(def)
}

// failureCount is a restart policy's memory of failures: a count that
// halves every failureDecay, so that a crash long ago is forgiven.
type failureCount struct {
	n  float64
	at time.Time
}

// next counts a failure at now and returns how long to wait before the
// next start: base doubling with each recent failure, capped at backoffMax,
// with ±25% jitter so that processes that died together do not restart
// together; or -1 after maxFailures recent ones (give up).
func (f *failureCount) next(now time.Time, base time.Duration) time.Duration {
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

// stderrTail is how many of a process's last stderr lines are kept to
// explain its death.
const stderrTail = 20

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
