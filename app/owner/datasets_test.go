package owner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/model"
)

// openDatasetsOwner owns a new workspace (real store, real socket) for one
// test. Nothing in the datasets domain runs DSPy: no worker starts.
func openDatasetsOwner(t *testing.T) *owner.Owner {
	t.Helper()
	o, err := owner.Open(t.Context(), owner.Options{Dir: t.TempDir(), Create: true, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close(context.Background(), true) })
	return o
}

// importText imports content as the file req.File.
func importText(t *testing.T, svc app.Service, req app.ImportDatasetRequest, content string) (*app.ImportDatasetResult, error) {
	t.Helper()
	req.Data = strings.NewReader(content)
	return svc.ImportDataset(t.Context(), req)
}

func mustImport(t *testing.T, svc app.Service, req app.ImportDatasetRequest, content string) *app.ImportDatasetResult {
	t.Helper()
	res, err := importText(t, svc, req, content)
	if err != nil {
		t.Fatalf("import %s: %v", req.File, err)
	}
	return res
}

// wantCode fails unless err is an app error of code c whose request field
// is field and whose text holds every part.
func wantCode(t *testing.T, err error, c app.Code, field string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", c)
	}
	if got := app.CodeOf(err); got != c {
		t.Errorf("code %s, want %s: %v", got, c, err)
	}
	var ae *app.Error
	if errors.As(err, &ae) && ae.Field != field {
		t.Errorf("field %q, want %q: %v", ae.Field, field, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func text(v any) string { return model.ValueText(v) }

const qaCSV = `question,context,n,tags,answer
What is 2+2?,math,3,"[""a"", ""b""]",4
Capital of France?,,1,[],Paris
`

func createQA(t *testing.T, o *owner.Owner, sig string) *model.Program {
	t.Helper()
	p := &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: sig}}}
	if v1, err := o.Program(t.Context(), "qa", 0); err == nil {
		p.Modules[0].Signature = sig
		v1.Modules = p.Modules
		out, err := o.SaveProgram(t.Context(), v1)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out, err := o.CreateProgram(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Types come from a program version's signatures, and req.Types win over
// them; a typed CSV cell holds its JSON value, an untyped one its text.
func TestImportDatasetTypedCSV(t *testing.T) {
	o := openDatasetsOwner(t)
	createQA(t, o, "question, n: int -> answer: int")  // v1
	createQA(t, o, "question, n: bool -> answer: int") // v2, the newest: "3" is no bool
	res := mustImport(t, o, app.ImportDatasetRequest{Name: "qa", File: "data/qa.csv", Split: "val",
		Inputs: []string{"question", " context"}, Description: "arithmetic and capitals",
		TypesFrom: "qa@1", Types: map[string]string{"tags": "list[str]", "answer": "str"}}, qaCSV)

	d := res.Dataset
	if res.Imported != 2 || d.Counts[model.Validation] != 2 || d.Size() != 2 {
		t.Errorf("imported %d, counts %v", res.Imported, d.Counts)
	}
	if got := strings.Join(d.Fields, ","); got != "question,context,n,tags,answer" {
		t.Errorf("fields %s, want the header's order", got)
	}
	if got := strings.Join(d.InputKeys, ","); got != "question,context" || d.Description != "arithmetic and capitals" {
		t.Errorf("input keys %s, description %q", got, d.Description)
	}
	page, err := o.ListExamples(t.Context(), app.ExampleQuery{Dataset: "qa"})
	if err != nil {
		t.Fatal(err)
	}
	e := page.Examples[0].Data
	if _, isText := e["n"].(string); isText || text(e["n"]) != "3" {
		t.Errorf("n = %#v, want the number 3 (int by qa@1)", e["n"])
	}
	if tags, ok := e["tags"].([]any); !ok || len(tags) != 2 || tags[1] != "b" {
		t.Errorf("tags = %#v, want the list [a b]", e["tags"])
	}
	if e["answer"] != "4" {
		t.Errorf("answer = %#v, want the text 4 (--types answer=str over the program's int)", e["answer"])
	}
	if page.Examples[1].Data["context"] != "" || page.Examples[1].Split != model.Validation {
		t.Errorf("second example %+v: an untyped empty cell stays \"\", split validation", page.Examples[1])
	}

	// The newest version types n as bool: "3" does not fit, and the error
	// says where.
	_, err = importText(t, o, app.ImportDatasetRequest{Name: "qa2", File: "data/qa.csv", TypesFrom: "qa"}, qaCSV)
	wantCode(t, err, app.CodeInvalid, "", "nothing was imported", "data/qa.csv:2:", `field "n"`)
	if _, err := o.Dataset(t.Context(), "qa2"); app.CodeOf(err) != app.CodeNotFound {
		t.Errorf("after a failed import: %v, want no dataset qa2", err)
	}
}

// Every refusal has its code, names the request field at fault, and
// imports nothing, not even into a dataset that exists.
func TestImportDatasetErrors(t *testing.T) {
	o := openDatasetsOwner(t)
	createQA(t, o, "question -> answer")
	before := mustImport(t, o, app.ImportDatasetRequest{Name: "qa", File: "qa.csv"}, qaCSV).Dataset

	jsonl := "{\"question\": \"a?\", \"answer\": \"one\"}\n{\"question\": \"b?\", \"answer\": 2}\n"
	for _, c := range []struct {
		name    string
		req     app.ImportDatasetRequest
		content string
		code    app.Code
		field   string
		says    []string
	}{
		{"unknown --types field", app.ImportDatasetRequest{File: "qa.csv", Types: map[string]string{"scroe": "float"}}, qaCSV,
			app.CodeInvalid, "types", []string{`qa.csv: --types names "scroe", which is not a field of the file (fields: question, context, n, tags, answer)`}},
		{"unknown --types field, JSONL", app.ImportDatasetRequest{File: "qa.jsonl", Types: map[string]string{"scroe": "float"}}, jsonl,
			app.CodeInvalid, "types", []string{"nothing was imported", `qa.jsonl: --types names "scroe"`}},
		{"bad --types type", app.ImportDatasetRequest{File: "qa.csv", Types: map[string]string{"n": "list[int"}}, qaCSV,
			app.CodeInvalid, "types", []string{`--types: field "n": type "list[int"`}},
		{"bad --inputs, CSV", app.ImportDatasetRequest{File: "qa.csv", Inputs: []string{"questoin"}}, qaCSV,
			app.CodeInvalid, "inputs", []string{`qa.csv: --inputs: input key "questoin" is not a field`, `did you mean "question"`}},
		{"--inputs twice", app.ImportDatasetRequest{File: "qa.csv", Inputs: []string{"question", "question"}}, qaCSV,
			app.CodeInvalid, "inputs", []string{`input key "question" is given twice`}},
		{"input missing in a row", app.ImportDatasetRequest{File: "qa.jsonl", Inputs: []string{"context"}}, jsonl,
			app.CodeInvalid, "", []string{`qa.jsonl:1: input field "context" is missing (this row has: answer, question)`}},
		{"value unfit for its type", app.ImportDatasetRequest{File: "qa.jsonl", Types: map[string]string{"answer": "int"}}, jsonl,
			app.CodeInvalid, "", []string{"qa.jsonl:1:", `field "answer"`}},
		{"bad JSON", app.ImportDatasetRequest{File: "qa.jsonl"}, "{\"question\": \"a?\"}\n{\"question\": \n", app.CodeInvalid, "",
			[]string{"qa.jsonl:2:"}},
		{"no examples", app.ImportDatasetRequest{File: "qa.jsonl"}, "", app.CodeInvalid, "", []string{"qa.jsonl: no examples in file"}},
		{"unknown format", app.ImportDatasetRequest{File: "qa.csv", Format: "xml"}, qaCSV, app.CodeInvalid, "format",
			[]string{`unknown dataset format "xml"`}},
		{"no format from the name", app.ImportDatasetRequest{File: "qa.txt"}, qaCSV, app.CodeInvalid, "format",
			[]string{`qa.txt: cannot tell the dataset format from extension ".txt"`}},
		{"content of another format", app.ImportDatasetRequest{File: "qa.csv"}, jsonl, app.CodeInvalid, "",
			[]string{"qa.csv:1:1: the content is JSON objects, not csv"}},
		{"bad split", app.ImportDatasetRequest{File: "qa.csv", Split: "holdout"}, qaCSV, app.CodeInvalid, "split",
			[]string{`unknown split "holdout"`}},
		{"bad name", app.ImportDatasetRequest{Name: "no/slash", File: "qa.csv"}, qaCSV, app.CodeInvalid, "name",
			[]string{`"no/slash" is not a valid name`}},
		{"types from a missing program", app.ImportDatasetRequest{File: "qa.csv", TypesFrom: "nosuch"}, qaCSV,
			app.CodeNotFound, "", []string{"--program nosuch:", "not found"}},
		{"types from a missing version", app.ImportDatasetRequest{File: "qa.csv", TypesFrom: "qa@7"}, qaCSV,
			app.CodeNotFound, "", []string{"--program qa@7:"}},
		{"types from a bad reference", app.ImportDatasetRequest{File: "qa.csv", TypesFrom: "qa@x"}, qaCSV,
			app.CodeInvalid, "", []string{`--program qa@x: "qa@x": want NAME or NAME@VERSION`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.req.Name == "" {
				c.req.Name = "qa"
			}
			_, err := importText(t, o, c.req, c.content)
			wantCode(t, err, c.code, c.field, c.says...)
			after, err := o.Dataset(t.Context(), "qa")
			if err != nil || after.Size() != before.Size() || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("dataset qa changed: %+v, %v", after, err)
			}
		})
	}
	_, err := o.ImportDataset(t.Context(), app.ImportDatasetRequest{Name: "qa", File: "qa.csv"})
	wantCode(t, err, app.CodeInvalid, "data", "no file content given")
}

// A .json file of JSON lines imports as JSONL; req.Format wins over the
// name; an import into an existing dataset adds to it.
func TestImportDatasetFormats(t *testing.T) {
	o := openDatasetsOwner(t)
	lines := "{\"q\": \"a\", \"a\": 1}\n{\"q\": \"b\", \"a\": 2}\n"
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "lines.json"}, lines)
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "upload", Format: "csv", Split: "test"}, "q,a,extra\nc,3,x\n")
	res := mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "arr.json"}, `[{"q": "d", "a": 4}]`)
	d := res.Dataset
	if res.Imported != 1 || d.Counts[model.Train] != 3 || d.Counts[model.Test] != 1 {
		t.Errorf("counts %v after 3 imports (imported %d by the last)", d.Counts, res.Imported)
	}
	if got := strings.Join(d.Fields, ","); got != "q,a,extra" {
		t.Errorf("fields %s", got)
	}
}

