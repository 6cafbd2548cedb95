package datasets_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/pages/datasets"
	"github.com/signet-dspy/signet/tui/tuitest"
)

var (
	keyEnter = tuitest.Code(tea.KeyEnter, 0)
	keyEsc   = tuitest.Code(tea.KeyEscape, 0)
	keyTab   = tuitest.Code(tea.KeyTab, 0)
	ctrlS    = tuitest.Code('s', tea.ModCtrl)
	keyS     = tea.KeyPressMsg{Code: 'S', Mod: tea.ModShift, Text: "S"}
	keyI     = tea.KeyPressMsg{Code: 'I', Mod: tea.ModShift, Text: "I"}
)

// clearField empties the focused text area or input (end of text, then
// delete to the start of each line).
func clearField(t *testing.T, m tui.Model) tui.Model {
	t.Helper()
	m = tuitest.Send(t, m, tuitest.Code('e', tea.ModCtrl))
	for range 20 {
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0))
	}
	return m
}

// datasetsModel is newTestModel over the datasets fake, the import's file
// picker starting in importDir.
func datasetsModel(t *testing.T, fake *tuitest.Datasets, w, h int, importDir string) tui.Model {
	t.Helper()
	return tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: fake}, w, h,
		tuitest.WithImportDir(importDir))
}

// openQA opens the qa dataset's examples.
func openQA(t *testing.T, fake *tuitest.Datasets, w, h int) tui.Model {
	t.Helper()
	m := datasetsModel(t, fake, w, h, "")
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	return tuitest.Send(t, m, keyEnter)
}

