package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/layout"
)

// action is one entry of the command palette: what it is called, the keys
// that do the same, and the message it sends when chosen.
type action struct {
	title string
	keys  string
	msg   tea.Msg
}

// palette is the command palette (`:` or ctrl+p): every action of the shell
// and of the page on screen, fuzzy-filtered as the user types.
type palette struct {
	open    bool
	pattern string
	actions []action
	list    components.List
}

// paletteFilterMsg carries a filter result for the palette.
type paletteFilterMsg struct{ res components.FilterResult }

// paletteRunMsg runs an action chosen in the palette.
type paletteRunMsg struct{ action action }

// themeMsg switches the theme.
type themeMsg struct{ name string }

var paletteColumns = []components.Column{
	{Title: "COMMAND", Flex: 3, MinWidth: 16},
	{Title: "KEYS", Width: 12},
}

func newPalette() palette { return palette{} }

// actionsFor lists what can be done now: the page's own actions first (they
// are what the user most likely looks for), then the shell's.
func (m *Model) actionsFor() []action {
	var out []action
	page := m.page.String()
	for _, b := range m.pageAt(m.page).bindings() {
		if !b.Enabled() || len(b.Keys()) == 0 {
			continue
		}
		out = append(out, action{title: page + ": " + b.Help().Desc, keys: b.Help().Key, msg: keyPress(b.Keys()[0])})
	}
	km := m.env.keys
	for i := range pageCount {
		out = append(out, action{title: "Go to " + i.String(), keys: strings.Join(km.Pages[i].Keys(), " "), msg: gotoPageMsg{page: i}})
	}
	for _, name := range themes.Names() {
		out = append(out, action{title: "Theme: " + name, msg: themeMsg{name: name}})
	}
	out = append(out,
		action{title: "Help: all keys", keys: km.Help.Help().Key, msg: keyPress(firstKey(km.Help))},
		action{title: "Quit", keys: km.Quit.Help().Key, msg: tea.QuitMsg{}},
	)
	return out
}

func firstKey(b key.Binding) string {
	if ks := b.Keys(); len(ks) > 0 {
		return ks[0]
	}
	return ""
}

func (m Model) openPalette() (tea.Model, tea.Cmd) {
	p := &m.palette
	p.open, p.pattern = true, ""
	p.actions = m.actionsFor()
	p.list = components.NewList(paletteColumns, 0, components.ThemeStyles(m.env.styles))
	rows := make([]components.Row, len(p.actions))
	for i, a := range p.actions {
		rows[i] = components.Row{a.title, a.keys}
	}
	p.list.SetRows(rows)
	p.list.SetHeight(m.paletteListHeight())
	return m, nil
}

func (m Model) paletteListHeight() int {
	return max(min(len(m.palette.actions)+2, m.bodyHeight()-3), 3)
}

func (m Model) paletteKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	p := &m.palette
	switch {
	case msg.Code == tea.KeyEscape:
		p.open = false
		return m, nil
	case msg.Code == tea.KeyEnter:
		p.open = false
		if row, ok := p.list.Selected(); ok && row < len(p.actions) {
			a := p.actions[row]
			return m, func() tea.Msg { return paletteRunMsg{action: a} }
		}
		return m, nil
	case msg.Code == tea.KeyUp || msg.String() == "ctrl+k":
		p.list.Up()
	case msg.Code == tea.KeyDown || msg.String() == "ctrl+j":
		p.list.Down()
	case msg.Code == tea.KeyBackspace:
		if p.pattern == "" {
			return m, nil
		}
		_, size := utf8.DecodeLastRuneInString(p.pattern)
		p.pattern = p.pattern[:len(p.pattern)-size]
		return m, m.paletteFilter()
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		p.pattern += msg.Text
		return m, m.paletteFilter()
	}
	return m, nil
}

// paletteFilter has a pointer receiver: FilterRequest records the request
// in the list, so that older results are recognised as stale.
func (m *Model) paletteFilter() tea.Cmd {
	req := m.palette.list.FilterRequest(m.palette.pattern)
	ctx := m.env.ctx
	return func() tea.Msg { return paletteFilterMsg{res: components.Filter(ctx, req)} }
}

// runAction runs a chosen action as if its message had arrived.
func (m Model) runAction(a action) (tea.Model, tea.Cmd) {
	if _, ok := a.msg.(tea.QuitMsg); ok {
		return m, tea.Quit
	}
	return m.Update(a.msg)
}

// setTheme switches every page to a built-in theme, in place.
func (m Model) setTheme(msg themeMsg) (tea.Model, tea.Cmd) {
	p, err := themes.Get(msg.name)
	if err != nil {
		m.notice = noticeMsg{text: err.Error(), err: true}
		return m, nil
	}
	*m.env.styles = *themes.New(p)
	m.applyHelpStyles()
	// Lists keep their own copy of the list styles; refresh them.
	for i := range pageCount {
		if r, ok := m.pageAt(i).(interface{ restyle() }); ok {
			r.restyle()
		}
	}
	m.notice = noticeMsg{text: "theme " + msg.name}
	return m, nil
}

// renderPalette draws the palette over the page body.
func (m Model) renderPalette() string {
	s := m.env.styles
	p := &m.palette
	w := min(m.width, 72)
	h := m.paletteListHeight()
	line := s.Accent.Render(": ") + p.pattern + s.Accent.Render("█")
	if p.pattern != p.list.Pattern() {
		line += s.Muted.Render("  filtering…")
	}
	body := layout.Fit(line, max(w-4, 1), 1) + "\n" + p.list.Render(max(w-4, 1), h)
	title := s.Title.Render(" Commands ") + s.Muted.Render(fmt.Sprintf(" %d · enter run · esc close", p.list.Len()))
	return layout.Fit(title, m.width, 1) + "\n" + layout.Box(body, w, h+3, s)
}

// keyPress builds the key press a key name from a key.Binding stands for
// ("enter", "ctrl+s", "G", "space"), so that a palette action does exactly
// what its key does.
func keyPress(name string) tea.KeyPressMsg {
	var mod tea.KeyMod
	for {
		switch {
		case strings.HasPrefix(name, "ctrl+"):
			mod |= tea.ModCtrl
			name = name[5:]
			continue
		case strings.HasPrefix(name, "alt+"):
			mod |= tea.ModAlt
			name = name[4:]
			continue
		case strings.HasPrefix(name, "shift+"):
			mod |= tea.ModShift
			name = name[6:]
			continue
		}
		break
	}
	codes := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "space": tea.KeySpace,
		"backspace": tea.KeyBackspace, "up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft,
		"right": tea.KeyRight, "home": tea.KeyHome, "end": tea.KeyEnd, "pgup": tea.KeyPgUp,
		"pgdown": tea.KeyPgDown, "delete": tea.KeyDelete,
	}
	if c, ok := codes[name]; ok {
		k := tea.KeyPressMsg{Code: c, Mod: mod}
		if c == tea.KeySpace && mod == 0 {
			k.Text = " "
		}
		return k
	}
	r, _ := utf8.DecodeRuneInString(name)
	if mod != 0 {
		return tea.KeyPressMsg{Code: r, Mod: mod}
	}
	return tea.KeyPressMsg{Code: r, Text: name}
}

// tabAt maps a column of the tab bar to the page whose tab is there.
func (m Model) tabAt(x int) (Page, bool) {
	col := ansi.StringWidth(" signet ")
	for i, name := range pageNames {
		w := 1 + ansi.StringWidth(fmt.Sprintf(" %d %s ", i+1, name))
		if x >= col+1 && x < col+w {
			return Page(i), true
		}
		col += w
	}
	return 0, false
}
