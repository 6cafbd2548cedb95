package tui

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

	"charm.land/bubbles/v2/filepicker"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
)

// Importing a file (I): a file picker limited to the dataset formats, then
// a small form (dataset name, input keys, split, field types), then the import itself,
// run by a command through Datasets.ImportFile (the path of `signet
// dataset import`), with progress, cancellable by esc.

var importExts = []string{".jsonl", ".json", ".csv"}

const importTick = 100 * time.Millisecond

// importPreviewMsg carries the fields of the picked file's first record.
type importPreviewMsg struct {
	id     uint64
	fields []string
	err    error
}

// importDoneMsg is the end of an import.
type importDoneMsg struct {
	id  uint64
	ds  *model.Dataset
	err error
}

// importTickMsg animates a running import and samples its progress.
type importTickMsg struct {
	id  uint64
	now time.Time
}

type importStage int

const (
	stagePick importStage = iota
	stageForm
)

type importer struct {
	id     uint64
	stage  importStage
	picker filepicker.Model
	bad    string // a file of another type was chosen

	path   string
	inputs []*textinput.Model // name, input keys, split, field types
	focus  int

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
}

// importStartDir is where the picker opens: the working directory, else
// the workspace's parent.
func (p *datasetsPage) importStartDir() string {
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

func pickerStyles(s *themes.Styles) filepicker.Styles {
	return filepicker.Styles{
		DisabledCursor:   s.Muted,
		Cursor:           s.Accent,
		Symlink:          s.Info,
		Directory:        s.Subtitle,
		File:             lipgloss.NewStyle(),
		DisabledFile:     s.Muted,
		Permission:       s.Muted,
		Selected:         s.Accent.Bold(true),
		DisabledSelected: s.Muted,
		FileSize:         s.Muted.Width(7).Align(lipgloss.Right),
		EmptyDirectory:   s.Muted.PaddingLeft(2).SetString("No files here."),
	}
}

func (p *datasetsPage) openImporter(e *env) tea.Cmd {
	p.seq++
	fp := filepicker.New()
	fp.CurrentDirectory = p.importStartDir()
	fp.AllowedTypes = importExts
	fp.ShowPermissions = false
	fp.ShowSize = false // a directory's size is the file system's business, not the user's
	fp.AutoHeight = false
	fp.Cursor = "›"
	fp.KeyMap.Back = key.NewBinding(key.WithKeys("h", "backspace", "left"), key.WithHelp("h", "parent directory"))
	fp.Styles = pickerStyles(p.styles)
	p.imp = &importer{id: p.seq, picker: fp}
	p.layoutImporter()
	return fp.Init()
}

func (p *datasetsPage) layoutImporter() {
	if p.imp == nil {
		return
	}
	p.imp.picker.SetHeight(max(p.height-3, 1))
	for _, in := range p.imp.inputs {
		in.SetWidth(max(min(p.width-4, 60), 10))
	}
}

func (m *importer) typing() bool { return m.stage == stageForm && !m.running }

// update takes the picker's directory listings and the import's messages.
func (m *importer) update(e *env, p *datasetsPage, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case importPreviewMsg:
		if msg.id == m.id {
			m.fields, m.previewErr = msg.fields, msg.err
			if v := m.inputs[1]; v.Value() == "" {
				v.SetValue(strings.Join(guessInputs(msg.fields), ","))
			}
		}
		return nil
	case importTickMsg:
		if msg.id != m.id || !m.running {
			return nil
		}
		m.frame++
		m.now = msg.now
		m.shown = math.Float64frombits(m.progress.Load())
		return importTickCmd(m.id)
	case importDoneMsg:
		if msg.id != m.id {
			return nil
		}
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
		p.imp = nil
		return tea.Batch(
			notice(fmt.Sprintf("imported %s into dataset %s (%s)", filepath.Base(m.path), msg.ds.Name, format.Examples(msg.ds.Size()))),
			p.refreshSelect(e.ctx, e.deps.Datasets, msg.ds.Name))
	}
	if m.stage == stagePick {
		var cmd tea.Cmd
		m.picker, cmd = m.picker.Update(msg)
		return cmd
	}
	return nil
}

func importTickCmd(id uint64) tea.Cmd {
	return tea.Tick(importTick, func(t time.Time) tea.Msg { return importTickMsg{id: id, now: t} })
}

