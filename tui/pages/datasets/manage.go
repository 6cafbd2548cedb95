package datasets

// Whole datasets: delete one (asked first) and export one to a JSONL or
// CSV file.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/page"
)

type (
	deleteDatasetMsg  struct{ name string }
	datasetDeletedMsg struct {
		name string
		err  error
	}
	// exportedMsg is the export form's result, and its command's answer.
	exportedMsg struct {
		name, path string
		err        error
	}
)

// deleteDatasetDialog asks before a dataset and every example of it go.
func (p *Page) deleteDatasetDialog(d *model.Dataset) *dialog.Confirm {
	yes := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "delete")), Result: deleteDatasetMsg{name: d.Name}}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys(append([]string{"n", "N"}, p.keys.Back.Keys()...)...), key.WithHelp("n/esc", "keep it"))}
	s := p.styles
	return dialog.NewConfirm(s, dialog.Centre, []string{
		s.Error.Render("Delete dataset " + d.Name + "?"),
		"",
		"Its " + format.Examples(d.Size()) + " are deleted with it.",
		"",
		dialog.Hint(s, yes, no),
	}, yes, no)
}

func (p *Page) deleteDataset(e *page.Env, name string) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		return datasetDeletedMsg{name: name, err: repo.DeleteDataset(ctx, name)}
	})
}

// exportForm asks where and how to export a dataset, then writes the file.
type exportForm struct {
	page.Defaults
	styles  *themes.Styles
	keys    keys.Map
	repo    Datasets
	ds      *model.Dataset
	fields  dialog.Fields
	running bool

	width, height int
}

var exportSplits = []string{"all", string(model.Train), string(model.Validation), string(model.Test)}

func newExportForm(s *themes.Styles, km keys.Map, repo Datasets, d *model.Dataset, dir string) *exportForm {
	return &exportForm{styles: s, keys: km, repo: repo, ds: d, fields: dialog.Fields{
		Title: "Export dataset " + d.Name,
		Fields: []dialog.Field{
			{Label: "file", Value: filepath.Join(dir, d.Name+".jsonl"), Help: "the extension follows the format"},
			{Label: "format", Value: "jsonl", Choices: []string{"jsonl", "csv"}},
			{Label: "split", Value: "all", Choices: exportSplits},
		},
		Note: fmt.Sprintf("%s: %s. An existing file is replaced only once the export has succeeded.", d.Name, format.Examples(d.Size())),
	}}
}

func (f *exportForm) Typing() bool     { return true }
func (f *exportForm) SetSize(w, h int) { f.width, f.height = w, h }
func (f *exportForm) Render(func() string) string {
	return f.fields.Render(f.styles, f.width, f.height)
}

func (f *exportForm) Bindings() []key.Binding {
	return []key.Binding{keys.As(f.keys.Save, "export"), keys.Hint("tab", "next field"), keys.Hint("←/→", "choose"),
		keys.As(f.keys.Back, "cancel")}
}

func (f *exportForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	if f.running {
		return nil
	}
	before := f.fields.Value("format")
	switch f.fields.Key(f.keys, msg) {
	case dialog.FieldsCancel:
		e.Close(nil)
		return nil
	case dialog.FieldsSubmit:
		return f.start(e)
	}
	if now := f.fields.Value("format"); now != before {
		// The file's extension follows the format chosen.
		fl := &f.fields.Fields[0]
		if ext := filepath.Ext(fl.Value); ext == "."+before {
			fl.Value = strings.TrimSuffix(fl.Value, ext) + "." + now
		}
	}
	return nil
}

// start writes the file off the event loop: into a temporary file beside
// it, renamed over it only once the export has succeeded.
func (f *exportForm) start(e *page.Env) tea.Cmd {
	path := f.fields.Value("file")
	if path == "" {
		f.fields.Err = "file: give a file to write"
		return nil
	}
	req := app.ExportDatasetRequest{Dataset: f.ds.Name, Format: f.fields.Value("format")}
	if sp := f.fields.Value("split"); sp != "all" {
		req.Split = model.Split(sp)
	}
	f.running, f.fields.Err = true, ""
	repo, ctx, name := f.repo, e.Ctx, f.ds.Name
	return e.Cmd(func() tea.Msg {
		return exportedMsg{name: name, path: path, err: writeExport(path, func(file *os.File) error {
			return repo.ExportDataset(ctx, req, file)
		})}
	})
}

// writeExport writes path through write, atomically.
func writeExport(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	return nil
}

func (f *exportForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if m, ok := msg.(exportedMsg); ok {
		formEnded(e, &f.running, &f.fields, m.err, m)
	}
	return nil
}

// renamedMsg is the rename form's result, and its command's answer.
type renamedMsg struct {
	from string
	ds   *model.Dataset
	err  error
}

// renameForm asks for a dataset's new name and renames it.
type renameForm struct {
	page.Defaults
	styles  *themes.Styles
	keys    keys.Map
	repo    Datasets
	from    string
	fields  dialog.Fields
	running bool

	width, height int
}

func newRenameForm(s *themes.Styles, km keys.Map, repo Datasets, d *model.Dataset) *renameForm {
	return &renameForm{styles: s, keys: km, repo: repo, from: d.Name, fields: dialog.Fields{
		Title:  "Rename dataset " + d.Name,
		Fields: []dialog.Field{{Label: "new name", Value: d.Name}},
		Note:   fmt.Sprintf("Its %s are copied under the new name (with new IDs), then the old name is deleted.", format.Examples(d.Size())),
	}}
}

func (f *renameForm) Typing() bool     { return true }
func (f *renameForm) SetSize(w, h int) { f.width, f.height = w, h }
func (f *renameForm) Render(func() string) string {
	return f.fields.Render(f.styles, f.width, f.height)
}

func (f *renameForm) Bindings() []key.Binding {
	return []key.Binding{keys.As(f.keys.Save, "rename"), keys.As(f.keys.Back, "cancel")}
}

func (f *renameForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	if f.running {
		return nil
	}
	switch f.fields.Key(f.keys, msg) {
	case dialog.FieldsCancel:
		e.Close(nil)
	case dialog.FieldsSubmit:
		to := f.fields.Value("new name")
		if to == f.from {
			e.Close(nil)
			return nil
		}
		f.running, f.fields.Err = true, ""
		repo, ctx, from := f.repo, e.Ctx, f.from
		return e.Cmd(func() tea.Msg {
			d, err := repo.RenameDataset(ctx, from, to)
			return renamedMsg{from: from, ds: d, err: err}
		})
	}
	return nil
}

func (f *renameForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if m, ok := msg.(renamedMsg); ok {
		formEnded(e, &f.running, &f.fields, m.err, m)
	}
	return nil
}

// formEnded ends a form whose work answered: closed with the answer, or
// kept open showing the error.
func formEnded(e *page.Env, running *bool, fields *dialog.Fields, err error, answer tea.Msg) {
	*running = false
	if err != nil {
		fields.Err = err.Error()
		return
	}
	e.Close(answer)
}
