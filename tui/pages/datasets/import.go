package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// Importing a file (I): a file picker limited to the dataset formats, then
// over it a small form (dataset name, input keys, split, field types), then
// the import itself, run by a command through Datasets.ImportDataset (the
// path of `signet dataset import`) with the file opened there, its progress
// counted as the service reads it, cancellable by esc. The form
// ends with importedMsg, which the picker passes on to the page.

var importExts = []string{".jsonl", ".json", ".csv"}

const importTick = 100 * time.Millisecond

// Messages of the import.
type (
	// importPreviewMsg carries the fields of the picked file's first record.
	importPreviewMsg struct {
		fields []string
		err    error
	}
	// importDoneMsg is the end of an import.
	importDoneMsg struct {
		ds  *model.Dataset
		err error
	}
	// importTickMsg animates a running import and samples its progress.
	importTickMsg struct{ now time.Time }
	// importedMsg is the import's result: the dataset path went into.
	importedMsg struct {
		path string
		ds   *model.Dataset
	}
)

// importStartDir is where the picker opens: the directory set, else the
// working directory, else the workspace's parent.
func (p *Page) importStartDir() string {
	if p.importDir != "" {
		return p.importDir
	}
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	if p.workspace != "" {
		return filepath.Dir(p.workspace)
	}
	return "."
}

// importForm names the dataset a picked file goes into, and runs the import.
type importForm struct {
	styles *themes.Styles
	keys   keys.Map
	clock  page.Clock
	repo   Datasets

	path   string
	inputs []*textinput.Model // name, input keys, split, field types
	orig   []string           // the inputs' values as the form filled them
	// guess marks a field whose value the form filled in and the user has
	// not touched: the first character typed replaces it (backspace clears
	// it) rather than being appended to it.
	guess   []bool
	focus   int
	entered bool

	fields     []string // the first record's fields
	previewErr error
	err        error // the last import's error

	running  bool
	started  time.Time
	now      time.Time
	progress *atomic.Uint64 // float64 bits of the share read, written by the import
	shown    float64
	frame    int
	cancel   context.CancelFunc

	width, height int
}

func newImportForm(s *themes.Styles, km keys.Map, clock page.Clock, repo Datasets, path string) *importForm {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return &importForm{styles: s, keys: km, clock: clock, repo: repo, path: path, inputs: []*textinput.Model{
		newInput(s, stem, "dataset name"),
		newInput(s, "", "e.g. question (none: leave empty)"),
		newInput(s, "", "train (default), validation or test"),
		newInput(s, "", "e.g. score=float,tags=list[str] (none: CSV cells stay text)"),
	}, orig: []string{stem, "", "", ""}, guess: []bool{true, false, false, false}}
}

// edit is about to change field i by a key that types (or pastes) text,
// or by backspace: a guess there goes first. Any other key keeps the guess
// for the user to edit it.
func (m *importForm) edit(i int, typing, backspace bool) (swallow bool) {
	if !m.guess[i] {
		return false
	}
	m.guess[i] = false
	if typing || backspace {
		m.inputs[i].SetValue("")
	}
	return backspace
}

// Dirty and Editing make the form a page.Unsaved: esc, and the shell
// before it quits, ask before what was typed is lost. (It cannot be saved
// without importing: the question offers discard or keep editing.)
func (m *importForm) Dirty() bool {
	if m.running {
		return false
	}
	for i, in := range m.inputs {
		if in.Value() != m.orig[i] {
			return true
		}
	}
	return false
}

func (m *importForm) Editing() string { return "the import of " + filepath.Base(m.path) }

// Enter focuses the name and reads the file's first record's fields.
func (m *importForm) Enter(e *page.Env) tea.Cmd {
	if m.entered {
		return nil
	}
	m.entered = true
	path := m.path
	return tea.Batch(e.Wrap(m.focusOn(0)), e.Cmd(func() tea.Msg {
		fields, err := previewFields(path)
		return importPreviewMsg{fields: fields, err: err}
	}))
}

func (m *importForm) Typing() bool { return !m.running }

func (m *importForm) SetSize(w, h int) {
	m.width, m.height = w, h
	for _, in := range m.inputs {
		in.SetWidth(max(min(w-4, 60), 10))
	}
}

