package jobs

import (
	"context"
	"fmt"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Flow is a program's data flow: its signatures', else a worker's reading
// of its custom modules.
func (k *Kernel) Flow(ctx context.Context, p *model.Program) (model.Flow, error) {
	if f := p.StaticFlow(); len(f.Opaque) == 0 {
		return f, nil
	}
	indexes, err := k.indexes(ctx, p)
	if err != nil {
		return model.Flow{}, err
	}
	return k.o.Pool.Flow(ctx, p, "", indexes)
}

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

// checkLabels refuses explicit labels that are not columns of a dataset a
// job reads, before the job starts.
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

// readExamples reads the examples a reference selects, in order, and the
// labeling of program (with flow) on their dataset: the explicit labels,
// else model.Labels's rule. An example without an input of the program is
// an error naming it.
func readExamples(ctx context.Context, st *store.Store, ref model.DataRef, program string, flow model.Flow, explicit []string) (model.Labeling, []*model.Example, error) {
	d, err := st.GetDataset(ctx, ref.Dataset)
	if err != nil {
		return model.Labeling{}, nil, fmt.Errorf("dataset %s: %w", ref.Dataset, err)
	}
	lab, err := model.Labels(program, flow, d, explicit)
	if err != nil {
		return lab, nil, err
	}
	var out []*model.Example
	for cursor := ""; ; {
		page, next, err := st.ListExamples(ctx, store.ExampleQuery{Dataset: ref.Dataset, Split: ref.Split, Cursor: cursor, Limit: 1000})
		if err != nil {
			return lab, nil, err
		}
		for _, e := range page {
			for _, k := range lab.Inputs {
				if _, ok := e.Data[k]; !ok {
					return lab, nil, &model.FieldError{Field: fmt.Sprintf("dataset %s: example %s", ref, e.ID),
						Msg: fmt.Sprintf("no field %q, an input of program %s", k, program)}
				}
			}
			out = append(out, e)
		}
		if next == "" {
			return lab, out, nil
		}
		cursor = next
	}
}

// workerExamples reads the examples a reference selects in the optimize
// contract's shape: the program's inputs, and the labels (other columns,
// ids and metadata, are left out).
func workerExamples(ctx context.Context, st *store.Store, ref model.DataRef, program string, flow model.Flow, explicit []string) ([]bridge.Example, error) {
	if ref.Dataset == "" {
		return nil, nil
	}
	lab, exs, err := readExamples(ctx, st, ref, program, flow, explicit)
	if err != nil {
		return nil, err
	}
	out := make([]bridge.Example, len(exs))
	for i, e := range exs {
		in, labels := lab.Split(e.Data)
		out[i] = bridge.Example{ID: e.ID.String(), Inputs: in, Outputs: labels}
	}
	return out, nil
}
