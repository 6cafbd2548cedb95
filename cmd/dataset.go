package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
)

func (a *cli) datasetCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "dataset",
		Aliases: []string{"datasets", "ds"},
		Short:   "Import, inspect and export datasets of examples",
	}
	c.AddCommand(a.datasetImport(), a.datasetList(), a.datasetShow(), a.datasetExport(), a.datasetStats(), a.datasetDelete())
	return c
}

func (a *cli) datasetImport() *cobra.Command {
	var name, split, inputs, format, desc, program, typesSpec string
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Import examples from JSONL, JSON (array of objects) or CSV with a header; all or nothing",
		Long: "Import examples from JSONL, JSON (an array of objects) or CSV with a header row. A .json file that\n" +
			"holds JSON lines (one object per line) imports as JSONL. Nothing is imported if any row is bad.\n\n" +
			"Field types: CSV cells are strings unless a type says otherwise. --program NAME[@VERSION] takes the\n" +
			"types its signatures declare (inputs and outputs); --types field=type,... gives them in DSPy's syntax\n" +
			"(int, float, bool, list[str], dict[str, int], Literal['a', 'b'], Optional[int], ...) and wins over\n" +
			"--program. A typed cell is parsed (\"3\" is 3, [\"a\"] a list) and an empty cell of a non-str field\n" +
			"is null (None); JSON and JSONL values are checked against their type. A value that does not fit\n" +
			"stops the import with file:line:column and the field. Without types the cells stay strings, and the\n" +
			"worker still gives each module its declared types when the program runs.",
		Args: exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			path := args[0]
			sp, err := model.ParseSplit(split)
			if err != nil {
				return usageError{err}
			}
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			}
			if err := model.ValidName("dataset", name); err != nil {
				return usagef("%v (choose one with --name)", err)
			}
			types, err := parseTypesFlag(typesSpec)
			if err != nil {
				return err
			}
			file, err := os.Open(a.abs(path))
			if err != nil {
				return asTyped(err, path)
			}
			defer file.Close()
			res, err := a.svc.ImportDataset(c.Context(), app.ImportDatasetRequest{Name: name, File: path, Format: format,
				Split: sp, Inputs: model.ParseLabels(inputs), Description: desc, Types: types, TypesFrom: program, Data: file})
			if err != nil {
				// A flag naming what the file does not have is how the command was called.
				if f := appField(err); app.CodeOf(err) == app.CodeInvalid && (f == "types" || f == "inputs") {
					return usageError{err}
				}
				return err
			}
			d := res.Dataset
			fmt.Fprintf(a.stdout, "imported %s into dataset %s (%s: %d; total %d)\n", path, d.Name, sp, d.Counts[sp], d.Size())
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "dataset name (default: the file name without extension)")
	c.Flags().StringVar(&split, "split", "train", "train, validation (val, dev) or test")
	c.Flags().StringVar(&inputs, "inputs", "", "input fields, comma separated (like dspy.Example.with_inputs)")
	c.Flags().StringVar(&format, "format", "", "jsonl, json or csv (default: from the file extension)")
	c.Flags().StringVar(&desc, "description", "", "what the dataset is")
	c.Flags().StringVar(&program, "program", "", "NAME[@VERSION]: parse fields by the types this program's signatures declare")
	c.Flags().StringVar(&typesSpec, "types", "", "field types, e.g. score=float,tags=list[str] (see above; over --program's)")
	return c
}

