package programs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/pages/programs"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// repoModel is the workbench over repo at w x h, programs loaded, the
// sample templates offered for a new program.
func repoModel(t *testing.T, repo programs.Programs, w, h int) tui.Model {
	t.Helper()
	return tuitest.New(t, tui.Deps{Programs: repo, Datasets: tuitest.SampleDatasets()}, w, h, tuitest.WithTemplates(tuitest.SampleTemplates()))
}

// openProgram selects the program called name in the list and opens it.
func openProgram(t *testing.T, m tui.Model, name string) tui.Model {
	t.Helper()
	m = tuitest.Send(t, m, tuitest.Key("g"))
	for i := 0; selectedName(m) != name; i++ {
		if i > len(progs(m).Programs()) {
			t.Fatalf("no program %q in the list", name)
		}
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	if progs(m).Detail() == nil || progs(m).Detail().Name != name {
		t.Fatalf("enter did not open %s", name)
	}
	return m
}

func TestProgramsListColumns(t *testing.T) {
	m := repoModel(t, tuitest.SampleRepo(), 120, 24)
	s := tuitest.Screen(m)
	for _, want := range []string{"LAST RUN", "MONTH COST", "3h ago", "$0.0420", "5d ago", "$1.50", "never"} {
		if !strings.Contains(s, want) {
			t.Errorf("list lacks %q:\n%s", want, s)
		}
	}
	line := tuitest.LineWith(s, "qa ")
	for _, want := range []string{"production", "v2", "3h ago", "$0.0420"} {
		if !strings.Contains(line, want) {
			t.Errorf("qa's row %q lacks %q", line, want)
		}
	}
}

func TestProgramsDetailShowsModules(t *testing.T) {
	m := openProgram(t, repoModel(t, tuitest.SampleRepo(), 100, 40), "rag-support")
	s := tuitest.Screen(m)
	for _, want := range []string{
		"pipeline", "retrieve (retrieve) → draft (chain_of_thought) → check (predict)",
		"inputs    question", "passages, reply, grounded",
		"question, passages: list[str] -> reply", "Keep it under 120 words.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	m = openProgram(t, tuitest.Send(t, m, tuitest.Esc()), "qa")
	s = tuitest.Screen(m)
	for _, want := range []string{"question  a short factual question", "demos (1)", `answer: "Paris"  question: "Capital of France?"`} {
		if !strings.Contains(s, want) {
			t.Errorf("qa's detail lacks %q:\n%s", want, s)
		}
	}
}

func TestProgramsDetailSelectsModules(t *testing.T) {
	m := openProgram(t, repoModel(t, tuitest.SampleRepo(), 100, 40), "rag-support")
	if progs(m).Module() != 0 || !strings.Contains(tuitest.Screen(m), "▸ 1. retrieve") {
		t.Fatalf("the first module is not selected:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Key("j"))
	if progs(m).Module() != 2 || !strings.Contains(tuitest.Screen(m), "▸ 3. check") {
		t.Fatalf("j j: module %d\n%s", progs(m).Module(), tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("j")) // stays on the last
	m = tuitest.Send(t, m, tuitest.Key("i"))
	if ed, ok := tuitest.Top(m).(*programs.ModuleEdit); !ok || ed.Index() != 2 || ed.Sig() != "reply, passages: list[str] -> grounded: bool" {
		t.Fatal("i did not edit the selected module")
	}
}

func TestProgramsEditInPlaceSaves(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "summarize")
	m = tuitest.Send(t, m, tuitest.Key("i"))
	if !tuitest.Typing(m) || !tuitest.IsTop[*programs.ModuleEdit](m) {
		t.Fatal("the editor does not have the keyboard")
	}
	// tab to the instructions; the cursor starts at their beginning.
	m = tuitest.Send(t, m, tuitest.Tab())
	m = tuitest.Type(t, m, "Plain words. ")
	if s := tuitest.Screen(m); !strings.Contains(s, "Plain words. Three bullets") || !strings.Contains(s, "modified") {
		t.Fatalf("typed text not in the editor:\n%s", s)
	}
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	if tuitest.Top(m) != nil {
		t.Fatalf("the editor is still open after saving:\n%s", tuitest.Screen(m))
	}
	vs, _ := repo.ProgramVersions(context.Background(), "summarize")
	if len(vs) != 2 || vs[1].Modules[0].Instructions != "Plain words. Three bullets, each under fifteen words." {
		t.Fatalf("versions after save: %d, last %+v", len(vs), vs[len(vs)-1].Modules)
	}
	if m.Notice().Text != "saved summarize v2" {
		t.Errorf("notice %q, want %q", m.Notice().Text, "saved summarize v2")
	}
	if progs(m).Detail().Version != 2 || !strings.Contains(tuitest.Screen(m), "summarize  v2") {
		t.Errorf("the detail does not show v2:\n%s", tuitest.Screen(m))
	}
	if row := tuitest.LineWith(tuitest.Screen(tuitest.Send(t, m, tuitest.Esc())), "summarize "); !strings.Contains(row, "v2") {
		t.Errorf("the list row does not show v2: %q", row)
	}
}

func TestProgramsEditSignatureErrorAtColumn(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "qa")
	m = tuitest.Send(t, m, tuitest.Key("i"))
	for range len("answer") {
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0))
	}
	e := tuitest.TopAs[*programs.ModuleEdit](t, m)
	if got := e.Sig(); got != "question -> " {
		t.Fatalf("signature %q", got)
	}
	_, perr := model.ParseSignature("question -> ")
	var want *model.SignatureError
	if !errors.As(perr, &want) {
		t.Fatalf("ParseSignature(%q) = %v, want a SignatureError", "question -> ", perr)
	}
	if e.SigErr() == nil || e.SigErr().Col != want.Col {
		t.Fatalf("sigErr = %+v, want column %d", e.SigErr(), want.Col)
	}
	s := tuitest.Screen(m)
	lines := strings.Split(s, "\n")
	sigRow := -1
	for i, l := range lines {
		if strings.Contains(l, "│ question -> ") {
			sigRow = i
			break
		}
	}
	if sigRow < 0 {
		t.Fatalf("signature line not found:\n%s", s)
	}
	caret := lines[sigRow+1]
	textStart := ansi.StringWidth(lines[sigRow][:strings.Index(lines[sigRow], "question")])
	if got := strings.Index(caret, "^"); got != textStart+want.Col-1 {
		t.Errorf("caret at %d, want under column %d (cell %d):\n%s\n%s", got, want.Col, textStart+want.Col-1, lines[sigRow], caret)
	}
	if msg := fmt.Sprintf("column %d: %s", want.Col, want.Msg); !strings.HasPrefix(msg, strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(lines[sigRow+2]), "…"), " ")) {
		t.Errorf("message line %q lacks the error", lines[sigRow+2])
	}
	// ctrl+s refuses to save.
	m = tuitest.Send(t, m, tuitest.Ctrl('s'))
	if !tuitest.IsTop[*programs.ModuleEdit](m) || repo.Saves != 0 {
		t.Fatalf("a bad signature was saved (saves %d)", repo.Saves)
	}
	// Fixing it clears the error.
	m = tuitest.Type(t, m, "reply")
	if e.SigErr() != nil || !strings.Contains(tuitest.Screen(m), "signature parses") {
		t.Errorf("the error stayed after the fix:\n%s", tuitest.Screen(m))
	}
}

