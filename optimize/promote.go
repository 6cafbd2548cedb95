package optimize

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// ErrNoResult is Promote's error for a run that saved no version.
var ErrNoResult = errors.New("it has no result version to promote")

// Promote saves run id's result version again as its program's newest
// version, noting where it came from (compiled_from is kept from the
// result). Every run saves its result as the newest version, so after
// several runs the one worth keeping may sit behind a worse one; this is
// how a user picks it. It returns the new version.
func Promote(ctx context.Context, st *store.Store, id model.ID) (*model.Program, *model.Optimization, error) {
	o, err := st.GetOptimization(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if o.ResultVersion == 0 {
		return nil, o, fmt.Errorf("optimization %s (%s): %w", id, o.State, ErrNoResult)
	}
	p, err := st.GetProgramVersion(ctx, o.Program, o.ResultVersion)
	if err != nil {
		return nil, o, err
	}
	p.Note = fmt.Sprintf("promoted v%d, the result of %s run %s", o.ResultVersion, o.Optimizer, o.ID)
	saved, err := st.SaveProgram(ctx, p)
	if err != nil {
		return nil, o, fmt.Errorf("promote %s: %w", id, err)
	}
	return saved, o, nil
}
