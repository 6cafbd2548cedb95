package programs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	tea "charm.land/bubbletea/v2"
	"go.yaml.in/yaml/v3"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/page"
)

// Editing a module in $EDITOR (key e): the module is written to a
// temporary YAML file, the editor runs on the terminal (tea.ExecProcess
// suspends the TUI), and the file is read back, checked and saved as a new
// version. A file that does not parse or check is kept, and its path is
// in the error; a bad signature opens the in-place editor on the edited
// text with the error under its column, so nothing typed is lost.

// editorFileMsg says the module's file is written (or why not).
type editorFileMsg struct {
	seq     int
	program *model.Program
	index   int
	path    string
	err     error
}

// editorDoneMsg says the editor has exited.
type editorDoneMsg struct {
	seq     int
	program *model.Program
	index   int
	path    string
	err     error
}

// editorParsedMsg carries the module read back from the file.
type editorParsedMsg struct {
	seq       int
	program   *model.Program
	index     int
	path      string
	module    model.Module
	unchanged bool
	err       error
}

// startEditor writes module index of pr to a temporary file, in a command.
func (p *Page) startEditor(e *page.Env, pr *model.Program, index int) tea.Cmd {
	p.seq++
	seq := p.seq
	return e.Cmd(func() tea.Msg {
		path, err := progWriteModuleFile(pr, index)
		return editorFileMsg{seq: seq, program: pr, index: index, path: path, err: err}
	})
}

func (p *Page) applyEditorFile(e *page.Env, msg editorFileMsg) tea.Cmd {
	if msg.seq != p.seq {
		progRemoveFile(msg.path)
		return nil
	}
	if msg.err != nil {
		return page.NoticeErr(msg.err)
	}
	// The callback's message is addressed here: the runtime must see
	// ExecProcess's own message, so the command itself is not wrapped.
	return tea.ExecProcess(progEditorCommand(msg.path), func(err error) tea.Msg {
		return e.Addressed(editorDoneMsg{seq: msg.seq, program: msg.program, index: msg.index, path: msg.path, err: err})
	})
}

func (p *Page) applyEditorDone(e *page.Env, msg editorDoneMsg) tea.Cmd {
	if msg.err != nil {
		return page.NoticeErr(fmt.Errorf("editor: %w (the module is in %s)", msg.err, msg.path))
	}
	return e.Cmd(func() tea.Msg {
		m, unchanged, err := progReadModuleFile(msg.program, msg.index, msg.path)
		return editorParsedMsg{seq: msg.seq, program: msg.program, index: msg.index, path: msg.path, module: m, unchanged: unchanged, err: err}
	})
}

func (p *Page) applyEditorParsed(e *page.Env, msg editorParsedMsg) tea.Cmd {
	pr := msg.program
	switch {
	case msg.err != nil:
		return page.NoticeErr(fmt.Errorf("%w (your edit is kept in %s)", msg.err, msg.path))
	case msg.unchanged:
		return page.Notice(fmt.Sprintf("no changes: %s stays at v%d", pr.Name, pr.Version))
	}
	q, err := progApplyModule(pr, msg.index, msg.module, msg.module.Signature, msg.module.Instructions)
	var se *model.SignatureError
	switch {
	case errors.As(err, &se):
		// Open the in-place editor on what was typed, error under its column.
		if p.detail == nil || p.detail.Name != pr.Name {
			p.openDetail(pr)
		}
		ed := newModuleEditWith(p.styles, p.keys, p.repo, pr, msg.index, msg.module, msg.module.Signature, msg.module.Instructions)
		ed.err = "fix the signature and press ctrl+s (your edit is also in " + msg.path + ")"
		e.Push(ed)
		return nil
	case err != nil:
		return page.NoticeErr(fmt.Errorf("%w (your edit is kept in %s)", err, msg.path))
	}
	return saveProgram(e, p.repo, q, msg.path)
}

// progEditorCommand is the command that edits path: $VISUAL, else $EDITOR,
// else vi. The variable may carry arguments ("code --wait"), so it runs
// through the shell, with the path as "$1" (never parsed by the shell).
func progEditorCommand(path string) *exec.Cmd {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	return exec.Command("sh", "-c", editor+` "$1"`, "editor", path)
}

const moduleFileHeader = `# Module %q of program %q, v%d (%s).
# Edit and save, then quit the editor: Signet checks the module and saves
# it as v%d. The signature is DSPy's "inputs -> outputs" string; fields
# holds per-field descriptions, demos the few-shot examples.
`

// progModuleFileText is the file a module is edited in: a comment saying what
// it is, then the module as YAML.
func progModuleFileText(pr *model.Program, index int) ([]byte, error) {
	if index < 0 || index >= len(pr.Modules) {
		return nil, fmt.Errorf("program %s has no module %d", pr.Name, index+1)
	}
	m := pr.Modules[index]
	var b bytes.Buffer
	fmt.Fprintf(&b, moduleFileHeader, m.Name, pr.Name, pr.Version, m.Type, pr.Version+1)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&m); err != nil {
		return nil, fmt.Errorf("encoding module %s: %w", m.Name, err)
	}
	return b.Bytes(), nil
}

// progWriteModuleFile writes module index of pr to a new temporary file.
func progWriteModuleFile(pr *model.Program, index int) (string, error) {
	data, err := progModuleFileText(pr, index)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "signet-"+pr.Name+"-"+pr.Modules[index].Name+"-*.yaml")
	if err != nil {
		return "", fmt.Errorf("creating the edit file: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the edit file %s: %w", f.Name(), werr)
	}
	return f.Name(), nil
}

// progReadModuleFile reads the edited file back: the module, or unchanged when
// the file is as written (then it is removed).
func progReadModuleFile(pr *model.Program, index int, path string) (m model.Module, unchanged bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return m, false, fmt.Errorf("reading the edit file: %w", err)
	}
	if before, err := progModuleFileText(pr, index); err == nil && bytes.Equal(before, data) {
		progRemoveFile(path)
		return pr.Modules[index], true, nil
	}
	m, err = progParseModuleFile(data)
	if err != nil {
		return m, false, fmt.Errorf("%s: %w", path, err)
	}
	if old := pr.Modules[index].Name; m.Name != old {
		return m, false, fmt.Errorf("%s: the module's name cannot change here (was %q, now %q)", path, old, m.Name)
	}
	return m, false, nil
}

// progParseModuleFile decodes a module from YAML, refusing unknown keys (a
// misspelt "instruction:" would otherwise be dropped without a word).
func progParseModuleFile(data []byte) (model.Module, error) {
	var m model.Module
	if strings.TrimSpace(progStripComments(data)) == "" {
		return m, errors.New("the file is empty")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return m, errors.New(strings.Join(te.Errors, "; "))
		}
		return m, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return m, nil
}

func progStripComments(data []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// progRemoveFile removes a temporary file; a failure leaves it for the system.
func progRemoveFile(path string) {
	if path != "" {
		_ = os.Remove(path)
	}
}