func TestProgramsEditEscAsksBeforeDiscarding(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "qa")
	// Unchanged: esc closes at once.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("i")), tuitest.Esc())
	if tuitest.Top(m) != nil {
		t.Fatal("esc on an unchanged edit did not close it")
	}
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("i")), "x")
	ed := tuitest.TopAs[*programs.ModuleEdit](t, m)
	m = tuitest.Send(t, m, tuitest.Esc())
	if !tuitest.IsTop[*dialog.Confirm](m) || len(m.Dialogs()) != 2 || !strings.Contains(tuitest.Screen(m), "Unsaved changes in qa") {
		t.Fatalf("esc with changes did not ask:\n%s", tuitest.Screen(m))
	}
	for _, want := range []string{"s save", "d discard", "esc keep editing"} {
		if !strings.Contains(tuitest.Screen(m), want) {
			t.Errorf("the question lacks %q:\n%s", want, tuitest.Screen(m))
		}
	}
	// keep editing
	m = tuitest.Send(t, m, tuitest.Esc())
	if tuitest.Top(m) != ed || ed.Sig() != "question -> answerx" || strings.Contains(tuitest.Screen(m), "Unsaved changes") {
		t.Fatal("esc on the question did not go back to the edit as it was")
	}
	// discard
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("d"))
	if tuitest.Top(m) != nil || repo.Saves != 0 {
		t.Fatalf("d did not discard (dialog %T, saves %d)", tuitest.Top(m), repo.Saves)
	}
	// save
	m = tuitest.Type(t, tuitest.Send(t, m, tuitest.Key("i")), "x")
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("s"))
	if tuitest.Top(m) != nil || repo.Saves != 1 {
		t.Fatalf("s did not save and close (dialog %T, saves %d)", tuitest.Top(m), repo.Saves)
	}
	if got := progs(m).Detail(); got == nil || got.Modules[0].Signature != "question -> answerx" {
		t.Fatalf("the page does not show the saved version: %+v", got)
	}
}