func TestExamplesPagesAndIndex(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	var b strings.Builder
	for i := range 5 {
		b.WriteString(`{"i": "` + string(rune('a'+i)) + "\"}\n")
	}
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "d.jsonl"}, b.String())
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "t.jsonl", Split: "test"}, `{"i": "t"}`+"\n")

	var got []string
	q := app.ExampleQuery{Dataset: "d", Split: "train", Limit: 2}
	for pages := 0; ; pages++ {
		page, err := o.ListExamples(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Examples {
			got = append(got, text(e.Data["i"]))
		}
		if page.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages after the first, want 2", pages)
			}
			break
		}
		q.Cursor = page.Next
	}
	if strings.Join(got, "") != "abcde" {
		t.Errorf("train pages give %v, want a..e in order", got)
	}
	all, err := o.ListExamples(ctx, app.ExampleQuery{Dataset: "d"})
	if err != nil || len(all.Examples) != 6 || all.Next != "" {
		t.Fatalf("all splits: %+v, %v", all, err)
	}

	e, err := o.ExampleAt(ctx, "d", "train", 3)
	if err != nil || text(e.Data["i"]) != "d" {
		t.Errorf("train example 3: %+v, %v", e, err)
	}
	e, err = o.ExampleAt(ctx, "d", "", 5)
	if err != nil || text(e.Data["i"]) != "t" || e.Split != model.Test {
		t.Errorf("example 5 of all: %+v, %v", e, err)
	}
	byID, err := o.Example(ctx, "d", e.ID)
	if err != nil || byID.ID != e.ID || text(byID.Data["i"]) != "t" {
		t.Errorf("example %s: %+v, %v", e.ID, byID, err)
	}

	_, err = o.ExampleAt(ctx, "d", "test", 1)
	wantCode(t, err, app.CodeNotFound, "", "index 1, the split has 1")
	_, err = o.ExampleAt(ctx, "d", "", -1)
	wantCode(t, err, app.CodeInvalid, "n")
	_, err = o.ListExamples(ctx, app.ExampleQuery{Dataset: "d", Split: "holdout"})
	wantCode(t, err, app.CodeInvalid, "split", `unknown split "holdout"`)
	_, err = o.ListExamples(ctx, app.ExampleQuery{Dataset: "d", Cursor: "zz"})
	wantCode(t, err, app.CodeInvalid, "")
	_, err = o.ListExamples(ctx, app.ExampleQuery{Dataset: "nosuch"})
	wantCode(t, err, app.CodeNotFound, "", `dataset "nosuch"`)
	_, err = o.Example(ctx, "d", model.NewID())
	wantCode(t, err, app.CodeNotFound, "")
}

