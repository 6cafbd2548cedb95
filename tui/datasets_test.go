package tui

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
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
)

// fakeDatasets serves datasets whose examples are either generated on
// demand (gen), so a 100k-example dataset costs nothing until paged, or
// kept in memory (mem), which the writes change. The cursor is the index of
// the next example.
type fakeDatasets struct {
	datasets []*model.Dataset
	gen      map[string]func(i int) *model.Example
	mem      map[string][]*model.Example
	err      error
	writeErr error // returned by PutExample and DeleteExample when set

	mu      sync.Mutex
	calls   []string // "name@cursor" of each ListExamples
	nextID  uint64
	imports []ImportRequest
}

// fakeID is a deterministic example ID.
func fakeID(tag byte, i int) model.ID {
	var id model.ID
	id[0] = tag
	binary.BigEndian.PutUint64(id[8:], uint64(i+1))
	return id
}

func (f *fakeDatasets) ListDatasets(context.Context) ([]*model.Dataset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	// Copies, as a real repository returns: the TUI must not share them.
	out := make([]*model.Dataset, len(f.datasets))
	for i, d := range f.datasets {
		c := *d
		c.Counts = maps.Clone(d.Counts)
		c.Fields, c.InputKeys = slices.Clone(d.Fields), slices.Clone(d.InputKeys)
		out[i] = &c
	}
	return out, nil
}

func (f *fakeDatasets) dataset(name string) *model.Dataset {
	for _, x := range f.datasets {
		if x.Name == name {
			return x
		}
	}
	return nil
}

func (f *fakeDatasets) ListExamples(_ context.Context, name string, _ model.Split, cursor string, limit int) ([]*model.Example, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+"@"+cursor)
	d := f.dataset(name)
	if d == nil {
		return nil, "", fmt.Errorf("dataset %q not found", name)
	}
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	size := d.Size()
	exs, inMem := f.mem[name]
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
			out = append(out, f.gen[name](i))
		}
	}
	next := ""
	if end < size {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}

func (f *fakeDatasets) PutExample(_ context.Context, e *model.Example) (*model.Example, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return nil, f.writeErr
	}
	d := f.dataset(e.Dataset)
	if d == nil {
		return nil, fmt.Errorf("dataset %q not found", e.Dataset)
	}
	out := *e
	out.Data = maps.Clone(e.Data)
	exs := f.mem[e.Dataset]
	if out.ID.IsZero() {
		f.nextID++
		out.ID = fakeID('n', int(f.nextID))
		if out.Split == "" {
			out.Split = model.Train
		}
		f.mem[e.Dataset] = append(exs, &out)
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

func (f *fakeDatasets) DeleteExample(_ context.Context, dataset string, id model.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return f.writeErr
	}
	exs := f.mem[dataset]
	i := slices.IndexFunc(exs, func(x *model.Example) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("example %s: not found", id)
	}
	f.dataset(dataset).Counts[exs[i].Split]--
	f.mem[dataset] = slices.Delete(exs, i, i+1)
	return nil
}

// ImportFile reads the file with model/datafile, as the real import does,
// so a bad file fails with its file:line.
func (f *fakeDatasets) ImportFile(ctx context.Context, req ImportRequest) (*model.Dataset, error) {
	format, err := datafile.DetectFormat(req.Path)
	if err != nil {
		return nil, err
	}
	r, err := datafile.Open(req.Path, format)
	if err != nil {
		return nil, err
	}
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
			return nil, fmt.Errorf("import of %s failed, nothing was imported: %w", req.Path, err)
		}
		exs = append(exs, &model.Example{Dataset: req.Name, ID: fakeID('i', len(exs)), Split: split, Data: rec})
	}
	if req.Progress != nil {
		req.Progress(1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imports = append(f.imports, req)
	var inputs []string
	if req.Inputs != "" {
		inputs = strings.Split(req.Inputs, ",")
	}
	d := &model.Dataset{Name: req.Name, Fields: r.Fields(), InputKeys: inputs, Counts: map[model.Split]int{split: len(exs)}}
	f.datasets = append(f.datasets, d)
	slices.SortFunc(f.datasets, func(a, b *model.Dataset) int { return strings.Compare(a.Name, b.Name) })
	f.mem[req.Name] = exs
	c := *d
	return &c, nil
}

func (f *fakeDatasets) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func sampleDatasets() *fakeDatasets {
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
		qaExs = append(qaExs, &model.Example{Dataset: "qa", ID: fakeID('q', i), Split: splits[i],
			Data: map[string]any{"question": x.q, "answer": x.a}})
	}
	sentiment := []*model.Example{
		{Dataset: "sentiment", ID: fakeID('s', 0), Split: model.Train, Data: map[string]any{"review": "Loved it.", "sentiment": "positive"}},
		{Dataset: "sentiment", ID: fakeID('s', 1), Split: model.Train, Data: map[string]any{"review": "Dull.", "sentiment": "negative"}},
	}
	return &fakeDatasets{
		datasets: []*model.Dataset{
			{Name: "big", Fields: []string{"text", "label"}, InputKeys: []string{"text"},
				Counts: map[model.Split]int{model.Train: 80000, model.Validation: 10000, model.Test: 10000}},
			{Name: "qa", Description: "Short factual questions.", Fields: []string{"question", "answer"},
				InputKeys: []string{"question"}, Counts: map[model.Split]int{model.Train: 3, model.Validation: 1, model.Test: 1}},
			{Name: "sentiment", Fields: []string{"review", "sentiment"}, InputKeys: []string{"review"},
				Counts: map[model.Split]int{model.Train: 2}},
		},
		gen: map[string]func(int) *model.Example{
			"big": func(i int) *model.Example {
				return &model.Example{Dataset: "big", ID: fakeID('b', i), Split: model.Train,
					Data: map[string]any{"text": fmt.Sprintf("example %d", i), "label": i % 2}}
			},
		},
		mem: map[string][]*model.Example{"qa": qaExs, "sentiment": sentiment},
	}
}

