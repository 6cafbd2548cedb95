package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/store"
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
			st, err := a.store()
			if err != nil {
				return err
			}
			var typedBy *model.Program
			if program != "" {
				if typedBy, err = a.programRef(c.Context(), program); err != nil {
					return fmt.Errorf("--program %s: %w", program, err)
				}
			}
			opts, err := importOptionsOf(inputs, typedBy, typesSpec)
			if err != nil {
				return err
			}
			d, err := importFile(c.Context(), st, path, a.abs(path), datafile.Format(format), &model.Dataset{Name: name, Description: desc}, sp, opts)
			if err != nil {
				return err
			}
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

// importOptions say how an import reads its file beyond the format.
type importOptions struct {
	inputs string         // --inputs, as given
	types  datafile.Types // field types; nil: cells stay strings
	named  []string       // the fields --types names, which the file must have
}

// importOptionsOf reads the flags: the field types are those the
// signatures of typedBy (if not nil) declare, then --types over them.
func importOptionsOf(inputs string, typedBy *model.Program, spec string) (importOptions, error) {
	opts := importOptions{inputs: inputs}
	types := datafile.Types{}
	if typedBy != nil {
		var err error
		if types, err = datafile.TypesOf(model.FieldTypes(typedBy)); err != nil {
			return opts, fmt.Errorf("program %s: %w", typedBy.Name, err)
		}
	}
	if spec != "" {
		given, err := datafile.ParseTypes(spec)
		if err != nil {
			return opts, usageError{fmt.Errorf("--types: %w", err)}
		}
		maps.Copy(types, given)
		opts.named = slices.Sorted(maps.Keys(given))
	}
	if len(types) > 0 {
		opts.types = types
	}
	return opts, nil
}

// importFile streams one file into the store. Every row is checked before
// anything becomes visible: an error anywhere imports nothing. path is the
// file as the user typed it, which errors name; abs is where it is.
func importFile(ctx context.Context, st *store.Store, path, abs string, f datafile.Format, d *model.Dataset, split model.Split, opts importOptions) (*model.Dataset, error) {
	if f == "" {
		var err error
		if f, err = datafile.DetectFormat(path); err != nil {
			return nil, usageError{err}
		}
	}
	file, err := os.Open(abs)
	if err != nil {
		return nil, asTyped(err, path)
	}
	defer file.Close()
	return importFrom(ctx, st, path, file, f, d, split, opts)
}