// parseTypesFlag reads --types (field=type,...) into the service's form,
// a usage error naming what does not parse.
func parseTypesFlag(spec string) (map[string]string, error) {
	if spec == "" {
		return nil, nil
	}
	given, err := datafile.ParseTypes(spec)
	if err != nil {
		return nil, usageError{fmt.Errorf("--types: %w", err)}
	}
	return given.Exprs(), nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type datasetRow struct {
	Name      string   `json:"name"`
	Examples  int      `json:"examples"`
	Train     int      `json:"train"`
	Val       int      `json:"validation"`
	Test      int      `json:"test"`
	Fields    []string `json:"fields"`
	InputKeys []string `json:"input_keys,omitempty"`
}

func rowOf(d *model.Dataset) datasetRow {
	return datasetRow{d.Name, d.Size(), d.Counts[model.Train], d.Counts[model.Validation], d.Counts[model.Test], d.Fields, d.InputKeys}
}

func (a *cli) datasetList() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List datasets with their sizes and splits",
		Args:    exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			ds, err := a.svc.ListDatasets(c.Context())
			if err != nil {
				return err
			}
			rows := make([]datasetRow, 0, len(ds))
			for _, d := range ds {
				rows = append(rows, rowOf(d))
			}
			if asJSON {
				return writeJSON(a.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "no datasets yet: signet dataset import FILE")
				return nil
			}
			t := newTable(a.stdout, "name", "examples", "train", "val", "test", "inputs", "fields")
			for _, r := range rows {
				t.row(r.Name, r.Examples, r.Train, r.Val, r.Test, orDash(strings.Join(r.InputKeys, ",")), clip(strings.Join(r.Fields, ","), 40))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) datasetShow() *cobra.Command {
	var asJSON bool
	var split, cursor string
	var limit int
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a dataset and a page of its examples",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			sp, err := splitFlag(split)
			if err != nil {
				return err
			}
			d, err := a.svc.Dataset(c.Context(), args[0])
			if err != nil {
				return err
			}
			page, err := a.svc.ListExamples(c.Context(), app.ExampleQuery{Dataset: d.Name, Split: sp, Cursor: cursor, Limit: limit})
			if err != nil {
				return err
			}
			exs, next := page.Examples, page.Next
			if asJSON {
				return writeJSON(a.stdout, struct {
					Dataset  *model.Dataset   `json:"dataset"`
					Examples []*model.Example `json:"examples"`
					Next     string           `json:"next_cursor,omitempty"`
				}{d, exs, next})
			}
			r := rowOf(d)
			fmt.Fprintf(a.stdout, "%s: %d examples (train %d, validation %d, test %d)\nfields: %s\ninputs: %s\n\n",
				d.Name, r.Examples, r.Train, r.Val, r.Test, strings.Join(d.Fields, ", "), orDash(strings.Join(d.InputKeys, ", ")))
			cols := append([]string{"id", "split"}, d.Fields...)
			t := newTable(a.stdout, cols...)
			for _, e := range exs {
				cells := []any{e.ID, e.Split}
				for _, f := range d.Fields {
					cells = append(cells, clip(cellText(e.Data[f]), 40))
				}
				t.row(cells...)
			}
			return a.flushPage(t, next, "signet dataset show "+d.Name)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&split, "split", "", "only this split")
	c.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page")
	c.Flags().IntVar(&limit, "limit", 20, "examples per page")
	return c
}

func cellText(v any) string { return model.ValueText(v) }

func (a *cli) datasetExport() *cobra.Command {
	var out, format, split string
	c := &cobra.Command{
		Use:   "export NAME",
		Short: "Write a dataset as JSONL, JSON or CSV (to stdout, or -o FILE)",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			sp, err := splitFlag(split)
			if err != nil {
				return err
			}
			f := datafile.Format(format)
			if f == "" {
				f = datafile.JSONL
				if out != "" {
					var err error
					if f, err = datafile.DetectFormat(out); err != nil {
						return usageError{err}
					}
				}
			}
			d, err := a.svc.Dataset(c.Context(), args[0])
			if err != nil {
				return err
			}
			w := a.dataOut()
			var file *os.File
			target := a.abs(out)
			if out != "" {
				// Written beside the target and renamed, so a failed export never
				// leaves half a file where a good one was.
				file, err = os.CreateTemp(filepath.Dir(target), ".signet-export-*")
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer os.Remove(file.Name())
				w = file
			}
			if err := a.svc.ExportDataset(c.Context(), app.ExportDatasetRequest{Dataset: d.Name, Split: sp, Format: string(f)}, w); err != nil {
				if file != nil {
					file.Close()
				}
				return fmt.Errorf("exporting dataset %s: %w", d.Name, err)
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if err := os.Rename(file.Name(), target); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				fmt.Fprintf(a.stderr, "exported dataset %s to %s\n", d.Name, out)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "output file (default stdout)")
	c.Flags().StringVar(&format, "format", "", "jsonl, json or csv (default: from -o, else jsonl)")
	c.Flags().StringVar(&split, "split", "", "only this split")
	return c
}

// eachExample pages through a dataset in store order, calling fn per example.
// datasetStats is what `dataset stats --json` prints (computed by
// model.StatsCounter, which the TUI's statistics view shares).
type datasetStats = model.DatasetStats

func (a *cli) datasetStats() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "stats NAME",
		Short: "Fields, fill rate, average lengths and split sizes",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			d, err := a.svc.Dataset(c.Context(), args[0])
			if err != nil {
				return err
			}
			out, err := a.svc.DatasetStats(c.Context(), d.Name)
			if err != nil {
				return err
			}
			n := out.Examples
			if asJSON {
				return writeJSON(a.stdout, out)
			}
			fmt.Fprintf(a.stdout, "%s: %d examples (train %d, validation %d, test %d)\n\n", d.Name, n, out.Splits[model.Train], out.Splits[model.Validation], out.Splits[model.Test])
			t := newTable(a.stdout, "field", "input", "filled", "avg chars")
			for _, f := range out.Fields {
				in := ""
				if f.Input {
					in = "yes"
				}
				t.row(f.Field, orDash(in), fmt.Sprintf("%.1f%%", 100*f.FillRate), fmt.Sprintf("%.1f", f.AvgChars))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) datasetDelete() *cobra.Command {
	return a.deleteCommand("dataset", "all its examples", func(ctx context.Context, name string) error {
		return a.svc.DeleteDataset(ctx, name)
	})
}
