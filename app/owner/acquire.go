package owner

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

	opts Options
	mu   sync.Mutex
	took *Owner // under mu: the owner this client became when its owner stopped
}

// Close ends the session: an owner stops (waiting for other processes'
// requests in flight unless forced); a client stops the owner it became,
// if it took over.
func (s *Session) Close(ctx context.Context, force bool) {
	if s.Owner != nil {
		s.Owner.Close(ctx, force)
	}
	s.mu.Lock()
	took := s.took
	s.took = nil
	s.mu.Unlock()
	if took != nil {
		took.Close(ctx, force)
	}
}

// Acquire finds the owner of the workspace and returns a client of it, or
// makes this process the owner. Badger's lock decides who owns: a socket
// nobody answers on is stale only if the lock can be taken, so two
// processes racing end with exactly one owner; the other becomes a client
// once the winner listens. A client whose owner stops finds the next one,
// or becomes it, before its next request (takeOver).
func Acquire(ctx context.Context, opts Options) (*Session, error) {
	cl := api.NewClient(api.SocketPath(opts.Dir))
	o, err := acquire(ctx, opts, cl)
	if err != nil {
		return nil, err
	}
	if o != nil {
		return &Session{Service: o, Owner: o, opts: opts}, nil
	}
	s := &Session{Service: cl, Client: cl, opts: opts}
	cl.OnNoOwner(s.takeOver)
	return s, nil
}

// takeOver is called when the client's owner has gone: once it returns,
// an owner (another process, or this one) listens on the socket.
func (s *Session) takeOver(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.took != nil {
		return nil // this process owns the workspace already
	}
	o, err := acquire(ctx, s.opts, api.NewClient(s.Client.Socket()))
	if err != nil {
		return app.Wrap(app.CodeUnavailable, err)
	}
	s.took = o
	return nil
}

// awaitSpawn starts a background owner and waits, bounded, until it
// listens or gives up.
func awaitSpawn(ctx context.Context, spawn func(context.Context) (<-chan error, error)) error {
	ready, err := spawn(ctx)
	if err != nil {
		return err
	}
	t := time.NewTimer(ownerWait)
	defer t.Stop()
	select {
	case err := <-ready:
		return err
	case <-t.C:
		return fmt.Errorf("the background owner did not answer within %s", ownerWait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire returns nil once an owner answers on cl's socket, or this
// process as the owner.
func acquire(ctx context.Context, opts Options, cl *api.Client) (*Owner, error) {
	dir := opts.Dir
	deadline := time.Now().Add(ownerWait)
	delay := 10 * time.Millisecond
	spawn := opts.Spawn
	for {
		_, err := cl.Status(ctx)
		if err == nil {
			return nil, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var refused *api.AccessError
		if errors.As(err, &refused) {
			return nil, err
		}
		if spawn != nil {
			// Once: whatever comes of it, the loop goes on as without it
			// (a background owner that lost the race to another leaves).
			if serr := awaitSpawn(ctx, spawn); serr != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if opts.Notify != nil {
					fmt.Fprintf(opts.Notify, "signet: note: no background owner (%v); this command owns the workspace itself\n", serr)
				}
			}
			spawn = nil
			deadline = time.Now().Add(ownerWait)
			continue
		}
		o, oerr := Open(ctx, opts)
		if oerr == nil {
			return o, nil
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