func TestExampleViewEditSave(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = tuitest.Send(t, m, keyEnter) // view the first example
	if !dsets(m).ExampleOpen() {
		t.Fatal("enter on a row did not open the example")
	}
	s := tuitest.Screen(m)
	for _, want := range []string{"qa", "question (input)", "What is the capital of France?", "answer", "Paris", "train"} {
		if !strings.Contains(s, want) {
			t.Errorf("example view lacks %q:\n%s", want, s)
		}
	}
	m = tuitest.Send(t, m, tuitest.Key("i"))
	if !tuitest.IsTop[*datasets.ExampleForm](m) || !tuitest.Typing(m) {
		t.Fatal("i did not open the edit form with the keyboard")
	}
	if !strings.Contains(tuitest.Screen(m), "edit example") {
		t.Errorf("no form title:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, keyTab) // to answer
	m = clearField(t, m)
	m = tuitest.Type(t, m, "Paris, France")
	m = tuitest.Send(t, m, ctrlS)
	if f, ok := tuitest.Top(m).(*datasets.ExampleForm); ok {
		t.Fatalf("form still open after ctrl+s: %q", f.Err())
	}
	if got := fake.Mem["qa"][0].Data["answer"]; got != "Paris, France" {
		t.Errorf("stored answer %q", got)
	}
	if got := fake.Mem["qa"][0].Data["question"]; got != "What is the capital of France?" {
		t.Errorf("untouched field changed: %q", got)
	}
	s = tuitest.Screen(m)
	if !dsets(m).ExampleOpen() || !strings.Contains(s, "Paris, France") || !strings.Contains(s, "saved example") {
		t.Errorf("saved value not shown back in the example pane:\n%s", s)
	}
	m = tuitest.Send(t, m, keyEsc)
	if s := tuitest.Screen(m); !strings.Contains(s, "Paris, France") {
		t.Errorf("table row not updated:\n%s", s)
	}
	// Esc on an unchanged form closes it at once.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("i")), keyEsc)
	if tuitest.Top(m) != nil {
		t.Fatal("esc on an unchanged form did not close it")
	}
}

// Esc with changes asks: keep editing (the text intact), discard (nothing
// stored), save (stored).
func TestExampleFormEscAsksBeforeDiscarding(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("i")), "zzz")
	f := tuitest.TopAs[*datasets.ExampleForm](t, m)
	m = tuitest.Send(t, m, keyEsc)
	if !tuitest.IsTop[*dialog.Confirm](m) || !strings.Contains(tuitest.Screen(m), "Unsaved changes in example") {
		t.Fatalf("esc with changes did not ask:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, keyEsc) // keep editing
	if tuitest.Top(m) != f || !strings.Contains(tuitest.Screen(m), "zzzWhat is the capital") {
		t.Fatalf("keep editing lost the text:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, tuitest.Send(t, m, keyEsc), tuitest.Key("d")) // discard
	if tuitest.Top(m) != nil || strings.Contains(fake.Mem["qa"][0].Data["question"].(string), "zzz") {
		t.Fatal("discard did not drop the edit")
	}
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("i")), "zzz")
	m = tuitest.Send(t, tuitest.Send(t, m, keyEsc), tuitest.Key("s")) // save
	if tuitest.Top(m) != nil || fake.Mem["qa"][0].Data["question"] != "zzzWhat is the capital of France?" {
		t.Fatalf("save did not store the edit: %v (top %T)", fake.Mem["qa"][0].Data["question"], tuitest.Top(m))
	}
}

func TestExampleEditMovesSplitAndKeepsCounts(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("i"))
	m = tuitest.Send(t, m, keyTab)
	m = tuitest.Send(t, m, keyTab) // split
	m = clearField(t, m)
	m = tuitest.Type(t, m, "bogus")
	m = tuitest.Send(t, m, ctrlS)
	if f, ok := tuitest.Top(m).(*datasets.ExampleForm); !ok || !strings.Contains(f.Err(), "unknown split") {
		t.Fatalf("a bad split was not refused inline")
	}
	if !strings.Contains(tuitest.Screen(m), "unknown split") {
		t.Errorf("split error not shown:\n%s", tuitest.Screen(m))
	}
	m = clearField(t, m)
	m = tuitest.Type(t, m, "test")
	m = tuitest.Send(t, m, ctrlS)
	d := tableDS(m)
	if d.Counts[model.Train] != 2 || d.Counts[model.Test] != 2 || fake.Mem["qa"][0].Split != model.Test {
		t.Errorf("counts after moving to test: %v (stored split %s)", d.Counts, fake.Mem["qa"][0].Split)
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "train 2") || !strings.Contains(s, "test 2") {
		t.Errorf("header counts not updated:\n%s", s)
	}
}

func TestExampleKeepsValueTypes(t *testing.T) {
	fake := tuitest.SampleDatasets()
	fake.List = append(fake.List, &model.Dataset{Name: "typed", Fields: []string{"q", "n", "tags", "ok"},
		Counts: map[model.Split]int{model.Train: 1}})
	fake.Mem["typed"] = []*model.Example{{Dataset: "typed", ID: tuitest.ExampleID('t', 0), Split: model.Train,
		Data: map[string]any{"q": "42", "n": 3.0, "tags": []any{"a"}, "ok": true}}}
	m := datasetsModel(t, fake, 80, 24, "")
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"})
	m = tuitest.Send(t, m, keyEnter)
	if tableDS(m) == nil || tableDS(m).Name != "typed" {
		t.Fatal("typed not opened")
	}
	m = tuitest.Send(t, m, tuitest.Key("i"))
	f := tuitest.TopAs[*datasets.ExampleForm](t, m)
	if !f.OneLine(1) || !f.OneLine(3) || f.OneLine(0) || f.OneLine(2) {
		t.Fatal("numbers and booleans should get a text input, text and lists a text area")
	}
	m = tuitest.Send(t, m, keyTab) // n
	m = clearField(t, m)
	m = tuitest.Type(t, m, "four")
	m = tuitest.Send(t, m, ctrlS)
	if f.ErrField() != 1 || !strings.Contains(f.Err(), "want a number") || tuitest.Top(m) != f {
		t.Fatalf("a non-number for a number field was not refused: %+v", f)
	}
	m = clearField(t, m)
	m = tuitest.Type(t, m, "4")
	m = tuitest.Send(t, m, keyTab) // tags
	m = clearField(t, m)
	m = tuitest.Type(t, m, `["a","b"]`)
	m = tuitest.Send(t, m, ctrlS)
	if tuitest.Top(m) == f {
		t.Fatalf("not saved: %s", f.Err())
	}
	got := fake.Mem["typed"][0].Data
	want := map[string]any{"q": "42", "n": json.Number("4"), "tags": []any{"a", "b"}, "ok": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("saved %#v, want %#v", got, want)
	}
}

func TestParseValue(t *testing.T) {
	for _, c := range []struct {
		text string
		orig any
		had  bool
		want any
		drop bool
		err  bool
	}{
		{"42", "old", true, "42", false, false}, // text stays text
		{"", "old", true, "", false, false},
		{"7", 3.0, true, json.Number("7"), false, false},
		{"x", 3.0, true, nil, false, true},
		{"", 3.0, true, nil, true, false},
		{"false", true, true, false, false, false},
		{"1", true, true, nil, false, true},
		{`["x"]`, []any{}, true, []any{"x"}, false, false},
		{`"x"`, []any{}, true, nil, false, true},
		{"12", nil, false, json.Number("12"), false, false}, // new field: JSON when it parses
		{"true", nil, false, true, false, false},
		{"[1, 2]", nil, false, []any{json.Number("1"), json.Number("2")}, false, false},
		{`{"a": 1}`, nil, false, `{"a": 1}`, false, false}, // objects only as JSON when the field was one
		{"Paris", nil, false, "Paris", false, false},
		{"  ", nil, false, nil, true, false},
	} {
		v, drop, err := datasets.ParseValue(c.text, c.orig, c.had)
		if (err != nil) != c.err || drop != c.drop || (!c.err && !reflect.DeepEqual(v, c.want)) {
			t.Errorf("datasets.ParseValue(%q, %#v, %v) = %#v, %v, %v; want %#v, %v, err %v", c.text, c.orig, c.had, v, drop, err, c.want, c.drop, c.err)
		}
	}
}

func TestExampleAdd(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("n"))
	f, ok := tuitest.Top(m).(*datasets.ExampleForm)
	if !ok || !f.IsNew() || f.Split() != "train" {
		t.Fatal("n did not open an empty form for a train example")
	}
	m = tuitest.Type(t, m, "Who painted the Mona Lisa?")
	m = tuitest.Send(t, m, keyTab)
	m = tuitest.Type(t, m, "Leonardo")
	m = tuitest.Send(t, m, ctrlS)
	if tuitest.Top(m) != nil {
		t.Fatalf("not saved: %s", f.Err())
	}
	if n := len(fake.Mem["qa"]); n != 6 {
		t.Fatalf("%d examples stored, want 6", n)
	}
	added := fake.Mem["qa"][5]
	if added.Data["question"] != "Who painted the Mona Lisa?" || added.Data["answer"] != "Leonardo" || added.Split != model.Train {
		t.Errorf("added %+v", added)
	}
	if d := tableDS(m); d.Counts[model.Train] != 4 || tableRows(m) != 6 {
		t.Errorf("table after add: counts %v, %d rows", d.Counts, tableRows(m))
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "Leonardo") || !strings.Contains(s, "added example") {
		t.Errorf("the new example is not shown:\n%s", s)
	}
	// The list's counts were refreshed from the repository.
	m = tuitest.Send(t, m, keyEsc)
	m = tuitest.Send(t, m, keyEsc)
	if s := tuitest.Screen(m); !strings.Contains(s, "qa") || dsets(m).Datasets()[1].Counts[model.Train] != 4 {
		t.Errorf("dataset list not refreshed: %v", dsets(m).Datasets()[1].Counts)
	}
}