func TestProgramsVersionsAndDiff(t *testing.T) {
	m := repoModel(t, tuitest.SampleRepo(), 100, 30)
	m = tuitest.Send(t, m, tuitest.Key("g")) // classify_intent
	for selectedName(m) != "qa" {
		m = tuitest.Send(t, m, tuitest.Key("j"))
	}
	m = tuitest.Send(t, m, tuitest.Key("v"))
	if _, vs, loaded, open := progs(m).History(); !open || !loaded || len(vs) != 2 || vs[0].Version != 2 {
		t.Fatalf("history: open %v, loaded %v, %d versions", open, loaded, len(vs))
	}
	s := tuitest.Screen(m)
	for _, want := range []string{"VERSION", "CREATED", "COMPILED FROM", "NOTE", "shorter answers", "2026-11-20 "} {
		if !strings.Contains(s, want) {
			t.Errorf("history lacks %q:\n%s", want, s)
		}
	}
	// D: the selected version (v2, newest first) against v1.
	m = tuitest.Send(t, m, tuitest.Key("D"))
	if from, to, open := progs(m).DiffVersions(); !open || from != 1 || to != 2 {
		t.Fatal("D did not diff v2 against v1")
	}
	s = tuitest.Screen(m)
	for _, want := range []string{"v1 → v2", "modules.answer.instructions", "- Answer the question in one short sentence.", "+ Answer in one word.",
		"modules.answer.fields.question", "modules.answer.demos"} {
		if !strings.Contains(s, want) {
			t.Errorf("diff lacks %q:\n%s", want, s)
		}
	}
	// esc back to the history; mark two with space and enter.
	m = tuitest.Send(t, m, tuitest.Esc())
	_, _, diffOpen := progs(m).DiffVersions()
	if _, _, _, open := progs(m).History(); diffOpen || !open {
		t.Fatal("esc did not go back to the history")
	}
	m = tuitest.Send(t, m, tuitest.Key(" "))
	if !strings.Contains(tuitest.Screen(m), "v2 marked") {
		t.Errorf("space did not mark v2:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Enter())
	if from, to, open := progs(m).DiffVersions(); !open || from != 1 || to != 2 {
		t.Fatal("marking v2 and v1 did not open their diff, older first")
	}
	// D on the first version says there is nothing before it.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("D"))
	if _, _, open := progs(m).DiffVersions(); open || !strings.Contains(m.Notice().Text, "first version") {
		t.Errorf("D on v1: diff %v, notice %q", open, m.Notice().Text)
	}
}

func TestProgramsStaleVersionsDropped(t *testing.T) {
	m := repoModel(t, tuitest.SampleRepo(), 100, 30)
	nm, cmd := m.Update(tuitest.Key("v")) // history of the selected program, not yet loaded
	m = nm.(tui.Model)
	first := cmd()
	m = tuitest.Send(t, m, tuitest.Esc())
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Key("v")) // another program's history
	want, _, _, _ := progs(m).History()
	m = tuitest.Update(t, m, first)
	if name, vs, _, _ := progs(m).History(); name != want || len(vs) == 0 || vs[0].Name != want {
		t.Fatalf("a stale history answer replaced the open one")
	}
}

func TestProgramsDeleteAsksFirst(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := repoModel(t, repo, 80, 24)
	name := selectedName(m)
	m = tuitest.Send(t, m, tuitest.Key("d"))
	if !tuitest.IsTop[*dialog.Confirm](m) || !strings.Contains(tuitest.Screen(m), "Delete program "+name+"?") {
		t.Fatalf("d did not ask:\n%s", tuitest.Screen(m))
	}
	if repo.Head(name) == nil {
		t.Fatal("deleted before the answer")
	}
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if tuitest.Top(m) != nil || repo.Head(name) == nil {
		t.Fatal("n did not cancel")
	}
	// From the detail too; y deletes and closes it.
	m = tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Enter()), tuitest.Key("d")), tuitest.Key("y"))
	if repo.Head(name) != nil {
		t.Fatal("y did not delete")
	}
	if progs(m).Detail() != nil || m.Notice().Text != "deleted "+name || progs(m).List().Total() != 3 || selectedName(m) == name {
		t.Errorf("after delete: detail %v, notice %q\n%s", progs(m).Detail() != nil, m.Notice().Text, tuitest.Screen(m))
	}
}

