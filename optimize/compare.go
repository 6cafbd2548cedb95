// Package optimize reads finished optimization runs: Compare sets runs side
// by side, Promote makes a run's result its program's newest version. The
// runs themselves are jobs of the job kernel (package jobs).
package optimize

import (
	"context"
	"fmt"
	"slices"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Comparison is model.Comparison of the runs plus the score-versus-cost
// points of every finished run of their programs.
type Comparison struct {
	*model.Comparison
	Points []model.ScorePoint `json:"points"`
}

// Compare loads runs, their trials and program versions from the store and
// sets them side by side (model.CompareRuns), in the order given.
func Compare(ctx context.Context, st *store.Store, ids []model.ID) (*Comparison, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("compare: no runs given")
	}
	runs := make([]model.RunForCompare, 0, len(ids))
	var programs []string
	for _, id := range ids {
		o, err := st.GetOptimization(ctx, id)
		if err != nil {
			return nil, err
		}
		rc := model.RunForCompare{Run: o}
		if rc.Trials, err = st.Trials(ctx, id); err != nil {
			return nil, err
		}
		if rc.Base, err = st.GetProgramVersion(ctx, o.Program, o.BaseVersion); err != nil {
			return nil, fmt.Errorf("optimization %s: base version: %w", id, err)
		}
		switch {
		case o.ResultVersion > 0:
			if rc.Result, err = st.GetProgramVersion(ctx, o.Program, o.ResultVersion); err != nil {
				return nil, fmt.Errorf("optimization %s: result version: %w", id, err)
			}
		case o.Candidate != nil:
			rc.Result = o.Candidate // a result that regressed: not a version
		}
		runs = append(runs, rc)
		if !slices.Contains(programs, o.Program) {
			programs = append(programs, o.Program)
		}
	}
	out := &Comparison{Comparison: model.CompareRuns(runs), Points: []model.ScorePoint{}}
	var all []*model.Optimization
	for _, prog := range programs {
		for cursor := ""; ; {
			page, next, err := st.ListOptimizations(ctx, prog, cursor, 1000)
			if err != nil {
				return nil, err
			}
			all = append(all, page...)
			if next == "" {
				break
			}
			cursor = next
		}
	}
	if pts := model.ScoreVsCost(all); pts != nil {
		out.Points = pts
	}
	return out, nil
}
