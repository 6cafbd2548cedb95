package dialog

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/page"
)

// full is a full-screen dialog that draws its name.
type full struct {
	page.Defaults
	name string
}

func (f *full) Key(*page.Env, tea.KeyPressMsg) tea.Cmd { return nil }
func (f *full) Typing() bool                           { return false }
func (f *full) Bindings() []key.Binding                { return nil }
func (f *full) SetSize(int, int)                       {}
func (f *full) Render(func() string) string            { return f.name }

func styles(t *testing.T) *themes.Styles {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	return themes.New(p)
}

func TestStackCopiesDoNotShare(t *testing.T) {
	var a Stack
	a.Push(&full{name: "base"}, page.Addr{})
	b := a // the root model is a value: a copy goes its own way
	a.Push(&full{name: "a"}, page.Addr{})
	b.Push(&full{name: "b"}, page.Addr{})
	if top, _ := a.Top(); top.Dialog.(*full).name != "a" {
		t.Errorf("a's top is %q: b's push wrote over it", top.Dialog.(*full).name)
	}
	if b.Len() != 2 || a.Len() != 2 {
		t.Errorf("lengths %d, %d", a.Len(), b.Len())
	}
}

func TestStackRemoveTakesWhatIsOver(t *testing.T) {
	var s Stack
	one := s.Push(&full{name: "1"}, page.Addr{Page: 2})
	two := s.Push(&full{name: "2"}, one.Addr())
	s.Push(&full{name: "3"}, two.Addr())
	if e, ok := s.Remove(two.ID); !ok || e.Owner != one.Addr() {
		t.Fatalf("removed %+v, %v", e, ok)
	}
	if s.Len() != 1 {
		t.Fatalf("%d left, want the first only", s.Len())
	}
	if _, ok := s.Find(two.ID); ok {
		t.Error("a removed dialog is still found")
	}
	if _, ok := s.Remove(two.ID); ok {
		t.Error("a dialog was removed twice")
	}
	if one.ID == two.ID || one.Addr().Dialog != one.ID {
		t.Error("IDs are not unique, or the address does not name the dialog")
	}
}

func TestStackRenderComposes(t *testing.T) {
	s := styles(t)
	var st Stack
	st.Push(&full{name: "trace"}, page.Addr{})
	c := NewConfirm(s, BottomLine, []string{"sure?"}, Choice{Keys: keys.Hint("y", "yes")})
	c.SetSize(8, 2)
	st.Push(c, page.Addr{})
	pageDrawn := false
	got := st.Render(func() string { pageDrawn = true; return "page" })
	if got != "sure?   " {
		t.Errorf("render %q: the prompt should replace the full view's last line", got)
	}
	if pageDrawn {
		t.Error("the page under a full-screen dialog was drawn")
	}
}

func TestConfirmChoicesAreTypedResults(t *testing.T) {
	type deleteIt struct{ name string }
	s := styles(t)
	yes := Choice{Keys: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "delete")), Result: deleteIt{"qa"}}
	no := Choice{Keys: key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "keep it"))}
	base := &page.Env{}
	for _, tc := range []struct {
		key    tea.KeyPressMsg
		closed bool
		result tea.Msg
	}{
		{tea.KeyPressMsg{Code: 'q', Text: "q"}, false, nil},
		{tea.KeyPressMsg{Code: 'Y', Text: "Y"}, true, deleteIt{"qa"}},
		{tea.KeyPressMsg{Code: tea.KeyEscape}, true, nil},
	} {
		c := NewConfirm(s, Centre, []string{"Delete qa?"}, yes, no)
		e := base.For(page.Addr{Page: 0, Dialog: 7})
		c.Key(e, tc.key)
		if fx := e.Effects(); fx.Closed != tc.closed || fx.Result != tc.result {
			t.Errorf("%s: closed %v, result %#v", tc.key, fx.Closed, fx.Result)
		}
	}
	c := NewConfirm(s, Centre, []string{"Delete qa?", "", Hint(s, yes, no)}, yes, no)
	c.SetSize(40, 7)
	out := ansi.Strip(c.Render(func() string { return strings.Repeat("x\n", 6) + "x" }))
	if !strings.Contains(out, "Delete qa?") || !strings.Contains(out, "y delete · n/esc keep it") {
		t.Errorf("box:\n%s", out)
	}
	if lines := strings.Split(out, "\n"); len(lines) != 7 || !strings.HasPrefix(lines[0], "x") {
		t.Errorf("the box does not sit over the middle of what is below:\n%s", out)
	}
	if !c.Typing() || len(c.Bindings()) != 2 {
		t.Error("a confirmation must have the keyboard and show its choices in the help")
	}
}