func selectedDataset(m Model) string {
	if d := m.datasets.selected(); d != nil {
		return d.Name
	}
	return ""
}

func TestDatasetsLoadOnFirstVisit(t *testing.T) {
	fake := sampleDatasets()
	m := New(Deps{Programs: fakePrograms{}, Datasets: fake}, Options{})
	m = run(t, m, m.Init())
	if m.datasets.loaded {
		t.Fatal("datasets loaded before the page was visited")
	}
	nm, cmd := m.Update(keyText("2"))
	m = nm.(Model)
	if cmd == nil || m.datasets.loaded {
		t.Fatal("visiting Datasets did not return a load command (or loaded inside Update)")
	}
	if !strings.Contains(screen(m), "Loading datasets") {
		t.Errorf("no loading message:\n%s", screen(m))
	}
	m = run(t, m, cmd)
	s := screen(m)
	for _, want := range []string{"big", "qa", "sentiment", "100000", "80000", "question", "question, answer"} {
		if !strings.Contains(s, want) {
			t.Errorf("dataset list lacks %q:\n%s", want, s)
		}
	}
	// Coming back does not reload.
	m = send(t, m, keyText("1"))
	if _, cmd := m.Update(keyText("2")); cmd != nil {
		t.Error("a second visit reloads the datasets")
	}
}

func TestDatasetsErrors(t *testing.T) {
	m := New(Deps{Datasets: &fakeDatasets{err: fmt.Errorf("store closed")}}, Options{})
	m = send(t, m, keyText("2"))
	if s := screen(m); !strings.Contains(s, "Could not load datasets: store closed") {
		t.Errorf("error not shown:\n%s", s)
	}
	m = New(Deps{}, Options{})
	m = send(t, m, keyText("2"))
	if s := screen(m); !strings.Contains(s, "no dataset repository") {
		t.Errorf("missing repository not reported:\n%s", s)
	}
}

func TestDatasetsNavigationAndFilter(t *testing.T) {
	m := send(t, newTestModel(t, 80, 24), keyText("2"))
	for i, st := range []struct {
		key  tea.KeyPressMsg
		want string
	}{
		{keyText("j"), "qa"},
		{keyCode(tea.KeyDown, 0), "sentiment"},
		{keyText("k"), "qa"},
		{keyText("g"), "big"},
		{tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}, "sentiment"},
	} {
		m = send(t, m, st.key)
		if got := selectedDataset(m); got != st.want {
			t.Fatalf("step %d (%s): selected %q, want %q", i, st.key, got, st.want)
		}
	}
	m = send(t, m, keyText("/"))
	if !m.datasets.Typing() {
		t.Fatal("/ did not open the filter prompt")
	}
	m = typeText(t, m, "qa") // q is text here, not quit
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	if m.datasets.list.Len() != 1 || selectedDataset(m) != "qa" {
		t.Fatalf("after /qa: %d rows, selected %q", m.datasets.list.Len(), selectedDataset(m))
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if m.datasets.list.Len() != 3 {
		t.Fatalf("esc did not clear the filter: %d rows", m.datasets.list.Len())
	}
}

func TestExamplesOpenClose(t *testing.T) {
	m := send(t, newTestModel(t, 80, 24), keyText("2"))
	m = send(t, m, keyText("j"))
	nm, cmd := m.Update(keyCode(tea.KeyEnter, 0))
	m = nm.(Model)
	if m.datasets.ex.ds == nil || m.datasets.ex.ds.Name != "qa" {
		t.Fatal("enter did not open qa")
	}
	if cmd == nil || len(m.datasets.ex.rows) != 0 {
		t.Fatal("examples were not fetched by a command")
	}
	m = run(t, m, cmd)
	s := screen(m)
	for _, want := range []string{"5 examples", "train 3", "val 1", "test 1", "inputs question", "SPLIT", "QUESTION", "ANSWER",
		"What is the capital of France?", "Paris", "validation"} {
		if !strings.Contains(s, want) {
			t.Errorf("examples table lacks %q:\n%s", want, s)
		}
	}
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if m.datasets.ex.ds != nil || selectedDataset(m) != "qa" {
		t.Fatalf("esc did not go back to the list at qa (selected %q)", selectedDataset(m))
	}
}

