package optimize

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Errors of Promote.
var (
	ErrNoResult = errors.New("it has no result to promote")
	// ErrRegressed refuses, without force, a result that scored below its
	// run's baseline.
	ErrRegressed = errors.New("its result scored below the baseline on validation")
)

// Promote saves run id's result as its program's newest version, noting
// where it came from (compiled_from is the run), and returns that version.
// The result is the run's result version, saved again: after several runs
// the one worth keeping may sit behind a worse one, and this is how a user
// picks it. Or it is the run's candidate, a result that scored below its
// baseline and so never became a version: only force promotes one (and
// every result of such a run), and the run then records the version.
func Promote(ctx context.Context, st *store.Store, id model.ID, force bool) (*model.Program, *model.Optimization, error) {
	o, err := st.GetOptimization(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !o.HasResult() {
		return nil, o, fmt.Errorf("optimization %s (%s): %w", id, o.State, ErrNoResult)
	}
	if o.Regressed && !force {
		return nil, o, fmt.Errorf("optimization %s: %w (%.3f → %.3f), so it did not become %s's newest version; promote with force (--force) to make it so anyway",
			id, ErrRegressed, o.BaselineScore, o.BestScore, o.Program)
	}
	var p *model.Program
	if o.ResultVersion > 0 {
		if p, err = st.GetProgramVersion(ctx, o.Program, o.ResultVersion); err != nil {
			return nil, o, err
		}
		p.Note = fmt.Sprintf("promoted v%d, the result of %s run %s", o.ResultVersion, o.Optimizer, o.ID)
	} else {
		c := *o.Candidate
		p = &c
		p.Note = fmt.Sprintf("promoted the result of %s run %s despite its regression on validation (%.3f → %.3f)",
			o.Optimizer, o.ID, o.BaselineScore, o.BestScore)
	}
	saved, err := st.SaveProgram(ctx, p)
	if err != nil {
		return nil, o, fmt.Errorf("promote %s: %w", id, err)
	}
	if o.ResultVersion == 0 {
		o.ResultVersion, o.Candidate = saved.Version, nil
		if err := st.PutOptimization(ctx, o); err != nil {
			return saved, o, fmt.Errorf("promote %s: saved as %s v%d, but recording it on the run: %w", id, saved.Name, saved.Version, err)
		}
	}
	return saved, o, nil
}
