package optimize

import (
	"context"
	"fmt"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// refSize is the number of examples a reference selects.
func refSize(ctx context.Context, st *store.Store, r model.DataRef) (int, error) {
	if r.Dataset == "" {
		return 0, nil
	}
	d, err := st.GetDataset(ctx, r.Dataset)
	if err != nil {
		return 0, fmt.Errorf("dataset %s: %w", r.Dataset, err)
	}
	if r.Split == "" {
		return d.Size(), nil
	}
	return d.Counts[r.Split], nil
}

// checkLabels refuses explicit labels that are not columns of a dataset
// the run reads, before the run starts.
func checkLabels(ctx context.Context, st *store.Store, r model.DataRef, p *model.Program, explicit []string) error {
	if r.Dataset == "" || len(explicit) == 0 {
		return nil
	}
	d, err := st.GetDataset(ctx, r.Dataset)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", r.Dataset, err)
	}
	_, err = model.Labels(p.Name, p.StaticFlow(), d, explicit)
	return err
}

// loadExamples reads the examples a reference selects in the contract's
// shape: the program's inputs, and the labels model.Labels picks (explicit
// ones, else the program's outputs the dataset has); other columns (ids,
// metadata) are left out.
func loadExamples(ctx context.Context, st *store.Store, r model.DataRef, program string, flow model.Flow, explicit []string) ([]bridge.Example, error) {
	if r.Dataset == "" {
		return nil, nil
	}
	d, err := st.GetDataset(ctx, r.Dataset)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", r.Dataset, err)
	}
	lab, err := model.Labels(program, flow, d, explicit)
	if err != nil {
		return nil, err
	}
	var out []bridge.Example
	cursor := ""
	for {
		page, next, err := st.ListExamples(ctx, store.ExampleQuery{Dataset: r.Dataset, Split: r.Split, Cursor: cursor, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			in, labels := lab.Split(e.Data)
			for _, k := range lab.Inputs {
				if _, ok := in[k]; !ok {
					return nil, &model.FieldError{Field: fmt.Sprintf("dataset %s: example %s", r.String(), e.ID),
						Msg: fmt.Sprintf("no field %q, an input of the program", k)}
				}
			}
			out = append(out, bridge.Example{ID: e.ID.String(), Inputs: in, Outputs: labels})
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}