func TestExamplesPaging(t *testing.T) {
	fake := sampleDatasets()
	m := New(Deps{Programs: fakePrograms{}, Datasets: fake}, Options{})
	m = update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = send(t, m, keyText("2"))
	m = send(t, m, keyCode(tea.KeyEnter, 0)) // big
	if got := len(m.datasets.ex.rows); got != examplesPageSize {
		t.Fatalf("first page: %d rows, want %d", got, examplesPageSize)
	}
	calls := fake.callCount()
	// Moving within the page does not fetch.
	for i := 0; i < examplesPageSize-examplesPrefetch-1; i++ {
		nm, cmd := m.Update(keyText("j"))
		m = nm.(Model)
		if cmd != nil {
			t.Fatalf("fetched at row %d, far from the end", m.datasets.ex.list.Cursor())
		}
	}
	// Near the end, the next page is fetched by a command.
	nm, cmd := m.Update(keyText("j"))
	m = nm.(Model)
	if cmd == nil {
		t.Fatal("no fetch near the end of the loaded rows")
	}
	if !m.datasets.ex.loading {
		t.Error("not marked loading")
	}
	// While it is in flight, more moves do not fetch again.
	if _, again := m.Update(keyText("j")); again != nil {
		t.Error("a second fetch while one is in flight")
	}
	m = run(t, m, cmd)
	if got := len(m.datasets.ex.rows); got != 2*examplesPageSize {
		t.Fatalf("after paging: %d rows", got)
	}
	if fake.callCount() != calls+1 {
		t.Fatalf("%d fetches, want 1", fake.callCount()-calls)
	}
	if !strings.Contains(screen(m), "example 150") {
		t.Errorf("cursor row not on screen:\n%s", screen(m))
	}
	// Page through the whole dataset with G: each G reaches the loaded end
	// and fetches one more page; it never loads everything at once.
	G := tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}
	for range 3 {
		before := len(m.datasets.ex.rows)
		m = send(t, m, G)
		if len(m.datasets.ex.rows) != before+examplesPageSize {
			t.Fatalf("G loaded %d rows, want one page", len(m.datasets.ex.rows)-before)
		}
	}
	if s := screen(m); !strings.Contains(s, "example 799") || !strings.Contains(s, "of 1,000") {
		t.Errorf("end of loaded rows not shown:\n%s", s)
	}
}

func TestExamplesPagingReachesEnd(t *testing.T) {
	fake := sampleDatasets()
	fake.datasets[0].Counts = map[model.Split]int{model.Train: 450}
	m := New(Deps{Datasets: fake}, Options{})
	m = send(t, m, keyText("2"))
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	G := tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}
	for range 5 {
		m = send(t, m, G)
	}
	if got := len(m.datasets.ex.rows); got != 450 || !m.datasets.ex.done {
		t.Fatalf("%d rows, done %v", got, m.datasets.ex.done)
	}
	if _, cmd := m.Update(G); cmd != nil {
		t.Error("fetch after the last page")
	}
}

func TestExamplesStalePageDiscarded(t *testing.T) {
	m := send(t, newTestModel(t, 80, 24), keyText("2"))
	// Open big, leave before its first page arrives, open qa.
	nm, bigCmd := m.Update(keyCode(tea.KeyEnter, 0))
	m = nm.(Model)
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	m = send(t, m, keyText("j"))
	nm, qaCmd := m.Update(keyCode(tea.KeyEnter, 0))
	m = nm.(Model)
	m = update(t, m, qaCmd())
	m = update(t, m, bigCmd()) // arrives late
	if got := len(m.datasets.ex.rows); got != 5 {
		t.Fatalf("a stale page was added to qa: %d rows", got)
	}
	if s := screen(m); strings.Contains(s, "example 0") {
		t.Errorf("big's examples shown in qa:\n%s", s)
	}
}

func TestExamplesCell(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"a\n  b", "a b"},
		{3, "3"},
		{true, "true"},
		{[]any{"x", 1.5}, `["x",1.5]`},
	} {
		if got := cell(c.in); got != c.want {
			t.Errorf("cell(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestExamplesPageThrough100k pages through all of a 100k-example dataset,
// one page per fetch.
func TestExamplesPageThrough100k(t *testing.T) {
	fake := sampleDatasets()
	m := New(Deps{Datasets: fake}, Options{})
	m = send(t, m, keyText("2"))
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	G := tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}
	for i := 0; !m.datasets.ex.done; i++ {
		if i > 100000/examplesPageSize {
			t.Fatal("too many fetches")
		}
		m = send(t, m, G)
	}
	if got := len(m.datasets.ex.rows); got != 100000 {
		t.Fatalf("%d rows", got)
	}
	if got := fake.callCount(); got != 100000/examplesPageSize {
		t.Fatalf("%d fetches, want %d", got, 100000/examplesPageSize)
	}
	m = send(t, m, G)
	if s := screen(m); !strings.Contains(s, "example 99999") {
		t.Errorf("last example not shown:\n%s", s)
	}
}
