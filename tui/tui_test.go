package tui

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/page"
)

type fakePrograms struct {
	programs []*model.Program
	err      error
}

func (f fakePrograms) ListPrograms(context.Context) ([]*model.Program, error) {
	return f.programs, f.err
}

func samplePrograms() []*model.Program {
	return []*model.Program{
		{
			Name: "qa", Status: model.Production, Version: 3,
			Description: "Answers short factual questions.",
			Modules: []model.Module{{
				Name: "answer", Type: model.ChainOfThought,
				Signature:    "question -> answer",
				Instructions: "Answer the question in one short sentence. If you do not know, say so plainly instead of guessing.",
			}},
		},
		{
			Name: "rag-support", Status: model.Testing, Version: 7,
			Description: "Retrieves help-centre passages and drafts a support reply.",
			Modules: []model.Module{
				{Name: "retrieve", Type: model.Retrieve, Signature: "question -> passages: list[str]"},
				{Name: "draft", Type: model.ChainOfThought, Signature: "question, passages: list[str] -> reply",
					Instructions: "Write a friendly reply that cites the passages it uses.\nKeep it under 120 words."},
				{Name: "check", Type: model.Predict, Signature: "reply, passages: list[str] -> grounded: bool"},
			},
		},
		{
			Name: "summarize", Status: model.Draft, Version: 1,
			Description: "Summarizes a document into three bullet points.",
			Modules: []model.Module{{Name: "summarize", Type: model.Predict, Signature: "document -> summary",
				Instructions: "Three bullets, each under fifteen words."}},
		},
		{
			Name: "classify_intent", Status: model.Draft, Version: 2,
			Description: "Routes a customer message to one of eight intents.",
			Modules:     []model.Module{{Name: "classify", Type: model.Predict, Signature: "message -> intent"}},
		},
	}
}

func newTestModel(t testing.TB, w, h int) Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}, Datasets: sampleDatasets()}, Options{
		Workspace: "/home/ada/signet-workspace",
		LMProfile: "local-smollm2",
		Styles:    themes.New(p),
	})
	m = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return run(t, m, m.Init())
}

// update sends one message and returns the new model (ignoring commands).
func update(t testing.TB, m Model, msg tea.Msg) Model {
	t.Helper()
	nm, _ := m.Update(msg)
	return nm.(Model)
}

