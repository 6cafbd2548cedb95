package cmd

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestTUIDatasets drives the Datasets page's imports and edits against a
// real owner, whichever side of the socket the workbench is on: this
// process owns the workspace, or another does. A file is imported as
// `signet dataset import` imports it (types parsed, all or nothing, errors
// naming file:line:column); an edit keeps the example's split.
func TestTUIDatasets(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	o := own(t, ws)
	dir := t.TempDir()
	writeFile(t, dir, "capitals.jsonl", `{"question": "Capital of Italy?", "answer": "Rome", "n": 1}
{"question": "Capital of Peru?", "answer": "Lima", "n": 2}
`)
	writeFile(t, dir, "broken.jsonl", `{"question": "ok", "answer": "yes"}
{"question": "ok", "answer": "yes"}
{"question": "broken", "answer": }
`)
	writeFile(t, dir, "typed.csv", "question,n,tags\nq1,1,\"[\"\"a\"\"]\"\nq2,,[]\n")
	writeFile(t, dir, "wrong.csv", "question,n\nq1,1\nq2,two\n")
	ctx := context.Background()
	for _, side := range []struct {
		name string
		svc  app.Service
	}{
		{"owner", o},
		{"client", api.NewClient(api.SocketPath(ws))},
	} {
		t.Run(side.name, func(t *testing.T) {
			name := "caps_" + side.name
			m := workbench(t, side.svc, 400, 40, tuitest.WithImportDir(dir)) // wide: an error is one line
			m = tuitest.Send(t, m, tuitest.Key("2"))
			// importFile imports file into dataset ds with the form's other
			// fields (input keys, split, types) set as given.
			importFile := func(file, ds string, set map[int]string) {
				t.Helper()
				m = tuitest.Send(t, m, tuitest.Key("I"))
				m = pickFile(t, m, file)
				set[0] = ds
				m = fill(t, m, 4, set)
				m = tuitest.Send(t, m, tuitest.Ctrl('s'))
			}
			importFile("capitals.jsonl", name, map[int]string{1: "question", 2: "val"})
			mustShow(t, m, "import", fmt.Sprintf("imported capitals.jsonl into dataset %s (2 examples)", name))
			d, err := side.svc.Dataset(ctx, name)
			if err != nil || d.Counts[model.Validation] != 2 || !reflect.DeepEqual(d.InputKeys, []string{"question"}) {
				t.Fatalf("imported %+v, %v", d, err)
			}

			// Edit the first example of the import (the dataset selected): its
			// split is kept.
			before, err := side.svc.ListExamples(ctx, app.ExampleQuery{Dataset: name})
			if err != nil || len(before.Examples) != 2 {
				t.Fatalf("examples %v %v", before, err)
			}
			m = tuitest.Send(t, m, tuitest.Enter()) // its examples
			m = tuitest.Send(t, m, tuitest.Enter()) // the first
			m = tuitest.Send(t, m, tuitest.Key("i"))
			m = tuitest.Send(t, m, tuitest.Tab()) // answer
			m = clearText(t, m)
			m = tuitest.Type(t, m, "Roma")
			m = tuitest.Send(t, m, tuitest.Ctrl('s'))
			mustShow(t, m, "an edit", "saved example")
			got, err := side.svc.Example(ctx, name, before.Examples[0].ID)
			if err != nil || got.Data["answer"] != "Roma" || got.Data["question"] != "Capital of Italy?" || got.Split != model.Validation {
				t.Fatalf("stored %+v %v", got, err)
			}
			// Delete the other.
			m = tuitest.Send(t, m, tuitest.Esc()) // the table
			m = tuitest.Send(t, m, tuitest.Key("j"))
			m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("d")), tuitest.Key("y"))
			if _, err := side.svc.Example(ctx, name, before.Examples[1].ID); !errors.Is(err, app.ErrNotFound) {
				t.Errorf("the deleted example: %v", err)
			}
			if d, err := side.svc.Dataset(ctx, name); err != nil || d.Size() != 1 {
				t.Errorf("after the delete: %+v %v", d, err)
			}
			m = tuitest.Send(t, m, tuitest.Esc()) // the list

			// A bad file imports nothing and names its line.
			importFile("broken.jsonl", name+"_bad", map[int]string{})
			mustShow(t, m, "a broken file", "Import failed", "broken.jsonl:3", "nothing was imported")
			if _, err := side.svc.Dataset(ctx, name+"_bad"); !errors.Is(err, app.ErrNotFound) {
				t.Errorf("a failed import left a dataset: %v", err)
			}
			// leaveImport leaves the form with what was typed in it: esc
			// asks first, d discards it, esc leaves the picker.
			leaveImport := func(file string) {
				t.Helper()
				m = tuitest.Send(t, m, tuitest.Esc())
				mustShow(t, m, "the question before what was typed is lost", "Unsaved changes in the import of "+file)
				m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("d")), tuitest.Esc())
			}
			// An input key the file does not have is named.
			leaveImport("broken.jsonl")
			importFile("capitals.jsonl", name+"_in", map[int]string{1: "nope"})
			mustShow(t, m, "an unknown input key", "Import failed", "nope")

			// Field types: cells parsed, a bad cell named by file:line:column and field.
			leaveImport("capitals.jsonl")
			importFile("typed.csv", name+"_typed", map[int]string{3: "n=int,tags=list[str]"})
			mustShow(t, m, "a typed import", "imported typed.csv into dataset "+name+"_typed (2 examples)")
			pg, err := side.svc.ListExamples(ctx, app.ExampleQuery{Dataset: name + "_typed"})
			if err != nil || len(pg.Examples) != 2 {
				t.Fatalf("typed examples %v %v", pg, err)
			}
			byQ := map[string]map[string]any{}
			for _, e := range pg.Examples {
				byQ[e.Data["question"].(string)] = e.Data
			}
			if n := byQ["q1"]["n"]; fmt.Sprint(n) != "1" || reflect.TypeOf(n).Kind() == reflect.String || !reflect.DeepEqual(byQ["q1"]["tags"], []any{"a"}) || byQ["q2"]["n"] != nil {
				t.Errorf("typed values %#v", byQ)
			}
			importFile("wrong.csv", name+"_wrong", map[int]string{3: "n=int"})
			mustShow(t, m, "a bad typed cell", `wrong.csv:3:4: field "n": type int: want an integer, found "two"`)
		})
	}
}