func TestExampleDelete(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Key("d"))
	if !tuitest.IsTop[*dialog.Confirm](m) || !strings.Contains(tuitest.Screen(m), "Delete example") {
		t.Fatalf("d did not ask:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if tuitest.Top(m) != nil || len(fake.Mem["qa"]) != 5 {
		t.Fatal("n did not keep the example")
	}
	m = tuitest.Send(t, m, tuitest.Key("d"))
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if len(fake.Mem["qa"]) != 4 || fake.Mem["qa"][1].Data["answer"] != "Eight" {
		t.Fatalf("the wrong example or none was deleted: %d left", len(fake.Mem["qa"]))
	}
	s := tuitest.Screen(m)
	if strings.Contains(s, "Shakespeare") || !strings.Contains(s, "4 examples") || !strings.Contains(s, "train 2") {
		t.Errorf("table after delete:\n%s", s)
	}
	// From the example pane, too; a failed delete is reported.
	fake.WriteErr = fmt.Errorf("disk full")
	m = tuitest.Send(t, m, keyEnter)
	m = tuitest.Send(t, m, tuitest.Key("d"))
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if s := tuitest.Screen(m); !strings.Contains(s, "disk full") || len(fake.Mem["qa"]) != 4 {
		t.Errorf("failed delete not reported:\n%s", s)
	}
}

