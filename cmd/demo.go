package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/examples"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
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
			unlock, err := lockDemo(dir)
			if err != nil {
				return err
			}
			added, err := loadDemo(c.Context(), a.svc)
			unlock()
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

// lockDemo makes demos of a workspace run one at a time, whichever
// processes they run in, so that what one finds missing is not being
// loaded by another (two demos at once would both import a dataset). The
// kernel releases the lock with the process that holds it.
func lockDemo(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "demo.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("demo: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// loadDemo adds each demo program and dataset that is not there yet. Two
// thirds of each dataset go to train and the rest to validation, so the
// optimizers have a held-out split from the start; a corpus (Whole) stays
// whole in train.
func loadDemo(ctx context.Context, svc app.Service) ([]string, error) {
	var added []string
	for _, d := range examples.Demo {
		if _, err := svc.Dataset(ctx, d.Dataset); errors.Is(err, app.ErrNotFound) {
			if err := loadDemoDataset(ctx, svc, d.Dataset, d.DatasetFile, d.Inputs, d.Whole); err != nil {
				return added, err
			}
			added = append(added, "dataset "+d.Dataset)
		} else if err != nil {
			return added, err
		}
		if d.Program == "" {
			continue
		}
		p, err := demoProgram(d.Program)
		if err != nil {
			return added, err
		}
		if _, err := svc.Program(ctx, p.Name, 0); errors.Is(err, app.ErrNotFound) {
			if _, err := svc.CreateProgram(ctx, p); errors.Is(err, app.ErrExists) {
				continue // created meanwhile, by `signet program create`
			} else if err != nil {
				return added, fmt.Errorf("demo program %s: %w", p.Name, err)
			}
			added = append(added, "program "+p.Name)
		} else if err != nil {
			return added, err
		}
	}
	return added, nil
}

// demoProgram is the example program in file (of package examples).
func demoProgram(file string) (*model.Program, error) {
	data, err := examples.FS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("demo program %s: %w", file, err)
	}
	return parseProgram("examples/"+file, data)
}

// demoPrograms are the example programs `signet demo` loads: the
// workbench offers them as templates for a new program.
func demoPrograms() ([]*model.Program, error) {
	var out []*model.Program
	for _, d := range examples.Demo {
		if d.Program == "" {
			continue
		}
		p, err := demoProgram(d.Program)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// loadDemoDataset imports an example file, its first two thirds as train
// and the rest as validation (two imports into the same dataset), or all of
// it as train when whole.
func loadDemoDataset(ctx context.Context, svc app.Service, name, file, inputs string, whole bool) error {
	data, err := examples.FS.ReadFile(file)
	if err != nil {
		return fmt.Errorf("demo dataset %s: %w", file, err)
	}
	format, err := datafile.DetectFormat(file)
	if err != nil {
		return err
	}
	train, val := data, []byte(nil)
	if !whole {
		if train, val, err = splitTwoThirds(data, format); err != nil {
			return fmt.Errorf("demo dataset %s: %w", file, err)
		}
	}
	for _, part := range []struct {
		split model.Split
		data  []byte
	}{{model.Train, train}, {model.Validation, val}} {
		if len(part.data) == 0 {
			continue
		}
		_, err := svc.ImportDataset(ctx, app.ImportDatasetRequest{Name: name, File: "examples/" + file, Format: string(format),
			Split: part.split, Inputs: model.ParseLabels(inputs), Data: bytes.NewReader(part.data)})
		if err != nil {
			return err
		}
	}
	return nil
}

// splitTwoThirds cuts a JSONL or CSV file (the demo's) after two thirds of
// its records; a CSV's header goes with both parts.
func splitTwoThirds(data []byte, format datafile.Format) (first, rest []byte, err error) {
	lines := bytes.SplitAfter(bytes.TrimRight(data, "\n"), []byte("\n"))
	var header []byte
	switch format {
	case datafile.CSV:
		header, lines = lines[0], lines[1:]
		if !bytes.HasSuffix(header, []byte("\n")) {
			header = append(header, '\n')
		}
	case datafile.JSONL:
	default:
		return nil, nil, fmt.Errorf("a demo file is JSONL or CSV, not %s", format)
	}
	cut := len(lines) * 2 / 3
	join := func(ls [][]byte) []byte {
		if len(ls) == 0 {
			return nil
		}
		out := append([]byte{}, header...)
		for _, l := range ls {
			out = append(out, l...)
		}
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		return out
	}
	return join(lines[:cut]), join(lines[cut:]), nil
}
