package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/page"
)

// The shell's tests build the model over fakePrograms, a read-only list;
// these give it the rest of the Programs interface: summaries for the
// list's columns, and writes that fail plainly.

var errReadOnlyFake = errors.New("fakePrograms is read-only")

func (f fakePrograms) ProgramSummaries(_ context.Context, names []string) (map[string]ProgramSummary, error) {
	out := map[string]ProgramSummary{}
	for i, n := range names {
		if i%2 == 0 {
			out[n] = ProgramSummary{LastRun: time.Now().Add(-time.Duration(i+3) * time.Hour), MonthRuns: 10 * (i + 1), MonthCost: 0.0042 * float64(i+1)}
		}
	}
	return out, f.err
}

func (f fakePrograms) ProgramVersions(_ context.Context, name string) ([]*model.Program, error) {
	for _, p := range f.programs {
		if p.Name == name {
			return []*model.Program{p}, nil
		}
	}
	return nil, fmt.Errorf("program %q: not found", name)
}

func (f fakePrograms) SaveProgram(context.Context, *model.Program) (*model.Program, error) {
	return nil, errReadOnlyFake
}

func (f fakePrograms) CreateProgram(context.Context, *model.Program) (*model.Program, error) {
	return nil, errReadOnlyFake
}

func (f fakePrograms) SetProgramStatus(context.Context, string, model.ProgramStatus, string) (*model.Program, error) {
	return nil, errReadOnlyFake
}

func (f fakePrograms) DeleteProgram(context.Context, string) error { return errReadOnlyFake }

func (f fakePrograms) ProgramTemplates(context.Context) ([]*model.Program, error) { return nil, nil }

// fakeRepo is a program repository with versions, as the store keeps them.
type fakeRepo struct {
	mu        sync.Mutex
	versions  map[string][]*model.Program // oldest first
	clock     time.Time
	summaries map[string]ProgramSummary
	templates []*model.Program
	saves     int
}

var fakeEpoch = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func newFakeRepo(ps ...*model.Program) *fakeRepo {
	r := &fakeRepo{versions: map[string][]*model.Program{}, clock: fakeEpoch, summaries: map[string]ProgramSummary{}}
	for _, p := range ps {
		c := *p
		c.Version = 1
		if c.Status == "" {
			c.Status = model.Draft
		}
		c.CreatedAt = r.tick()
		r.versions[p.Name] = []*model.Program{&c}
	}
	return r
}

func (r *fakeRepo) tick() time.Time {
	r.clock = r.clock.Add(time.Hour)
	return r.clock
}