func (m *importer) key(e *env, p *datasetsPage, msg tea.KeyPressMsg) tea.Cmd {
	km := e.keys
	if m.stage == stagePick {
		if key.Matches(msg, km.Back) {
			p.imp = nil
			return nil
		}
		m.bad = ""
		var cmd tea.Cmd
		m.picker, cmd = m.picker.Update(msg)
		if ok, path := m.picker.DidSelectFile(msg); ok {
			return m.picked(p, path)
		}
		if ok, path := m.picker.DidSelectDisabledFile(msg); ok {
			m.bad = fmt.Sprintf("%s is not a .jsonl, .json or .csv file", filepath.Base(path))
		}
		return cmd
	}
	if m.running {
		if key.Matches(msg, km.Back) {
			m.cancel() // the import ends with context.Canceled and imports nothing
		}
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		m.stage, m.err, m.previewErr, m.fields = stagePick, nil, nil, nil
		return nil
	case key.Matches(msg, km.Save):
		return m.start(e)
	case msg.Code == tea.KeyEnter && m.focus == len(m.inputs)-1:
		return m.start(e)
	case key.Matches(msg, km.NextPage), msg.Code == tea.KeyEnter:
		return m.focusOn((m.focus + 1) % len(m.inputs))
	case key.Matches(msg, km.PrevPage):
		return m.focusOn((m.focus + len(m.inputs) - 1) % len(m.inputs))
	}
	var cmd tea.Cmd
	*m.inputs[m.focus], cmd = m.inputs[m.focus].Update(msg)
	return cmd
}

func (m *importer) focusOn(i int) tea.Cmd {
	for _, in := range m.inputs {
		in.Blur()
	}
	m.focus = i
	return m.inputs[i].Focus()
}

// picked moves to the form for path and reads its first record's fields.
func (m *importer) picked(p *datasetsPage, path string) tea.Cmd {
	m.stage, m.path, m.err, m.previewErr, m.fields = stageForm, path, nil, nil, nil
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	m.inputs = []*textinput.Model{
		newInput(p.styles, stem, "dataset name"),
		newInput(p.styles, "", "e.g. question (none: leave empty)"),
		newInput(p.styles, "", "train (default), validation or test"),
		newInput(p.styles, "", "e.g. score=float,tags=list[str] (none: CSV cells stay text)"),
	}
	p.layoutImporter()
	id := m.id
	return tea.Batch(m.focusOn(0), func() tea.Msg {
		fields, err := previewFields(path)
		return importPreviewMsg{id: id, fields: fields, err: err}
	})
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
func (m *importer) start(e *env) tea.Cmd {
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
	repo := e.deps.Datasets
	if repo == nil {
		m.err = errors.New("no dataset repository configured")
		return nil
	}
	ctx, cancel := context.WithCancel(e.ctx)
	m.cancel = cancel
	m.running, m.err, m.shown, m.frame = true, nil, 0, 0
	m.started = time.Now()
	m.now = m.started
	m.progress = new(atomic.Uint64)
	prog := m.progress
	req := ImportRequest{Path: m.path, Name: name, Inputs: strings.TrimSpace(m.inputs[1].Value()), Split: split,
		Types:    strings.TrimSpace(m.inputs[3].Value()),
		Progress: func(done float64) { prog.Store(math.Float64bits(done)) }}
	id := m.id
	return tea.Batch(importTickCmd(id), func() tea.Msg {
		ds, err := repo.ImportFile(ctx, req)
		return importDoneMsg{id: id, ds: ds, err: err}
	})
}

func (m *importer) render(p *datasetsPage) string {
	s := p.styles
	w, h := p.width, p.height
	if m.stage == stagePick {
		title := s.Title.Render("Import a dataset file") + s.Muted.Render("  "+strings.Join(importExts, " "))
		dir := s.Muted.Render(m.picker.CurrentDirectory)
		hint := s.Muted.Render("enter open/choose · h parent directory · j/k move · esc cancel")
		if m.bad != "" {
			hint = s.Warning.Render(m.bad)
		}
		return layout.Fit(title, w, 1) + "\n" + layout.Fit(dir, w, 1) + "\n" + layout.Fit(m.picker.View(), w, max(h-3, 1)) + "\n" + layout.Fit(hint, w, 1)
	}
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
				fields = s.Warning.Render("  " + m.previewErr.Error())
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
		b.WriteString(s.Error.Render(ansi.Wrap("Import failed: "+m.err.Error(), inner, " /:")) + "\n")
	}
	body := layout.Fit(b.String(), w, max(h-1, 1))
	hint := s.Muted.Render("ctrl+s import · tab next field · esc back to the files")
	return body + "\n" + layout.Fit(hint, w, 1)
}

// refreshSelect reloads the dataset list and selects name.
func (p *datasetsPage) refreshSelect(ctx context.Context, repo Datasets, name string) tea.Cmd {
	if repo == nil {
		return nil
	}
	p.loading = true
	return func() tea.Msg {
		ds, err := repo.ListDatasets(ctx)
		return datasetsLoadedMsg{datasets: ds, err: err, selectName: name}
	}
}
