package metrics

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/signet-dspy/signet/app"
)

// Healthz answers 200 "ok" while the process serves at all: a liveness
// probe, which asks nothing of the service.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
}

// readyTimeout bounds a readiness probe's questions to the service.
const readyTimeout = 5 * time.Second

// Readyz answers 200 "ready" when svc can take executions now: its store
// answers a read, its pool runs and at least one worker is ready (idle or
// busy); else 503 with the reason, one line.
func Readyz(svc app.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(svc); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// ready asks as the workspace's local user (a context without the
// request's principal): readiness tells nothing of the records.
func ready(svc app.Service) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if _, err := svc.ListUsers(ctx); err != nil {
		return fmt.Errorf("the store: %w", err)
	}
	ps, err := svc.Pool(ctx)
	if err != nil {
		return fmt.Errorf("the pool: %w", err)
	}
	if ps.Engine != "running" {
		return fmt.Errorf("the pool has not started (engine %s)", ps.Engine)
	}
	// bridge.StateReady and StateBusy, as app.Worker carries them (api
	// does not import bridge: docs/architecture.md).
	serving := []string{"ready", "busy"}
	for _, w := range ps.Pool {
		if slices.Contains(serving, w.State) {
			return nil
		}
	}
	return fmt.Errorf("no worker of %d is ready", len(ps.Pool))
}
