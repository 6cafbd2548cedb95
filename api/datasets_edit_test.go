package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func TestExampleWrites(t *testing.T) {
	ctx := context.Background()
	cl, b, _ := serve(t)
	rows := []*model.Example{
		{Split: model.Train, Data: map[string]any{"question": "Who?", "answer": "Ada"}},
		{Split: model.Test, Data: map[string]any{"question": "How many?", "answer": 3}},
	}
	i := 0
	if _, err := b.st.ImportExamples(ctx, &model.Dataset{Name: "qa", InputKeys: []string{"question"}}, func() (*model.Example, error) {
		if i == len(rows) {
			return nil, io.EOF
		}
		i++
		return rows[i-1], nil
	}); err != nil {
		t.Fatal(err)
	}
	counts := func() map[model.Split]int {
		t.Helper()
		var d model.Dataset
		if err := cl.Get(ctx, "/v1/datasets/qa", &d); err != nil {
			t.Fatal(err)
		}
		return d.Counts
	}
	var page ExamplePage
	if err := cl.Get(ctx, "/v1/datasets/qa/examples", &page); err != nil || len(page.Examples) != 2 {
		t.Fatalf("page %+v %v", page, err)
	}
	first := page.Examples[0]

	// Add: a new ID, train by default, counted.
	added, err := cl.AddExample(ctx, &model.Example{Dataset: "qa", Data: map[string]any{"question": "Why?", "answer": "Because", "n": 7}})
	if err != nil || added.ID.IsZero() || added.Split != model.Train {
		t.Fatalf("add %+v %v", added, err)
	}
	if c := counts(); c[model.Train] != 2 || c[model.Test] != 1 {
		t.Errorf("after add: %v", c)
	}
	got, err := cl.Example(ctx, "qa", added.ID)
	if err != nil || got.Data["answer"] != "Because" || got.Data["n"] != float64(7) {
		t.Errorf("get added %+v %v", got, err)
	}

	// Edit: data replaced, split moved (given as "val"), counts follow.
	edited, err := cl.PutExample(ctx, &model.Example{Dataset: "qa", ID: first.ID, Split: "val", Data: map[string]any{"question": "Who? (edited)", "answer": "Ada Lovelace"}})
	if err != nil || edited.Split != model.Validation {
		t.Fatalf("put %+v %v", edited, err)
	}
	got, err = cl.Example(ctx, "qa", first.ID)
	if err != nil || got.Data["question"] != "Who? (edited)" || got.Split != model.Validation {
		t.Errorf("after put: %+v %v", got, err)
	}
	if c := counts(); c[model.Train] != 1 || c[model.Validation] != 1 || c[model.Test] != 1 {
		t.Errorf("after put: %v", c)
	}
	// An edit without a split keeps the example's.
	if e, err := cl.PutExample(ctx, &model.Example{Dataset: "qa", ID: first.ID, Data: map[string]any{"question": "q"}}); err != nil || e.Split != model.Validation {
		t.Errorf("put without split: %+v %v", e, err)
	}

	// Delete.
	if err := cl.DeleteExample(ctx, "qa", added.ID); err != nil {
		t.Fatal(err)
	}
	if c := counts(); c[model.Train] != 0 || c[model.Validation] != 1 || c[model.Test] != 1 {
		t.Errorf("after delete: %v", c)
	}

	// Errors: missing example or dataset, bad id, bad split.
	var ae *Error
	if err := cl.DeleteExample(ctx, "qa", added.ID); !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if _, err := cl.PutExample(ctx, &model.Example{Dataset: "qa", ID: added.ID, Data: map[string]any{}}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("put of a deleted example: %v", err)
	}
	if _, err := cl.AddExample(ctx, &model.Example{Dataset: "nope", Data: map[string]any{}}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("add to a missing dataset: %v", err)
	}
	if _, err := cl.AddExample(ctx, &model.Example{Dataset: "qa", Split: "holdout"}); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("bad split: %v", err)
	}
	if err := cl.Get(ctx, "/v1/datasets/qa/examples/not-an-id", &struct{}{}); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("bad id: %v", err)
	}
}
