package tui

// The shell's own dialogs: the command palette and the help. Both answer
// to the shell (shell), which runs what the user chose.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// action is one entry of the command palette: what it is called, the keys
// that do the same, and the message it sends when chosen.
type action struct {
	title string
	keys  string
	msg   tea.Msg
}

// Results of the shell's dialogs, for the shell.
type (
	// paletteRunMsg runs an action chosen in the palette.
	paletteRunMsg struct{ action action }
	// helpKeyMsg is a key the help closed for: the shell handles it as if
	// the help had not been open (a page's number, the palette).
	helpKeyMsg struct{ key tea.KeyPressMsg }
	// gotoPageMsg shows a page.
	gotoPageMsg struct{ page Page }
	// themeMsg switches the theme.
	themeMsg struct{ name string }
)

// shellResult handles the result of one of the shell's dialogs.
func (m *Model) shellResult(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case paletteRunMsg:
		return m.runAction(msg.action)
	case helpKeyMsg:
		return m.handleKey(msg.key)
	case leaveAnswer:
		return m.answerLeave(msg)
	case leaveRetry:
		return m.retryLeave(msg)
	}
	return nil
}

// runAction runs a chosen action as if its key had been pressed.
func (m *Model) runAction(a action) tea.Cmd {
	switch msg := a.msg.(type) {
	case tea.QuitMsg:
		return m.leave(leaving{quit: true})
	case gotoPageMsg:
		return m.leave(leaving{to: msg.page})
	case themeMsg:
		return m.setTheme(msg)
	case tea.KeyPressMsg:
		m.notice = page.NoticeMsg{}
		return m.handleKey(msg)
	}
	return nil
}

// actionsFor lists what can be done now: the page's own actions first (they
// are what the user most likely looks for), then the shell's.
func (m *Model) actionsFor() []action {
	var out []action
	name := m.page.String()
	for _, b := range m.pageAt(m.page).Bindings() {
		if !b.Enabled() || len(b.Keys()) == 0 {
			continue
		}
		out = append(out, action{title: name + ": " + b.Help().Desc, keys: b.Help().Key, msg: keyPress(b.Keys()[0])})
	}
	km := m.env.Keys
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

func (m *Model) openPalette() tea.Cmd {
	return m.push(newPalette(m.env.Styles, m.actionsFor()), shell)
}

// setTheme switches every page and dialog to a built-in theme, in place.
func (m *Model) setTheme(msg themeMsg) tea.Cmd {
	p, err := themes.Get(msg.name)
	if err != nil {
		m.notice = page.NoticeMsg{Text: err.Error(), Err: true}
		return nil
	}
	*m.env.Styles = *themes.New(p)
	m.applyHelpStyles()
	// Lists and text areas keep their own copy of their styles; refresh them.
	type restyler interface{ Restyle() }
	for i := range pageCount {
		if r, ok := m.pageAt(i).(restyler); ok {
			r.Restyle()
		}
	}
	for _, ent := range m.stack.Entries() {
		if r, ok := ent.Dialog.(restyler); ok {
			r.Restyle()
		}
	}
	m.notice = page.NoticeMsg{Text: "theme " + msg.name}
	return nil
}

// palette is the command palette (`:` or ctrl+p): every action of the shell
// and of the page on screen, fuzzy-filtered as the user types.
type palette struct {
	page.Defaults
	styles  *themes.Styles
	pattern string
	actions []action
	list    components.List

	width, height int
}

// paletteFilterMsg carries a filter result for the palette.
type paletteFilterMsg struct{ res components.FilterResult }

var paletteColumns = []components.Column{
	{Title: "COMMAND", Flex: 3, MinWidth: 16},
	{Title: "KEYS", Width: 12},
}

func newPalette(s *themes.Styles, actions []action) *palette {
	p := &palette{styles: s, actions: actions, list: components.NewList(paletteColumns, 0, components.ThemeStyles(s))}
	rows := make([]components.Row, len(actions))
	for i, a := range actions {
		rows[i] = components.Row{a.title, a.keys}
	}
	p.list.SetRows(rows)
	return p
}

func (p *palette) Typing() bool            { return true }
func (p *palette) Bindings() []key.Binding { return nil }

func (p *palette) SetSize(w, h int) {
	p.width, p.height = w, h
	p.list.SetHeight(p.listHeight())
}

// listHeight leaves room for the title line, the pattern and the box.
func (p *palette) listHeight() int { return max(min(len(p.actions)+2, p.height-4), 3) }

func (p *palette) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if m, ok := msg.(paletteFilterMsg); ok {
		p.list.SetFilterResult(m.res)
	}
	return nil
}

