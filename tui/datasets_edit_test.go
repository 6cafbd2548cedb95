package tui

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/page"
)

// drain runs cmd and everything it leads to, batches included, feeding
// each message back into Update (run does not take batches apart).
func drain(t *testing.T, m Model, cmd tea.Cmd) Model {
	t.Helper()
	return run(t, m, cmd)
}

// press delivers a key and drains what follows.
func press(t *testing.T, m Model, k tea.KeyPressMsg) Model {
	t.Helper()
	nm, cmd := m.Update(k)
	return drain(t, nm.(Model), cmd)
}

func typeIn(t *testing.T, m Model, s string) Model {
	t.Helper()
	for _, r := range s {
		if r == ' ' {
			m = press(t, m, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
			continue
		}
		m = press(t, m, keyText(string(r)))
	}
	return m
}

var (
	keyEnter = keyCode(tea.KeyEnter, 0)
	keyEsc   = keyCode(tea.KeyEscape, 0)
	keyTab   = keyCode(tea.KeyTab, 0)
	ctrlS    = keyCode('s', tea.ModCtrl)
	keyS     = tea.KeyPressMsg{Code: 'S', Mod: tea.ModShift, Text: "S"}
	keyI     = tea.KeyPressMsg{Code: 'I', Mod: tea.ModShift, Text: "I"}
)

// clearField empties the focused text area or input (end of text, then
// delete to the start of each line).
func clearField(t *testing.T, m Model) Model {
	t.Helper()
	m = press(t, m, keyCode('e', tea.ModCtrl))
	for range 20 {
		m = press(t, m, keyCode(tea.KeyBackspace, 0))
	}
	return m
}

// datasetsModel is newTestModel over the datasets fake, the import's file
// picker starting in importDir.
func datasetsModel(t *testing.T, fake *fakeDatasets, w, h int, importDir string) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}, Datasets: fake}, Options{
		Workspace: "/home/ada/signet-workspace", LMProfile: "local-smollm2", Styles: themes.New(p), ImportDir: importDir,
		Clock: &page.Clock{Now: time.Now, Location: time.UTC}, // no timers: nothing waits
	})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return run(t, m, m.Init())
}

// openQA opens the qa dataset's examples.
func openQA(t *testing.T, fake *fakeDatasets, w, h int) Model {
	t.Helper()
	m := datasetsModel(t, fake, w, h, "")
	m = press(t, m, keyText("2"))
	m = press(t, m, keyText("j"))
	return press(t, m, keyEnter)
}

