package owner

import (
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestProgramAndDatasetChangesAreEvents: a subscriber over the socket
// hears of every program and dataset write another client makes, by name,
// in order.
func TestProgramAndDatasetChangesAreEvents(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	ctx := t.Context()
	watcher := api.NewClient(api.SocketPath(o.Dir()))
	evs, err := watcher.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func(kind app.EventKind) app.Event {
		t.Helper()
		deadline := time.After(10 * time.Second) // a failure's bound, not a synchronisation
		for {
			select {
			case ev := <-evs:
				if ev.Kind == app.EventProgram || ev.Kind == app.EventDataset {
					if ev.Kind != kind {
						t.Fatalf("got a %s event (%+v), want %s", ev.Kind, ev, kind)
					}
					return ev
				}
			case <-deadline:
				t.Fatalf("no %s event", kind)
			}
		}
	}
	// The first event of a subscription is the pool's: the stream is up.
	for ev := range evs {
		if ev.Kind == app.EventPool {
			break
		}
	}
	writer := api.NewClient(api.SocketPath(o.Dir()))
	p := &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}
	if _, err := writer.CreateProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if ev := next(app.EventProgram); ev.Program != "qa" {
		t.Fatalf("create: %+v", ev)
	}
	p.Modules[0].Instructions = "Answer briefly."
	if _, err := writer.SaveProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	next(app.EventProgram)
	if _, err := writer.ImportDataset(ctx, app.ImportDatasetRequest{Name: "caps", File: "caps.jsonl",
		Data: strings.NewReader(`{"question": "France?", "answer": "Paris"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	if ev := next(app.EventDataset); ev.Dataset != "caps" {
		t.Fatalf("import: %+v", ev)
	}
	if err := writer.DeleteProgram(ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	if ev := next(app.EventProgram); ev.Program != "qa" {
		t.Fatalf("delete: %+v", ev)
	}
}

// TestWorkerStatesArePushed: a subscriber hears of a worker's new state
// as it changes, not at the next sample of the pool's load (made an hour
// here, so that only the push can deliver it): the pool's workers becoming
// ready, and a restarted worker's new process.
func TestWorkerStatesArePushed(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, true)
	o.poolEvery = time.Hour
	ctx := t.Context()
	evs, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// waitPool returns the first pool event whose worker 1 is ready and,
	// when notPID is set, runs another process.
	waitPool := func(notPID int) app.Worker {
		t.Helper()
		deadline := time.After(60 * time.Second) // a failure's bound, not a synchronisation
		for {
			select {
			case ev := <-evs:
				if ev.Kind != app.EventPool || len(ev.Pool.Pool) == 0 {
					continue
				}
				w := ev.Pool.Pool[0]
				if w.State == "ready" && w.PID == 0 {
					t.Fatalf("worker 1 ready without a process: %+v", w)
				}
				if w.State == "ready" && w.PID != notPID {
					return w
				}
			case <-deadline:
				t.Fatalf("no pool event with worker 1 ready (other than pid %d)", notPID)
			}
		}
	}
	if _, err := o.StartPool(ctx); err != nil {
		t.Fatal(err)
	}
	first := waitPool(0)
	if _, err := o.RestartWorker(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if again := waitPool(first.PID); again.Restarts != first.Restarts+1 {
		t.Fatalf("restarted worker: %+v (before: %+v)", again, first)
	}
}
