package owner

import (
	"context"
	"errors"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/optimize"
	"github.com/signet-dspy/signet/store"
)

// fail gives an error the service's code for what it wraps, keeping its
// text: the one place the lower packages' errors meet the service's.
func fail(err error) error {
	if err == nil {
		return nil
	}
	var (
		ae *app.Error
		fe *model.FieldError
		se *model.SignatureError
		te *model.TransitionError
		eb *jobs.BudgetError
		qf *jobs.QueueFullError
		be *bridge.Error
		ke *KeyError
		de *datafile.Error
	)
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrNotFound):
		return app.Wrap(app.CodeNotFound, err)
	case errors.Is(err, store.ErrExists):
		return app.Wrap(app.CodeExists, err)
	case errors.Is(err, jobs.ErrFinished):
		return app.Wrap(app.CodeFinished, err)
	case errors.As(err, &eb) && eb.Scope == jobs.ScopeUser:
		return app.Wrap(app.CodePaymentRequired, err) // a user's credits, not a cap
	case errors.As(err, &eb):
		return app.Wrap(app.CodeBudget, err)
	case errors.Is(err, optimize.ErrRegressed):
		return app.Wrap(app.CodeRegressed, err)
	case errors.Is(err, jobs.ErrClosed), errors.Is(err, bridge.ErrClosed), errors.As(err, &qf):
		return app.Wrap(app.CodeUnavailable, err)
	case errors.As(err, &fe):
		// The field survives the socket, so a caller can tell which flag
		// or form field to blame.
		e := app.Wrap(app.CodeInvalid, err).(*app.Error)
		e.Field = fe.Field
		return e
	case errors.As(err, &se), errors.As(err, &te), errors.As(err, &ke), errors.As(err, &de),
		errors.Is(err, store.ErrInvalidCursor), errors.Is(err, optimize.ErrNoResult):
		return app.Wrap(app.CodeInvalid, err)
	case errors.As(err, &be) && (be.Code == "bad_input" || be.Code == "bad_program"):
		return app.Wrap(app.CodeInvalid, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return app.Wrap(app.CodeInternal, err)
}

// now is the owner's clock.
func (o *Owner) now() time.Time { return time.Now().UTC() }