func TestExampleViewEditSave(t *testing.T) {
	fake := sampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = press(t, m, keyEnter) // view the first example
	if m.datasets.exView == nil {
		t.Fatal("enter on a row did not open the example")
	}
	s := screen(m)
	for _, want := range []string{"qa", "question (input)", "What is the capital of France?", "answer", "Paris", "train"} {
		if !strings.Contains(s, want) {
			t.Errorf("example view lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, keyText("i"))
	if !isTop[*exampleForm](m) || !typingNow(m) {
		t.Fatal("i did not open the edit form with the keyboard")
	}
	if !strings.Contains(screen(m), "edit example") {
		t.Errorf("no form title:\n%s", screen(m))
	}
	m = press(t, m, keyTab) // to answer
	m = clearField(t, m)
	m = typeIn(t, m, "Paris, France")
	m = press(t, m, ctrlS)
	if f, ok := top(m).(*exampleForm); ok {
		t.Fatalf("form still open after ctrl+s: %q", f.err)
	}
	if got := fake.mem["qa"][0].Data["answer"]; got != "Paris, France" {
		t.Errorf("stored answer %q", got)
	}
	if got := fake.mem["qa"][0].Data["question"]; got != "What is the capital of France?" {
		t.Errorf("untouched field changed: %q", got)
	}
	s = screen(m)
	if m.datasets.exView == nil || !strings.Contains(s, "Paris, France") || !strings.Contains(s, "saved example") {
		t.Errorf("saved value not shown back in the example pane:\n%s", s)
	}
	m = press(t, m, keyEsc)
	if s := screen(m); !strings.Contains(s, "Paris, France") {
		t.Errorf("table row not updated:\n%s", s)
	}
	// Esc in the form discards.
	m = press(t, m, keyText("i"))
	m = typeIn(t, m, "zzz")
	m = press(t, m, keyEsc)
	if top(m) != nil || strings.Contains(fake.mem["qa"][0].Data["question"].(string), "zzz") {
		t.Error("esc did not cancel the edit")
	}
}

func TestExampleEditMovesSplitAndKeepsCounts(t *testing.T) {
	fake := sampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = press(t, m, keyText("i"))
	m = press(t, m, keyTab)
	m = press(t, m, keyTab) // split
	m = clearField(t, m)
	m = typeIn(t, m, "bogus")
	m = press(t, m, ctrlS)
	if f, ok := top(m).(*exampleForm); !ok || !strings.Contains(f.err, "unknown split") {
		t.Fatalf("a bad split was not refused inline")
	}
	if !strings.Contains(screen(m), "unknown split") {
		t.Errorf("split error not shown:\n%s", screen(m))
	}
	m = clearField(t, m)
	m = typeIn(t, m, "test")
	m = press(t, m, ctrlS)
	d := m.datasets.ex.ds
	if d.Counts[model.Train] != 2 || d.Counts[model.Test] != 2 || fake.mem["qa"][0].Split != model.Test {
		t.Errorf("counts after moving to test: %v (stored split %s)", d.Counts, fake.mem["qa"][0].Split)
	}
	if s := screen(m); !strings.Contains(s, "train 2") || !strings.Contains(s, "test 2") {
		t.Errorf("header counts not updated:\n%s", s)
	}
}

func TestExampleKeepsValueTypes(t *testing.T) {
	fake := sampleDatasets()
	fake.datasets = append(fake.datasets, &model.Dataset{Name: "typed", Fields: []string{"q", "n", "tags", "ok"},
		Counts: map[model.Split]int{model.Train: 1}})
	fake.mem["typed"] = []*model.Example{{Dataset: "typed", ID: fakeID('t', 0), Split: model.Train,
		Data: map[string]any{"q": "42", "n": 3.0, "tags": []any{"a"}, "ok": true}}}
	m := datasetsModel(t, fake, 80, 24, "")
	m = press(t, m, keyText("2"))
	m = press(t, m, tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"})
	m = press(t, m, keyEnter)
	if m.datasets.ex.ds == nil || m.datasets.ex.ds.Name != "typed" {
		t.Fatal("typed not opened")
	}
	m = press(t, m, keyText("i"))
	f := topAs[*exampleForm](t, m)
	if f.fields[1].input == nil || f.fields[3].input == nil || f.fields[0].area == nil || f.fields[2].area == nil {
		t.Fatal("numbers and booleans should get a text input, text and lists a text area")
	}
	m = press(t, m, keyTab) // n
	m = clearField(t, m)
	m = typeIn(t, m, "four")
	m = press(t, m, ctrlS)
	if f.errField != 1 || !strings.Contains(f.err, "want a number") || top(m) != f {
		t.Fatalf("a non-number for a number field was not refused: %+v", f)
	}
	m = clearField(t, m)
	m = typeIn(t, m, "4")
	m = press(t, m, keyTab) // tags
	m = clearField(t, m)
	m = typeIn(t, m, `["a","b"]`)
	m = press(t, m, ctrlS)
	if top(m) == f {
		t.Fatalf("not saved: %s", f.err)
	}
	got := fake.mem["typed"][0].Data
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
		v, drop, err := parseValue(c.text, c.orig, c.had)
		if (err != nil) != c.err || drop != c.drop || (!c.err && !reflect.DeepEqual(v, c.want)) {
			t.Errorf("parseValue(%q, %#v, %v) = %#v, %v, %v; want %#v, %v, err %v", c.text, c.orig, c.had, v, drop, err, c.want, c.drop, c.err)
		}
	}
}

func TestExampleAdd(t *testing.T) {
	fake := sampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = press(t, m, keyText("n"))
	f, ok := top(m).(*exampleForm)
	if !ok || f.orig != nil || f.split.Value() != "train" {
		t.Fatal("n did not open an empty form for a train example")
	}
	m = typeIn(t, m, "Who painted the Mona Lisa?")
	m = press(t, m, keyTab)
	m = typeIn(t, m, "Leonardo")
	m = press(t, m, ctrlS)
	if top(m) != nil {
		t.Fatalf("not saved: %s", f.err)
	}
	if n := len(fake.mem["qa"]); n != 6 {
		t.Fatalf("%d examples stored, want 6", n)
	}
	added := fake.mem["qa"][5]
	if added.Data["question"] != "Who painted the Mona Lisa?" || added.Data["answer"] != "Leonardo" || added.Split != model.Train {
		t.Errorf("added %+v", added)
	}
	if d := m.datasets.ex.ds; d.Counts[model.Train] != 4 || len(m.datasets.ex.rows) != 6 {
		t.Errorf("table after add: counts %v, %d rows", d.Counts, len(m.datasets.ex.rows))
	}
	if s := screen(m); !strings.Contains(s, "Leonardo") || !strings.Contains(s, "added example") {
		t.Errorf("the new example is not shown:\n%s", s)
	}
	// The list's counts were refreshed from the repository.
	m = press(t, m, keyEsc)
	m = press(t, m, keyEsc)
	if s := screen(m); !strings.Contains(s, "qa") || m.datasets.datasets[1].Counts[model.Train] != 4 {
		t.Errorf("dataset list not refreshed: %v", m.datasets.datasets[1].Counts)
	}
}

func TestExampleDelete(t *testing.T) {
	fake := sampleDatasets()
	m := openQA(t, fake, 80, 24)
	m = press(t, m, keyText("j"))
	m = press(t, m, keyText("d"))
	if !isTop[*dialog.Confirm](m) || !strings.Contains(screen(m), "Delete example") {
		t.Fatalf("d did not ask:\n%s", screen(m))
	}
	m = press(t, m, keyText("n"))
	if top(m) != nil || len(fake.mem["qa"]) != 5 {
		t.Fatal("n did not keep the example")
	}
	m = press(t, m, keyText("d"))
	m = press(t, m, keyText("y"))
	if len(fake.mem["qa"]) != 4 || fake.mem["qa"][1].Data["answer"] != "Eight" {
		t.Fatalf("the wrong example or none was deleted: %d left", len(fake.mem["qa"]))
	}
	s := screen(m)
	if strings.Contains(s, "Shakespeare") || !strings.Contains(s, "4 examples") || !strings.Contains(s, "train 2") {
		t.Errorf("table after delete:\n%s", s)
	}
	// From the example pane, too; a failed delete is reported.
	fake.writeErr = fmt.Errorf("disk full")
	m = press(t, m, keyEnter)
	m = press(t, m, keyText("d"))
	m = press(t, m, keyText("y"))
	if s := screen(m); !strings.Contains(s, "disk full") || len(fake.mem["qa"]) != 4 {
		t.Errorf("failed delete not reported:\n%s", s)
	}
}

// openImport opens the picker on testdata/import and returns the model.
func openImport(t *testing.T, fake *fakeDatasets, w, h int) Model {
	t.Helper()
	m := datasetsModel(t, fake, w, h, filepath.Join("testdata", "import"))
	m = press(t, m, keyText("2"))
	return press(t, m, keyI)
}

// pick moves the picker to the file name and chooses it.
func pick(t *testing.T, m Model, name string) Model {
	t.Helper()
	for range 10 {
		if filepath.Base(topAs[*filePicker](t, m).picker.HighlightedPath()) == name {
			return press(t, m, keyEnter)
		}
		m = press(t, m, keyText("j"))
	}
	t.Fatalf("%s not in the picker:\n%s", name, screen(m))
	return m
}

func TestImportFlow(t *testing.T) {
	fake := sampleDatasets()
	m := openImport(t, fake, 80, 24)
	if !isTop[*filePicker](m) || typingNow(m) {
		t.Fatal("I did not open the picker")
	}
	s := screen(m)
	for _, want := range []string{"Import a dataset file", "capitals.jsonl", "reviews.csv", "notes.txt", "data"} {
		if !strings.Contains(s, want) {
			t.Errorf("picker lacks %q:\n%s", want, s)
		}
	}
	// A file of another type is refused.
	m = pick(t, m, "notes.txt")
	if !isTop[*filePicker](m) || !strings.Contains(screen(m), "notes.txt is not a .jsonl") {
		t.Fatalf("notes.txt was accepted:\n%s", screen(m))
	}
	m = press(t, m, keyText("g"))
	m = pick(t, m, "capitals.jsonl")
	imp, ok := top(m).(*importForm)
	if !ok || !typingNow(m) {
		t.Fatal("choosing capitals.jsonl did not open the form")
	}
	if got := imp.inputs[0].Value(); got != "capitals" {
		t.Errorf("default name %q", got)
	}
	if got := imp.inputs[1].Value(); got != "question" {
		t.Errorf("default inputs %q (fields %v)", got, imp.fields)
	}
	if s := screen(m); !strings.Contains(s, "fields: question, answer") {
		t.Errorf("fields not shown:\n%s", s)
	}
	m = press(t, m, keyTab)
	m = press(t, m, keyTab) // split
	m = typeIn(t, m, "val")
	m = press(t, m, keyTab) // field types
	m = typeIn(t, m, "answer=Optional[str]")
	m = press(t, m, ctrlS)
	if top(m) != nil {
		t.Fatalf("import did not finish: %v\n%s", imp.err, screen(m))
	}
	if len(fake.imports) != 1 {
		t.Fatalf("%d imports", len(fake.imports))
	}
	req := fake.imports[0]
	abs, _ := filepath.Abs(filepath.Join("testdata", "import", "capitals.jsonl"))
	if req.Name != "capitals" || req.Inputs != "question" || req.Split != model.Validation || req.Types != "answer=Optional[str]" ||
		(req.Path != abs && !strings.HasSuffix(req.Path, "capitals.jsonl")) {
		t.Errorf("import request %+v", req)
	}
	s = screen(m)
	if !strings.Contains(s, "imported capitals.jsonl into dataset capitals (3 examples)") {
		t.Errorf("no notice:\n%s", s)
	}
	if selectedDataset(m) != "capitals" || !strings.Contains(s, "capitals") {
		t.Errorf("the imported dataset is not selected (%q):\n%s", selectedDataset(m), s)
	}
}

func TestImportBadFileShowsLine(t *testing.T) {
	fake := sampleDatasets()
	m := openImport(t, fake, 80, 24)
	m = pick(t, m, "bad.jsonl")
	m = press(t, m, ctrlS)
	imp, ok := top(m).(*importForm)
	if !ok || imp.err == nil {
		t.Fatal("a bad file imported")
	}
	if !strings.Contains(imp.err.Error(), "bad.jsonl:3") {
		t.Errorf("error lacks file:line: %v", imp.err)
	}
	s := screen(m)
	if !strings.Contains(s, "Import failed") || !strings.Contains(s, "bad.jsonl:3") {
		t.Errorf("error not shown:\n%s", s)
	}
	if len(fake.imports) != 0 {
		t.Error("a failed import was recorded")
	}
	// esc goes back to the files, esc again closes.
	m = press(t, m, keyEsc)
	if !isTop[*filePicker](m) {
		t.Fatal("esc did not go back to the picker")
	}
	m = press(t, m, keyEsc)
	if top(m) != nil {
		t.Fatal("esc did not close the picker")
	}
}

func TestImportInvalidName(t *testing.T) {
	m := openImport(t, sampleDatasets(), 80, 24)
	m = pick(t, m, "capitals.jsonl")
	m = clearField(t, m)
	m = typeIn(t, m, "bad name!")
	m = press(t, m, ctrlS)
	if imp, ok := top(m).(*importForm); !ok || imp.running || imp.err == nil || !strings.Contains(screen(m), "Import failed") {
		t.Fatalf("a bad dataset name was not refused:\n%s", screen(m))
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
		if got := guessInputs(c.fields); !reflect.DeepEqual(got, c.want) {
			t.Errorf("guessInputs(%v) = %v, want %v", c.fields, got, c.want)
		}
	}
}

func TestStats(t *testing.T) {
	fake := sampleDatasets()
	m := datasetsModel(t, fake, 80, 24, "")
	m = press(t, m, keyText("2"))
	m = press(t, m, keyText("j"))
	m = press(t, m, keyS)
	v, ok := top(m).(*statsView)
	if !ok || !v.done {
		t.Fatal("S did not compute statistics")
	}
	st := v.stats
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
	s := screen(m)
	for _, want := range []string{"qa", "statistics", "5 examples", "train 3", "validation 1", "test 1", "question", "yes", "100.0%", "33.6", "7.8"} {
		if !strings.Contains(s, want) {
			t.Errorf("stats view lacks %q:\n%s", want, s)
		}
	}
	m = press(t, m, keyEsc)
	if top(m) != nil {
		t.Fatal("esc did not close the statistics")
	}
}

func TestStatsStreamsAndCancels(t *testing.T) {
	fake := sampleDatasets()
	m := datasetsModel(t, fake, 80, 24, "")
	m = press(t, m, keyText("2"))
	nm, cmd := m.Update(keyS) // big: 100k examples, 100 pages
	m = nm.(Model)
	v, ok := top(m).(*statsView)
	if !ok || cmd == nil {
		t.Fatal("no statistics command")
	}
	// Two steps, one page each.
	for range 2 {
		nm, cmd = m.Update(cmd())
		m = nm.(Model)
		if cmd == nil {
			t.Fatal("the computation stopped early")
		}
	}
	if v.done || v.stats.Examples != 2*statsPageSize {
		t.Fatalf("after two steps: %d examples, done %v", v.stats.Examples, v.done)
	}
	if s := screen(m); !strings.Contains(s, "counting… 2,000 of 100,000") {
		t.Errorf("no progress:\n%s", s)
	}
	m = press(t, m, keyEsc)
	if top(m) != nil {
		t.Fatal("esc did not cancel")
	}
	// The step in flight lands after the cancel and goes nowhere.
	nm, next := m.Update(cmd())
	if next != nil || top(nm.(Model)) != nil {
		t.Error("a cancelled computation went on")
	}
}

func TestDatasetsBindings(t *testing.T) {
	fake := sampleDatasets()
	has := func(m Model, keys ...string) {
		t.Helper()
		var got []string
		for _, b := range bindingsNow(m) {
			got = append(got, b.Help().Key)
		}
		for _, k := range keys {
			found := false
			for _, b := range bindingsNow(m) {
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
	m = press(t, m, keyText("2"))
	has(m, "enter", "/", "I", "S")
	m = press(t, m, keyText("j"))
	m = press(t, m, keyEnter)
	has(m, "enter", "i", "n", "d", "S", "esc")
	m = press(t, m, keyEnter)
	has(m, "i", "d", "j", "k", "esc")
	m = press(t, m, keyText("d"))
	has(m, "y", "n")
	m = press(t, m, keyEsc)
	m = press(t, m, keyText("i"))
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
		return keyCode(tea.KeyTab, tea.ModShift)
	case "ctrl+s":
		return ctrlS
	}
	r := []rune(k)[0]
	if r >= 'A' && r <= 'Z' {
		return tea.KeyPressMsg{Code: r, Mod: tea.ModShift, Text: k}
	}
	return keyText(k)
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
			table := func() Model { return openQA(t, sampleDatasets(), w, h) }
			picker := func() Model { return openImport(t, sampleDatasets(), w, h) }
			stats := press(t, press(t, press(t, datasetsModel(t, sampleDatasets(), w, h, ""), keyText("2")), keyText("j")), keyS)
			screens := map[string]Model{
				"example":     press(t, table(), keyEnter),
				"edit":        press(t, table(), keyText("i")),
				"new":         press(t, table(), keyText("n")),
				"delete":      press(t, table(), keyText("d")),
				"picker":      picker(),
				"import-form": pick(t, picker(), "capitals.jsonl"),
				"import-bad":  press(t, pick(t, picker(), "bad.jsonl"), ctrlS),
				"stats":       stats,
			}
			for _, name := range []string{"example", "edit", "new", "delete", "picker", "import-form", "import-bad", "stats"} {
				t.Run(name, func(t *testing.T) {
					s := screen(screens[name])
					if lines := strings.Split(s, "\n"); len(lines) != h {
						t.Errorf("%d lines, want %d", len(lines), h)
					}
					golden.RequireEqual(t, []byte(s))
				})
			}
		})
	}
}
