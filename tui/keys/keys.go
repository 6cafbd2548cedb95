// Package keys is the one key map of the TUI. The root model matches key
// presses against it with key.Matches, and the same bindings feed the short
// help line and the full help (DESIGN.md section 6), so what help shows is
// what the keys do — including after the user overrides them in the config.
package keys

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
)

// Map holds every binding of the shell. Use Default or New to build one.
type Map struct {
	Quit     key.Binding
	Help     key.Binding
	Filter   key.Binding
	Back     key.Binding
	NextPage key.Binding
	PrevPage key.Binding
	// Pages[i] jumps to page i (Programs, Datasets, Executions,
	// Optimizations, Workers, Users).
	Pages    [6]key.Binding
	Up       key.Binding
	Down     key.Binding
	Top      key.Binding
	Bottom   key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Open     key.Binding
	Palette  key.Binding

	// Page actions. A page matches only the ones that make sense in its
	// current view and lists those in its bindings(), which feed the help
	// and the palette.
	Edit     key.Binding // edit in place (textarea)
	External key.Binding // edit in $EDITOR
	Save     key.Binding
	New      key.Binding
	Delete   key.Binding
	Versions key.Binding
	Diff     key.Binding
	Status   key.Binding
	Run      key.Binding
	Cancel   key.Binding
	Import   key.Binding
	Stats    key.Binding
	Restart  key.Binding
	Recycle  key.Binding
	NextCall key.Binding
	PrevCall key.Binding
	Expand   key.Binding
	Compare  key.Binding
	Replay   key.Binding
	Preview  key.Binding
	Refresh  key.Binding
	Evaluate key.Binding
	Undo     key.Binding // the last delete or status change, where it can be restored
	Credits  key.Binding // change a user's credits
	Export   key.Binding
	Rename   key.Binding
	Copy     key.Binding // copy what is shown to the clipboard (OSC 52)
	Whole    key.Binding // open the selected row, every cell whole
	// BuildIndex and DeleteIndex build a retrieval index over the selected
	// dataset and delete one of its indexes (asked first).
	BuildIndex  key.Binding
	DeleteIndex key.Binding
	// Traffic opens a program's traffic split and the report comparing
	// its arms.
	Traffic key.Binding
}

// action describes one overridable action: its name in the config, its
// default keys, its help text and where it lives in a Map.
type action struct {
	name string
	keys []string
	desc string
	get  func(*Map) *key.Binding
}

