package datasets

// The import's file picker: a directory's entries in the one filterable
// list (`/` filters, as on every list), directories first.

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// filePicker chooses the file to import; the form opens over it, and esc
// in the form comes back here.
type filePicker struct {
	page.Defaults
	components.FilterBar
	styles  *themes.Styles
	keys    keys.Map
	clock   page.Clock
	repo    Datasets
	dir     string
	entries []pickerEntry // in list order
	list    components.List
	err     error  // reading dir
	bad     string // a file of another type was chosen
	read    bool   // dir has been asked for once

	width, height int
}

type pickerEntry struct {
	name string
	dir  bool
}

type (
	pickerDirMsg struct {
		dir     string
		entries []pickerEntry
		err     error
	}
	pickerFilterMsg struct{ res components.FilterResult }
)

var pickerColumns = []components.Column{{Title: "NAME", Flex: 1, MinWidth: 10}}

// parentKey goes up a directory.
var parentKey = key.NewBinding(key.WithKeys("h", "backspace", "left"), key.WithHelp("h", "parent directory"))

func newFilePicker(s *themes.Styles, km keys.Map, clock page.Clock, repo Datasets, dir string) *filePicker {
	return &filePicker{styles: s, keys: km, clock: clock, repo: repo, dir: dir,
		list: components.NewList(pickerColumns, 0, components.ThemeStyles(s))}
}

// Enter reads the directory, the first time.
func (f *filePicker) Enter(e *page.Env) tea.Cmd {
	if f.read {
		return nil
	}
	f.read = true
	return f.readDir(e, f.dir)
}

// readDir lists dir off the event loop: directories first, then the files,
// each by name; hidden ones left out.
func (f *filePicker) readDir(e *page.Env, dir string) tea.Cmd {
	return e.Cmd(func() tea.Msg {
		des, err := os.ReadDir(dir)
		if err != nil {
			return pickerDirMsg{dir: dir, err: err}
		}
		var out []pickerEntry
		for _, d := range des {
			if strings.HasPrefix(d.Name(), ".") {
				continue
			}
			isDir := d.IsDir()
			if d.Type()&os.ModeSymlink != 0 {
				if st, err := os.Stat(filepath.Join(dir, d.Name())); err == nil {
					isDir = st.IsDir()
				}
			}
			out = append(out, pickerEntry{name: d.Name(), dir: isDir})
		}
		slices.SortFunc(out, func(a, b pickerEntry) int {
			if a.dir != b.dir {
				if a.dir {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.name, b.name)
		})
		return pickerDirMsg{dir: dir, entries: out}
	})
}

func (f *filePicker) Typing() bool { return f.Filtering }

func (f *filePicker) SetSize(w, h int) {
	f.width, f.height = w, h
	f.list.SetHeight(f.listHeight())
}

// listHeight is what the title, the directory, the filter and the hint
// lines leave.
func (f *filePicker) listHeight() int {
	h := f.height - 3
	if f.ShowFilterLine() {
		h--
	}
	return max(h, 1)
}

func (f *filePicker) Restyle() { f.list.SetStyles(components.ThemeStyles(f.styles)) }

func (f *filePicker) Bindings() []key.Binding {
	km := f.keys
	return []key.Binding{keys.As(km.Open, "open/choose"), parentKey, km.Filter, km.Up, km.Down, keys.As(km.Back, "cancel")}
}

// Update takes a directory's listing, the filter's result, and the form's
// result.
func (f *filePicker) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case importedMsg:
		e.Close(m)
	case pickerDirMsg:
		if m.err != nil {
			f.err = m.err
			return nil
		}
		f.dir, f.entries, f.err = m.dir, m.entries, nil
		rows := make([]components.Row, len(m.entries))
		for i, en := range m.entries {
			rows[i] = components.Row{en.name}
			if en.dir {
				rows[i][0] += string(filepath.Separator)
			}
		}
		f.list.SetRows(rows)
		f.FilterBar = components.FilterBar{} // a new directory: a new filter
		f.list.SetHeight(f.listHeight())
	case pickerFilterMsg:
		f.list.SetFilterResult(m.res)
	}
	return nil
}

// Highlighted is the path of the entry under the cursor, "" with none.
func (f *filePicker) Highlighted() string {
	if row, ok := f.list.Selected(); ok && row < len(f.entries) {
		return filepath.Join(f.dir, f.entries[row].name)
	}
	return ""
}

func (f *filePicker) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := f.keys
	f.bad = ""
	if f.Filtering {
		if msg.Code != tea.KeyEnter {
			return f.filtered(e, f.FilterInput(msg, &f.list))
		}
		f.Filtering = false // enter chooses the match at once
		f.list.SetHeight(f.listHeight())
	} else if ev, ok := f.FilterListKey(msg, km); ok {
		return f.filtered(e, ev)
	}
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, parentKey):
		return f.readDir(e, filepath.Dir(f.dir))
	case key.Matches(msg, km.Open):
		row, ok := f.list.Selected()
		if !ok || row >= len(f.entries) {
			return nil
		}
		en := f.entries[row]
		path := filepath.Join(f.dir, en.name)
		switch {
		case en.dir:
			return f.readDir(e, path)
		case slices.Contains(importExts, strings.ToLower(filepath.Ext(en.name))):
			e.Push(newImportForm(f.styles, f.keys, f.clock, f.repo, path))
		default:
			f.bad = fmt.Sprintf("%s is not a .jsonl, .json or .csv file", en.name)
		}
	default:
		f.list.Navigate(msg, km)
	}
	return nil
}

func (f *filePicker) filtered(e *page.Env, ev components.FilterEvent) tea.Cmd {
	if f.Follow(ev, &f.list, f.listHeight) {
		return e.Cmd(f.Refilter(e.Ctx, &f.list, func(r components.FilterResult) tea.Msg { return pickerFilterMsg{res: r} }))
	}
	return nil
}

func (f *filePicker) Mouse(e *page.Env, msg tea.MouseMsg, _, y int) tea.Cmd {
	y -= 2 // the title and the directory
	if f.ShowFilterLine() {
		y--
	}
	if f.list.Mouse(msg, y) {
		return f.Key(e, tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	return nil
}

func (f *filePicker) Render(func() string) string {
	s := f.styles
	w := f.width
	title := s.Title.Render("Import a dataset file") + s.Muted.Render("  "+strings.Join(importExts, " "))
	lines := []string{layout.Fit(title, w, 1), layout.Fit(s.Muted.Render(f.dir), w, 1)}
	if f.ShowFilterLine() {
		lines = append(lines, f.FilterLine(s, f.list.Pattern(), w))
	}
	switch {
	case f.err != nil:
		lines = append(lines, layout.Fit(s.Error.Render(f.err.Error()), w, f.listHeight()))
	case f.read && len(f.entries) == 0 && f.list.Total() == 0:
		lines = append(lines, layout.Fit(s.Muted.Render("  No files here."), w, f.listHeight()))
	default:
		lines = append(lines, f.list.Render(w, f.listHeight()))
	}
	hint := s.Muted.Render("enter open/choose · h parent directory · / filter · j/k move · esc cancel")
	if f.bad != "" {
		hint = s.Warning.Render(f.bad)
	}
	lines = append(lines, layout.Fit(hint, w, 1))
	return layout.Fit(strings.Join(lines, "\n"), w, f.height)
}
