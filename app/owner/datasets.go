package owner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/model/redact"
	"github.com/signet-dspy/signet/store"
)

func (o *Owner) ListDatasets(ctx context.Context) ([]*model.Dataset, error) {
	if err := o.mayRead(ctx, "datasets", "*"); err != nil {
		return nil, err
	}
	ds, err := o.st.ListDatasets(ctx)
	return ds, fail(err)
}

func (o *Owner) Dataset(ctx context.Context, name string) (*model.Dataset, error) {
	if err := o.mayRead(ctx, "dataset", name); err != nil {
		return nil, err
	}
	d, err := o.st.GetDataset(ctx, name)
	return d, fail(err)
}

func (o *Owner) ListExamples(ctx context.Context, q app.ExampleQuery) (*app.ExamplePage, error) {
	if err := o.mayRead(ctx, "dataset", q.Dataset); err != nil {
		return nil, err
	}
	sp, err := splitOrAll(q.Split)
	if err != nil {
		return nil, err
	}
	exs, next, err := o.st.ListExamples(ctx, store.ExampleQuery{Dataset: q.Dataset, Split: sp, Cursor: q.Cursor, Limit: q.Limit})
	if err != nil {
		return nil, fail(err)
	}
	if exs == nil {
		exs = []*model.Example{} // an empty page, not null, on the wire
	}
	return &app.ExamplePage{Examples: exs, Next: next}, nil
}

func (o *Owner) Example(ctx context.Context, dataset string, id model.ID) (*model.Example, error) {
	if err := o.mayRead(ctx, "dataset", dataset); err != nil {
		return nil, err
	}
	e, err := o.st.GetExample(ctx, dataset, id)
	return e, fail(err)
}

func (o *Owner) ExampleAt(ctx context.Context, dataset string, split model.Split, n int) (*model.Example, error) {
	if err := o.mayRead(ctx, "dataset", dataset); err != nil {
		return nil, err
	}
	sp, err := splitOrAll(split)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, invalid("n", "dataset %q: example %d: want an index from 0", dataset, n)
	}
	e, err := o.st.ExampleAt(ctx, dataset, sp, n)
	return e, fail(err)
}

// PutExample adds e when it has no ID (split train unless given), else
// replaces the example it names, which must still be there: an edit never
// re-creates an example someone else deleted. A replacement keeps its split
// unless e gives one. The dataset must exist.
func (o *Owner) PutExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	if e == nil {
		return nil, invalid("example", "put example: no example given")
	}
	if _, err := o.mayWrite(ctx, "dataset", e.Dataset); err != nil {
		return nil, err
	}
	out := *e
	out.Data = o.redact.Map(out.Data)
	if out.Split != "" {
		sp, err := model.ParseSplit(string(out.Split))
		if err != nil {
			return nil, invalid("split", "dataset %q: example %s: %w", out.Dataset, out.ID, err)
		}
		out.Split = sp
	}
	if !out.ID.IsZero() {
		old, err := o.st.GetExample(ctx, out.Dataset, out.ID)
		if err != nil {
			return nil, fail(err)
		}
		if out.Split == "" {
			out.Split = old.Split
		}
	}
	if err := o.st.PutExample(ctx, &out); err != nil {
		return nil, fail(err)
	}
	o.datasetChanged(out.Dataset)
	return &out, nil
}

// RestoreExample re-puts a deleted example as it was: PutExample never
// re-creates one (an edit of an example gone is not_found), so the undo
// of a delete is its own, explicit request.
func (o *Owner) RestoreExample(ctx context.Context, e *model.Example) (*model.Example, error) {
	if e == nil || e.ID.IsZero() {
		return nil, invalid("id", "restore example: the deleted example's id is needed")
	}
	if _, err := o.mayWrite(ctx, "dataset", e.Dataset); err != nil {
		return nil, err
	}
	out := *e
	sp, err := model.ParseSplit(string(out.Split))
	if err != nil {
		return nil, invalid("split", "dataset %q: restore example %s: %w", out.Dataset, out.ID, err)
	}
	out.Split, out.Data = sp, o.redact.Map(out.Data)
	switch _, err := o.st.GetExample(ctx, out.Dataset, out.ID); {
	case err == nil:
		return nil, app.Errorf(app.CodeExists, "dataset %q: example %s exists: only a deleted example is restored", out.Dataset, out.ID)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fail(err)
	}
	if err := o.st.PutExample(ctx, &out); err != nil {
		return nil, fail(err)
	}
	return &out, nil
}