var actions = []action{
	{"quit", []string{"q", "ctrl+c"}, "quit", func(m *Map) *key.Binding { return &m.Quit }},
	{"help", []string{"?"}, "help", func(m *Map) *key.Binding { return &m.Help }},
	{"filter", []string{"/"}, "filter", func(m *Map) *key.Binding { return &m.Filter }},
	{"back", []string{"esc"}, "back", func(m *Map) *key.Binding { return &m.Back }},
	{"next_page", []string{"tab"}, "next page", func(m *Map) *key.Binding { return &m.NextPage }},
	{"prev_page", []string{"shift+tab"}, "previous page", func(m *Map) *key.Binding { return &m.PrevPage }},
	{"page_1", []string{"1"}, "programs", func(m *Map) *key.Binding { return &m.Pages[0] }},
	{"page_2", []string{"2"}, "datasets", func(m *Map) *key.Binding { return &m.Pages[1] }},
	{"page_3", []string{"3"}, "executions", func(m *Map) *key.Binding { return &m.Pages[2] }},
	{"page_4", []string{"4"}, "optimizations", func(m *Map) *key.Binding { return &m.Pages[3] }},
	{"page_5", []string{"5"}, "workers", func(m *Map) *key.Binding { return &m.Pages[4] }},
	{"page_6", []string{"6"}, "users", func(m *Map) *key.Binding { return &m.Pages[5] }},
	{"up", []string{"k", "up"}, "up", func(m *Map) *key.Binding { return &m.Up }},
	{"down", []string{"j", "down"}, "down", func(m *Map) *key.Binding { return &m.Down }},
	{"top", []string{"g", "home"}, "top", func(m *Map) *key.Binding { return &m.Top }},
	{"bottom", []string{"G", "end"}, "bottom", func(m *Map) *key.Binding { return &m.Bottom }},
	{"page_up", []string{"pgup"}, "page up", func(m *Map) *key.Binding { return &m.PageUp }},
	{"page_down", []string{"pgdown"}, "page down", func(m *Map) *key.Binding { return &m.PageDown }},
	{"open", []string{"enter"}, "open", func(m *Map) *key.Binding { return &m.Open }},
	{"palette", []string{":", "ctrl+p"}, "commands", func(m *Map) *key.Binding { return &m.Palette }},
	{"edit", []string{"i"}, "edit", func(m *Map) *key.Binding { return &m.Edit }},
	{"external", []string{"e"}, "edit in $EDITOR", func(m *Map) *key.Binding { return &m.External }},
	{"save", []string{"ctrl+s"}, "save", func(m *Map) *key.Binding { return &m.Save }},
	{"new", []string{"n"}, "new", func(m *Map) *key.Binding { return &m.New }},
	{"delete", []string{"d"}, "delete", func(m *Map) *key.Binding { return &m.Delete }},
	{"versions", []string{"v"}, "versions", func(m *Map) *key.Binding { return &m.Versions }},
	{"diff", []string{"D"}, "diff", func(m *Map) *key.Binding { return &m.Diff }},
	{"status", []string{"s"}, "set status", func(m *Map) *key.Binding { return &m.Status }},
	{"run", []string{"r"}, "run", func(m *Map) *key.Binding { return &m.Run }},
	{"cancel", []string{"x"}, "cancel", func(m *Map) *key.Binding { return &m.Cancel }},
	{"import", []string{"I"}, "import", func(m *Map) *key.Binding { return &m.Import }},
	{"stats", []string{"S"}, "statistics", func(m *Map) *key.Binding { return &m.Stats }},
	{"restart", []string{"R"}, "restart", func(m *Map) *key.Binding { return &m.Restart }},
	{"recycle", []string{"c"}, "recycle", func(m *Map) *key.Binding { return &m.Recycle }},
	{"next_call", []string{"n"}, "next LM call", func(m *Map) *key.Binding { return &m.NextCall }},
	{"prev_call", []string{"p"}, "previous LM call", func(m *Map) *key.Binding { return &m.PrevCall }},
	{"expand", []string{"space"}, "expand/collapse", func(m *Map) *key.Binding { return &m.Expand }},
	{"compare", []string{"C"}, "compare", func(m *Map) *key.Binding { return &m.Compare }},
	{"replay", []string{"P"}, "replay module", func(m *Map) *key.Binding { return &m.Replay }},
	{"preview", []string{"w"}, "render preview", func(m *Map) *key.Binding { return &m.Preview }},
	{"refresh", []string{"ctrl+r"}, "refresh", func(m *Map) *key.Binding { return &m.Refresh }},
	{"evaluate", []string{"E"}, "evaluate", func(m *Map) *key.Binding { return &m.Evaluate }},
	{"undo", []string{"u"}, "undo", func(m *Map) *key.Binding { return &m.Undo }},
	{"credits", []string{"c"}, "change credits", func(m *Map) *key.Binding { return &m.Credits }},
	{"export", []string{"X"}, "export", func(m *Map) *key.Binding { return &m.Export }},
	{"rename", []string{"m"}, "rename", func(m *Map) *key.Binding { return &m.Rename }},
	{"copy", []string{"y"}, "copy", func(m *Map) *key.Binding { return &m.Copy }},
	{"whole", []string{"o"}, "open the row whole", func(m *Map) *key.Binding { return &m.Whole }},
	{"build_index", []string{"b"}, "build an index", func(m *Map) *key.Binding { return &m.BuildIndex }},
	{"delete_index", []string{"B"}, "delete an index", func(m *Map) *key.Binding { return &m.DeleteIndex }},
	{"traffic", []string{"T"}, "traffic split and report", func(m *Map) *key.Binding { return &m.Traffic }},
}