func (m *importForm) Bindings() []key.Binding {
	km := m.keys
	if m.running {
		return []key.Binding{keys.As(km.Back, "cancel import")}
	}
	return []key.Binding{keys.As(km.Save, "import"), keys.As(km.NextPage, "next field"), keys.As(km.PrevPage, "previous field"),
		keys.As(km.Back, "back to files")}
}

// Update takes the preview, the ticks, the end of the import and the
// answer to the unsaved-changes question.
func (m *importForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if cmd, ok := dialog.Answer(e, m, msg); ok {
		return cmd
	}
	switch msg := msg.(type) {
	case importPreviewMsg:
		m.fields, m.previewErr = msg.fields, msg.err
		if v := m.inputs[1]; v.Value() == "" {
			v.SetValue(strings.Join(guessInputs(msg.fields), ","))
			m.orig[1] = v.Value()
			m.guess[1] = v.Value() != ""
		}
		return nil
	case importTickMsg:
		if !m.running {
			return nil
		}
		m.frame++
		m.now = msg.now
		m.shown = math.Float64frombits(m.progress.Load())
		return m.tick(e)
	case importDoneMsg:
		m.running = false
		m.cancel()
		if msg.err != nil {
			if errors.Is(msg.err, context.Canceled) {
				m.err = errors.New("import cancelled; nothing was imported")
			} else {
				m.err = msg.err
			}
			return nil
		}
		e.Close(importedMsg{path: m.path, ds: msg.ds})
		return nil
	}
	if !m.running { // a paste
		if _, ok := msg.(tea.PasteMsg); ok {
			m.edit(m.focus, true, false)
		}
		var cmd tea.Cmd
		*m.inputs[m.focus], cmd = m.inputs[m.focus].Update(msg)
		return e.Wrap(cmd)
	}
	return nil
}

func (m *importForm) tick(e *page.Env) tea.Cmd {
	return e.After(importTick, func(t time.Time) tea.Msg { return importTickMsg{now: t} })
}