func (r *fakeRepo) head(name string) *model.Program {
	vs := r.versions[name]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// add stores p as the next version (the store's SaveProgram, status kept
// from p here so tests can script histories).
func (r *fakeRepo) add(p *model.Program) *model.Program {
	c := *p
	c.Version = len(r.versions[p.Name]) + 1
	c.CreatedAt = r.tick()
	r.versions[p.Name] = append(r.versions[p.Name], &c)
	return &c
}

func (r *fakeRepo) ListPrograms(context.Context) ([]*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*model.Program
	for name := range r.versions {
		out = append(out, r.head(name))
	}
	slices.SortFunc(out, func(a, b *model.Program) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (r *fakeRepo) ProgramSummaries(_ context.Context, names []string) (map[string]ProgramSummary, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]ProgramSummary{}
	for _, n := range names {
		if s, ok := r.summaries[n]; ok {
			out[n] = s
		}
	}
	return out, nil
}

func (r *fakeRepo) ProgramVersions(_ context.Context, name string) ([]*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[name] == nil {
		return nil, fmt.Errorf("program %q: not found", name)
	}
	return slices.Clone(r.versions[name]), nil
}

func (r *fakeRepo) SaveProgram(_ context.Context, p *model.Program) (*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	h := r.head(p.Name)
	if h == nil {
		return nil, fmt.Errorf("program %q: not found", p.Name)
	}
	c := *p
	c.Status = h.Status
	r.saves++
	return r.add(&c), nil
}

func (r *fakeRepo) CreateProgram(_ context.Context, p *model.Program) (*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if r.head(p.Name) != nil {
		return nil, fmt.Errorf("program %q: exists", p.Name)
	}
	c := *p
	c.Status = model.Draft
	return r.add(&c), nil
}

func (r *fakeRepo) SetProgramStatus(_ context.Context, name string, st model.ProgramStatus, note string) (*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.head(name)
	if h == nil {
		return nil, fmt.Errorf("program %q: not found", name)
	}
	c := *h
	c.Status, c.Note = st, note
	return r.add(&c), nil
}

func (r *fakeRepo) DeleteProgram(_ context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[name] == nil {
		return fmt.Errorf("program %q: not found", name)
	}
	delete(r.versions, name)
	return nil
}

func (r *fakeRepo) ProgramTemplates(context.Context) ([]*model.Program, error) {
	return r.templates, nil
}

// fixedNow is "now" for the list's "last run" column in these tests.
var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// sampleRepo is the shell's sample programs with a history for qa (v1 →
// v2 changed the instruction), runs and costs.
func sampleRepo() *fakeRepo {
	r := newFakeRepo(samplePrograms()...)
	qa := *r.head("qa")
	qa.Modules = slices.Clone(qa.Modules)
	qa.Modules[0].Instructions = "Answer in one word."
	qa.Modules[0].Fields = map[string]string{"question": "a short factual question"}
	qa.Modules[0].Demos = []map[string]any{{"question": "Capital of France?", "answer": "Paris"}}
	qa.Note = "shorter answers"
	r.add(&qa)
	r.summaries["qa"] = ProgramSummary{LastRun: fixedNow.Add(-3 * time.Hour), LastState: model.Completed, MonthRuns: 12, MonthCost: 0.042}
	r.summaries["rag-support"] = ProgramSummary{LastRun: fixedNow.Add(-5 * 24 * time.Hour), MonthRuns: 300, MonthCost: 1.5}
	r.templates = []*model.Program{{Name: "facts", Description: "Recall facts, then answer.",
		Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}}
	return r
}

// repoModel is the workbench over repo at w x h, programs loaded.
func repoModel(t *testing.T, repo Programs, w, h int) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	clock := page.Clock{Now: func() time.Time { return fixedNow }, Location: time.UTC}
	m := New(Deps{Programs: repo, Datasets: sampleDatasets()}, Options{
		Workspace: "/home/ada/signet-workspace", LMProfile: "local-smollm2", Styles: themes.New(p), Clock: &clock,
	})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return run(t, m, m.Init())
}

func enter() tea.KeyPressMsg { return keyCode(tea.KeyEnter, 0) }
func esc() tea.KeyPressMsg   { return keyCode(tea.KeyEscape, 0) }
func tab() tea.KeyPressMsg   { return keyCode(tea.KeyTab, 0) }
func ctrl(r rune) tea.KeyPressMsg {
	return keyCode(r, tea.ModCtrl)
}

// openProgram selects the program called name in the list and opens it.
func openProgram(t *testing.T, m Model, name string) Model {
	t.Helper()
	m = send(t, m, keyText("g"))
	for i := 0; selectedName(m) != name; i++ {
		if i > len(m.programs.programs) {
			t.Fatalf("no program %q in the list", name)
		}
		m = send(t, m, keyText("j"))
	}
	m = send(t, m, enter())
	if m.programs.detail == nil || m.programs.detail.Name != name {
		t.Fatalf("enter did not open %s", name)
	}
	return m
}

func TestProgramsListColumns(t *testing.T) {
	m := repoModel(t, sampleRepo(), 120, 24)
	s := screen(m)
	for _, want := range []string{"LAST RUN", "MONTH COST", "3h ago", "$0.0420", "5d ago", "$1.50", "never"} {
		if !strings.Contains(s, want) {
			t.Errorf("list lacks %q:\n%s", want, s)
		}
	}
	line := lineWith(s, "qa ")
	for _, want := range []string{"production", "v2", "3h ago", "$0.0420"} {
		if !strings.Contains(line, want) {
			t.Errorf("qa's row %q lacks %q", line, want)
		}
	}
}

// lineWith is the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func TestProgramsDetailShowsModules(t *testing.T) {
	m := openProgram(t, repoModel(t, sampleRepo(), 100, 40), "rag-support")
	s := screen(m)
	for _, want := range []string{
		"pipeline", "retrieve (retrieve) → draft (chain_of_thought) → check (predict)",
		"inputs    question", "passages, reply, grounded",
		"question, passages: list[str] -> reply", "Keep it under 120 words.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	m = openProgram(t, send(t, m, esc()), "qa")
	s = screen(m)
	for _, want := range []string{"question  a short factual question", "demos (1)", `answer: "Paris"  question: "Capital of France?"`} {
		if !strings.Contains(s, want) {
			t.Errorf("qa's detail lacks %q:\n%s", want, s)
		}
	}
}

func TestProgramsDetailSelectsModules(t *testing.T) {
	m := openProgram(t, repoModel(t, sampleRepo(), 100, 40), "rag-support")
	if m.programs.module != 0 || !strings.Contains(screen(m), "▸ 1. retrieve") {
		t.Fatalf("the first module is not selected:\n%s", screen(m))
	}
	m = send(t, send(t, m, keyText("j")), keyText("j"))
	if m.programs.module != 2 || !strings.Contains(screen(m), "▸ 3. check") {
		t.Fatalf("j j: module %d\n%s", m.programs.module, screen(m))
	}
	m = send(t, m, keyText("j")) // stays on the last
	m = send(t, m, keyText("i"))
	if ed, ok := top(m).(*moduleEdit); !ok || ed.index != 2 || ed.sig.Value() != "reply, passages: list[str] -> grounded: bool" {
		t.Fatal("i did not edit the selected module")
	}
}

func TestProgramsEditInPlaceSaves(t *testing.T) {
	repo := sampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "summarize")
	m = send(t, m, keyText("i"))
	if !typingNow(m) || !isTop[*moduleEdit](m) {
		t.Fatal("the editor does not have the keyboard")
	}
	// tab to the instructions; the cursor starts at their beginning.
	m = send(t, m, tab())
	m = typeText(t, m, "Plain words. ")
	if s := screen(m); !strings.Contains(s, "Plain words. Three bullets") || !strings.Contains(s, "modified") {
		t.Fatalf("typed text not in the editor:\n%s", s)
	}
	m = send(t, m, ctrl('s'))
	if top(m) != nil {
		t.Fatalf("the editor is still open after saving:\n%s", screen(m))
	}
	vs, _ := repo.ProgramVersions(context.Background(), "summarize")
	if len(vs) != 2 || vs[1].Modules[0].Instructions != "Plain words. Three bullets, each under fifteen words." {
		t.Fatalf("versions after save: %d, last %+v", len(vs), vs[len(vs)-1].Modules)
	}
	if m.notice.Text != "saved summarize v2" {
		t.Errorf("notice %q, want %q", m.notice.Text, "saved summarize v2")
	}
	if m.programs.detail.Version != 2 || !strings.Contains(screen(m), "summarize  v2") {
		t.Errorf("the detail does not show v2:\n%s", screen(m))
	}
	if row := lineWith(screen(send(t, m, esc())), "summarize "); !strings.Contains(row, "v2") {
		t.Errorf("the list row does not show v2: %q", row)
	}
}