func (o *Owner) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	if _, err := o.mayWrite(ctx, "dataset", dataset); err != nil {
		return err
	}
	if err := o.st.DeleteExample(ctx, dataset, id); err != nil {
		return fail(err)
	}
	o.datasetChanged(dataset)
	return nil
}

func (o *Owner) DeleteDataset(ctx context.Context, name string) error {
	if _, err := o.mayWrite(ctx, "dataset", name); err != nil {
		return err
	}
	if err := o.st.DeleteDataset(ctx, name); err != nil {
		return fail(err)
	}
	o.datasetChanged(name)
	return nil
}

// RenameDataset copies the dataset under its new name, page by page (its
// examples get new IDs), and only then deletes the old one: an interruption
// leaves both, never neither.
func (o *Owner) RenameDataset(ctx context.Context, name, to string) (*model.Dataset, error) {
	if _, err := o.mayWrite(ctx, "dataset", name); err != nil {
		return nil, err
	}
	if err := model.ValidName("dataset", to); err != nil {
		return nil, invalid("to", "%w", err)
	}
	d, err := o.st.GetDataset(ctx, name)
	if err != nil {
		return nil, fail(err)
	}
	if _, err := o.st.GetDataset(ctx, to); err == nil {
		return nil, app.Errorf(app.CodeExists, "rename dataset %s: dataset %q exists", name, to)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fail(err)
	}
	next, stop := iter.Pull2(func(yield func(*model.Example, error) bool) {
		err := o.eachExample(ctx, name, "", func(e *model.Example) error {
			if !yield(e, nil) {
				return errStopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopped) {
			yield(nil, err)
		}
	})
	defer stop()
	copied := &model.Dataset{Name: to, Description: d.Description, InputKeys: d.InputKeys, Fields: d.Fields}
	out, err := o.st.ImportExamples(ctx, copied, func() (*model.Example, error) {
		e, err, ok := next()
		switch {
		case !ok:
			return nil, io.EOF
		case err != nil:
			return nil, err
		}
		c := *e
		c.Dataset, c.ID = to, model.ID{}
		return &c, nil
	})
	if err != nil {
		return nil, fail(fmt.Errorf("rename dataset %s to %s: %w", name, to, err))
	}
	if err := o.st.DeleteDataset(ctx, name); err != nil {
		return nil, fail(fmt.Errorf("rename dataset %s to %s: copied, but the old one stays: %w", name, to, err))
	}
	o.datasetChanged(name)
	o.datasetChanged(to)
	return out, nil
}

// errStopped ends a walk whose reader stopped reading.
var errStopped = errors.New("stopped")

// DatasetStats pages through every example, so a dataset of any size is
// never held whole.
func (o *Owner) DatasetStats(ctx context.Context, name string) (*model.DatasetStats, error) {
	if err := o.mayRead(ctx, "dataset", name); err != nil {
		return nil, err
	}
	d, err := o.st.GetDataset(ctx, name)
	if err != nil {
		return nil, fail(err)
	}
	var c model.StatsCounter
	err = o.eachExample(ctx, d.Name, "", func(e *model.Example) error {
		c.Add(e)
		return nil
	})
	if err != nil {
		return nil, fail(err)
	}
	return c.Stats(d), nil
}

// ExportDataset streams a dataset (or one split) to w, page by page, in
// req.Format (jsonl when not given). Everything that can be refused is
// checked before the first byte is written.
func (o *Owner) ExportDataset(ctx context.Context, req app.ExportDatasetRequest, w io.Writer) error {
	if _, err := o.mayWrite(ctx, "dataset", req.Dataset); err != nil {
		return err
	}
	f := datafile.JSONL
	if req.Format != "" {
		var err error
		if f, err = datafile.ParseFormat(req.Format); err != nil {
			return invalid("format", "%w", err)
		}
	}
	sp, err := splitOrAll(req.Split)
	if err != nil {
		return err
	}
	d, err := o.st.GetDataset(ctx, req.Dataset)
	if err != nil {
		return fail(err)
	}
	dw, err := datafile.NewWriter(w, f, d.Fields)
	if err == nil {
		err = o.eachExample(ctx, d.Name, sp, func(e *model.Example) error { return dw.Write(o.redact.Map(e.Data)) })
	}
	if err == nil {
		err = dw.Close()
	}
	if err != nil {
		return fail(fmt.Errorf("exporting dataset %s: %w", d.Name, err))
	}
	return nil
}

// eachExample pages through a dataset (or a split) in store order, calling
// fn per example.
func (o *Owner) eachExample(ctx context.Context, name string, sp model.Split, fn func(*model.Example) error) error {
	cursor := ""
	for {
		page, next, err := o.st.ListExamples(ctx, store.ExampleQuery{Dataset: name, Split: sp, Cursor: cursor, Limit: 1000})
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

// ImportDataset reads a dataset file into the dataset req.Name (created if
// needed), all or nothing: every row is checked before any becomes
// visible. Every error about the file names it as file:line:column and the
// field; a request that cannot be done as asked is app.CodeInvalid.
func (o *Owner) ImportDataset(ctx context.Context, req app.ImportDatasetRequest) (*app.ImportDatasetResult, error) {
	if _, err := o.mayWrite(ctx, "dataset", req.Name); err != nil {
		return nil, err
	}
	if err := model.ValidName("dataset", req.Name); err != nil {
		return nil, invalid("name", "%w", err)
	}
	split := model.Train
	if req.Split != "" {
		var err error
		if split, err = model.ParseSplit(string(req.Split)); err != nil {
			return nil, invalid("split", "%w", err)
		}
	}
	if req.Data == nil {
		return nil, invalid("data", "import of %s: no file content given", req.File)
	}
	f, err := importFormat(req)
	if err != nil {
		return nil, err
	}
	opts, err := o.importOptions(ctx, req)
	if err != nil {
		return nil, err
	}
	d := &model.Dataset{Name: req.Name, Description: req.Description}
	out, n, err := importFrom(ctx, o.st, req.File, req.Data, f, d, split, opts)
	if err != nil {
		return nil, fail(err)
	}
	o.datasetChanged(out.Name)
	return &app.ImportDatasetResult{Dataset: out, Imported: n}, nil
}

// importFormat is req.Format, else the format the file's name says (the
// reader then looks at the content: a .json file of JSON lines is JSONL).
func importFormat(req app.ImportDatasetRequest) (datafile.Format, error) {
	if req.Format != "" {
		f, err := datafile.ParseFormat(req.Format)
		if err != nil {
			return "", invalid("format", "%s: %w", req.File, err)
		}
		return f, nil
	}
	f, err := datafile.DetectFormat(req.File)
	if err != nil {
		return "", invalid("format", "%w", err)
	}
	return f, nil
}

// importOptions say how an import reads its file beyond the format.
type importOptions struct {
	inputs string         // the input keys, comma separated, as given
	types  datafile.Types // field types; nil: CSV cells stay strings
	limit  int64          // the longest line or record (limits: import_line)
	named  []string       // the fields req.Types names, which the file must have
	redact *redact.Redactor
}

// importOptions reads the request: the field types are those the
// signatures of req.TypesFrom declare, then req.Types over them.
func (o *Owner) importOptions(ctx context.Context, req app.ImportDatasetRequest) (importOptions, error) {
	opts := importOptions{inputs: strings.Join(req.Inputs, ","), redact: o.redact}
	lim, err := o.limits()
	if err != nil {
		return opts, err
	}
	opts.limit = int64(lim.ImportLine)
	types := datafile.Types{}
	if req.TypesFrom != "" {
		p, err := o.programRef(ctx, req.TypesFrom)
		if err != nil {
			return opts, fail(fmt.Errorf("--program %s: %w", req.TypesFrom, err))
		}
		if types, err = datafile.TypesOf(model.FieldTypes(p)); err != nil {
			return opts, invalid("types_from", "program %s: %w", p.Name, err)
		}
	}
	if len(req.Types) > 0 {
		given, err := datafile.TypesOf(req.Types)
		if err != nil {
			return opts, invalid("types", "--types: %w", err)
		}
		maps.Copy(types, given)
		opts.named = slices.Sorted(maps.Keys(given))
	}
	if len(types) > 0 {
		opts.types = types
	}
	return opts, nil
}

// importFrom streams file (named path in errors) into the store. f must be
// set. It answers the dataset after the import and the examples imported.
func importFrom(ctx context.Context, st *store.Store, path string, file io.Reader, f datafile.Format, d *model.Dataset, split model.Split, opts importOptions) (*model.Dataset, int, error) {
	r := datafile.NewReader(file, path, f)
	r.SetTypes(opts.types)
	r.SetMaxRecord(opts.limit)
	// A CSV header is read up front (as datafile.Open does), so that a bad
	// one fails before any row and --inputs can be checked against it.
	var first map[string]any
	var firstErr error
	primed := false
	if f == datafile.CSV {
		first, firstErr = r.Next()
		if firstErr != nil && !errors.Is(firstErr, io.EOF) && len(r.Fields()) == 0 {
			return nil, 0, firstErr
		}
		primed = true
	}

	var keys []string
	for k := range strings.SplitSeq(opts.inputs, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	d.InputKeys = keys
	if len(r.Fields()) > 0 {
		// A CSV header names every field up front: check before reading rows.
		if err := checkNamedFields(path, opts, r.Fields()); err != nil {
			return nil, 0, err
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
				return nil, invalid("", "%s: no examples in file", path)
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
				have := slices.Sorted(maps.Keys(rec))
				return nil, &datafile.Error{File: path, Line: r.Line(), Msg: fmt.Sprintf("input field %q is missing (this row has: %s)", k, strings.Join(have, ", "))}
			}
		}
		return &model.Example{Split: split, Data: opts.redact.Map(rec)}, nil
	}
	out, err := st.ImportExamples(ctx, d, next)
	if err != nil {
		return nil, 0, fmt.Errorf("import of %s failed, nothing was imported: %w", path, err)
	}
	return out, rows, nil
}

// checkNamedFields: the fields --inputs and --types name must be fields
// of the file (a typo would silently leave a field untyped).
func checkNamedFields(path string, opts importOptions, fields []string) error {
	if opts.inputs != "" {
		if _, err := datafile.InputKeys(opts.inputs, fields); err != nil {
			return invalid("inputs", "%s: --inputs: %w", path, err)
		}
	}
	for _, name := range opts.named {
		if !slices.Contains(fields, name) {
			return invalid("types", "%s: --types names %q, which is not a field of the file (fields: %s)", path, name, strings.Join(fields, ", "))
		}
	}
	return nil
}

// programRef is the program version "NAME[@VERSION]" names (the newest
// without a version).
func (o *Owner) programRef(ctx context.Context, ref string) (*model.Program, error) {
	name, version, err := model.ParseProgramRef(ref)
	if err != nil {
		return nil, app.Wrap(app.CodeInvalid, err)
	}
	return o.program(ctx, name, version)
}

// splitOrAll checks a split that may be "" for every split.
func splitOrAll(sp model.Split) (model.Split, error) {
	if sp == "" {
		return "", nil
	}
	out, err := model.ParseSplit(string(sp))
	if err != nil {
		return "", invalid("split", "%w", err)
	}
	return out, nil
}

// invalid is a caller's mistake in the request field field.
func invalid(field, format string, args ...any) *app.Error {
	e := app.Errorf(app.CodeInvalid, format, args...)
	e.Field = field
	return e
}