func (p *palette) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case msg.Code == tea.KeyEscape:
		e.Close(nil)
	case msg.Code == tea.KeyEnter:
		// enter acts on what was typed, not on the last filter result that
		// came back: when one is still on its way (typing fast), filter
		// now. The palette's few dozen actions filter in microseconds; the
		// late result is then stale (its request is older) and dropped.
		if p.pattern != p.list.Pattern() {
			p.list.SetFilterResult(components.Filter(e.Ctx, p.list.FilterRequest(p.pattern)))
		}
		if row, ok := p.list.Selected(); ok && row < len(p.actions) {
			e.Close(paletteRunMsg{action: p.actions[row]})
		} else {
			e.Close(nil)
		}
	case msg.Code == tea.KeyUp || msg.String() == "ctrl+k":
		p.list.Up()
	case msg.Code == tea.KeyDown || msg.String() == "ctrl+j":
		p.list.Down()
	case msg.Code == tea.KeyBackspace:
		if p.pattern == "" {
			return nil
		}
		_, size := utf8.DecodeLastRuneInString(p.pattern)
		p.pattern = p.pattern[:len(p.pattern)-size]
		return p.filter(e)
	case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
		p.pattern += msg.Text
		return p.filter(e)
	}
	return nil
}

// filter runs the filter off the Update loop: FilterRequest records the
// request in the list, so that older results are recognised as stale.
func (p *palette) filter(e *page.Env) tea.Cmd {
	req := p.list.FilterRequest(p.pattern)
	ctx := e.Ctx
	return e.Cmd(func() tea.Msg { return paletteFilterMsg{res: components.Filter(ctx, req)} })
}

// Render draws the palette over the whole body.
func (p *palette) Render(func() string) string {
	s := p.styles
	w := min(p.width, 72)
	h := p.listHeight()
	line := s.Accent.Render(": ") + p.pattern + s.Accent.Render("█")
	if p.pattern != p.list.Pattern() {
		line += s.Muted.Render("  filtering…")
	}
	body := layout.Fit(line, max(w-4, 1), 1) + "\n" + p.list.Render(max(w-4, 1), h)
	title := s.Title.Render(" Commands ") + s.Muted.Render(fmt.Sprintf(" %d · enter run · esc close", p.list.Len()))
	return layout.Fit(layout.Fit(title, p.width, 1)+"\n"+layout.Box(body, w, h+3, s), p.width, p.height)
}

// helpView is the full help over the body: the shell's keys and those of
// the view under it.
type helpView struct {
	page.Defaults
	styles   *themes.Styles
	keys     keys.Map
	help     help.Model
	below    []key.Binding // the keys of the view under the help
	overPage bool          // no dialog under it: page keys switch pages

	width, height int
}

func (m *Model) openHelp() tea.Cmd {
	var below []key.Binding
	if top, ok := m.stack.Top(); ok {
		below = top.Dialog.Bindings()
	} else {
		below = m.pageAt(m.page).Bindings()
	}
	h := &helpView{styles: m.env.Styles, keys: m.env.Keys, help: m.help, below: below, overPage: m.stack.Len() == 0}
	return m.push(h, shell)
}

// Typing: the help reads every key itself (? and esc close it).
func (h *helpView) Typing() bool            { return true }
func (h *helpView) Bindings() []key.Binding { return h.below }

func (h *helpView) SetSize(w, hh int) {
	h.width, h.height = w, hh
	h.help.SetWidth(w)
}

func (h *helpView) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := h.keys
	switch {
	case key.Matches(msg, km.Help), key.Matches(msg, km.Back):
		e.Close(nil)
	case key.Matches(msg, km.Quit):
		// The shell quits, asking first about what is unsaved under the help.
		e.Close(paletteRunMsg{action: action{msg: tea.QuitMsg{}}})
	case !h.overPage:
	case key.Matches(msg, km.Palette), key.Matches(msg, km.NextPage), key.Matches(msg, km.PrevPage):
		e.Close(helpKeyMsg{key: msg})
	default:
		for _, b := range km.Pages {
			if key.Matches(msg, b) {
				e.Close(helpKeyMsg{key: msg})
			}
		}
	}
	return nil
}

func (h *helpView) Render(func() string) string {
	w, s := h.width, h.styles
	cols := h.keys.FullHelp()
	full := h.help.FullHelpView(cols)
	if pb := h.below; len(pb) > 0 {
		// Beside the shell's keys when they fit, else below them in
		// columns of their own, so nothing is cut at 80 columns.
		if wide := h.help.FullHelpView(append(cols, pb)); ansi.StringWidth(lastLine(wide)) <= w && !strings.Contains(wide, "…") {
			full = wide
		} else {
			var pcols [][]key.Binding
			per := max((len(pb)+2)/3, 1)
			for i := 0; i < len(pb); i += per {
				pcols = append(pcols, pb[i:min(i+per, len(pb))])
			}
			full += "\n\n" + s.Subtitle.Render("On this page") + "\n" + h.help.FullHelpView(pcols)
		}
	}
	return layout.Fit(s.Title.Render("Keys")+s.Muted.Render("  (? or esc to close)")+"\n\n"+full, w, h.height)
}

func lastLine(s string) string { return s[strings.LastIndexByte(s, '\n')+1:] }

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
	_, tabs := tabBar(m.width)
	for i, t := range tabs {
		if x >= t.x && x < t.x+ansi.StringWidth(t.label) {
			return Page(i), true
		}
	}
	return 0, false
}