// importFrom is importFile's work on an open file (the TUI's import wraps
// it to count the bytes read, for its progress bar). f must be set.
func importFrom(ctx context.Context, st *store.Store, path string, file io.Reader, f datafile.Format, d *model.Dataset, split model.Split, opts importOptions) (*model.Dataset, error) {
	inputs := opts.inputs
	r := datafile.NewReader(file, path, f)
	r.SetTypes(opts.types)
	// A CSV header is read up front (as datafile.Open does), so that a bad
	// one fails before any row and --inputs can be checked against it.
	var first map[string]any
	var firstErr error
	primed := false
	if f == datafile.CSV {
		first, firstErr = r.Next()
		if firstErr != nil && !errors.Is(firstErr, io.EOF) && len(r.Fields()) == 0 {
			return nil, firstErr
		}
		primed = true
	}

	var keys []string
	if inputs != "" {
		for _, k := range strings.Split(inputs, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	d.InputKeys = keys
	if len(r.Fields()) > 0 {
		// A CSV header names every field up front: check before reading rows.
		if err := checkNamedFields(path, opts, r.Fields()); err != nil {
			return nil, err
		}
	}
	rows := 0
	next := func() (*model.Example, error) {
		var rec map[string]any
		var err error
		if primed {
			rec, err, primed = first, firstErr, false
		} else {
			rec, err = r.Next()
		}
		if errors.Is(err, io.EOF) {
			if rows == 0 {
				return nil, fmt.Errorf("%s: no examples in file", path)
			}
			// Checked against every field the file has, with suggestions.
			if err := checkNamedFields(path, opts, r.Fields()); err != nil {
				return nil, err
			}
			d.Fields = r.Fields() // the file's field order, read when the import commits
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		rows++
		for _, k := range keys {
			if _, ok := rec[k]; !ok {
				return nil, &datafile.Error{File: path, Line: r.Line(), Msg: fmt.Sprintf("input field %q is missing (this row has: %s)", k, strings.Join(sortedKeys(rec), ", "))}
			}
		}
		return &model.Example{Split: split, Data: rec}, nil
	}
	out, err := st.ImportExamples(ctx, d, next)
	if err != nil {
		return nil, fmt.Errorf("import of %s failed, nothing was imported: %w", path, err)
	}
	return out, nil
}

// checkNamedFields: the fields --inputs and --types name must be fields
// of the file (a typo would silently leave a field untyped).
func checkNamedFields(path string, opts importOptions, fields []string) error {
	if opts.inputs != "" {
		if _, err := datafile.InputKeys(opts.inputs, fields); err != nil {
			return usageError{fmt.Errorf("%s: --inputs: %w", path, err)}
		}
	}
	for _, name := range opts.named {
		if !slices.Contains(fields, name) {
			return usageError{fmt.Errorf("%s: --types names %q, which is not a field of the file (fields: %s)", path, name, strings.Join(fields, ", "))}
		}
	}
	return nil
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
			st, err := a.store()
			if err != nil {
				return err
			}
			ds, err := st.ListDatasets(c.Context())
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
			var sp model.Split
			if split != "" {
				var err error
				if sp, err = model.ParseSplit(split); err != nil {
					return usageError{err}
				}
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			d, err := st.GetDataset(c.Context(), args[0])
			if err != nil {
				return err
			}
			exs, next, err := st.ListExamples(c.Context(), store.ExampleQuery{Dataset: d.Name, Split: sp, Cursor: cursor, Limit: limit})
			if err != nil {
				return err
			}
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
			if err := t.flush(); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(a.stdout, "\nmore: signet dataset show %s --cursor %s\n", d.Name, next)
			}
			return nil
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
			var sp model.Split
			if split != "" {
				var err error
				if sp, err = model.ParseSplit(split); err != nil {
					return usageError{err}
				}
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
			st, err := a.store()
			if err != nil {
				return err
			}
			d, err := st.GetDataset(c.Context(), args[0])
			if err != nil {
				return err
			}
			w := a.stdout
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
			if err := exportDataset(c.Context(), st, d, sp, f, w); err != nil {
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
func eachExample(ctx context.Context, st *store.Store, name string, sp model.Split, fn func(*model.Example) error) error {
	cursor := ""
	for {
		page, next, err := st.ListExamples(ctx, store.ExampleQuery{Dataset: name, Split: sp, Cursor: cursor, Limit: 1000})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

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
			st, err := a.store()
			if err != nil {
				return err
			}
			d, err := st.GetDataset(c.Context(), args[0])
			if err != nil {
				return err
			}
			var counter model.StatsCounter
			err = eachExample(c.Context(), st, d.Name, "", func(e *model.Example) error {
				counter.Add(e)
				return nil
			})
			if err != nil {
				return err
			}
			out := counter.Stats(d)
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
	return a.deleteCommand("dataset", "all its examples", func(ctx context.Context, st *store.Store, name string) error {
		return st.DeleteDataset(ctx, name)
	})
}

// exportDataset streams a dataset (or one split) to w, page by page.
func exportDataset(ctx context.Context, st *store.Store, d *model.Dataset, sp model.Split, f datafile.Format, w io.Writer) error {
	dw, err := datafile.NewWriter(w, f, d.Fields)
	if err != nil {
		return err
	}
	if err := eachExample(ctx, st, d.Name, sp, func(e *model.Example) error { return dw.Write(e.Data) }); err != nil {
		return err
	}
	return dw.Close()
}