func TestProgramsStatusChooser(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "summarize") // draft
	m = tuitest.Send(t, m, tuitest.Key("s"))
	if !strings.Contains(tuitest.Screen(m), "Status of summarize") {
		t.Fatalf("s did not open the chooser:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Enter())
	if h := repo.Head("summarize"); h.Status != model.Testing || h.Version != 2 {
		t.Fatalf("head after status: %s v%d", h.Status, h.Version)
	}
	if m.Notice().Text != "summarize is now testing (v2)" || progs(m).Detail().Status != model.Testing {
		t.Errorf("notice %q, detail status %s", m.Notice().Text, progs(m).Detail().Status)
	}
}

func TestProgramsCreateFromTemplate(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := repoModel(t, repo, 80, 24)
	m = tuitest.Send(t, m, tuitest.Key("n"))
	if !tuitest.IsTop[*programs.TemplateDialog](m) {
		t.Fatal("n did not open the template chooser")
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "ChainOfThought") || !strings.Contains(s, "Example · facts") {
		t.Fatalf("chooser lacks the templates:\n%s", s)
	}
	m = tuitest.Send(t, m, tuitest.Code(tea.KeyDown, 0)) // ChainOfThought
	m = tuitest.Type(t, m, "qa")
	if !strings.Contains(tuitest.Screen(m), "a program named qa exists") {
		t.Errorf("an existing name is not flagged:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	if repo.Head("qa").Version != 2 || !tuitest.IsTop[*programs.TemplateDialog](m) {
		t.Fatal("enter with an existing name went ahead")
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0)), tuitest.Code(tea.KeyBackspace, 0))
	m = tuitest.Type(t, m, "bad name")
	if !strings.Contains(tuitest.Screen(m), "not a valid name") {
		t.Errorf("an invalid name is not flagged:\n%s", tuitest.Screen(m))
	}
	for range len(" name") {
		m = tuitest.Send(t, m, tuitest.Code(tea.KeyBackspace, 0))
	}
	m = tuitest.Type(t, m, "-cot")
	m = tuitest.Send(t, m, tuitest.Enter())
	h := repo.Head("bad-cot")
	if h == nil || h.Version != 1 || h.Modules[0].Type != model.ChainOfThought {
		t.Fatalf("created: %+v", h)
	}
	if tuitest.Top(m) != nil || progs(m).Detail() == nil || progs(m).Detail().Name != "bad-cot" || m.Notice().Text != "created bad-cot v1" {
		t.Errorf("after create: dialog %T, detail %v, notice %q", tuitest.Top(m), progs(m).Detail(), m.Notice().Text)
	}
}