// openImport opens the picker on testdata/import and returns the model.
func openImport(t *testing.T, fake *tuitest.Datasets, w, h int) tui.Model {
	t.Helper()
	m := datasetsModel(t, fake, w, h, filepath.Join("testdata", "import"))
	m = tuitest.Send(t, m, tuitest.Key("2"))
	return tuitest.Send(t, m, keyI)
}

// pick moves the picker to the file name and chooses it.
func pick(t *testing.T, m tui.Model, name string) tui.Model {
	t.Helper()
	for range 10 {
		if filepath.Base(tuitest.TopAs[*datasets.FilePicker](t, m).Highlighted()) == name {
			return tuitest.Send(t, m, keyEnter)
		}
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	t.Fatalf("%s not in the picker:\n%s", name, tuitest.Screen(m))
	return m
}

func TestImportFlow(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openImport(t, fake, 80, 24)
	if !tuitest.IsTop[*datasets.FilePicker](m) || tuitest.Typing(m) {
		t.Fatal("I did not open the picker")
	}
	s := tuitest.Screen(m)
	for _, want := range []string{"Import a dataset file", "capitals.jsonl", "reviews.csv", "notes.txt", "data"} {
		if !strings.Contains(s, want) {
			t.Errorf("picker lacks %q:\n%s", want, s)
		}
	}
	// A file of another type is refused.
	m = pick(t, m, "notes.txt")
	if !tuitest.IsTop[*datasets.FilePicker](m) || !strings.Contains(tuitest.Screen(m), "notes.txt is not a .jsonl") {
		t.Fatalf("notes.txt was accepted:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("g"))
	m = pick(t, m, "capitals.jsonl")
	imp, ok := tuitest.Top(m).(*datasets.ImportForm)
	if !ok || !tuitest.Typing(m) {
		t.Fatal("choosing capitals.jsonl did not open the form")
	}
	if got := imp.Input(0); got != "capitals" {
		t.Errorf("default name %q", got)
	}
	if got := imp.Input(1); got != "question" {
		t.Errorf("default inputs %q (fields %v)", got, imp.Fields())
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "fields: question, answer") {
		t.Errorf("fields not shown:\n%s", s)
	}
	m = tuitest.Send(t, m, keyTab)
	m = tuitest.Send(t, m, keyTab) // split
	m = tuitest.Type(t, m, "val")
	m = tuitest.Send(t, m, keyTab) // field types
	m = tuitest.Type(t, m, "answer=Optional[str]")
	m = tuitest.Send(t, m, ctrlS)
	if tuitest.Top(m) != nil {
		t.Fatalf("import did not finish: %v\n%s", imp.Err(), tuitest.Screen(m))
	}
	if len(fake.Imports) != 1 {
		t.Fatalf("%d imports", len(fake.Imports))
	}
	req := fake.Imports[0]
	abs, _ := filepath.Abs(filepath.Join("testdata", "import", "capitals.jsonl"))
	if got, _ := filepath.Abs(req.File); got != abs {
		t.Errorf("imported %s, want %s", req.File, abs)
	}
	want := app.ImportDatasetRequest{Name: "capitals", File: req.File, Split: model.Validation, Inputs: []string{"question"},
		Types: map[string]string{"answer": "Optional[str]"}}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("import request %+v, want %+v", req, want)
	}
	// The service read the file through the form's count: all of it.
	if p := imp.Progress(); p != 1 {
		t.Errorf("progress ended at %v", p)
	}
	s = tuitest.Screen(m)
	if !strings.Contains(s, "imported capitals.jsonl into dataset capitals (3 examples)") {
		t.Errorf("no notice:\n%s", s)
	}
	if selectedDataset(m) != "capitals" || !strings.Contains(s, "capitals") {
		t.Errorf("the imported dataset is not selected (%q):\n%s", selectedDataset(m), s)
	}
}

func TestImportBadFileShowsLine(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openImport(t, fake, 80, 24)
	m = pick(t, m, "bad.jsonl")
	m = tuitest.Send(t, m, ctrlS)
	imp, ok := tuitest.Top(m).(*datasets.ImportForm)
	if !ok || imp.Err() == nil {
		t.Fatal("a bad file imported")
	}
	if !strings.Contains(imp.Err().Error(), "bad.jsonl:3") {
		t.Errorf("error lacks file:line: %v", imp.Err())
	}
	s := tuitest.Screen(m)
	if !strings.Contains(s, "Import failed") || !strings.Contains(s, "bad.jsonl:3") {
		t.Errorf("error not shown:\n%s", s)
	}
	if len(fake.Imports) != 0 {
		t.Error("a failed import was recorded")
	}
	// esc goes back to the files, esc again closes.
	m = tuitest.Send(t, m, keyEsc)
	if !tuitest.IsTop[*datasets.FilePicker](m) {
		t.Fatal("esc did not go back to the picker")
	}
	m = tuitest.Send(t, m, keyEsc)
	if tuitest.Top(m) != nil {
		t.Fatal("esc did not close the picker")
	}
}

// Field types are read as `dataset import --types` reads them: a bad one
// is refused in the form, naming what does not parse, before any import.
func TestImportBadTypes(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openImport(t, fake, 80, 24)
	m = pick(t, m, "capitals.jsonl")
	for range 3 {
		m = tuitest.Send(t, m, keyTab)
	}
	m = tuitest.Type(t, m, "answer=strng")
	m = tuitest.Send(t, m, ctrlS)
	imp, ok := tuitest.Top(m).(*datasets.ImportForm)
	if !ok || imp.Running() || imp.Err() == nil || len(fake.Imports) != 0 {
		t.Fatalf("bad types were not refused (%d imports):\n%s", len(fake.Imports), tuitest.Screen(m))
	}
	if got := imp.Err().Error(); !strings.HasPrefix(got, `field types: field "answer": type "strng"`) {
		t.Errorf("error %q", got)
	}
}

func TestImportInvalidName(t *testing.T) {
	m := openImport(t, tuitest.SampleDatasets(), 80, 24)
	m = pick(t, m, "capitals.jsonl")
	m = clearField(t, m)
	m = tuitest.Type(t, m, "bad name!")
	m = tuitest.Send(t, m, ctrlS)
	if imp, ok := tuitest.Top(m).(*datasets.ImportForm); !ok || imp.Running() || imp.Err() == nil || !strings.Contains(tuitest.Screen(m), "Import failed") {
		t.Fatalf("a bad dataset name was not refused:\n%s", tuitest.Screen(m))
	}
}

func TestGuessInputs(t *testing.T) {
	for _, c := range []struct {
		fields []string
		want   []string
	}{
		{[]string{"question", "answer"}, []string{"question"}},
		{[]string{"context", "question", "answer"}, []string{"context", "question"}},
		{[]string{"review", "sentiment"}, []string{"review"}},
		{[]string{"a", "b"}, []string{"a"}},
		{[]string{"a", "b", "c"}, nil},
		{[]string{"text"}, nil},
	} {
		if got := datasets.GuessInputs(c.fields); !reflect.DeepEqual(got, c.want) {
			t.Errorf("datasets.GuessInputs(%v) = %v, want %v", c.fields, got, c.want)
		}
	}
}

func TestStats(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := datasetsModel(t, fake, 80, 24, "")
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, keyS)
	v, ok := tuitest.Top(m).(*datasets.StatsView)
	if !ok || !v.Done() {
		t.Fatal("S did not compute statistics")
	}
	st := v.Stats()
	if st.Examples != 5 || st.Splits[model.Train] != 3 || st.Splits[model.Validation] != 1 || st.Splits[model.Test] != 1 {
		t.Errorf("counts %+v", st)
	}
	// Questions are 30+17+33+48+40 characters, answers 5+19+5+6+4.
	want := []model.FieldStats{
		{Field: "question", Input: true, FillRate: 1, AvgChars: 33.6},
		{Field: "answer", FillRate: 1, AvgChars: 7.8},
	}
	if !reflect.DeepEqual(st.Fields, want) {
		t.Errorf("fields %+v, want %+v", st.Fields, want)
	}
	s := tuitest.Screen(m)
	for _, want := range []string{"qa", "statistics", "5 examples", "train 3", "validation 1", "test 1", "question", "yes", "100.0%", "33.6", "7.8"} {
		if !strings.Contains(s, want) {
			t.Errorf("stats view lacks %q:\n%s", want, s)
		}
	}
	m = tuitest.Send(t, m, keyEsc)
	if tuitest.Top(m) != nil {
		t.Fatal("esc did not close the statistics")
	}
}

func TestStatsStreamsAndCancels(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := datasetsModel(t, fake, 80, 24, "")
	m = tuitest.Send(t, m, tuitest.Key("2"))
	nm, cmd := m.Update(keyS) // big: 100k examples, 100 pages
	m = nm.(tui.Model)
	v, ok := tuitest.Top(m).(*datasets.StatsView)
	if !ok || cmd == nil {
		t.Fatal("no statistics command")
	}
	// Two steps, one page each.
	for range 2 {
		nm, cmd = m.Update(cmd())
		m = nm.(tui.Model)
		if cmd == nil {
			t.Fatal("the computation stopped early")
		}
	}
	if v.Done() || v.Stats().Examples != 2*datasets.StatsPageSize {
		t.Fatalf("after two steps: %d examples, done %v", v.Stats().Examples, v.Done())
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "counting… 2,000 of 100,000") {
		t.Errorf("no progress:\n%s", s)
	}
	m = tuitest.Send(t, m, keyEsc)
	if tuitest.Top(m) != nil {
		t.Fatal("esc did not cancel")
	}
	// The step in flight lands after the cancel and goes nowhere.
	nm, next := m.Update(cmd())
	if next != nil || tuitest.Top(nm.(tui.Model)) != nil {
		t.Error("a cancelled computation went on")
	}
}

func TestDatasetsBindings(t *testing.T) {
	fake := tuitest.SampleDatasets()
	has := func(m tui.Model, keys ...string) {
		t.Helper()
		var got []string
		for _, b := range tuitest.Bindings(m) {
			got = append(got, b.Help().Key)
		}
		for _, k := range keys {
			found := false
			for _, b := range tuitest.Bindings(m) {
				if key.Matches(tea.KeyPressMsg(keyFor(k)), b) {
					found = true
				}
			}
			if !found {
				t.Errorf("bindings %v lack %q", got, k)
			}
		}
	}
	m := datasetsModel(t, fake, 80, 24, "")
	m = tuitest.Send(t, m, tuitest.Key("2"))
	has(m, "enter", "/", "I", "S")
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, keyEnter)
	has(m, "enter", "i", "n", "d", "S", "esc")
	m = tuitest.Send(t, m, keyEnter)
	has(m, "i", "d", "j", "k", "esc")
	m = tuitest.Send(t, m, tuitest.Key("d"))
	has(m, "y", "n")
	m = tuitest.Send(t, m, keyEsc)
	m = tuitest.Send(t, m, tuitest.Key("i"))
	has(m, "ctrl+s", "tab", "shift+tab", "esc")
}