// run runs cmd (as tea.Program would, but synchronously) and feeds its
// message, and those of the commands that follow, back into Update.
func run(t testing.TB, m Model, cmd tea.Cmd) Model {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for i := 0; len(queue) > 0; i++ {
		if i > 200 {
			t.Fatal("command chain does not end")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if b, ok := msg.(tea.BatchMsg); ok { // run a batch's commands in order
			queue = append(queue, b...)
			continue
		}
		nm, next := m.Update(msg)
		m = nm.(Model)
		queue = append(queue, next)
	}
	return m
}

// send delivers a key press and runs the command it returns.
func send(t *testing.T, m Model, k tea.KeyPressMsg) Model {
	t.Helper()
	nm, cmd := m.Update(k)
	return run(t, nm.(Model), cmd)
}

func keyText(s string) tea.KeyPressMsg {
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func keyCode(code rune, mod tea.KeyMod) tea.KeyPressMsg {
	return tea.KeyPressMsg{Code: code, Mod: mod}
}

func typeText(t *testing.T, m Model, s string) Model {
	for _, r := range s {
		m = send(t, m, keyText(string(r)))
	}
	return m
}

func screen(m Model) string { return ansi.Strip(m.View().Content) }

// top is the dialog on top of the stack, nil when the page has the keyboard.
func top(m Model) page.Dialog {
	if e, ok := m.stack.Top(); ok {
		return e.Dialog
	}
	return nil
}

// topAs is the top dialog as a T, failing the test when it is something else.
func topAs[T page.Dialog](t testing.TB, m Model) T {
	t.Helper()
	d, ok := top(m).(T)
	if !ok {
		var want T
		t.Fatalf("the top dialog is %T, want %T", top(m), want)
	}
	return d
}

// isTop reports whether the top dialog is a T.
func isTop[T page.Dialog](m Model) bool {
	_, ok := top(m).(T)
	return ok
}

// typingNow reports whether keys are text now: the top dialog's or the page's.
func typingNow(m Model) bool {
	if d := top(m); d != nil {
		return d.Typing()
	}
	return m.pageAt(m.page).Typing()
}

// bindingsNow are the keys the help shows now.
func bindingsNow(m Model) []key.Binding {
	if d := top(m); d != nil {
		return d.Bindings()
	}
	return m.pageAt(m.page).Bindings()
}

// toTop delivers msg to the top dialog, as the answer to one of its
// commands, and runs what follows.
func toTop(t testing.TB, m Model, msg tea.Msg) Model {
	t.Helper()
	e, ok := m.stack.Top()
	if !ok {
		t.Fatal("no dialog to deliver to")
	}
	return run(t, m, func() tea.Msg { return page.Routed{To: e.Addr(), Msg: msg} })
}

// toPage delivers msg to page p, as the answer to one of its commands.
func toPage(t testing.TB, m Model, p Page, msg tea.Msg) Model {
	t.Helper()
	return run(t, m, func() tea.Msg { return page.Routed{To: p.addr(), Msg: msg} })
}

// open pushes d over the page on screen, as the page would, and runs what
// follows.
func open(t testing.TB, m Model, d page.Dialog) Model {
	t.Helper()
	cmd := m.push(d, m.page.addr())
	return run(t, m, cmd)
}

// onTop calls f with the top dialog and an Env addressed to it, and runs
// what follows.
func onTop(t testing.TB, m Model, f func(e *page.Env) tea.Cmd) Model {
	t.Helper()
	e, ok := m.stack.Top()
	if !ok {
		t.Fatal("no dialog on top")
	}
	cmd := m.call(e.Addr(), f)
	return run(t, m, cmd)
}

// helpOpen reports whether the full help is on screen.
func helpOpen(m Model) bool { return isTop[*helpView](m) }

func selectedName(m Model) string {
	if p := m.programs.selected(); p != nil {
		return p.Name
	}
	return ""
}

func TestInitLoadsPrograms(t *testing.T) {
	m := newTestModel(t, 80, 24)
	if got := m.programs.list.Total(); got != 4 {
		t.Fatalf("Total = %d, want 4", got)
	}
	if !strings.Contains(screen(m), "rag-support") {
		t.Error("program list not on screen")
	}
}

func TestLoadError(t *testing.T) {
	m := New(Deps{Programs: fakePrograms{err: errors.New("store closed")}}, Options{})
	m = run(t, m, m.Init())
	if s := screen(m); !strings.Contains(s, "Could not load programs: store closed") {
		t.Errorf("error not shown:\n%s", s)
	}
	m = New(Deps{}, Options{})
	m = run(t, m, m.Init())
	if s := screen(m); !strings.Contains(s, "no program repository") {
		t.Errorf("missing repository not reported:\n%s", s)
	}
}

func TestNavigation(t *testing.T) {
	m := newTestModel(t, 80, 24)
	steps := []struct {
		key  tea.KeyPressMsg
		want string
	}{
		{keyText("j"), "rag-support"},
		{keyCode(tea.KeyDown, 0), "summarize"},
		{keyText("k"), "rag-support"},
		{keyCode(tea.KeyUp, 0), "qa"},
		{keyCode(tea.KeyUp, 0), "qa"}, // stays at the top
		{tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"}, "classify_intent"},
		{keyText("g"), "qa"},
		{keyCode(tea.KeyPgDown, 0), "classify_intent"},
		{keyCode(tea.KeyPgUp, 0), "qa"},
	}
	for i, st := range steps {
		m = send(t, m, st.key)
		if got := selectedName(m); got != st.want {
			t.Fatalf("step %d (%s): selected %q, want %q", i, st.key, got, st.want)
		}
	}
}

func TestFilterTyping(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyText("/"))
	if !m.programs.Typing() {
		t.Fatal("/ did not open the filter prompt")
	}
	// A keystroke returns a filter command; nothing changes until its
	// result arrives.
	nm, cmd := m.Update(keyText("s"))
	m = nm.(Model)
	if cmd == nil {
		t.Fatal("typing returned no filter command")
	}
	if m.programs.list.Pattern() != "" {
		t.Fatal("the filter ran inside Update")
	}
	msg := cmd()
	r, _ := msg.(page.Routed)
	res, ok := r.Msg.(programsFilterMsg)
	if !ok || r.To != PagePrograms.addr() {
		t.Fatalf("filter command returned %#v, want a filter result for the Programs page", msg)
	}
	if res.res.Pattern != "s" {
		t.Fatalf("filter pattern %q", res.res.Pattern)
	}
	m = update(t, m, msg)
	m = typeText(t, m, "um")
	if got := m.programs.list.Len(); got != 1 || selectedName(m) != "summarize" {
		t.Fatalf("after /sum: %d matches, selected %q", got, selectedName(m))
	}
	// j is text while typing, not navigation.
	m = typeText(t, m, "j")
	if m.programs.Pattern != "sumj" {
		t.Fatalf("pattern %q", m.programs.Pattern)
	}
	m = send(t, m, keyCode(tea.KeyBackspace, 0))
	// enter leaves the prompt and keeps the filter.
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	if m.programs.Typing() || m.programs.list.Pattern() != "sum" {
		t.Fatalf("after enter: typing=%v pattern=%q", m.programs.Typing(), m.programs.list.Pattern())
	}
	if !strings.Contains(screen(m), " 1/4 ") {
		t.Errorf("status bar does not count the matches:\n%s", screen(m))
	}
	// esc clears it.
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if m.programs.list.Len() != 4 || m.programs.Pattern != "" {
		t.Fatalf("esc did not clear the filter: %d rows, pattern %q", m.programs.list.Len(), m.programs.Pattern)
	}
}

func TestStaleFilterResultDiscarded(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyText("/"))
	nm, oldCmd := m.Update(keyText("q"))
	m = nm.(Model)
	nm, newCmd := m.Update(keyText("x")) // "qx" matches nothing
	m = nm.(Model)
	m = update(t, m, newCmd())
	m = update(t, m, oldCmd()) // arrives late
	if got := m.programs.list.Pattern(); got != "qx" {
		t.Fatalf("a stale result replaced the newer one: pattern %q", got)
	}
	if m.programs.list.Len() != 0 {
		t.Fatalf("Len = %d, want 0", m.programs.list.Len())
	}
}

func TestHelpToggle(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyText("?"))
	if !helpOpen(m) || !strings.Contains(screen(m), "go to page") {
		t.Fatalf("? did not show the full help:\n%s", screen(m))
	}
	m = send(t, m, keyText("?"))
	if helpOpen(m) {
		t.Fatal("? did not close the help")
	}
	m = send(t, m, keyText("?"))
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if helpOpen(m) {
		t.Fatal("esc did not close the help")
	}
	// A page's number switches to it, closing the help.
	m = send(t, send(t, m, keyText("?")), keyText("2"))
	if helpOpen(m) || m.Page() != PageDatasets {
		t.Fatalf("2 with the help open: help %v, page %v", helpOpen(m), m.Page())
	}
}

