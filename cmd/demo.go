package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/examples"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/store"
)

func (a *cli) demoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Create the workspace if needed and load the example programs and datasets (idempotent)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			added, err := loadDemo(c.Context(), st)
			if err != nil {
				return err
			}
			if len(added) == 0 {
				fmt.Fprintf(a.stdout, "demo workspace %s is ready (nothing new to load)\n", dir)
			} else {
				fmt.Fprintf(a.stdout, "demo workspace %s: loaded %s\n", dir, strings.Join(added, ", "))
			}
			return nil
		},
	}
}

// loadDemo adds each demo program and dataset that is not there yet. Two
// thirds of each dataset go to train and the rest to validation, so the
// optimizers have a held-out split from the start.
func loadDemo(ctx context.Context, st *store.Store) ([]string, error) {
	var added []string
	for _, d := range examples.Demo {
		if _, err := st.GetDataset(ctx, d.Dataset); errors.Is(err, store.ErrNotFound) {
			if err := loadDemoDataset(ctx, st, d.Dataset, d.DatasetFile, d.Inputs); err != nil {
				return added, err
			}
			added = append(added, "dataset "+d.Dataset)
		} else if err != nil {
			return added, err
		}
		data, err := examples.FS.ReadFile(d.Program)
		if err != nil {
			return added, fmt.Errorf("demo program %s: %w", d.Program, err)
		}
		p, err := parseProgram("examples/"+d.Program, data)
		if err != nil {
			return added, err
		}
		if _, err := st.GetProgram(ctx, p.Name); errors.Is(err, store.ErrNotFound) {
			if _, err := st.CreateProgram(ctx, p); err != nil {
				return added, fmt.Errorf("demo program %s: %w", p.Name, err)
			}
			added = append(added, "program "+p.Name)
		} else if err != nil {
			return added, err
		}
	}
	return added, nil
}

func loadDemoDataset(ctx context.Context, st *store.Store, name, file, inputs string) error {
	f, err := examples.FS.Open(file)
	if err != nil {
		return fmt.Errorf("demo dataset %s: %w", file, err)
	}
	defer f.Close()
	format, err := datafile.DetectFormat(file)
	if err != nil {
		return err
	}
	// Read whole (the demo files are small) so the split point is two thirds.
	var rows []map[string]any
	r := datafile.NewReader(f, "examples/"+file, format)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rows = append(rows, rec)
	}
	i := 0
	cut := len(rows) * 2 / 3
	fields := r.Fields()
	next := func() (*model.Example, error) {
		if i == len(rows) {
			return nil, io.EOF
		}
		sp := model.Train
		if i >= cut {
			sp = model.Validation
		}
		e := &model.Example{Split: sp, Data: rows[i]}
		i++
		return e, nil
	}
	_, err = st.ImportExamples(ctx, &model.Dataset{Name: name, Fields: fields, InputKeys: strings.Split(inputs, ","), Description: "demo data from examples/" + file}, next)
	return err
}