// keyFor is the key press of a key name as key.Matches reads it.
func keyFor(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return keyEnter
	case "esc":
		return keyEsc
	case "tab":
		return keyTab
	case "shift+tab":
		return tuitest.Code(tea.KeyTab, tea.ModShift)
	case "ctrl+s":
		return ctrlS
	}
	r := []rune(k)[0]
	if r >= 'A' && r <= 'Z' {
		return tea.KeyPressMsg{Code: r, Mod: tea.ModShift, Text: k}
	}
	return tuitest.Key(k)
}

// TestDatasetsGolden snapshots the views of the Datasets page's features.
// Update with: go test ./tui -run TestDatasetsGolden -update
func TestDatasetsGolden(t *testing.T) {
	if _, err := os.Stat(filepath.Join("testdata", "import", "capitals.jsonl")); err != nil {
		t.Fatal(err)
	}
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			w, h := sz[0], sz[1]
			// Each from scratch: the views hold pointers, so models that
			// share a history share them.
			table := func() tui.Model { return openQA(t, tuitest.SampleDatasets(), w, h) }
			picker := func() tui.Model { return openImport(t, tuitest.SampleDatasets(), w, h) }
			stats := tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, datasetsModel(t, tuitest.SampleDatasets(), w, h, ""), tuitest.Key("2")), tuitest.Key("j")), keyS)
			screens := map[string]tui.Model{
				"example":     tuitest.Send(t, table(), keyEnter),
				"edit":        tuitest.Send(t, table(), tuitest.Key("i")),
				"new":         tuitest.Send(t, table(), tuitest.Key("n")),
				"delete":      tuitest.Send(t, table(), tuitest.Key("d")),
				"picker":      picker(),
				"import-form": pick(t, picker(), "capitals.jsonl"),
				"import-bad":  tuitest.Send(t, pick(t, picker(), "bad.jsonl"), ctrlS),
				"stats":       stats,
			}
			for _, name := range []string{"example", "edit", "new", "delete", "picker", "import-form", "import-bad", "stats"} {
				t.Run(name, func(t *testing.T) {
					s := tuitest.Screen(screens[name])
					if lines := strings.Split(s, "\n"); len(lines) != h {
						t.Errorf("%d lines, want %d", len(lines), h)
					}
					golden.RequireEqual(t, []byte(s))
				})
			}
		})
	}
}