func TestPageSwitching(t *testing.T) {
	m := newTestModel(t, 80, 24)
	steps := []struct {
		key  tea.KeyPressMsg
		want Page
	}{
		{keyCode(tea.KeyTab, 0), PageDatasets},
		{keyCode(tea.KeyTab, 0), PageExecutions},
		{keyCode(tea.KeyTab, tea.ModShift), PageDatasets},
		{keyText("5"), PageWorkers},
		{keyCode(tea.KeyTab, 0), PagePrograms}, // wraps
		{keyCode(tea.KeyTab, tea.ModShift), PageWorkers},
		{keyText("4"), PageOptimizations},
		{keyText("1"), PagePrograms},
	}
	for i, st := range steps {
		m = send(t, m, st.key)
		if m.Page() != st.want {
			t.Fatalf("step %d (%s): page %v, want %v", i, st.key, m.Page(), st.want)
		}
	}
}

func TestDetailOpenClose(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyText("j"))
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	if m.programs.detail == nil || m.programs.detail.Name != "rag-support" {
		t.Fatal("enter did not open the selected program")
	}
	s := screen(m)
	for _, want := range []string{"retrieve", "draft", "check", "question, passages: list[str] -> reply", "cites the passages"} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	// Keys that would move the list scroll the detail instead.
	m = send(t, m, keyText("j"))
	m = send(t, m, keyCode(tea.KeyEscape, 0))
	if m.programs.detail != nil {
		t.Fatal("esc did not close the detail")
	}
	if selectedName(m) != "rag-support" {
		t.Errorf("cursor moved while the detail was open: %q", selectedName(m))
	}
}