func TestProgramsEditSignatureErrorAtColumn(t *testing.T) {
	repo := sampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "qa")
	m = send(t, m, keyText("i"))
	for range len("answer") {
		m = send(t, m, keyCode(tea.KeyBackspace, 0))
	}
	e := topAs[*moduleEdit](t, m)
	if got := e.sig.Value(); got != "question -> " {
		t.Fatalf("signature %q", got)
	}
	_, perr := model.ParseSignature("question -> ")
	var want *model.SignatureError
	if !errors.As(perr, &want) {
		t.Fatalf("ParseSignature(%q) = %v, want a SignatureError", "question -> ", perr)
	}
	if e.sigErr == nil || e.sigErr.Col != want.Col {
		t.Fatalf("sigErr = %+v, want column %d", e.sigErr, want.Col)
	}
	s := screen(m)
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
	m = send(t, m, ctrl('s'))
	if !isTop[*moduleEdit](m) || repo.saves != 0 {
		t.Fatalf("a bad signature was saved (saves %d)", repo.saves)
	}
	// Fixing it clears the error.
	m = typeText(t, m, "reply")
	if e.sigErr != nil || !strings.Contains(screen(m), "signature parses") {
		t.Errorf("the error stayed after the fix:\n%s", screen(m))
	}
}

