package owner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
)

// newWorkspace is a created workspace with no owner.
func newWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	o, err := Open(context.Background(), Options{Dir: ws, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	o.Close(context.Background(), false)
	return ws
}

// TestAcquireSpawnsABackgroundOwner: a process that finds no owner and may
// spawn one becomes the client of the owner it spawned.
func TestAcquireSpawnsABackgroundOwner(t *testing.T) {
	ctx := context.Background()
	ws := newWorkspace(t)
	var bg *Owner
	spawns := 0
	spawn := func(ctx context.Context) (<-chan error, error) {
		spawns++
		ready := make(chan error, 1)
		go func() {
			var err error
			bg, err = Open(ctx, Options{Dir: ws, Command: "serve"})
			ready <- err
		}()
		return ready, nil
	}
	s, err := Acquire(ctx, Options{Dir: ws, Command: "run", Spawn: spawn})
	if err != nil {
		t.Fatal(err)
	}
	defer bg.Close(ctx, true)
	defer s.Close(ctx, false)
	if s.Owner != nil || s.Client == nil || spawns != 1 {
		t.Fatalf("session owner %v client %v after %d spawns: want a client of the spawned owner", s.Owner, s.Client, spawns)
	}
	st, err := s.Status(ctx)
	if err != nil || st.Command != "serve" {
		t.Fatalf("status %+v, %v: want the spawned owner's", st, err)
	}
}

// TestAcquireSpawnFailsOwnsItself: a background owner that does not start
// leaves the process owning the workspace itself, saying why.
func TestAcquireSpawnFailsOwnsItself(t *testing.T) {
	ctx := context.Background()
	ws := newWorkspace(t)
	for _, spawn := range []func(context.Context) (<-chan error, error){
		func(context.Context) (<-chan error, error) { return nil, errors.New("no log directory") },
		func(context.Context) (<-chan error, error) {
			c := make(chan error, 1)
			c <- errors.New("the background owner ended: exit status 1")
			return c, nil
		},
	} {
		var note strings.Builder
		s, err := Acquire(ctx, Options{Dir: ws, Command: "run", Spawn: spawn, Notify: &note})
		if err != nil {
			t.Fatal(err)
		}
		if s.Owner == nil {
			t.Fatal("a client, after the background owner failed: want this process as the owner")
		}
		s.Close(ctx, false)
		if !strings.HasPrefix(note.String(), "signet: note: no background owner (") || !strings.HasSuffix(note.String(), "); this command owns the workspace itself\n") {
			t.Errorf("note %q", note.String())
		}
	}
}

// TestIdleExitWaitsForStreams: a background owner with an event stream
// open has work (status shows no idle time), and exits once it closes;
// status shows it as background with its idle time.
func TestIdleExitWaitsForStreams(t *testing.T) {
	ctx := context.Background()
	ws := newWorkspace(t)
	o, err := Open(ctx, Options{Dir: ws, Command: "serve"})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(ctx, true)
	cl := api.NewClient(api.SocketPath(ws))
	sctx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	evs, err := cl.Subscribe(sctx)
	if err != nil {
		t.Fatal(err)
	}
	<-evs // the pool's state: the stream is being served
	done := make(chan error, 1)
	go func() { done <- o.IdleExit(ctx, 20*time.Millisecond) }()
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Status answers before IdleExit may have set the owner up as background.
	for !st.Background {
		if st, err = cl.Status(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st.IdleExit != 0.02 || st.IdleAt != nil {
		t.Errorf("status with a stream open: idle exit %v s, idle at %v; want 0.02 and none", st.IdleExit, st.IdleAt)
	}
	select {
	case err := <-done:
		t.Fatalf("idle exit with a stream open: %v", err)
	default:
	}
	stopStream()
	for range evs {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