func TestDetailScroll(t *testing.T) {
	m := newTestModel(t, 80, 10) // body too small for rag-support's detail
	m = send(t, m, keyText("j"))
	m = send(t, m, keyCode(tea.KeyEnter, 0))
	total := len(m.programs.detailLines(m.width))
	h := m.programs.detailBodyHeight()
	if total <= h {
		t.Fatalf("test needs a detail taller than the pane (%d <= %d)", total, h)
	}
	m = send(t, m, tea.KeyPressMsg{Code: 'G', Mod: tea.ModShift, Text: "G"})
	if m.programs.detailOffset != total-h {
		t.Fatalf("G: offset %d, want %d", m.programs.detailOffset, total-h)
	}
	m = send(t, m, keyText("j")) // clamped
	if m.programs.detailOffset != total-h {
		t.Fatalf("scrolled past the end: %d", m.programs.detailOffset)
	}
	m = send(t, m, keyText("g"))
	if m.programs.detailOffset != 0 {
		t.Fatalf("g: offset %d", m.programs.detailOffset)
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []tea.KeyPressMsg{keyText("q"), keyCode('c', tea.ModCtrl)} {
		m := newTestModel(t, 80, 24)
		_, cmd := m.Update(k)
		if cmd == nil || reflect.ValueOf(cmd).Pointer() != reflect.ValueOf(tea.Quit).Pointer() {
			t.Errorf("%s did not return tea.Quit", k)
		}
	}
	// q is text in the filter prompt; ctrl+c still quits.
	m := newTestModel(t, 80, 24)
	m = send(t, m, keyText("/"))
	_, cmd := m.Update(keyText("q"))
	if cmd != nil && reflect.ValueOf(cmd).Pointer() == reflect.ValueOf(tea.Quit).Pointer() {
		t.Error("q quit while typing a filter")
	}
	_, cmd = m.Update(keyCode('c', tea.ModCtrl))
	if cmd == nil || reflect.ValueOf(cmd).Pointer() != reflect.ValueOf(tea.Quit).Pointer() {
		t.Error("ctrl+c did not quit while typing a filter")
	}
}

func TestViewFields(t *testing.T) {
	m := newTestModel(t, 80, 24)
	v := m.View()
	if !v.AltScreen {
		t.Error("not in the alt screen")
	}
	if v.WindowTitle != "signet — /home/ada/signet-workspace" {
		t.Errorf("window title %q", v.WindowTitle)
	}
}

// TestViewSize checks that every screen fills the terminal exactly, at
// sizes from the smallest supported up.
func TestViewSize(t *testing.T) {
	// Below 80x24 the layout is not promised to be pretty, only to fit.
	for _, sz := range [][2]int{{80, 24}, {100, 30}, {160, 48}, {200, 60}, {40, 10}, {12, 4}, {1, 1}} {
		m := newTestModel(t, sz[0], sz[1])
		check := func(what string, m Model) {
			lines := strings.Split(screen(m), "\n")
			if len(lines) != sz[1] {
				t.Errorf("%dx%d %s: %d lines", sz[0], sz[1], what, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != sz[0] {
					t.Errorf("%dx%d %s: line %d is %d cells wide: %q", sz[0], sz[1], what, i, w, l)
				}
			}
		}
		check("programs", m)
		check("filter", typeText(t, send(t, m, keyText("/")), "ra"))
		check("detail", send(t, send(t, m, keyText("j")), keyCode(tea.KeyEnter, 0)))
		check("help", send(t, m, keyText("?")))
		check("examples", send(t, send(t, m, keyText("2")), keyCode(tea.KeyEnter, 0)))
		check("datasets filter", typeText(t, send(t, send(t, m, keyText("2")), keyText("/")), "se"))
		for p := 2; p <= 5; p++ {
			check(fmt.Sprintf("page %d", p), send(t, m, keyText(fmt.Sprint(p))))
		}
	}
}

// TestGolden snapshots the screens as plain text (ansi.Strip of the view
// content): the layout is what is compared; colours come from themes, which
// has its own tests. Update with: go test ./tui -update
func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := newTestModel(t, sz[0], sz[1])
			screens := map[string]Model{
				"programs": base,
				"filter":   send(t, typeText(t, send(t, base, keyText("/")), "su"), keyCode(tea.KeyEnter, 0)),
				"detail":   send(t, send(t, base, keyText("j")), keyCode(tea.KeyEnter, 0)),
				"help":     send(t, base, keyText("?")),
				"datasets": send(t, base, keyText("2")),
				"examples": send(t, send(t, send(t, base, keyText("2")), keyText("j")), keyCode(tea.KeyEnter, 0)),
			}
			for _, name := range []string{"programs", "filter", "detail", "help", "datasets", "examples"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(screen(screens[name])))
				})
			}
		})
	}
}

