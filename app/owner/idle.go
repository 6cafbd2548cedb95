package owner

import (
	"context"
	"time"

	"github.com/signet-dspy/signet/app"
)

// idleState is a background owner's idle clock, for status.
type idleState struct {
	exit  time.Duration
	since time.Time // zero while the owner has work
}

// busy says whether the owner has work: a request of another process in
// flight (an event stream included, a status question not), or a job the
// kernel holds. It returns when the last request ended, too.
func (o *Owner) busy() (bool, time.Time) {
	n, last := o.srv.Activity()
	if n > 0 {
		return true, last
	}
	if k := o.kern.Load(); k != nil && k.Held() > 0 {
		return true, last
	}
	return false, last
}

// IdleExit returns nil once the owner has had no work for d (see busy), or
// ctx's error: a background owner then closes. It makes the owner report
// itself as background in Status.
func (o *Owner) IdleExit(ctx context.Context, d time.Duration) error {
	// The clock is checked a few times per period: an owner exits at most
	// a tenth of d (or a second) late.
	tick := time.NewTicker(min(max(d/10, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	since := time.Now()
	o.idle.Store(&idleState{exit: d, since: since})
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now = <-tick.C:
		}
		busy, last := o.busy()
		switch {
		case busy:
			since = time.Time{}
		case since.IsZero():
			since = now
		case last.After(since): // a request came and went between ticks
			since = last
		}
		o.idle.Store(&idleState{exit: d, since: since})
		if !since.IsZero() && now.Sub(since) >= d {
			return nil
		}
	}
}

// idleStatus fills a background owner's fields of st.
func (o *Owner) idleStatus(st *app.Status) {
	s := o.idle.Load()
	if s == nil {
		return
	}
	st.Background, st.IdleExit = true, s.exit.Seconds()
	// Now rather than at IdleExit's last tick: work that just ended counts.
	busy, last := o.busy()
	if busy {
		return
	}
	since := s.since
	if since.IsZero() || last.After(since) {
		since = last
	}
	if since.IsZero() {
		since = time.Now()
	}
	at := since.Add(s.exit).UTC()
	st.IdleAt = &at
}