// Esc in the import form with a field changed asks; keep editing keeps it;
// discard goes back to the files. Unchanged (the guessed inputs are the
// form's own), esc goes back at once.
func TestImportFormEscAsksBeforeDiscarding(t *testing.T) {
	m := pick(t, openImport(t, tuitest.SampleDatasets(), 80, 24), "capitals.jsonl")
	form := tuitest.TopAs[*datasets.ImportForm](t, m)
	if m = tuitest.Send(t, m, keyEsc); !tuitest.IsTop[*datasets.FilePicker](m) {
		t.Fatalf("esc on an unchanged import form: %T on top", tuitest.Top(m))
	}
	// An arrow key keeps the guessed name to edit it: the 2 goes after it.
	m = tuitest.Type(t, tuitest.Send(t, pick(t, m, "capitals.jsonl"), tuitest.Code(tea.KeyEnd, 0)), "2")
	form = tuitest.TopAs[*datasets.ImportForm](t, m)
	m = tuitest.Send(t, m, keyEsc)
	if !strings.Contains(tuitest.Screen(m), "Unsaved changes in the import of capitals.jsonl") {
		t.Fatalf("esc did not ask:\n%s", tuitest.Screen(m))
	}
	if strings.Contains(tuitest.Screen(m), "s save") {
		t.Errorf("the import form offers to save without importing:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, keyEsc)
	if tuitest.Top(m) != form || !strings.Contains(tuitest.Screen(m), "capitals2") {
		t.Fatalf("keep editing lost the name:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, tuitest.Send(t, m, keyEsc), tuitest.Key("d"))
	if !tuitest.IsTop[*datasets.FilePicker](m) {
		t.Fatalf("discard: %T on top", tuitest.Top(m))
	}
}

// u puts the example deleted last back, with its ID, split and data; with
// nothing deleted it says so; a second u has nothing left to undo.
func TestUndoDeleteExample(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("u"))
	if !strings.Contains(m.Notice().Text, "nothing to undo") {
		t.Fatalf("u with nothing deleted: notice %q", m.Notice().Text)
	}
	gone := *fake.Mem["qa"][0]
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("d")), tuitest.Key("y"))
	if len(fake.Mem["qa"]) != 4 || !strings.Contains(m.Notice().Text, "u undo") {
		t.Fatalf("delete: %d left, notice %q", len(fake.Mem["qa"]), m.Notice().Text)
	}
	m = tuitest.Send(t, m, tuitest.Key("u"))
	i := slices.IndexFunc(fake.Mem["qa"], func(x *model.Example) bool { return x.ID == gone.ID })
	if len(fake.Mem["qa"]) != 5 || i < 0 || fake.Mem["qa"][i].Split != gone.Split || fake.Mem["qa"][i].Data["question"] != gone.Data["question"] {
		t.Fatalf("undo did not restore example %s as it was: %+v", gone.ID, fake.Mem["qa"])
	}
	s := tuitest.Screen(m)
	if !strings.Contains(s, "restored example") || !strings.Contains(s, "5 examples") || !strings.Contains(s, gone.Data["question"].(string)[:20]) {
		t.Errorf("the table does not show the restored example:\n%s", s)
	}
	m = tuitest.Send(t, m, tuitest.Key("u"))
	if !strings.Contains(m.Notice().Text, "nothing to undo") || len(fake.Mem["qa"]) != 5 {
		t.Errorf("a second u: notice %q, %d examples", m.Notice().Text, len(fake.Mem["qa"]))
	}
	// From the example pane too.
	m = tuitest.Send(t, m, keyEnter)
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("d")), tuitest.Key("y"))
	if len(fake.Mem["qa"]) != 4 {
		t.Fatalf("delete from the pane: %d left", len(fake.Mem["qa"]))
	}
	if m = tuitest.Send(t, m, tuitest.Key("u")); len(fake.Mem["qa"]) != 5 {
		t.Errorf("u after a delete from the pane: %d examples, notice %q", len(fake.Mem["qa"]), m.Notice().Text)
	}
}