// Actions lists the names that New accepts as override keys, in help order.
func Actions() []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a.name
	}
	return out
}

// Default is the built-in key map.
func Default() Map {
	m, _ := New(nil)
	return m
}

// New builds the default key map with overrides applied: each entry maps an
// action name (see Actions) to the keys that replace its defaults, in the
// spelling of tea.KeyPressMsg.String ("ctrl+p", "shift+tab", "pgdown").
// An empty list unbinds the action. An unknown action is an error that names
// it and lists the known ones.
func New(overrides map[string][]string) (Map, error) {
	var m Map
	for _, a := range actions {
		*a.get(&m) = binding(a.keys, a.desc)
	}
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic error for several unknown actions
	for _, name := range names {
		i := slices.IndexFunc(actions, func(a action) bool { return a.name == name })
		if i < 0 {
			return Default(), fmt.Errorf("keys: unknown action %q (known: %s)", name, strings.Join(Actions(), ", "))
		}
		ks := overrides[name]
		for _, k := range ks {
			if strings.TrimSpace(k) == "" {
				return Default(), fmt.Errorf("keys: action %q: empty key name", name)
			}
		}
		*actions[i].get(&m) = binding(ks, actions[i].desc)
	}
	return m, nil
}

func binding(ks []string, desc string) key.Binding {
	if len(ks) == 0 {
		return key.NewBinding(key.WithDisabled())
	}
	return key.NewBinding(key.WithKeys(ks...), key.WithHelp(helpKeys(ks), desc))
}

// helpKeys spells keys for help: arrows as symbols, joined with "/".
func helpKeys(ks []string) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		switch k {
		case "up":
			k = "↑"
		case "down":
			k = "↓"
		}
		out[i] = k
	}
	return strings.Join(out, "/")
}

// pagesBinding is a help-only binding summarising the page keys.
func (m Map) pagesBinding() key.Binding {
	var ks []string
	for _, b := range m.Pages {
		if b.Enabled() {
			ks = append(ks, b.Keys()...)
		}
	}
	if len(ks) == 0 {
		return key.NewBinding(key.WithDisabled())
	}
	return key.NewBinding(key.WithKeys(ks...), key.WithHelp(strings.Join(ks, " "), "go to page"))
}

// ShortHelp is the one-line help (help.KeyMap).
func (m Map) ShortHelp() []key.Binding {
	return []key.Binding{m.Help, m.Palette, m.Filter, m.Open, m.Back, m.Quit, m.NextPage}
}

// FullHelp is the full help, in columns (help.KeyMap).
func (m Map) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.Up, m.Down, m.Top, m.Bottom, m.PageUp, m.PageDown},
		{m.Open, m.Whole, m.Back, m.Filter, m.Help, m.Palette, m.Quit},
		{m.NextPage, m.PrevPage, m.pagesBinding()},
	}
}

// PageActions are the bindings pages use. Which apply depends on the page
// and its view, so the root's help shows the page's own list (its
// bindings()) next to FullHelp; this list is for documentation and tests.
func (m Map) PageActions() []key.Binding {
	return []key.Binding{m.Edit, m.External, m.Save, m.New, m.Delete, m.Versions, m.Diff, m.Status,
		m.Run, m.Cancel, m.Import, m.Stats, m.Restart, m.Recycle, m.NextCall, m.PrevCall, m.Expand,
		m.Compare, m.Replay, m.Preview, m.Refresh, m.Evaluate, m.Undo, m.Export, m.Rename, m.Copy,
		m.BuildIndex, m.DeleteIndex, m.Traffic}
}

// As is b described as what it does where it is used ("open program");
// the keys stay. An unbound b (disabled by an override) is returned as it
// is, so it stays out of the help.
func As(b key.Binding, desc string) key.Binding {
	if b.Enabled() {
		b.SetHelp(b.Help().Key, desc)
	}
	return b
}

// Hint is a help-only binding for a key a view reads itself rather than
// through the map ("j/k", "move").
func Hint(k, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(k), key.WithHelp(k, desc))
}
