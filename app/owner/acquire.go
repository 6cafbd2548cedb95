package owner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

// ownerWait bounds how long a process waits for a workspace whose lock is
// held by a process that does not answer on the socket (one starting up or
// shutting down answers within moments).
const ownerWait = 30 * time.Second

// Session is a process's hold on a workspace: its service, and, when this
// process became the owner, the Owner (nil for a client).
type Session struct {
	app.Service
	Owner  *Owner
	Client *api.Client
}

// Close ends the session: an owner stops (waiting for other processes'
// requests in flight unless forced); a client has nothing to close.
func (s *Session) Close(ctx context.Context, force bool) {
	if s.Owner != nil {
		s.Owner.Close(ctx, force)
	}
}

// Acquire finds the owner of the workspace and returns a client of it, or
// makes this process the owner. Badger's lock decides who owns: a socket
// nobody answers on is stale only if the lock can be taken, so two
// processes racing end with exactly one owner; the other becomes a client
// once the winner listens.
func Acquire(ctx context.Context, opts Options) (*Session, error) {
	dir := opts.Dir
	cl := api.NewClient(api.SocketPath(dir))
	deadline := time.Now().Add(ownerWait)
	delay := 10 * time.Millisecond
	for {
		_, err := cl.Status(ctx)
		if err == nil {
			return &Session{Service: cl, Client: cl}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		o, oerr := Open(ctx, opts)
		if oerr == nil {
			return &Session{Service: o, Owner: o}, nil
		}
		if !errors.Is(oerr, ErrLocked) {
			return nil, oerr
		}
		if time.Now().After(deadline) {
			who := "another Signet process"
			if info, rerr := api.ReadOwner(dir); rerr == nil && api.Alive(info.PID) {
				who = fmt.Sprintf("Signet process %d (signet %s)", info.PID, info.Command)
			}
			return nil, app.Errorf(app.CodeUnavailable, "workspace %s is held by %s, which does not answer on %s (%v); stop it, or wait for it to finish", dir, who, cl.Socket(), err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}
