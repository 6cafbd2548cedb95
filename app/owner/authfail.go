package owner

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// authFailEvery is how often one client address's failed authentications
// reach the audit trail: a client that floods the face with bad tokens
// writes one record a second, counting the ones in between.
const authFailEvery = time.Second

// authFailures bounds the audit records of failed authentications per
// client address.
type authFailures struct {
	mu   sync.Mutex
	last map[string]authFailWindow
	now  func() time.Time // time.Now unless a test sets it
}

type authFailWindow struct {
	at     time.Time // of the last record written
	unsent int       // failures since, not recorded
}

// Anonymous is the audit trail's actor of a request without a valid token.
const Anonymous = "anonymous"

// note records a failed authentication from ctx's client, or counts it
// toward that client's next record when one was written less than
// authFailEvery ago.
func (f *authFailures) note(ctx context.Context, o *Owner, why string) {
	from := cmp.Or(app.Remote(ctx), "the local socket")
	f.mu.Lock()
	now := time.Now()
	if f.now != nil {
		now = f.now()
	}
	if f.last == nil {
		f.last = map[string]authFailWindow{}
	}
	w := f.last[from]
	if now.Sub(w.at) < authFailEvery {
		w.unsent++
		f.last[from] = w
		f.mu.Unlock()
		return
	}
	if len(f.last) > 4096 { // forget the quiet clients
		for k, v := range f.last {
			if now.Sub(v.at) >= authFailEvery {
				delete(f.last, k)
			}
		}
	}
	f.last[from] = authFailWindow{at: now}
	f.mu.Unlock()
	detail := why + "; from " + from
	if w.unsent > 0 {
		detail += fmt.Sprintf(" (and %d more failures from there since the last record)", w.unsent)
	}
	o.audit(ctx, &app.Principal{Name: Anonymous}, "authenticate", "token", model.OutcomeDenied, detail)
}