func (m *importForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := m.keys
	if m.running {
		if key.Matches(msg, km.Back) {
			m.cancel() // the import ends with context.Canceled and imports nothing
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		dialog.Leave(e, m.styles, m) // back to the files
		return nil
	case key.Matches(msg, km.Save):
		return m.start(e)
	case msg.Code == tea.KeyEnter && m.focus == len(m.inputs)-1:
		return m.start(e)
	case key.Matches(msg, km.NextPage), msg.Code == tea.KeyEnter:
		return e.Wrap(m.focusOn((m.focus + 1) % len(m.inputs)))
	case key.Matches(msg, km.PrevPage):
		return e.Wrap(m.focusOn((m.focus + len(m.inputs) - 1) % len(m.inputs)))
	}
	if m.edit(m.focus, msg.Text != "", msg.Code == tea.KeyBackspace) {
		return nil
	}
	var cmd tea.Cmd
	*m.inputs[m.focus], cmd = m.inputs[m.focus].Update(msg)
	return e.Wrap(cmd)
}

func (m *importForm) Mouse(*page.Env, tea.MouseMsg, int, int) tea.Cmd { return nil }

func (m *importForm) focusOn(i int) tea.Cmd {
	for _, in := range m.inputs {
		in.Blur()
	}
	m.focus = i
	return m.inputs[i].Focus()
}

// previewFields reads the fields of a file's first record.
func previewFields(path string) ([]string, error) {
	f, err := datafile.DetectFormat(path)
	if err != nil {
		return nil, err
	}
	r, err := datafile.Open(path, f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := r.Next(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return r.Fields(), nil
}

// commonInputs are field names that are inputs whenever a file has them.
var commonInputs = []string{"question", "query", "input", "inputs", "prompt", "text", "document", "context",
	"passage", "passages", "review", "message", "sentence", "claim", "premise", "hypothesis", "code"}

// guessInputs picks the input keys when it is obvious: the fields with a
// usual input name, else the first of exactly two fields; none otherwise.
func guessInputs(fields []string) []string {
	var out []string
	for _, f := range fields {
		if slices.Contains(commonInputs, strings.ToLower(f)) {
			out = append(out, f)
		}
	}
	if len(out) > 0 && len(out) < len(fields) {
		return out
	}
	if len(fields) == 2 {
		return fields[:1]
	}
	return nil
}

// start checks the form and runs the import as a command.
func (m *importForm) start(e *page.Env) tea.Cmd {
	name := strings.TrimSpace(m.inputs[0].Value())
	if err := model.ValidName("dataset", name); err != nil {
		m.err = err
		return nil
	}
	var split model.Split
	if v := strings.TrimSpace(m.inputs[2].Value()); v != "" {
		sp, err := model.ParseSplit(v)
		if err != nil {
			m.err = err
			return nil
		}
		split = sp
	}
	var types map[string]string
	if v := strings.TrimSpace(m.inputs[3].Value()); v != "" {
		ts, err := datafile.ParseTypes(v) // as `dataset import --types` reads them
		if err != nil {
			m.err = fmt.Errorf("field types: %w", err)
			return nil
		}
		types = ts.Exprs()
	}
	repo := m.repo
	if repo == nil {
		m.err = errors.New("no dataset repository configured")
		return nil
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	m.cancel = cancel
	m.running, m.err, m.shown, m.frame = true, nil, 0, 0
	m.started = e.Now()
	m.now = m.started
	m.progress = new(atomic.Uint64)
	prog := m.progress
	req := app.ImportDatasetRequest{Name: name, File: m.path, Split: split,
		Inputs: model.ParseLabels(m.inputs[1].Value()), Types: types}
	return tea.Batch(m.tick(e), e.Cmd(func() tea.Msg {
		ds, err := importFile(ctx, repo, req, prog)
		return importDoneMsg{ds: ds, err: err}
	}))
}

// importFile imports the file req names, the share of it read so far
// kept in progress (float64 bits).
func importFile(ctx context.Context, repo Datasets, req app.ImportDatasetRequest, progress *atomic.Uint64) (*model.Dataset, error) {
	f, err := os.Open(req.File)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	req.Data = f
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		req.Data = &countingReader{r: f, total: fi.Size(), progress: progress}
	}
	res, err := repo.ImportDataset(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.Dataset, nil
}

// countingReader stores the share of the file read so far.
type countingReader struct {
	r        io.Reader
	n, total int64
	progress *atomic.Uint64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.progress.Store(math.Float64bits(min(float64(c.n)/float64(c.total), 1)))
	return n, err
}

func (m *importForm) Render(func() string) string {
	s := m.styles
	w, h := m.width, m.height
	var b strings.Builder
	b.WriteString(s.Title.Render("Import "+filepath.Base(m.path)) + "\n")
	b.WriteString(s.Muted.Render(m.path) + "\n\n")
	labels := []string{"Dataset name", "Input keys (comma separated)", "Split (optional)", "Field types (optional)"}
	for i, in := range m.inputs {
		b.WriteString(s.Subtitle.Render(labels[i]) + "\n")
		b.WriteString(in.View() + "\n")
		if i == 1 {
			fields := s.Muted.Render("  fields: " + format.Dash(strings.Join(m.fields, ", ")))
			if m.previewErr != nil {
				fields = s.Warning.Render("  " + format.Line(m.previewErr.Error()))
			}
			b.WriteString(fields + "\n")
		}
	}
	b.WriteString("\n")
	inner := max(w-2, 10)
	switch {
	case m.running:
		elapsed := m.now.Sub(m.started).Round(100 * time.Millisecond)
		b.WriteString(s.Accent.Render(layout.Spinner(m.frame)) +
			fmt.Sprintf(" importing… %.0f%% · %s · esc to cancel\n", 100*m.shown, elapsed))
		b.WriteString(layout.Bar(s, m.shown, min(inner, 50)) + "\n")
	case m.err != nil:
		b.WriteString(s.Error.Render(ansi.Wrap("Import failed: "+format.Text(m.err.Error()), inner, " /:")) + "\n")
	}
	body := layout.Fit(b.String(), w, max(h-1, 1))
	hint := s.Muted.Render("ctrl+s import · tab next field · esc back to the files")
	return body + "\n" + layout.Fit(hint, w, 1)
}
