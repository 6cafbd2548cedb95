package cmd

import (
	"context"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
)

// The workbench's live side goes through the owner's API, whether the
// workbench is the owner (it serves the same socket) or a client of
// another process: the Executions page, the event stream and the pool
// controls of the Workers page.

// tuiEvents follows GET /v1/events as live.Events.
type tuiEvents struct{ cl *api.Client }

func (e tuiEvents) Subscribe(ctx context.Context, fn func(live.Event)) error {
	return e.cl.Events(ctx, func(ev *api.Event) error {
		switch ev.Kind {
		case api.EventExecution:
			if ev.Execution != nil {
				fn(live.Event{Kind: live.EventExecution, Execution: ev.Execution})
			}
		case api.EventSpan:
			if ev.Span != nil {
				fn(live.Event{Kind: live.EventSpan, Span: ev.Span})
			}
		case api.EventPool:
			fn(live.Event{Kind: live.EventPool, Pool: tuiPool(ev.Engine, ev.Pool)})
		}
		return nil
	})
}

// tuiPool converts the pool's wire status.
func tuiPool(engine string, ws []api.Worker) *live.PoolStatus {
	ps := &live.PoolStatus{Engine: engine, At: time.Now()}
	for _, w := range ws {
		ps.Workers = append(ps.Workers, live.Worker{
			ID: w.ID, State: w.State, PID: w.PID, Uptime: time.Duration(w.Uptime * float64(time.Second)),
			Served: w.Served, Restarts: w.Restarts, Inflight: w.Inflight, Current: w.Current, LastError: w.LastError,
		})
	}
	return ps
}

// tuiExecutions is executions.Executions (tui/pages/executions) over the API.
type tuiExecutions struct{ cl *api.Client }

func (x tuiExecutions) ListExecutions(ctx context.Context, state model.RunState, cursor string, limit int) ([]*model.Execution, string, error) {
	page, err := x.cl.Executions(ctx, "", string(state), cursor, limit)
	if err != nil {
		return nil, "", err
	}
	return page.Executions, page.Next, nil
}

func (x tuiExecutions) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	return x.cl.CancelExecution(ctx, id)
}

func (x tuiExecutions) MonthCost(ctx context.Context) (float64, error) {
	c, err := x.cl.CostOf(ctx, "", "")
	if err != nil {
		return 0, err
	}
	return c.Total, nil
}

// tuiPoolControl is workers.Pool (tui/pages/workers) over the API.
type tuiPoolControl struct{ cl *api.Client }

func (p tuiPoolControl) RestartWorker(ctx context.Context, id int) error {
	_, err := p.cl.PoolRestart(ctx, id)
	return err
}

func (p tuiPoolControl) RecycleWorker(ctx context.Context, id int) error {
	_, err := p.cl.PoolRecycle(ctx, id)
	return err
}

func (p tuiPoolControl) StartPool(ctx context.Context) error {
	_, err := p.cl.PoolStart(ctx)
	return err
}

// liveDeps fills the workbench's live services from a client of the owner.
func liveDeps(deps *tui.Deps, cl *api.Client) {
	deps.Executions = tuiExecutions{cl}
	deps.Events = tuiEvents{cl}
	deps.Pool = tuiPoolControl{cl}
}
