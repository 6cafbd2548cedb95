package owner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// SetTrafficSplit is an admin's (a write of the program): it is audited
// and published as a change of the program.
func (o *Owner) SetTrafficSplit(ctx context.Context, sp model.TrafficSplit) (*model.TrafficSplit, error) {
	p, err := o.mayWrite(ctx, "program", sp.Program)
	if err != nil {
		return nil, err
	}
	sp.SetBy, sp.SetAt = p.Name, time.Time{}
	out, err := o.st.SetTrafficSplit(ctx, &sp)
	if err != nil {
		return nil, fail(err)
	}
	o.audit(ctx, p, "program.traffic", "program:"+sp.Program, model.OutcomeOK, out.String())
	o.programChanged(sp.Program)
	return out, nil
}

func (o *Owner) TrafficSplit(ctx context.Context, program string) (*model.TrafficSplit, error) {
	if err := o.mayRead(ctx, "program", program); err != nil {
		return nil, err
	}
	sp, err := o.st.TrafficSplit(ctx, program)
	return sp, fail(err)
}

func (o *Owner) ClearTrafficSplit(ctx context.Context, program string) error {
	p, err := o.mayWrite(ctx, "program", program)
	if err != nil {
		return err
	}
	if err := o.st.ClearTrafficSplit(ctx, program); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return app.Errorf(app.CodeNotFound, "program %s has no traffic split to clear", program)
		}
		return fail(err)
	}
	o.audit(ctx, p, "program.traffic", "program:"+program, model.OutcomeOK, "cleared")
	o.programChanged(program)
	return nil
}

// route picks the version of a run that names none on a program with a
// traffic split, by the run's key (or at random), and says whether it did.
// A run of a version or of a variant is not routed; nor are batches and
// evaluations, which run one version by design.
func (o *Owner) route(ctx context.Context, req *app.RunRequest) (bool, error) {
	if req.Version != 0 || req.Variant != nil {
		return false, nil
	}
	if err := model.ValidName("program", req.Program); err != nil {
		return false, app.Wrap(app.CodeInvalid, err)
	}
	sp, err := o.st.TrafficSplit(ctx, req.Program)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fail(err)
	}
	req.Version = sp.Route(model.Bucket(req.Program, req.Key)).Version
	return true, nil
}

// maxReportRuns bounds the executions a report reads: past it, the newest
// are a fair sample and the report says since when.
const maxReportRuns = 100_000

// TrafficReport reads the program's executions newest first back to the
// report's start: the last q.Since, else when the split was set.
func (o *Owner) TrafficReport(ctx context.Context, q app.TrafficQuery) (*model.TrafficReport, error) {
	if q.Since < 0 {
		return nil, invalid("since", "since %s: want a duration ≥ 0", q.Since)
	}
	if err := o.mayRead(ctx, "program", q.Program); err != nil {
		return nil, err
	}
	if _, err := o.st.GetProgram(ctx, q.Program); err != nil {
		return nil, fail(err)
	}
	sp, err := o.st.TrafficSplit(ctx, q.Program)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fail(err)
	}
	var since time.Time
	switch {
	case q.Since > 0:
		since = o.now().Add(-q.Since)
	case sp != nil:
		since = sp.SetAt
	}
	var xs []*model.Execution
	sq := store.ExecQuery{Program: q.Program, Limit: 1000}
	for len(xs) < maxReportRuns {
		page, next, err := o.st.ListExecutions(ctx, sq)
		if err != nil {
			return nil, fail(err)
		}
		done := next == ""
		for _, x := range page {
			if x.CreatedAt.Before(since) {
				done = true
				break
			}
			if x.Routed {
				xs = append(xs, x)
			}
		}
		if done {
			break
		}
		sq.Cursor = next
	}
	if len(xs) >= maxReportRuns {
		since = xs[len(xs)-1].CreatedAt
	}
	return model.NewTrafficReport(q.Program, sp, since, xs), nil
}

// Feedback is the execution's owner's or an admin's to give; each one is
// audited, a replacement with the score it replaced.
func (o *Owner) Feedback(ctx context.Context, id model.ID, f app.FeedbackRequest) (*model.Execution, error) {
	x, err := o.st.GetExecution(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	p, err := o.authorize(ctx, app.ActionRate, app.Resource{Kind: "execution", Name: id.String(), Owner: x.User})
	if err != nil {
		return nil, err
	}
	if f.Score == nil {
		return nil, invalid("score", "feedback on execution %s: give a score (a number; 0..1 is usual)", id)
	}
	x, prior, err := o.st.SetFeedback(ctx, id, model.Feedback{Score: *f.Score, Note: f.Note, By: userOf(p)})
	if errors.Is(err, store.ErrNotEnded) {
		return nil, app.Errorf(app.CodeInvalid, "feedback on execution %s: it has not ended yet: give feedback once it has", id)
	}
	if err != nil {
		return nil, fail(err)
	}
	detail := fmt.Sprintf("score %g", *f.Score)
	if prior != nil {
		detail += fmt.Sprintf(" (replaces %g)", prior.Score)
	}
	o.audit(ctx, p, "execution.feedback", "execution:"+id.String(), model.OutcomeOK, detail)
	return x, nil
}
