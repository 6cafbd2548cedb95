package owner_test

import (
	"errors"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestRenameDataset: a rename keeps every example (data, split), the
// input keys and the description under the new name, and the old name is
// gone; a taken or bad name is refused, naming it, with nothing changed.
// Through the owner and a client alike.
func TestRenameDataset(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	cl := api.NewClient(api.SocketPath(o.Dir()))
	for i, svc := range []app.Service{o, cl} {
		from, to := []string{"a", "c"}[i], []string{"b", "d"}[i]
		mustImport(t, svc, app.ImportDatasetRequest{Name: from, File: "x.csv", Inputs: []string{"q"}, Description: "some",
			Split: "val"}, "q,a\none,1\ntwo,2\nthree,3\n")
		mustImport(t, svc, app.ImportDatasetRequest{Name: "taken" + from, File: "t.csv"}, "q\nz\n")
		if _, err := svc.RenameDataset(ctx, from, "taken"+from); !errors.Is(err, app.ErrExists) {
			t.Fatalf("%T: rename onto a taken name: %v", svc, err)
		}
		if _, err := svc.RenameDataset(ctx, from, "bad name"); !errors.Is(err, app.ErrInvalid) {
			t.Fatalf("%T: rename to a bad name: %v", svc, err)
		}
		d, err := svc.RenameDataset(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != to || d.Counts[model.Validation] != 3 || d.Description != "some" || len(d.InputKeys) != 1 || d.InputKeys[0] != "q" {
			t.Fatalf("%T: renamed %+v", svc, d)
		}
		if _, err := svc.Dataset(ctx, from); !errors.Is(err, app.ErrNotFound) {
			t.Fatalf("%T: the old name after the rename: %v", svc, err)
		}
		pg, err := svc.ListExamples(ctx, app.ExampleQuery{Dataset: to})
		if err != nil || len(pg.Examples) != 3 {
			t.Fatalf("%T: examples %+v, %v", svc, pg, err)
		}
		got := map[string]bool{}
		for _, e := range pg.Examples {
			if e.Split != model.Validation {
				t.Errorf("%T: an example moved to %s", svc, e.Split)
			}
			got[model.ValueText(e.Data["q"])] = true
		}
		if !got["one"] || !got["two"] || !got["three"] {
			t.Fatalf("%T: examples after the rename: %v", svc, got)
		}
	}
}
