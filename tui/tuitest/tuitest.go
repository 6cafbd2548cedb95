// Package tuitest drives the workbench in tests as tea.Program would, but
// synchronously: it builds a tui.Model over fakes of the services the
// pages declare (in-memory, deterministic, the data of the goldens), runs
// each command and feeds its message back into Update, and reads the
// screen. The fakes keep what they were asked (Submits, Saves, Calls...)
// for the tests to check.
//
// There is a small fake per page rather than one fake app.Service: each
// implements only its page's part of the service (a handful of its
// methods, not all forty), a test gives a page only what it exercises, and
// a part left out is the page's "not configured" case. tui.Services hands
// a real app.Service to every page at once (cmd's tests drive that).
package tuitest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/page"
)

// Now is the time the tests' clock shows, and the fakes' data is dated by.
var Now = time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)

// Clock is a clock the test sets. It sets no timers: a poll's tick, a
// spinner's frame come only when the test delivers them, so nothing waits.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock is a clock at Now.
func NewClock() *Clock { return &Clock{now: Now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Page is the clock as the workbench reads it: times of day in UTC.
func (c *Clock) Page() *page.Clock {
	return &page.Clock{Now: c.Now, Location: time.UTC}
}

// Option changes the options New builds the workbench with.
type Option func(*tui.Options)

// WithClock uses c (New uses a clock of its own at Now).
func WithClock(c *Clock) Option { return func(o *tui.Options) { o.Clock = c.Page() } }

// WithImportDir starts the dataset import's file picker in dir.
func WithImportDir(dir string) Option { return func(o *tui.Options) { o.ImportDir = dir } }

// WithTemplates offers ts for a new program after the built-in templates.
func WithTemplates(ts []*model.Program) Option { return func(o *tui.Options) { o.Templates = ts } }

// WithLM shows profile as the LM profile in the status bar.
func WithLM(profile string) Option { return func(o *tui.Options) { o.LMProfile = profile } }

// New is the workbench over deps at w x h, in the dark theme, with the
// goldens' workspace and LM profile, its Init run.
func New(t testing.TB, deps tui.Deps, w, h int, opts ...Option) tui.Model {
	t.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	o := tui.Options{Workspace: "/home/ada/signet-workspace", LMProfile: "local-smollm2", Styles: themes.New(p),
		Clock: NewClock().Page()}
	for _, opt := range opts {
		opt(&o)
	}
	m := tui.New(deps, o)
	m = Update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return Run(t, m, m.Init())
}

// Sample is the workbench over the sample programs and datasets at w x h.
func Sample(t testing.TB, w, h int, opts ...Option) tui.Model {
	t.Helper()
	return New(t, tui.Deps{Programs: Programs{List: SamplePrograms()}, Datasets: SampleDatasets()}, w, h, opts...)
}

// Update sends one message and returns the new model, its commands not run.
func Update(t testing.TB, m tui.Model, msg tea.Msg) tui.Model {
	t.Helper()
	nm, _ := m.Update(msg)
	return nm.(tui.Model)
}

// Run runs cmd (as tea.Program would, but synchronously) and feeds its
// message, and those of the commands that follow, back into Update; a
// batch's commands run in order.
func Run(t testing.TB, m tui.Model, cmd tea.Cmd) tui.Model {
	t.Helper()
	m, _ = RunToQuit(t, m, cmd) // after a quit nothing runs, as in the real program
	return m
}

// RunToQuit is Run reporting whether cmd, or a command that followed,
// quit the workbench (it stops there).
func RunToQuit(t testing.TB, m tui.Model, cmd tea.Cmd) (tui.Model, bool) {
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
		switch msg := c().(type) {
		case tea.QuitMsg:
			return m, true
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			nm, next := m.Update(msg)
			m = nm.(tui.Model)
			queue = append(queue, next)
		}
	}
	return m, false
}

// Deliver sends one message and runs the commands that follow.
func Deliver(t testing.TB, m tui.Model, msg tea.Msg) tui.Model {
	t.Helper()
	nm, cmd := m.Update(msg)
	return Run(t, nm.(tui.Model), cmd)
}

// Send delivers a key press and runs what follows.
func Send(t testing.TB, m tui.Model, k tea.KeyPressMsg) tui.Model {
	t.Helper()
	return Deliver(t, m, k)
}

// Type sends the keys of s, one at a time.
func Type(t testing.TB, m tui.Model, s string) tui.Model {
	t.Helper()
	for _, r := range s {
		if r == ' ' {
			m = Send(t, m, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
			continue
		}
		m = Send(t, m, Key(string(r)))
	}
	return m
}

// Key is the press of a key that types text: "j", "G", ":".
func Key(s string) tea.KeyPressMsg {
	r := []rune(s)[0]
	if r >= 'A' && r <= 'Z' {
		return tea.KeyPressMsg{Code: r, Mod: tea.ModShift, Text: s}
	}
	return tea.KeyPressMsg{Code: r, Text: s}
}

// Code is the press of a key by its code: tea.KeyEnter, 'c' with ctrl.
func Code(code rune, mod tea.KeyMod) tea.KeyPressMsg { return tea.KeyPressMsg{Code: code, Mod: mod} }

// The keys the tests press most.
func Enter() tea.KeyPressMsg      { return Code(tea.KeyEnter, 0) }
func Esc() tea.KeyPressMsg        { return Code(tea.KeyEscape, 0) }
func Tab() tea.KeyPressMsg        { return Code(tea.KeyTab, 0) }
func Ctrl(r rune) tea.KeyPressMsg { return Code(r, tea.ModCtrl) }
func Space() tea.KeyPressMsg      { return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "} }
func Backspace() tea.KeyPressMsg  { return Code(tea.KeyBackspace, 0) }

// Screen is the screen as plain text: the layout, without the colours.
func Screen(m tui.Model) string { return ansi.Strip(m.View().Content) }

// WantScreen fails t, showing the screen, for each of want it lacks.
func WantScreen(t testing.TB, m tui.Model, want ...string) {
	t.Helper()
	sc := Screen(m)
	for _, w := range want {
		if !strings.Contains(sc, w) {
			t.Errorf("screen lacks %q:\n%s", w, sc)
		}
	}
}

// LastLines is the last n lines of a screen, each with its runs of spaces
// collapsed (the status bar pads its keys and values).
func LastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	lines = lines[max(len(lines)-n, 0):]
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// LineWith is the first line of s containing sub.
func LineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// Top is the dialog that has the keyboard, nil when the page has it.
func Top(m tui.Model) page.Dialog {
	if ds := m.Dialogs(); len(ds) > 0 {
		return ds[len(ds)-1]
	}
	return nil
}

// TopAs is the top dialog as a T, failing the test when it is anything else.
func TopAs[T page.Dialog](t testing.TB, m tui.Model) T {
	t.Helper()
	d, ok := Top(m).(T)
	if !ok {
		var want T
		t.Fatalf("the top dialog is %T, want %T", Top(m), want)
	}
	return d
}

// IsTop reports whether the top dialog is a T.
func IsTop[T page.Dialog](m tui.Model) bool {
	_, ok := Top(m).(T)
	return ok
}

// Typing reports whether keys are text now (for the view that has them).
func Typing(m tui.Model) bool { return m.Focus().Typing() }

// Bindings are the keys of the view that has the keyboard, as the help
// shows them.
func Bindings(m tui.Model) []key.Binding { return m.Focus().Bindings() }

// NewLive is New with the live services faked too: the history fx, the
// pool control fp, and an event stream whose messages the test sends
// itself (NoStream).
func NewLive(t testing.TB, w, h int, fx *Executions, fp *Pool, opts ...Option) tui.Model {
	t.Helper()
	return New(t, tui.Deps{Programs: Programs{List: SamplePrograms()}, Datasets: SampleDatasets(),
		Executions: fx, Pool: fp, Events: NoStream{}}, w, h, opts...)
}