func TestProgramsEditEscAsksBeforeDiscarding(t *testing.T) {
	repo := sampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "qa")
	// Unchanged: esc closes at once.
	m = send(t, send(t, m, keyText("i")), esc())
	if top(m) != nil {
		t.Fatal("esc on an unchanged edit did not close it")
	}
	m = typeText(t, send(t, m, keyText("i")), "x")
	ed := topAs[*moduleEdit](t, m)
	m = send(t, m, esc())
	if !isTop[*dialog.Confirm](m) || m.stack.Len() != 2 || !strings.Contains(screen(m), "Discard your changes?") {
		t.Fatalf("esc with changes did not ask:\n%s", screen(m))
	}
	m = send(t, m, keyText("n"))
	if top(m) != ed || ed.sig.Value() != "question -> answerx" || strings.Contains(screen(m), "Discard your changes?") {
		t.Fatal("n did not go back to the edit as it was")
	}
	m = send(t, send(t, m, esc()), keyText("y"))
	if top(m) != nil || repo.saves != 0 {
		t.Fatalf("y did not discard (dialog %T, saves %d)", top(m), repo.saves)
	}
}

func TestProgramsVersionsAndDiff(t *testing.T) {
	m := repoModel(t, sampleRepo(), 100, 30)
	m = send(t, m, keyText("g")) // classify_intent
	for selectedName(m) != "qa" {
		m = send(t, m, keyText("j"))
	}
	m = send(t, m, keyText("v"))
	v := m.programs.versions
	if v == nil || !v.loaded || len(v.versions) != 2 || v.versions[0].Version != 2 {
		t.Fatalf("history: %+v", v)
	}
	s := screen(m)
	for _, want := range []string{"VERSION", "CREATED", "COMPILED FROM", "NOTE", "shorter answers", "2026-11-20 "} {
		if !strings.Contains(s, want) {
			t.Errorf("history lacks %q:\n%s", want, s)
		}
	}
	// D: the selected version (v2, newest first) against v1.
	m = send(t, m, keyText("D"))
	if m.programs.diff == nil || m.programs.diff.from.Version != 1 || m.programs.diff.to.Version != 2 {
		t.Fatal("D did not diff v2 against v1")
	}
	s = screen(m)
	for _, want := range []string{"v1 → v2", "modules.answer.instructions", "- Answer the question in one short sentence.", "+ Answer in one word.",
		"modules.answer.fields.question", "modules.answer.demos"} {
		if !strings.Contains(s, want) {
			t.Errorf("diff lacks %q:\n%s", want, s)
		}
	}
	// esc back to the history; mark two with space and enter.
	m = send(t, m, esc())
	if m.programs.diff != nil || m.programs.versions == nil {
		t.Fatal("esc did not go back to the history")
	}
	m = send(t, m, keyText(" "))
	if !strings.Contains(screen(m), "v2 marked") {
		t.Errorf("space did not mark v2:\n%s", screen(m))
	}
	m = send(t, send(t, m, keyText("j")), enter())
	if d := m.programs.diff; d == nil || d.from.Version != 1 || d.to.Version != 2 {
		t.Fatal("marking v2 and v1 did not open their diff, older first")
	}
	// D on the first version says there is nothing before it.
	m = send(t, send(t, m, esc()), keyText("D"))
	if m.programs.diff != nil || !strings.Contains(m.notice.Text, "first version") {
		t.Errorf("D on v1: diff %v, notice %q", m.programs.diff != nil, m.notice.Text)
	}
}

