package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

// examples yields n examples; split picks each one's split; failAt (1-based,
// 0 = never) makes next fail there.
func examples(n int, split func(i int) model.Split, failAt int) func() (*model.Example, error) {
	i := 0
	return func() (*model.Example, error) {
		if i == n {
			return nil, io.EOF
		}
		i++
		if i == failAt {
			return nil, fmt.Errorf("line %d: broken row", i)
		}
		return &model.Example{Split: split(i), Data: map[string]any{"question": fmt.Sprintf("q%d", i), "answer": fmt.Sprint(i)}}, nil
	}
}

func allTrain(int) model.Split { return model.Train }

func TestImportLargeAndPage(t *testing.T) {
	t.Parallel()
	const n = 120_000
	ctx := context.Background()
	s := newMemStore(t)
	split := func(i int) model.Split {
		if i%10 == 0 {
			return model.Test
		}
		return model.Train
	}
	d, err := s.ImportExamples(ctx, &model.Dataset{Name: "big", InputKeys: []string{"question"}}, examples(n, split, 0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Size() != n || d.Counts[model.Train] != n*9/10 || d.Counts[model.Test] != n/10 {
		t.Fatalf("counts = %v", d.Counts)
	}
	if !reflect.DeepEqual(d.Fields, []string{"answer", "question"}) || !reflect.DeepEqual(d.InputKeys, []string{"question"}) {
		t.Fatalf("fields %v inputs %v", d.Fields, d.InputKeys)
	}
	// More than one Badger transaction can hold: the test is only meaningful
	// if the import really spanned several.
	if max := s.db.MaxBatchCount(); int64(n) <= max {
		t.Fatalf("import of %d fits one txn (max %d); make it bigger", n, max)
	}

	seen := make(map[model.ID]bool, n)
	var prev model.ID
	cursor, pages := "", 0
	for {
		page, next, err := s.ListExamples(ctx, ExampleQuery{Dataset: "big", Cursor: cursor, Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page {
			if seen[e.ID] {
				t.Fatalf("example %s listed twice", e.ID)
			}
			seen[e.ID] = true
			if e.Dataset != "big" || e.Data["question"] == nil {
				t.Fatalf("bad example %+v", e)
			}
			// Within one part and split, key order is ID order.
			if e.Split == model.Train && string(e.ID[:]) <= string(prev[:]) {
				t.Fatalf("train examples out of order")
			}
			if e.Split == model.Train {
				prev = e.ID
			}
		}
		if next == "" {
			break
		}
		if len(page) != 5000 {
			t.Fatalf("a non-final page has %d examples", len(page))
		}
		cursor = next
	}
	if len(seen) != n || pages != n/5000 {
		t.Fatalf("paged %d examples in %d pages, want %d in %d", len(seen), pages, n, n/5000)
	}

	// One split, small pages.
	got := 0
	for cursor = ""; ; {
		page, next, err := s.ListExamples(ctx, ExampleQuery{Dataset: "big", Split: model.Test, Cursor: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Split != model.Test {
				t.Fatalf("split filter leaked a %s example", e.Split)
			}
		}
		got += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	if got != n/10 {
		t.Fatalf("test split paged %d, want %d", got, n/10)
	}

	e, err := s.ExampleAt(ctx, "big", model.Test, n/10-1)
	if err != nil {
		t.Fatal(err)
	}
	if e.Data["answer"] != fmt.Sprint(n) {
		t.Fatalf("last test example = %v, want answer %d", e.Data, n)
	}
	if _, err := s.ExampleAt(ctx, "big", model.Test, n/10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ExampleAt past the end: err = %v", err)
	}

	if err := s.DeleteDataset(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if k := countKeys(t, s, []byte{keys.Example}) + countKeys(t, s, []byte{keys.StagedPart}) + countKeys(t, s, []byte{keys.Dataset}); k != 0 {
		t.Fatalf("%d keys left after DeleteDataset", k)
	}
}

func TestImportFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		existing int // examples imported before the failing import
		next     func() (*model.Example, error)
		cancel   bool
	}{
		{name: "next fails at 4812", next: examples(10_000, allTrain, 4812)},
		{name: "bad split", next: examples(10, func(i int) model.Split {
			if i == 7 {
				return "holdout"
			}
			return model.Train
		}, 0)},
		{name: "cancelled", next: examples(10_000, allTrain, 0), cancel: true},
		{name: "fails while appending", existing: 100, next: examples(10_000, allTrain, 4812)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore(t)
			if tt.existing > 0 {
				if _, err := s.ImportExamples(ctx, &model.Dataset{Name: "ds"}, examples(tt.existing, allTrain, 0)); err != nil {
					t.Fatal(err)
				}
			}
			before, err := s.GetDataset(ctx, "ds")
			if tt.existing == 0 && !errors.Is(err, ErrNotFound) {
				t.Fatalf("GetDataset before: %v", err)
			}
			ictx, cancel := context.WithCancel(ctx)
			defer cancel()
			next := tt.next
			if tt.cancel {
				calls := 0
				inner := next
				next = func() (*model.Example, error) {
					if calls++; calls == 3000 {
						cancel()
					}
					return inner()
				}
			}
			if _, err := s.ImportExamples(ictx, &model.Dataset{Name: "ds", InputKeys: []string{"x"}}, next); err == nil {
				t.Fatal("import succeeded")
			}
			after, err := s.GetDataset(ctx, "ds")
			if tt.existing == 0 {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("dataset exists after a failed import: %v", err)
				}
			} else if !reflect.DeepEqual(before, after) {
				t.Fatalf("dataset changed by a failed import: %+v → %+v", before, after)
			}
			if k := countKeys(t, s, []byte{keys.Example}); k != tt.existing {
				t.Fatalf("%d example keys after a failed import, want %d", k, tt.existing)
			}
			if k := countKeys(t, s, []byte{keys.StagedPart}); k != 0 {
				t.Fatalf("%d staged markers left", k)
			}
		})
	}
}

func TestImportAppendEditDelete(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if _, err := s.ImportExamples(ctx, &model.Dataset{Name: "ds", Description: "first", Fields: []string{"question"}}, examples(30, allTrain, 0)); err != nil {
		t.Fatal(err)
	}
	i := 0
	more := func() (*model.Example, error) {
		if i == 5 {
			return nil, io.EOF
		}
		i++
		return &model.Example{Split: model.Validation, Data: map[string]any{"question": "q", "context": "c"}}, nil
	}
	d, err := s.ImportExamples(ctx, &model.Dataset{Name: "ds", InputKeys: []string{"question", "context"}}, more)
	if err != nil {
		t.Fatal(err)
	}
	want := map[model.Split]int{model.Train: 30, model.Validation: 5}
	if !reflect.DeepEqual(d.Counts, want) {
		t.Fatalf("counts after append = %v, want %v", d.Counts, want)
	}
	if !reflect.DeepEqual(d.Fields, []string{"question", "answer", "context"}) {
		t.Fatalf("fields = %v", d.Fields)
	}
	if d.Description != "first" || !reflect.DeepEqual(d.InputKeys, []string{"question", "context"}) {
		t.Fatalf("description %q inputs %v", d.Description, d.InputKeys)
	}
	if !d.UpdatedAt.After(d.CreatedAt) && !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Fatalf("UpdatedAt %v before CreatedAt %v", d.UpdatedAt, d.CreatedAt)
	}
	all, next, err := s.ListExamples(ctx, ExampleQuery{Dataset: "ds", Limit: 100})
	if err != nil || next != "" || len(all) != 35 {
		t.Fatalf("list: %d, %q, %v", len(all), next, err)
	}

	counts := func() map[model.Split]int {
		d, err := s.GetDataset(ctx, "ds")
		if err != nil {
			t.Fatal(err)
		}
		return d.Counts
	}
	steps := []struct {
		name string
		do   func() error
		want map[model.Split]int
	}{
		{"edit data only", func() error {
			e := *all[0]
			e.Data = map[string]any{"question": "edited", "answer": "x"}
			return s.PutExample(ctx, &e)
		}, map[model.Split]int{model.Train: 30, model.Validation: 5}},
		{"move train → test", func() error {
			e := *all[1]
			e.Split = model.Test
			return s.PutExample(ctx, &e)
		}, map[model.Split]int{model.Train: 29, model.Validation: 5, model.Test: 1}},
		{"add one", func() error {
			return s.PutExample(ctx, &model.Example{Dataset: "ds", Split: model.Test, Data: map[string]any{"question": "new", "extra": 1}})
		}, map[model.Split]int{model.Train: 29, model.Validation: 5, model.Test: 2}},
		{"delete one", func() error { return s.DeleteExample(ctx, "ds", all[2].ID) }, map[model.Split]int{model.Train: 28, model.Validation: 5, model.Test: 2}},
		{"delete it again", func() error {
			if err := s.DeleteExample(ctx, "ds", all[2].ID); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("err = %v, want ErrNotFound", err)
			}
			return nil
		}, map[model.Split]int{model.Train: 28, model.Validation: 5, model.Test: 2}},
		{"bad split", func() error {
			e := *all[3]
			e.Split = "holdout"
			if err := s.PutExample(ctx, &e); err == nil {
				return errors.New("no error")
			}
			return nil
		}, map[model.Split]int{model.Train: 28, model.Validation: 5, model.Test: 2}},
		{"missing dataset", func() error {
			if err := s.PutExample(ctx, &model.Example{Dataset: "nope"}); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("err = %v, want ErrNotFound", err)
			}
			return nil
		}, map[model.Split]int{model.Train: 28, model.Validation: 5, model.Test: 2}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := counts(); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: counts = %v, want %v", st.name, got, st.want)
		}
		if k := countKeys(t, s, []byte{keys.Example}); k != sum(st.want) {
			t.Fatalf("%s: %d example keys, counts say %d", st.name, k, sum(st.want))
		}
	}
	e, err := s.GetExample(ctx, "ds", all[0].ID)
	if err != nil || e.Data["question"] != "edited" {
		t.Fatalf("edited example: %+v, %v", e, err)
	}
	e, err = s.GetExample(ctx, "ds", all[1].ID)
	if err != nil || e.Split != model.Test {
		t.Fatalf("moved example: %+v, %v", e, err)
	}
	if d, _ := s.GetDataset(ctx, "ds"); !reflect.DeepEqual(d.Fields, []string{"question", "answer", "context", "extra"}) {
		t.Fatalf("fields after adding = %v", d.Fields)
	}
	if _, err := s.GetExample(ctx, "ds", model.NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetExample of an unknown ID: %v", err)
	}
	// ExampleAt walks the listing order of the split.
	trains, _, err := s.ListExamples(ctx, ExampleQuery{Dataset: "ds", Split: model.Train, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 13, len(trains) - 1} {
		e, err := s.ExampleAt(ctx, "ds", model.Train, n)
		if err != nil || e.ID != trains[n].ID {
			t.Fatalf("ExampleAt(train, %d) = %v, %v; want %s", n, e, err, trains[n].ID)
		}
	}
}

func sum(m map[model.Split]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestPutExampleIntoEmptyDataset(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	// An import of nothing creates the dataset with no part.
	d, err := s.ImportExamples(ctx, &model.Dataset{Name: "empty"}, func() (*model.Example, error) { return nil, io.EOF })
	if err != nil || d.Size() != 0 {
		t.Fatalf("empty import: %+v, %v", d, err)
	}
	e := &model.Example{Dataset: "empty", Data: map[string]any{"q": 1}}
	if err := s.PutExample(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.ID.IsZero() || e.Split != model.Train {
		t.Fatalf("PutExample did not fill ID and split: %+v", e)
	}
	got, _, err := s.ListExamples(ctx, ExampleQuery{Dataset: "empty"})
	if err != nil || len(got) != 1 || got[0].ID != e.ID {
		t.Fatalf("list after add: %v, %v", got, err)
	}
}

func TestListExamplesBadCursor(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if _, err := s.ImportExamples(ctx, &model.Dataset{Name: "ds"}, examples(3, allTrain, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportExamples(ctx, &model.Dataset{Name: "other"}, examples(3, allTrain, 0)); err != nil {
		t.Fatal(err)
	}
	_, next, err := s.ListExamples(ctx, ExampleQuery{Dataset: "other", Limit: 1})
	if err != nil || next == "" {
		t.Fatal(err)
	}
	for _, c := range []string{"zz", "00", next} {
		if _, _, err := s.ListExamples(ctx, ExampleQuery{Dataset: "ds", Cursor: c}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor %q: err = %v, want ErrInvalidCursor", c, err)
		}
	}
}

// A crash in the middle of an import leaves a marker and an unlisted part;
// the next Open removes them in the background.
func TestOpenSweepsUnlistedParts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir, nil)
	if _, err := s.ImportExamples(ctx, &model.Dataset{Name: "ds"}, examples(10, allTrain, 0)); err != nil {
		t.Fatal(err)
	}
	// Simulate the crash: a marker and staged examples, never listed.
	part := model.NewID()
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(stagedKey(part, "ds"), nil); err != nil {
			return err
		}
		for range 2500 {
			if err := txn.Set(exampleKey("ds", part, 1, model.NewID()), []byte(`{}`)); err != nil {
				return err
			}
		}
		// And a crash during the import of a dataset that never existed.
		return txn.Set(stagedKey(part, "ghost"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openDir(t, dir, nil)
	defer s.Close()
	<-s.swept
	if k := countKeys(t, s, []byte{keys.Example}); k != 10 {
		t.Fatalf("%d example keys after the sweep, want 10", k)
	}
	if k := countKeys(t, s, []byte{keys.StagedPart}); k != 0 {
		t.Fatalf("%d markers after the sweep", k)
	}
	if d, err := s.GetDataset(ctx, "ds"); err != nil || d.Size() != 10 {
		t.Fatalf("dataset after the sweep: %+v, %v", d, err)
	}
}
