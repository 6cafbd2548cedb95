package cmd

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/pages/datasets"
)

// TestTUIDatasetsAdapters runs the Datasets page's writes and import
// through both adapters: the store (this process owns the workspace) and
// the owner's API (another process does). They must behave the same.
func TestTUIDatasetsAdapters(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	o := own(t, ws)
	dir := t.TempDir()
	good := writeFile(t, dir, "capitals.jsonl", `{"question": "Capital of Italy?", "answer": "Rome", "n": 1}
{"question": "Capital of Peru?", "answer": "Lima", "n": 2}
`)
	bad := writeFile(t, dir, "bad.jsonl", `{"question": "ok", "answer": "yes"}
{"question": "ok", "answer": "yes"}
{"question": "broken", "answer": }
`)
	typedCSV := writeFile(t, dir, "typed.csv", "question,n,tags\nq1,1,\"[\"\"a\"\"]\"\nq2,,[]\n")
	badTyped := writeFile(t, dir, "badtyped.csv", "question,n\nq1,1\nq2,two\n")
	ctx := context.Background()
	for _, c := range []struct {
		name string
		repo datasets.Datasets
	}{
		{"owner", tuiDeps{o}},
		{"client", tuiDeps{api.NewClient(api.SocketPath(ws))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "caps_" + c.name
			var progress float64
			d, err := c.repo.ImportFile(ctx, datasets.ImportRequest{Path: good, Name: name, Inputs: "question", Split: model.Validation,
				Progress: func(f float64) { progress = f }})
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != name || d.Counts[model.Validation] != 2 || strings.Join(d.InputKeys, ",") != "question" {
				t.Errorf("imported %+v", d)
			}
			if c.name == "store" && progress != 1 {
				t.Errorf("progress ended at %v", progress)
			}
			// A bad file imports nothing and names its line.
			_, err = c.repo.ImportFile(ctx, datasets.ImportRequest{Path: bad, Name: name + "_bad"})
			if err == nil || !strings.Contains(err.Error(), "bad.jsonl:3") || !strings.Contains(err.Error(), "nothing was imported") {
				t.Errorf("bad file: %v", err)
			}
			if ds, _ := c.repo.ListDatasets(ctx); len(ds) != 0 && ds[len(ds)-1].Name == name+"_bad" {
				t.Error("a failed import left a dataset")
			}
			if _, err := c.repo.ImportFile(ctx, datasets.ImportRequest{Path: good, Name: name, Inputs: "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
				t.Errorf("unknown input key: %v", err)
			}
			// Field types: cells parsed, a bad cell named by file:line:column and field.
			if _, err := c.repo.ImportFile(ctx, datasets.ImportRequest{Path: typedCSV, Name: name + "_typed", Types: "n=int,tags=list[str]"}); err != nil {
				t.Fatalf("typed import: %v", err)
			}
			typedExs, _, err := c.repo.ListExamples(ctx, name+"_typed", "", "", 10)
			if err != nil || len(typedExs) != 2 {
				t.Fatalf("typed examples %v %v", typedExs, err)
			}
			byQ := map[string]map[string]any{}
			for _, e := range typedExs {
				byQ[e.Data["question"].(string)] = e.Data
			}
			if n := byQ["q1"]["n"]; fmt.Sprint(n) != "1" || reflect.TypeOf(n).Kind() == reflect.String || !reflect.DeepEqual(byQ["q1"]["tags"], []any{"a"}) || byQ["q2"]["n"] != nil {
				t.Errorf("typed values %#v", byQ)
			}
			_, err = c.repo.ImportFile(ctx, datasets.ImportRequest{Path: badTyped, Name: name + "_badtyped", Types: "n=int"})
			if err == nil || !strings.Contains(err.Error(), `badtyped.csv:3:4: field "n": type int: want an integer, found "two"`) {
				t.Errorf("bad typed cell: %v", err)
			}

			exs, _, err := c.repo.ListExamples(ctx, name, "", "", 10)
			if err != nil || len(exs) != 2 {
				t.Fatalf("examples %v %v", exs, err)
			}
			// Edit: split kept when not given, values replaced.
			ed := *exs[0]
			ed.Split = ""
			ed.Data = map[string]any{"question": "Capital of Italy?", "answer": "Roma", "n": 1}
			saved, err := c.repo.PutExample(ctx, &ed)
			if err != nil || saved.ID != exs[0].ID || saved.Split != model.Validation {
				t.Fatalf("edit %+v %v", saved, err)
			}
			// Add.
			added, err := c.repo.PutExample(ctx, &model.Example{Dataset: name, Split: model.Test, Data: map[string]any{"question": "Capital of Chile?", "answer": "Santiago"}})
			if err != nil || added.ID.IsZero() {
				t.Fatalf("add %+v %v", added, err)
			}
			// Delete, then editing the deleted one fails instead of re-creating it.
			if err := c.repo.DeleteExample(ctx, name, exs[1].ID); err != nil {
				t.Fatal(err)
			}
			gone := *exs[1]
			if _, err := c.repo.PutExample(ctx, &gone); err == nil {
				t.Error("an edit re-created a deleted example")
			}
			got, err := o.Example(ctx, name, exs[0].ID)
			if err != nil || got.Data["answer"] != "Roma" {
				t.Errorf("stored %+v %v", got, err)
			}
			d, err = o.Dataset(ctx, name)
			if err != nil || d.Counts[model.Validation] != 1 || d.Counts[model.Test] != 1 || d.Size() != 2 {
				t.Errorf("counts %+v %v", d, err)
			}
		})
	}
}