func TestProgramsStaleVersionsDropped(t *testing.T) {
	m := repoModel(t, sampleRepo(), 100, 30)
	nm, cmd := m.Update(keyText("v")) // history of the selected program, not yet loaded
	m = nm.(Model)
	first := cmd()
	m = send(t, m, esc())
	m = send(t, send(t, m, keyText("j")), keyText("v")) // another program's history
	want := m.programs.versions.name
	m = update(t, m, first)
	if m.programs.versions.name != want || len(m.programs.versions.versions) == 0 || m.programs.versions.versions[0].Name != want {
		t.Fatalf("a stale history answer replaced the open one")
	}
}

func TestProgramsDeleteAsksFirst(t *testing.T) {
	repo := sampleRepo()
	m := repoModel(t, repo, 80, 24)
	name := selectedName(m)
	m = send(t, m, keyText("d"))
	if !isTop[*dialog.Confirm](m) || !strings.Contains(screen(m), "Delete program "+name+"?") {
		t.Fatalf("d did not ask:\n%s", screen(m))
	}
	if repo.head(name) == nil {
		t.Fatal("deleted before the answer")
	}
	m = send(t, m, keyText("n"))
	if top(m) != nil || repo.head(name) == nil {
		t.Fatal("n did not cancel")
	}
	// From the detail too; y deletes and closes it.
	m = send(t, send(t, send(t, m, enter()), keyText("d")), keyText("y"))
	if repo.head(name) != nil {
		t.Fatal("y did not delete")
	}
	if m.programs.detail != nil || m.notice.Text != "deleted "+name || m.programs.list.Total() != 3 || selectedName(m) == name {
		t.Errorf("after delete: detail %v, notice %q\n%s", m.programs.detail != nil, m.notice.Text, screen(m))
	}
}

func TestProgramsStatusChooser(t *testing.T) {
	repo := sampleRepo()
	m := openProgram(t, repoModel(t, repo, 80, 24), "summarize") // draft
	m = send(t, m, keyText("s"))
	if !strings.Contains(screen(m), "Status of summarize") {
		t.Fatalf("s did not open the chooser:\n%s", screen(m))
	}
	m = send(t, send(t, m, keyText("j")), enter())
	if h := repo.head("summarize"); h.Status != model.Testing || h.Version != 2 {
		t.Fatalf("head after status: %s v%d", h.Status, h.Version)
	}
	if m.notice.Text != "summarize is now testing (v2)" || m.programs.detail.Status != model.Testing {
		t.Errorf("notice %q, detail status %s", m.notice.Text, m.programs.detail.Status)
	}
}

func TestProgramsCreateFromTemplate(t *testing.T) {
	repo := sampleRepo()
	m := repoModel(t, repo, 80, 24)
	m = send(t, m, keyText("n"))
	if !isTop[*templateDialog](m) {
		t.Fatal("n did not open the template chooser")
	}
	if s := screen(m); !strings.Contains(s, "ChainOfThought") || !strings.Contains(s, "Example · facts") {
		t.Fatalf("chooser lacks the templates:\n%s", s)
	}
	m = send(t, m, keyCode(tea.KeyDown, 0)) // ChainOfThought
	m = typeText(t, m, "qa")
	if !strings.Contains(screen(m), "a program named qa exists") {
		t.Errorf("an existing name is not flagged:\n%s", screen(m))
	}
	m = send(t, m, enter())
	if repo.head("qa").Version != 2 || !isTop[*templateDialog](m) {
		t.Fatal("enter with an existing name went ahead")
	}
	m = send(t, send(t, m, keyCode(tea.KeyBackspace, 0)), keyCode(tea.KeyBackspace, 0))
	m = typeText(t, m, "bad name")
	if !strings.Contains(screen(m), "not a valid name") {
		t.Errorf("an invalid name is not flagged:\n%s", screen(m))
	}
	for range len(" name") {
		m = send(t, m, keyCode(tea.KeyBackspace, 0))
	}
	m = typeText(t, m, "-cot")
	m = send(t, m, enter())
	h := repo.head("bad-cot")
	if h == nil || h.Version != 1 || h.Modules[0].Type != model.ChainOfThought {
		t.Fatalf("created: %+v", h)
	}
	if top(m) != nil || m.programs.detail == nil || m.programs.detail.Name != "bad-cot" || m.notice.Text != "created bad-cot v1" {
		t.Errorf("after create: dialog %T, detail %v, notice %q", top(m), m.programs.detail, m.notice.Text)
	}
}