// PutExample adds without an ID, replaces with one, and never re-creates
// an example that is gone.
func TestPutAndDeleteExample(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "d.jsonl"}, `{"q": "a"}`+"\n")

	added, err := o.PutExample(ctx, &model.Example{Dataset: "d", Data: map[string]any{"q": "b", "note": "new"}})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID.IsZero() || added.Split != model.Train {
		t.Errorf("added %+v: want a new ID, split train", added)
	}
	moved, err := o.PutExample(ctx, &model.Example{Dataset: "d", ID: added.ID, Split: "val", Data: map[string]any{"q": "b2"}})
	if err != nil || moved.Split != model.Validation {
		t.Fatalf("moved: %+v, %v", moved, err)
	}
	kept, err := o.PutExample(ctx, &model.Example{Dataset: "d", ID: added.ID, Data: map[string]any{"q": "b3"}})
	if err != nil || kept.Split != model.Validation {
		t.Errorf("an edit without a split: %+v, %v; want it kept in validation", kept, err)
	}
	stored, err := o.Example(ctx, "d", added.ID)
	if err != nil || stored.Data["q"] != "b3" || stored.Split != model.Validation {
		t.Errorf("stored: %+v, %v", stored, err)
	}
	d, err := o.Dataset(ctx, "d")
	if err != nil || d.Counts[model.Train] != 1 || d.Counts[model.Validation] != 1 || strings.Join(d.Fields, ",") != "q,note" {
		t.Errorf("dataset after the edits: %+v, %v", d, err)
	}

	if err := o.DeleteExample(ctx, "d", added.ID); err != nil {
		t.Fatal(err)
	}
	_, err = o.PutExample(ctx, &model.Example{Dataset: "d", ID: added.ID, Data: map[string]any{"q": "ghost"}})
	wantCode(t, err, app.CodeNotFound, "")
	if d, _ := o.Dataset(ctx, "d"); d.Size() != 1 {
		t.Errorf("an edit of a deleted example re-created it: %v", d.Counts)
	}
	wantCode(t, o.DeleteExample(ctx, "d", added.ID), app.CodeNotFound, "")

	_, err = o.PutExample(ctx, &model.Example{Dataset: "nosuch", Data: map[string]any{"q": "x"}})
	wantCode(t, err, app.CodeNotFound, "", `dataset "nosuch"`)
	_, err = o.PutExample(ctx, &model.Example{Dataset: "d", Split: "holdout"})
	wantCode(t, err, app.CodeInvalid, "split", `unknown split "holdout"`)
	_, err = o.PutExample(ctx, nil)
	wantCode(t, err, app.CodeInvalid, "example")
}