func TestFilterHighlightsMatches(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, typeText(t, send(t, m, keyText("/")), "clas"), keyCode(tea.KeyEnter, 0))
	raw := m.View().Content
	// The cursor row is the only match, so its matched characters are drawn
	// with the theme's MatchSelected style.
	want := m.env.Styles.MatchSelected.Inline(true).Render("c")
	if want == m.env.Styles.RowSelected.Inline(true).Render("c") {
		t.Fatal("theme draws matches like the row: the check would pass vacuously")
	}
	if !strings.Contains(raw, want) {
		t.Errorf("matched characters are not highlighted: %q not in %q", want, raw)
	}
}

func TestReloadReappliesFilter(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m = send(t, typeText(t, send(t, m, keyText("/")), "sum"), keyCode(tea.KeyEnter, 0))
	m = run(t, m, m.Init()) // programs reloaded
	if m.programs.list.Pattern() != "sum" || m.programs.list.Len() != 1 {
		t.Fatalf("after reload: pattern %q, %d rows", m.programs.list.Pattern(), m.programs.list.Len())
	}
}

func TestKeyOverrides(t *testing.T) {
	km, err := keys.New(map[string][]string{"quit": {"x"}, "help": {"h"}})
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{Programs: fakePrograms{programs: samplePrograms()}}, Options{Keys: &km})
	m = run(t, m, m.Init())
	if _, cmd := m.Update(keyText("q")); cmd != nil {
		t.Error("q still does something after quit was rebound")
	}
	if _, cmd := m.Update(keyText("x")); cmd == nil || reflect.ValueOf(cmd).Pointer() != reflect.ValueOf(tea.Quit).Pointer() {
		t.Error("x does not quit")
	}
	m = send(t, m, keyText("h"))
	if !helpOpen(m) {
		t.Fatal("h does not open help")
	}
	if s := screen(m); !strings.Contains(s, "h help") || !strings.Contains(s, "x quit") {
		t.Errorf("help does not show the rebound keys:\n%s", s)
	}
}
