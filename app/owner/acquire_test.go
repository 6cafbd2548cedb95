package owner

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/api"
)

// TestRaceForOwnership: many acquire at once; the lock lets exactly one own
// the workspace and the others become its clients.
func TestRaceForOwnership(t *testing.T) {
	ws := t.TempDir()
	o, err := Open(context.Background(), Options{Dir: ws, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	o.Close(context.Background(), false)
	const n = 8
	var wg sync.WaitGroup
	owners := make(chan *Owner, n)
	errs := make(chan error, n)
	clients := make(chan int, n)
	for range n {
		wg.Go(func() {
			s, err := Acquire(context.Background(), Options{Dir: ws, Command: "race"})
			switch {
			case err != nil:
				errs <- err
			case s.Owner != nil:
				owners <- s.Owner
			default:
				st, err := s.Status(context.Background())
				if err != nil {
					errs <- err
					return
				}
				clients <- st.PID
			}
		})
	}
	wg.Wait()
	close(owners)
	close(errs)
	close(clients)
	for err := range errs {
		t.Error(err)
	}
	var got []*Owner
	for o := range owners {
		got = append(got, o)
	}
	if len(got) != 1 {
		t.Fatalf("%d owners, want 1", len(got))
	}
	if len(clients) != n-1 {
		t.Errorf("%d clients, want %d", len(clients), n-1)
	}
	got[0].Close(context.Background(), false)
	if _, err := api.NewClient(api.SocketPath(ws)).Status(context.Background()); !errors.Is(err, api.ErrNoOwner) {
		t.Errorf("after release: %v", err)
	}
}

// TestClientTakesOverWhenItsOwnerStops: a client whose owner stops between
// two requests finds no owner, becomes it, and serves the second request
// itself; closing the session stops that owner.
func TestClientTakesOverWhenItsOwnerStops(t *testing.T) {
	ctx := context.Background()
	ws := t.TempDir()
	o, err := Open(ctx, Options{Dir: ws, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Acquire(ctx, Options{Dir: ws, Command: "client"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Owner != nil {
		t.Fatal("the second process became the owner while the first runs")
	}
	o.Close(ctx, false)
	if _, err := s.ListPrograms(ctx); err != nil {
		t.Fatalf("a request after the owner stopped: %v", err)
	}
	st, err := s.Status(ctx)
	if err != nil || st.Command != "client" {
		t.Errorf("the owner now: %+v %v, want the client's session", st, err)
	}
	s.Close(ctx, false)
	if _, err := api.NewClient(api.SocketPath(ws)).Status(ctx); !errors.Is(err, api.ErrNoOwner) {
		t.Errorf("after the session closed: %v", err)
	}
}