// An export reads back as the same examples, in every format.
func TestExportDataset(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "d.csv", Types: map[string]string{"n": "int", "tags": "list[str]"}},
		"q,n,tags\n\"a, with comma\",1,\"[\"\"x\"\"]\"\nb,2,[]\n")
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "t.jsonl", Split: "test"}, `{"q": "t", "n": 3, "tags": []}`+"\n")

	export := func(req app.ExportDatasetRequest) string {
		t.Helper()
		var buf bytes.Buffer
		if err := o.ExportDataset(ctx, req, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if got, want := export(app.ExportDatasetRequest{Dataset: "d"}),
		"{\"q\":\"a, with comma\",\"n\":1,\"tags\":[\"x\"]}\n{\"q\":\"b\",\"n\":2,\"tags\":[]}\n{\"q\":\"t\",\"n\":3,\"tags\":[]}\n"; got != want {
		t.Errorf("jsonl export:\n%s\nwant:\n%s", got, want)
	}
	if got, want := export(app.ExportDatasetRequest{Dataset: "d", Split: "test", Format: "csv"}), "q,n,tags\nt,3,[]\n"; got != want {
		t.Errorf("csv export of test:\n%q\nwant %q", got, want)
	}
	for _, f := range []string{"jsonl", "json", "csv"} {
		out := export(app.ExportDatasetRequest{Dataset: "d", Split: "train", Format: f})
		res := mustImport(t, o, app.ImportDatasetRequest{Name: "back_" + f, File: "back." + f,
			Types: map[string]string{"n": "int", "tags": "list[str]"}}, out)
		if res.Imported != 2 || strings.Join(res.Dataset.Fields, ",") != "q,n,tags" {
			t.Errorf("%s: read back %d examples, fields %v", f, res.Imported, res.Dataset.Fields)
		}
		if again := export(app.ExportDatasetRequest{Dataset: "back_" + f, Format: f}); again != out {
			t.Errorf("%s: export, import, export differs:\n%s\n%s", f, out, again)
		}
	}

	var buf bytes.Buffer
	err := o.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "d", Format: "xml"}, &buf)
	wantCode(t, err, app.CodeInvalid, "format", `unknown dataset format "xml"`)
	err = o.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "d", Split: "holdout"}, &buf)
	wantCode(t, err, app.CodeInvalid, "split")
	err = o.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "nosuch"}, &buf)
	wantCode(t, err, app.CodeNotFound, "", `dataset "nosuch"`)
	if buf.Len() != 0 {
		t.Errorf("refused exports wrote %q", buf.String())
	}
}

