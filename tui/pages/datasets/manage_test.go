package datasets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/pages/datasets"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestDeleteDataset: d on a dataset asks, naming how many examples go;
// n keeps it; y deletes it and the list follows.
func TestDeleteDataset(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := datasetsModel(t, fake, 80, 24, t.TempDir())
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j")) // qa
	m = tuitest.Send(t, m, tuitest.Key("d"))
	tuitest.TopAs[*dialog.Confirm](t, m)
	if s := tuitest.Screen(m); !strings.Contains(s, "Delete dataset qa?") || !strings.Contains(s, "Its 5 examples are deleted") {
		t.Fatalf("the confirmation:\n%s", s)
	}
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if len(fake.List) != 3 || tuitest.Top(m) != nil {
		t.Fatal("n deleted the dataset or stayed open")
	}
	m = tuitest.Send(t, m, tuitest.Key("d"))
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if len(fake.List) != 2 || strings.Contains(tuitest.Screen(m), "question, answer") || !strings.Contains(tuitest.Screen(m), "deleted dataset qa") {
		t.Fatalf("after y: %d datasets\n%s", len(fake.List), tuitest.Screen(m))
	}
}

// TestExportDataset: X exports the selected dataset to the file and format
// chosen (the extension following the format), one split or all.
func TestExportDataset(t *testing.T) {
	dir := t.TempDir()
	fake := tuitest.SampleDatasets()
	m := datasetsModel(t, fake, 100, 30, dir)
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j")) // qa
	m = tuitest.Send(t, m, tuitest.Key("X"))
	if !strings.Contains(tuitest.Screen(m), filepath.Join(dir, "qa.jsonl")) {
		t.Fatalf("the export form:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Tab())
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // csv
	m = tuitest.Send(t, m, tuitest.Tab())
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyRight, 0)) // train
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	b, err := os.ReadFile(filepath.Join(dir, "qa.csv"))
	if err != nil {
		t.Fatalf("no qa.csv: %v\n%s", err, tuitest.Screen(m))
	}
	want := "question,answer\nWhat is the capital of France?,Paris\nWho wrote Hamlet?,William Shakespeare\nHow many legs does a spider have?,Eight\n"
	if string(b) != want {
		t.Fatalf("qa.csv:\n%s\nwant:\n%s", b, want)
	}
	if tuitest.Top(m) != nil || !strings.Contains(tuitest.Screen(m), "exported dataset qa to") {
		t.Fatalf("after the export:\n%s", tuitest.Screen(m))
	}
	// A failed export keeps the form open with the error, and no file.
	m = tuitest.Send(t, m, tuitest.Key("X"))
	for range 80 {
		m = tuitest.Send(t, m, tuitest.Backspace())
	}
	m = tuitest.Type(t, m, filepath.Join(dir, "missing", "qa.jsonl"))
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	if scr := strings.Join(strings.Fields(tuitest.Screen(m)), " "); tuitest.Top(m) == nil || !strings.Contains(scr, "no such file or directory") {
		t.Fatalf("a failed export:\n%s", tuitest.Screen(m))
	}
}

// TestFilePickerFilter: / in the import's file picker filters the files by
// what is typed, and enter chooses the match: the form opens on it; h
// goes up a directory, enter on one goes in.
func TestFilePickerFilter(t *testing.T) {
	m := openImport(t, tuitest.SampleDatasets(), 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("/"))
	m = tuitest.Type(t, m, "revcsv")
	if scr := tuitest.Screen(m); strings.Contains(scr, "capitals.jsonl") || !strings.Contains(scr, "reviews.csv") {
		t.Fatalf("filtered by revcsv:\n%s", scr)
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	imp := tuitest.TopAs[*datasets.ImportForm](t, m)
	if imp.Input(0) != "reviews" {
		t.Fatalf("the form opened on %q", imp.Input(0))
	}
	m = tuitest.Send(t, m, tuitest.Esc()) // back to the files: the filter is still there
	tuitest.TopAs[*datasets.FilePicker](t, m)
	m = tuitest.Send(t, m, tuitest.Esc()) // clears it
	m = tuitest.Send(t, m, tuitest.Key("g"))
	m = tuitest.Send(t, m, tuitest.Enter()) // data/
	if !strings.Contains(tuitest.Screen(m), filepath.Join("testdata", "import", "data")) || strings.Contains(tuitest.Screen(m), "capitals.jsonl") {
		t.Fatalf("enter on data/ did not go in:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("h"))
	if !strings.Contains(tuitest.Screen(m), "capitals.jsonl") {
		t.Fatalf("h did not go back up:\n%s", tuitest.Screen(m))
	}
}

// TestRenameDataset: m renames the selected dataset; a taken name is
// refused in the form, whole, and nothing changes.
func TestRenameDataset(t *testing.T) {
	fake := tuitest.SampleDatasets()
	m := datasetsModel(t, fake, 100, 24, t.TempDir())
	m = tuitest.Send(t, m, tuitest.Key("2"))
	m = tuitest.Send(t, m, tuitest.Key("j")) // qa
	m = tuitest.Send(t, m, tuitest.Key("m"))
	for range 2 {
		m = tuitest.Send(t, m, tuitest.Backspace())
	}
	m = tuitest.Type(t, m, "sentiment")
	m = tuitest.Send(t, m, tuitest.Enter())
	if tuitest.Top(m) == nil || !strings.Contains(tuitest.Screen(m), `dataset "sentiment" exists`) {
		t.Fatalf("a taken name:\n%s", tuitest.Screen(m))
	}
	for range 9 {
		m = tuitest.Send(t, m, tuitest.Backspace())
	}
	m = tuitest.Type(t, m, "trivia")
	m = tuitest.Send(t, m, tuitest.Enter())
	s := tuitest.Screen(m)
	if tuitest.Top(m) != nil || !strings.Contains(s, "renamed dataset qa to trivia") || selectedDataset(m) != "trivia" {
		t.Fatalf("after the rename (selected %q):\n%s", selectedDataset(m), s)
	}
}
