package owner

import (
	"context"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// The guards every operation of app.Service makes before it acts, one per
// rule of docs/api.md's policy table (app.Authorize holds the rules). The
// local principal passes each without a store read.

// mayRead guards a read of a shared workspace record (a program, a
// dataset, an index, the LM profiles): any user may.
func (o *Owner) mayRead(ctx context.Context, kind, name string) error {
	_, err := o.authorize(ctx, app.ActionRead, app.Resource{Kind: kind, Name: name, Shared: true})
	return err
}

// mayReadOwn guards a read of a record a user owns (an evaluation, an
// optimization): its owner or an admin.
func (o *Owner) mayReadOwn(ctx context.Context, kind, name, owner string) error {
	_, err := o.authorize(ctx, app.ActionRead, app.Resource{Kind: kind, Name: name, Owner: owner})
	return err
}

// mayWrite guards a change to a workspace record: admins.
func (o *Owner) mayWrite(ctx context.Context, kind, name string) (*app.Principal, error) {
	return o.authorize(ctx, app.ActionWrite, app.Resource{Kind: kind, Name: name})
}

// mayAdminister guards control of the owner itself (its pool, status,
// backups, the store's check): admins.
func (o *Owner) mayAdminister(ctx context.Context, what string) error {
	_, err := o.authorize(ctx, app.ActionAdminister, app.Resource{Kind: what, Name: "*"})
	return err
}

// mayRunCode guards what would run code the caller names on this
// machine (an unsaved variant, whose custom modules and tools are Python
// source; a metric from a Python file): the rule of writing programs,
// which carry such code too.
func (o *Owner) mayRunCode(ctx context.Context, what string) error {
	_, err := o.authorize(ctx, app.ActionWrite, app.Resource{Kind: "code", Name: what})
	return err
}

// mayRunMetrics is mayRunCode for the metrics of a request (as spelled
// or parsed) read from files, before anything looks at those files.
func (o *Owner) mayRunMetrics(ctx context.Context, ms ...model.Metric) error {
	for _, m := range ms {
		if m.Kind == app.MetricSpelled {
			m, _ = model.ParseMetric(m.Name, m.LM) // a metric that does not parse is invalid later
		}
		if m.Kind == model.MetricCustom {
			if err := o.mayRunCode(ctx, "metric "+m.Source); err != nil {
				return err
			}
		}
	}
	return nil
}

// mayCancel guards stopping a job: the user who started it, or an admin.
func (o *Owner) mayCancel(ctx context.Context, kind, name, owner string) error {
	_, err := o.authorize(ctx, app.ActionCancel, app.Resource{Kind: kind, Name: name, Owner: owner})
	return err
}

// sees says whether p may see a record owner owns: what lists filter by
// (a record p may not read is left out of the page, not refused).
func sees(p *app.Principal, kind, name, owner string) bool {
	return app.Authorize(p, app.ActionRead, app.Resource{Kind: kind, Name: name, Owner: owner}) == nil
}

// mine is rows without those p may not see (of kind; id and owner say
// whose a row is): a user's page of its own jobs (which may then hold
// fewer than asked).
func mine[T any](p *app.Principal, kind string, rows []*T, whose func(*T) (model.ID, string)) []*T {
	if p.Local || p.Role == model.RoleAdmin {
		return rows
	}
	out := make([]*T, 0, len(rows))
	for _, r := range rows {
		if id, owner := whose(r); sees(p, kind, id.String(), owner) {
			out = append(out, r)
		}
	}
	return out
}

// eventsOf is what of the event stream p may see, nil for everything (the
// local principal, admins): a user hears of its own executions, their
// spans, its own evaluations and optimizations, and of the shared records
// (programs, datasets, indexes) by name; never of the pool or of another
// user's jobs.
func (o *Owner) eventsOf(ctx context.Context, p *app.Principal) func(app.Event) bool {
	if p.Local || p.Role == model.RoleAdmin {
		return nil
	}
	// Whose each execution is, as its events say (a span's execution,
	// when its events were filtered out, from the store); an execution's
	// user never changes.
	mineX := map[model.ID]bool{}
	return func(ev app.Event) bool {
		switch ev.Kind {
		case app.EventExecution:
			if ev.Execution == nil {
				return false
			}
			mine := ev.Execution.User == p.Name
			if len(mineX) > 10000 {
				clear(mineX)
			}
			mineX[ev.Execution.ID] = mine
			return mine
		case app.EventSpan:
			if ev.Span == nil {
				return false
			}
			mine, ok := mineX[ev.Span.Execution]
			if !ok {
				x, err := o.st.GetExecution(ctx, ev.Span.Execution)
				mine = err == nil && x.User == p.Name
				mineX[ev.Span.Execution] = mine
			}
			return mine
		case app.EventOptimization:
			return ev.Optimization != nil && ev.Optimization.User == p.Name
		case app.EventEvaluation:
			return ev.Evaluation != nil && ev.Evaluation.User == p.Name
		case app.EventProgram, app.EventDataset, app.EventIndex:
			return true
		}
		return false
	}
}