// TestImportGuessReplacedByTyping: the input keys the form guessed (and
// the name it took from the file) are replaced by what is typed, not
// appended to; an arrow key keeps the guess to edit it.
func TestImportGuessReplacedByTyping(t *testing.T) {
	m := openImport(t, tuitest.SampleDatasets(), 80, 24)
	m = pick(t, m, "capitals.jsonl")
	imp := tuitest.TopAs[*datasets.ImportForm](t, m)
	m = tuitest.Type(t, m, "cities")
	m = tuitest.Send(t, m, keyTab)
	if imp.Input(1) != "question" {
		t.Fatalf("the guess is %q", imp.Input(1))
	}
	m = tuitest.Type(t, m, "answer")
	if imp.Input(0) != "cities" || imp.Input(1) != "answer" {
		t.Fatalf("typing over the guesses gave name %q, inputs %q", imp.Input(0), imp.Input(1))
	}
	// Back on the name, now the user's: typing appends.
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyTab, tea.ModShift))
	m = tuitest.Type(t, m, "2")
	if imp.Input(0) != "cities2" {
		t.Fatalf("the user's own text was replaced: %q", imp.Input(0))
	}
	m = openImport(t, tuitest.SampleDatasets(), 80, 24)
	m = pick(t, m, "capitals.jsonl")
	imp = tuitest.TopAs[*datasets.ImportForm](t, m)
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyEnd, 0))
	m = tuitest.Type(t, m, "-v2")
	if imp.Input(0) != "capitals-v2" {
		t.Fatalf("end then typing gave %q, want the guess edited", imp.Input(0))
	}
	m = tuitest.Send(t, m, keyTab)
	tuitest.Send(t, m, tuitest.Backspace())
	if imp.Input(1) != "" {
		t.Fatalf("backspace on the guess left %q", imp.Input(1))
	}
}
