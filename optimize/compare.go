package optimize

import (
	"context"
	"fmt"
	"slices"
	"strings"

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

// WordDiff is a word-level diff of two texts for a terminal: words only a
// has as [-removed-], words only b has as {+added+}, common ones as they are.
func WordDiff(a, b string) string {
	x, y := strings.Fields(a), strings.Fields(b)
	// Longest common subsequence over words; instructions are short.
	n, m := len(x), len(y)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out, del, ins []string
	flush := func() {
		if len(del) > 0 {
			out = append(out, "[-"+strings.Join(del, " ")+"-]")
			del = nil
		}
		if len(ins) > 0 {
			out = append(out, "{+"+strings.Join(ins, " ")+"+}")
			ins = nil
		}
	}
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case i < n && j < m && x[i] == y[j]:
			flush()
			out = append(out, x[i])
			i++
			j++
		case j < m && (i == n || l[i][j+1] >= l[i+1][j]):
			ins = append(ins, y[j])
			j++
		default:
			del = append(del, x[i])
			i++
		}
	}
	flush()
	return strings.Join(out, " ")
}