func TestProgramsBindingsPerView(t *testing.T) {
	m := repoModel(t, tuitest.SampleRepo(), 80, 24)
	keysOf := func() []string {
		var ks []string
		for _, b := range tuitest.Bindings(m) {
			ks = append(ks, b.Help().Key)
		}
		return ks
	}
	check := func(view string, want ...string) {
		t.Helper()
		got := keysOf()
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: bindings %v lack %q", view, got, w)
			}
		}
	}
	check("list", "enter", "n", "v", "s", "d", "/")
	m = tuitest.Send(t, m, tuitest.Enter())
	check("detail", "i", "e", "v", "s", "d", "esc")
	m = tuitest.Send(t, m, tuitest.Key("i"))
	check("edit", "ctrl+s", "tab", "esc")
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("v"))
	check("versions", "space", "D", "esc")
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("d"))
	check("delete", "y", "n/esc")
	// The palette offers the view's own keys.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key(":"))
	if !strings.Contains(tuitest.Screen(m), "Programs: edit module in $EDITOR") {
		t.Errorf("the palette lacks the detail view's $EDITOR action:\n%s", tuitest.Screen(m))
	}
}

// writeScript writes an executable shell script and returns its path.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProgramsEditorCommand(t *testing.T) {
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "my-editor --wait")
	c := programs.EditorCommand("/tmp/it's here.yaml")
	if want := []string{"sh", "-c", `my-editor --wait "$1"`, "editor", "/tmp/it's here.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	t.Setenv("VISUAL", "vis")
	if c := programs.EditorCommand("f"); c.Args[2] != `vis "$1"` {
		t.Errorf("VISUAL is not preferred: %q", c.Args)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "")
	if c := programs.EditorCommand("f"); c.Args[2] != `vi "$1"` {
		t.Errorf("no editor set: %q", c.Args)
	}
}

// editWithScript runs the $EDITOR round trip of module index of program
// name with EDITOR set to script: the file is written and the editor run
// as the page would (tea.ExecProcess cannot run inside a test), then the
// editor's exit goes through Update.
func editWithScript(t *testing.T, m tui.Model, name string, script string) tui.Model {
	t.Helper()
	m = openProgram(t, m, name)
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", writeScript(t, script))
	nm, cmd := m.Update(tuitest.Key("e"))
	m = nm.(tui.Model)
	written := cmd()
	path, done, ok := programs.EditorFile(written)
	if !ok {
		t.Fatalf("e: %#v", written)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), "signature: question -> answer") || !strings.Contains(string(data), "# Module \"answer\" of program \""+name+"\"") {
		t.Fatalf("edit file: %v\n%s", err, data)
	}
	nm, cmd = m.Update(written)
	m = nm.(tui.Model)
	if cmd == nil {
		t.Fatal("no exec command for the editor")
	}
	if err := programs.EditorCommand(path).Run(); err != nil {
		t.Fatal(err)
	}
	return tuitest.Run(t, m, func() tea.Msg { return done })
}

func TestProgramsEditorSaves(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := repoModel(t, repo, 80, 24)
	m = editWithScript(t, m, "qa", `sed -i 's/^instructions: .*/instructions: Reply with one word only./' "$1"`+"\n")
	h := repo.Head("qa")
	if h.Version != 3 || h.Modules[0].Instructions != "Reply with one word only." {
		t.Fatalf("head v%d %q", h.Version, h.Modules[0].Instructions)
	}
	if len(h.Modules[0].Demos) != 1 || h.Modules[0].Fields["question"] == "" {
		t.Error("fields or demos lost on the way through the file")
	}
	if m.Notice().Text != "saved qa v3" || progs(m).Detail().Version != 3 {
		t.Errorf("notice %q, detail v%d", m.Notice().Text, progs(m).Detail().Version)
	}
}