func TestFieldsKeys(t *testing.T) {
	km := keys.Default()
	f := Fields{Fields: []Field{{Label: "name"}, {Label: "kind", Value: "a", Choices: []string{"a", "b", "c"}}}}
	for _, r := range "qa" {
		f.Key(km, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	f.Key(km, tea.KeyPressMsg{Code: tea.KeyTab})
	f.Key(km, tea.KeyPressMsg{Code: tea.KeyLeft})
	if f.Value("name") != "qa" || f.Value("kind") != "c" {
		t.Fatalf("values %q %q", f.Value("name"), f.Value("kind"))
	}
	if ev := f.Key(km, tea.KeyPressMsg{Code: tea.KeyEnter}); ev != FieldsSubmit {
		t.Errorf("enter on the last field: %v", ev)
	}
	if ev := f.Key(km, tea.KeyPressMsg{Code: tea.KeyEscape}); ev != FieldsCancel {
		t.Errorf("esc: %v", ev)
	}
}

// editor is a page.Unsaved view; savingEditor a page.Saver.
type editor struct {
	full
	dirty bool
	saved int
}

func (ed *editor) Dirty() bool     { return ed.dirty }
func (ed *editor) Editing() string { return "the test text" }

type savingEditor struct{ editor }

func (ed *savingEditor) Save(*page.Env) tea.Cmd { ed.saved++; return nil }

// Leave ends a clean view at once and asks about a dirty one, offering
// save only to a Saver; Answer acts on the answers.
func TestLeaveAndAnswer(t *testing.T) {
	s := styles(t)
	var root page.Env
	e := root.For(page.Addr{Dialog: 1})
	clean := &editor{}
	Leave(e, s, clean)
	if fx := e.Effects(); !fx.Closed || len(fx.Pushed) != 0 {
		t.Fatalf("a clean view: %+v, want it closed without a question", fx)
	}

	e = root.For(page.Addr{Dialog: 1})
	Leave(e, s, &editor{dirty: true})
	fx := e.Effects()
	if fx.Closed || len(fx.Pushed) != 1 {
		t.Fatalf("a dirty view: %+v, want a question", fx)
	}
	q := fx.Pushed[0].(*Confirm)
	q.SetSize(80, 10)
	if out := ansi.Strip(q.Render(func() string { return strings.Repeat("\n", 9) })); !strings.Contains(out, "Unsaved changes in the test text") ||
		!strings.Contains(out, "d discard") || !strings.Contains(out, "esc keep editing") || strings.Contains(out, "s save") {
		t.Errorf("the question for a view that cannot save:\n%s", out)
	}

	ed := &savingEditor{editor{dirty: true}}
	e = root.For(page.Addr{Dialog: 1})
	Leave(e, s, ed)
	q = e.Effects().Pushed[0].(*Confirm)
	for k, want := range map[string]tea.Msg{"s": SaveChosen{}, "d": DiscardChosen{}, "esc": nil} {
		qe := root.For(page.Addr{Dialog: 2})
		q.Key(qe, keyPress(k))
		if fx := qe.Effects(); !fx.Closed || fx.Result != want {
			t.Errorf("%s on the question: %+v, want closed with %#v", k, fx, want)
		}
	}
	e = root.For(page.Addr{Dialog: 1})
	if _, ok := Answer(e, ed, SaveChosen{}); !ok || ed.saved != 1 || e.Effects().Closed {
		t.Errorf("save: handled %v, saved %d, closed %v", ok, ed.saved, e.Effects().Closed)
	}
	if _, ok := Answer(e, ed, DiscardChosen{}); !ok || !e.Effects().Closed {
		t.Errorf("discard did not close the view")
	}
	if _, ok := Answer(e, ed, "other"); ok {
		t.Error("another message taken for an answer")
	}
}

func keyPress(k string) tea.KeyPressMsg {
	if k == "esc" {
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	}
	return tea.KeyPressMsg{Code: rune(k[0]), Text: k}
}