func TestDatasetStatsAndDelete(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "d.csv", Inputs: []string{"q"}}, "q,ctx\nabcd,xy\nab,\n")
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "v.jsonl", Split: "dev"}, `{"q": "é"}`+"\n")

	st, err := o.DatasetStats(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	want := &model.DatasetStats{Name: "d", Examples: 3, Splits: map[model.Split]int{model.Train: 2, model.Validation: 1, model.Test: 0},
		Fields: []model.FieldStats{{Field: "q", Input: true, FillRate: 1, AvgChars: 7.0 / 3}, {Field: "ctx", FillRate: 1.0 / 3, AvgChars: 2}}}
	if g, w := jsonOf(t, st), jsonOf(t, want); g != w {
		t.Errorf("stats:\n%s\nwant:\n%s", g, w)
	}
	_, err = o.DatasetStats(ctx, "nosuch")
	wantCode(t, err, app.CodeNotFound, "")

	ds, err := o.ListDatasets(ctx)
	if err != nil || len(ds) != 1 || ds[0].Name != "d" {
		t.Fatalf("list: %+v, %v", ds, err)
	}
	if err := o.DeleteDataset(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	_, err = o.Dataset(ctx, "d")
	wantCode(t, err, app.CodeNotFound, "", `dataset "d"`)
	wantCode(t, o.DeleteDataset(ctx, "d"), app.CodeNotFound, "")
	if ds, err := o.ListDatasets(ctx); err != nil || len(ds) != 0 {
		t.Errorf("list after delete: %+v, %v", ds, err)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Over the owner's socket, a client gets the answers and the errors the
// owner gives in process: same JSON, same code, field and words.
func TestDatasetsOverTheSocket(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	cl := api.NewClient(api.SocketPath(o.Dir()))

	// The file streams as the request's body.
	res := mustImport(t, cl, app.ImportDatasetRequest{Name: "d", File: "d.csv", Inputs: []string{"q"}, Split: "val",
		Types: map[string]string{"n": "float"}}, "q,n\na,1.5\nb,2\n")
	if res.Imported != 2 || res.Dataset.Counts[model.Validation] != 2 || strings.Join(res.Dataset.InputKeys, ",") != "q" {
		t.Fatalf("import through the client: %+v", res)
	}
	added, err := cl.PutExample(ctx, &model.Example{Dataset: "d", Split: "test", Data: map[string]any{"q": "c", "n": 3}})
	if err != nil || added.ID.IsZero() || added.Split != model.Test {
		t.Fatalf("put through the client: %+v, %v", added, err)
	}

	same := func(what string, remote, local any, rerr, lerr error) {
		t.Helper()
		if rerr != nil || lerr != nil {
			t.Fatalf("%s: client %v, owner %v", what, rerr, lerr)
		}
		if r, l := jsonOf(t, remote), jsonOf(t, local); r != l {
			t.Errorf("%s differs:\nclient %s\nowner  %s", what, r, l)
		}
	}
	rd, rerr := cl.Dataset(ctx, "d")
	ld, lerr := o.Dataset(ctx, "d")
	same("dataset", rd, ld, rerr, lerr)
	rl, rerr := cl.ListDatasets(ctx)
	ll, lerr := o.ListDatasets(ctx)
	same("list", rl, ll, rerr, lerr)
	rp, rerr := cl.ListExamples(ctx, app.ExampleQuery{Dataset: "d", Limit: 2})
	lp, lerr := o.ListExamples(ctx, app.ExampleQuery{Dataset: "d", Limit: 2})
	same("page", rp, lp, rerr, lerr)
	if rp.Next == "" {
		t.Fatal("a page of 2 of 3 examples has no next cursor")
	}
	rp, rerr = cl.ListExamples(ctx, app.ExampleQuery{Dataset: "d", Cursor: rp.Next, Limit: 2})
	lp, lerr = o.ListExamples(ctx, app.ExampleQuery{Dataset: "d", Cursor: lp.Next, Limit: 2})
	same("next page", rp, lp, rerr, lerr)
	re, rerr := cl.ExampleAt(ctx, "d", "test", 0)
	le, lerr := o.ExampleAt(ctx, "d", "test", 0)
	same("example at", re, le, rerr, lerr)
	re, rerr = cl.Example(ctx, "d", added.ID)
	le, lerr = o.Example(ctx, "d", added.ID)
	same("example", re, le, rerr, lerr)
	rs, rerr := cl.DatasetStats(ctx, "d")
	ls, lerr := o.DatasetStats(ctx, "d")
	same("stats", rs, ls, rerr, lerr)
	var rx, lx bytes.Buffer
	rerr = cl.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "d", Format: "csv"}, &rx)
	lerr = o.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "d", Format: "csv"}, &lx)
	same("export", rx.String(), lx.String(), rerr, lerr)
	if rx.String() != "q,n\na,1.5\nb,2\nc,3\n" {
		t.Errorf("export through the client: %q", rx.String())
	}

	// Errors keep their code, field and text.
	sameErr := func(what string, remote, local error) {
		t.Helper()
		var r, l *app.Error
		if !errors.As(remote, &r) || !errors.As(local, &l) {
			t.Fatalf("%s: client %v, owner %v: want app errors", what, remote, local)
		}
		if r.Code != l.Code || r.Field != l.Field || r.Message != local.Error() {
			t.Errorf("%s:\nclient %s %q %q\nowner  %s %q %q", what, r.Code, r.Field, r.Message, l.Code, l.Field, local.Error())
		}
	}
	bad := app.ImportDatasetRequest{Name: "d", File: "d.csv", Types: map[string]string{"scroe": "float"}}
	_, rerr = importText(t, cl, bad, "q,n\na,1\n")
	_, lerr = importText(t, o, bad, "q,n\na,1\n")
	wantCode(t, rerr, app.CodeInvalid, "types", `--types names "scroe"`)
	sameErr("import with an unknown --types field", rerr, lerr)
	bad = app.ImportDatasetRequest{Name: "d", File: "d.jsonl", Types: map[string]string{"n": "int"}}
	_, rerr = importText(t, cl, bad, `{"q": "x", "n": "one"}`+"\n")
	_, lerr = importText(t, o, bad, `{"q": "x", "n": "one"}`+"\n")
	wantCode(t, rerr, app.CodeInvalid, "", "d.jsonl:1:", `field "n"`)
	sameErr("import of a value unfit for its type", rerr, lerr)
	_, rerr = cl.Example(ctx, "d", model.NewID())
	wantCode(t, rerr, app.CodeNotFound, "")
	_, rerr = cl.PutExample(ctx, &model.Example{Dataset: "d", Split: "holdout"})
	_, lerr = o.PutExample(ctx, &model.Example{Dataset: "d", Split: "holdout"})
	sameErr("put with a bad split", rerr, lerr)
	rerr = cl.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "nosuch"}, &rx)
	lerr = o.ExportDataset(ctx, app.ExportDatasetRequest{Dataset: "nosuch"}, &lx)
	sameErr("export of a missing dataset", rerr, lerr)
	if d, _ := o.Dataset(ctx, "d"); d.Size() != 3 {
		t.Errorf("refused imports changed the dataset: %v", d.Counts)
	}

	if err := cl.DeleteDataset(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	_, err = o.Dataset(ctx, "d")
	wantCode(t, err, app.CodeNotFound, "")
}