func TestProgramsEditorUnchanged(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := editWithScript(t, repoModel(t, repo, 80, 24), "qa", "true\n")
	if repo.Saves != 0 || !strings.HasPrefix(m.Notice().Text, "no changes") {
		t.Errorf("saves %d, notice %q", repo.Saves, m.Notice().Text)
	}
}

func TestProgramsEditorBadSignatureOpensEditor(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := editWithScript(t, repoModel(t, repo, 80, 24), "qa",
		`sed -i 's/^signature: .*/signature: "question -> "/; s/^instructions: .*/instructions: Kept text./' "$1"`+"\n")
	e, _ := tuitest.Top(m).(*programs.ModuleEdit)
	if repo.Saves != 0 || e == nil {
		t.Fatalf("saves %d, editor open %v", repo.Saves, e != nil)
	}
	if e.SigErr() == nil || e.Sig() != "question -> " || e.Instr() != "Kept text." {
		t.Fatalf("editor: sigErr %v, sig %q, instr %q", e.SigErr(), e.Sig(), e.Instr())
	}
	if !strings.Contains(tuitest.Screen(m), "^") || !strings.Contains(tuitest.Screen(m), "your edit is also in") {
		t.Errorf("no caret or note:\n%s", tuitest.Screen(m))
	}
	// Fix in place and save: the file's other edits go with it.
	m = tuitest.Type(t, m, "answer")
	_ = tuitest.Send(t, m, tuitest.Ctrl('s'))
	if h := repo.Head("qa"); h.Version != 3 || h.Modules[0].Instructions != "Kept text." {
		t.Fatalf("after the fix: v%d %q", h.Version, h.Modules[0].Instructions)
	}
}

func TestProgramsEditorBadYAMLKeepsFile(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := editWithScript(t, repoModel(t, repo, 80, 24), "qa", `echo "instruction: typo" >> "$1"`+"\n")
	if repo.Saves != 0 || !m.Notice().Err || !strings.Contains(m.Notice().Text, "instruction") || !strings.Contains(m.Notice().Text, "kept in") {
		t.Errorf("saves %d, notice %+v", repo.Saves, m.Notice())
	}
}

func TestProgramsApplyModule(t *testing.T) {
	pr := tuitest.SamplePrograms()[1] // rag-support
	m := pr.Modules[1]
	q, err := programs.ApplyModule(pr, 1, m, "question, passages: list[str] -> reply, tone", "New.")
	if err != nil {
		t.Fatal(err)
	}
	if q.Modules[1].Instructions != "New." || pr.Modules[1].Instructions == "New." {
		t.Error("the edit went into the original program, or not into the copy")
	}
	_, err = programs.ApplyModule(pr, 1, m, "question, passages: list[str] -> ", "")
	var se *model.SignatureError
	if !errors.As(err, &se) {
		t.Errorf("bad signature: %v", err)
	}
	m.Fields = map[string]string{"gone": "x"}
	_, err = programs.ApplyModule(pr, 1, m, m.Signature, "")
	var fe *model.FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.Field, "fields.gone") {
		t.Errorf("a description of a missing field: %v", err)
	}
}

func TestProgramsGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := repoModel(t, tuitest.SampleRepo(), sz[0], sz[1])
			qa := func() tui.Model { return openProgram(t, base, "qa") }
			edit := tuitest.Send(t, qa(), tuitest.Key("i"))
			for range len("answer") {
				edit = tuitest.Send(t, edit, tuitest.Code(tea.KeyBackspace, 0))
			}
			screens := []struct {
				name string
				m    tui.Model
			}{
				{"list", base},
				{"detail", openProgram(t, base, "rag-support")},
				{"edit_error", edit},
				{"versions", tuitest.Send(t, qa(), tuitest.Key("v"))},
				{"diff", tuitest.Send(t, tuitest.Send(t, qa(), tuitest.Key("v")), tuitest.Key("D"))},
				{"templates", tuitest.Type(t, tuitest.Send(t, base, tuitest.Key("n")), "my-qa")},
				{"delete", tuitest.Send(t, qa(), tuitest.Key("d"))},
				{"status", tuitest.Send(t, qa(), tuitest.Key("s"))},
			}
			for _, sc := range screens {
				t.Run(sc.name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Screen(sc.m)))
				})
			}
		})
	}
}