func TestProgramsBindingsPerView(t *testing.T) {
	m := repoModel(t, sampleRepo(), 80, 24)
	keysOf := func() []string {
		var ks []string
		for _, b := range bindingsNow(m) {
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
	m = send(t, m, enter())
	check("detail", "i", "e", "v", "s", "d", "esc")
	m = send(t, m, keyText("i"))
	check("edit", "ctrl+s", "tab", "esc")
	m = send(t, send(t, m, esc()), keyText("v"))
	check("versions", "space", "D", "esc")
	m = send(t, send(t, m, esc()), keyText("d"))
	check("delete", "y", "n/esc")
	// The palette offers the view's own keys.
	m = send(t, send(t, m, esc()), keyText(":"))
	found := false
	for _, a := range topAs[*palette](t, m).actions {
		found = found || strings.Contains(a.title, "edit module in $EDITOR")
	}
	if !found {
		t.Error("the palette lacks the detail view's $EDITOR action")
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
	c := progEditorCommand("/tmp/it's here.yaml")
	if want := []string{"sh", "-c", `my-editor --wait "$1"`, "editor", "/tmp/it's here.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	t.Setenv("VISUAL", "vis")
	if c := progEditorCommand("f"); c.Args[2] != `vis "$1"` {
		t.Errorf("VISUAL is not preferred: %q", c.Args)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "")
	if c := progEditorCommand("f"); c.Args[2] != `vi "$1"` {
		t.Errorf("no editor set: %q", c.Args)
	}
}

// editWithScript runs the $EDITOR round trip of module index of program
// name with EDITOR set to script: the file is written and the editor run
// as the page would (tea.ExecProcess cannot run inside a test), then the
// editor's exit goes through Update.
func editWithScript(t *testing.T, m Model, name string, script string) Model {
	t.Helper()
	m = openProgram(t, m, name)
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", writeScript(t, script))
	nm, cmd := m.Update(keyText("e"))
	m = nm.(Model)
	r, _ := cmd().(page.Routed)
	msg, ok := r.Msg.(editorFileMsg)
	if !ok || msg.err != nil || r.To != PagePrograms.addr() {
		t.Fatalf("e: %#v", r)
	}
	data, err := os.ReadFile(msg.path)
	if err != nil || !strings.Contains(string(data), "signature: question -> answer") || !strings.Contains(string(data), "# Module \"answer\" of program \""+name+"\"") {
		t.Fatalf("edit file: %v\n%s", err, data)
	}
	nm, cmd = m.Update(r)
	m = nm.(Model)
	if cmd == nil {
		t.Fatal("no exec command for the editor")
	}
	if err := progEditorCommand(msg.path).Run(); err != nil {
		t.Fatal(err)
	}
	return toPage(t, m, PagePrograms, editorDoneMsg{seq: msg.seq, program: msg.program, index: msg.index, path: msg.path})
}

func TestProgramsEditorSaves(t *testing.T) {
	repo := sampleRepo()
	m := repoModel(t, repo, 80, 24)
	m = editWithScript(t, m, "qa", `sed -i 's/^instructions: .*/instructions: Reply with one word only./' "$1"`+"\n")
	h := repo.head("qa")
	if h.Version != 3 || h.Modules[0].Instructions != "Reply with one word only." {
		t.Fatalf("head v%d %q", h.Version, h.Modules[0].Instructions)
	}
	if len(h.Modules[0].Demos) != 1 || h.Modules[0].Fields["question"] == "" {
		t.Error("fields or demos lost on the way through the file")
	}
	if m.notice.Text != "saved qa v3" || m.programs.detail.Version != 3 {
		t.Errorf("notice %q, detail v%d", m.notice.Text, m.programs.detail.Version)
	}
}

func TestProgramsEditorUnchanged(t *testing.T) {
	repo := sampleRepo()
	m := editWithScript(t, repoModel(t, repo, 80, 24), "qa", "true\n")
	if repo.saves != 0 || !strings.HasPrefix(m.notice.Text, "no changes") {
		t.Errorf("saves %d, notice %q", repo.saves, m.notice.Text)
	}
}

func TestProgramsEditorBadSignatureOpensEditor(t *testing.T) {
	repo := sampleRepo()
	m := editWithScript(t, repoModel(t, repo, 80, 24), "qa",
		`sed -i 's/^signature: .*/signature: "question -> "/; s/^instructions: .*/instructions: Kept text./' "$1"`+"\n")
	e, _ := top(m).(*moduleEdit)
	if repo.saves != 0 || e == nil {
		t.Fatalf("saves %d, editor open %v", repo.saves, e != nil)
	}
	if e.sigErr == nil || e.sig.Value() != "question -> " || e.instr.Value() != "Kept text." {
		t.Fatalf("editor: sigErr %v, sig %q, instr %q", e.sigErr, e.sig.Value(), e.instr.Value())
	}
	if !strings.Contains(screen(m), "^") || !strings.Contains(screen(m), "your edit is also in") {
		t.Errorf("no caret or note:\n%s", screen(m))
	}
	// Fix in place and save: the file's other edits go with it.
	m = typeText(t, m, "answer")
	m = send(t, m, ctrl('s'))
	if h := repo.head("qa"); h.Version != 3 || h.Modules[0].Instructions != "Kept text." {
		t.Fatalf("after the fix: v%d %q", h.Version, h.Modules[0].Instructions)
	}
}

func TestProgramsEditorBadYAMLKeepsFile(t *testing.T) {
	repo := sampleRepo()
	m := editWithScript(t, repoModel(t, repo, 80, 24), "qa", `echo "instruction: typo" >> "$1"`+"\n")
	if repo.saves != 0 || !m.notice.Err || !strings.Contains(m.notice.Text, "instruction") || !strings.Contains(m.notice.Text, "kept in") {
		t.Errorf("saves %d, notice %+v", repo.saves, m.notice)
	}
}

func TestProgramsApplyModule(t *testing.T) {
	pr := samplePrograms()[1] // rag-support
	m := pr.Modules[1]
	q, err := progApplyModule(pr, 1, m, "question, passages: list[str] -> reply, tone", "New.")
	if err != nil {
		t.Fatal(err)
	}
	if q.Modules[1].Instructions != "New." || pr.Modules[1].Instructions == "New." {
		t.Error("the edit went into the original program, or not into the copy")
	}
	_, err = progApplyModule(pr, 1, m, "question, passages: list[str] -> ", "")
	var se *model.SignatureError
	if !errors.As(err, &se) {
		t.Errorf("bad signature: %v", err)
	}
	m.Fields = map[string]string{"gone": "x"}
	_, err = progApplyModule(pr, 1, m, m.Signature, "")
	var fe *model.FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.Field, "fields.gone") {
		t.Errorf("a description of a missing field: %v", err)
	}
}

func TestProgramsGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := repoModel(t, sampleRepo(), sz[0], sz[1])
			qa := func() Model { return openProgram(t, base, "qa") }
			edit := send(t, qa(), keyText("i"))
			for range len("answer") {
				edit = send(t, edit, keyCode(tea.KeyBackspace, 0))
			}
			screens := []struct {
				name string
				m    Model
			}{
				{"list", base},
				{"detail", openProgram(t, base, "rag-support")},
				{"edit_error", edit},
				{"versions", send(t, qa(), keyText("v"))},
				{"diff", send(t, send(t, qa(), keyText("v")), keyText("D"))},
				{"templates", typeText(t, send(t, base, keyText("n")), "my-qa")},
				{"delete", send(t, qa(), keyText("d"))},
				{"status", send(t, qa(), keyText("s"))},
			}
			for _, sc := range screens {
				t.Run(sc.name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screen(sc.m)))
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
			m := openProgram(t, repoModel(t, newFakeRepo(hop), sz[0], sz[1]), "hop")
			out := screen(m)
			for _, want := range []string{"first_hop.predict", "second_hop.predict", "⟳ query: \"Paris\"", "Final Answer: one word"} {
				if !strings.Contains(out, want) && sz[0] == 160 {
					t.Errorf("%q not shown:\n%s", want, out)
				}
			}
			golden.RequireEqual(t, []byte(out))
		})
	}
}