// RestoreExample puts a deleted example back with its ID, split and data,
// in process and over the socket; an ID still there is refused, and so is
// a restore without an ID.
func TestRestoreExample(t *testing.T) {
	o := openDatasetsOwner(t)
	ctx := t.Context()
	mustImport(t, o, app.ImportDatasetRequest{Name: "d", File: "d.jsonl"}, `{"q": "a"}`+"\n"+`{"q": "b"}`+"\n")
	for _, svc := range []app.Service{o, api.NewClient(api.SocketPath(o.Dir()))} {
		ex, err := svc.PutExample(ctx, &model.Example{Dataset: "d", Split: "test", Data: map[string]any{"q": "gone", "n": 2}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.RestoreExample(ctx, ex)
		wantCode(t, err, app.CodeExists, "", "exists")
		if err := svc.DeleteExample(ctx, "d", ex.ID); err != nil {
			t.Fatal(err)
		}
		back, err := svc.RestoreExample(ctx, ex)
		if err != nil || back.ID != ex.ID || back.Split != model.Test {
			t.Fatalf("restored %+v, %v", back, err)
		}
		stored, err := svc.Example(ctx, "d", ex.ID)
		if err != nil || stored.Split != model.Test || stored.Data["q"] != "gone" {
			t.Fatalf("stored after the restore: %+v, %v", stored, err)
		}
		if d, _ := svc.Dataset(ctx, "d"); d.Counts[model.Test] != 1 || d.Counts[model.Train] != 2 {
			t.Errorf("counts after the restore: %v", d.Counts)
		}
		if err := svc.DeleteExample(ctx, "d", ex.ID); err != nil { // for the next round
			t.Fatal(err)
		}
	}
	_, err := o.RestoreExample(ctx, &model.Example{Dataset: "d", Split: "train"})
	wantCode(t, err, app.CodeInvalid, "id")
}