// A module whose predictors hold an optimizer's state shows each
// predictor's instructions, changed fields and demos (bootstrapped ones
// marked ⟳).
func TestProgramsPredictorGolden(t *testing.T) {
	hop := &model.Program{Name: "hop", Status: model.Draft, Version: 2, Description: "Two hops over a question.",
		Modules: []model.Module{{Name: "hop", Type: model.Custom, Source: "hop.py:Hop", Predictors: []model.Predictor{
			{Name: "first_hop.predict", Instructions: "Write a search query for the question.",
				Demos: []map[string]any{{"question": "Where is Paris?", "reasoning": "r", "query": "Paris", "augmented": true}}},
			{Name: "second_hop.predict", Instructions: "Answer from the query.",
				Fields: []model.PredictorField{{Name: "answer", Prefix: "Final Answer:", Description: "one word"}},
				Demos:  []map[string]any{{"question": "Where is Paris?", "query": "Paris", "answer": "France"}}},
		}}}}
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m := openProgram(t, repoModel(t, tuitest.NewRepo(hop), sz[0], sz[1]), "hop")
			out := tuitest.Screen(m)
			for _, want := range []string{"first_hop.predict", "second_hop.predict", "⟳ query: \"Paris\"", "Final Answer: one word"} {
				if !strings.Contains(out, want) && sz[0] == 160 {
					t.Errorf("%q not shown:\n%s", want, out)
				}
			}
			golden.RequireEqual(t, []byte(out))
		})
	}
}

// u sets a status change back (a new version, as any status change); a
// second u has nothing left; a delete cannot be undone, and u says so.
func TestProgramsUndo(t *testing.T) {
	repo := tuitest.SampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "summarize") // draft
	m = tuitest.Send(t, m, tuitest.Key("u"))
	if !strings.Contains(m.Notice().Text, "nothing to undo") {
		t.Fatalf("u with nothing done: notice %q", m.Notice().Text)
	}
	m = tuitest.Send(t, tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("s")), tuitest.Key("j")), tuitest.Enter())
	if h := repo.Head("summarize"); h.Status != model.Testing {
		t.Fatalf("status not changed: %s", h.Status)
	}
	m = tuitest.Send(t, m, tuitest.Key("u"))
	if h := repo.Head("summarize"); h.Status != model.Draft || h.Version != 3 || h.Note != "undo of a status change" {
		t.Fatalf("after u: %s v%d (%q), want draft v3", h.Status, h.Version, h.Note)
	}
	if progs(m).Detail().Status != model.Draft || !strings.Contains(m.Notice().Text, "summarize is now draft") {
		t.Errorf("the page does not show the undo: detail %s, notice %q", progs(m).Detail().Status, m.Notice().Text)
	}
	m = tuitest.Send(t, m, tuitest.Key("u"))
	if h := repo.Head("summarize"); h.Version != 3 || !strings.Contains(m.Notice().Text, "nothing to undo") {
		t.Fatalf("a second u: v%d, notice %q", h.Version, m.Notice().Text)
	}
	// A delete: u says it cannot be undone, and nothing comes back.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("d")), tuitest.Key("y"))
	if repo.Head("summarize") != nil {
		t.Fatal("not deleted")
	}
	m = tuitest.Send(t, m, tuitest.Key("u"))
	if n := m.Notice(); !n.Err || !strings.Contains(n.Text, "the delete of summarize cannot be undone") || repo.Head("summarize") != nil {
		t.Fatalf("u after a delete: notice %+v", n)
	}
}
