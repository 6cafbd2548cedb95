package datasets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/dialog"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// The example pane (enter on a row) of the Datasets page, and the dialogs
// it pushes: the edit/add form (i, n) and the delete confirmation (d).

// exampleSavedMsg is the answer to Datasets.PutExample; the form ends with
// it when it is good, for the page to show.
type exampleSavedMsg struct {
	isNew    bool
	fromView bool // the form was opened from the example pane: go back there
	ex       *model.Example
	err      error
}

// deleteExampleMsg is the delete confirmation's yes.
type deleteExampleMsg struct{ ex *model.Example }

// exampleDeletedMsg is the result of Datasets.DeleteExample.
type exampleDeletedMsg struct {
	dataset string
	id      model.ID
	ex      *model.Example // as it was, for the undo
	err     error
}

// exampleRestoredMsg is the result of Datasets.RestoreExample.
type exampleRestoredMsg struct {
	ex  *model.Example
	err error
}

// exampleView is the pane showing every field of one example, wrapped and
// scrollable.
type exampleView struct {
	ex     *model.Example
	scroll int
}

// exampleLines are the lines of the example pane at width w.
func exampleLines(s *themes.Styles, d *model.Dataset, ex *model.Example, w int) []string {
	var lines []string
	inner := max(w-2, 10)
	for _, f := range exampleFields(d, ex) {
		label := s.Subtitle.Render(f)
		if slices.Contains(d.InputKeys, f) {
			label += s.Muted.Render(" (input)")
		}
		v, ok := ex.Data[f]
		switch {
		case !ok:
			label += s.Muted.Render(" · missing")
		case v != nil:
			if _, isStr := v.(string); !isStr {
				label += s.Muted.Render(" · " + exampleKind(v))
			}
		}
		lines = append(lines, label)
		if ok {
			for _, l := range strings.Split(ansi.Wrap(format.Text(exampleValueText(v, true)), inner, " -"), "\n") {
				lines = append(lines, "  "+l)
			}
		}
		lines = append(lines, "")
	}
	return lines
}

// exampleFields are the dataset's fields, then any other field the example
// has, sorted.
func exampleFields(d *model.Dataset, ex *model.Example) []string {
	fields := slices.Clone(d.Fields)
	var extra []string
	if ex != nil {
		for k := range ex.Data {
			if !slices.Contains(fields, k) {
				extra = append(extra, k)
			}
		}
	}
	slices.Sort(extra)
	return append(fields, extra...)
}

func exampleKind(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case float64, json.Number, int, int64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// valueText is a value as the user reads and types it: a string as it is,
// anything else as JSON (indented when pretty).
func exampleValueText(v any, pretty bool) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	var b []byte
	var err error
	if pretty {
		if _, obj := v.(map[string]any); obj {
			b, err = json.MarshalIndent(v, "", "  ")
		} else {
			b, err = json.Marshal(v)
		}
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (p *Page) viewHeight() int { return max(p.height-2, 1) } // header and footer lines

func (p *Page) renderExampleView() string {
	s := p.styles
	v := p.exView
	d := p.ex.ds
	header := s.Title.Render(d.Name) + s.Muted.Render(fmt.Sprintf("  example %s · %s", v.ex.ID, v.ex.Split))
	lines := exampleLines(s, d, v.ex, p.width)
	h := p.viewHeight()
	v.scroll = dsClamp(v.scroll, 0, max(len(lines)-h, 0))
	end := min(v.scroll+h, len(lines))
	body := strings.Join(lines[v.scroll:end], "\n")
	foot := ""
	if len(lines) > h {
		foot = fmt.Sprintf("lines %d–%d of %d", v.scroll+1, end, len(lines))
	}
	return layout.Fit(header, p.width, 1) + "\n" + layout.Fit(body, p.width, h) + "\n" + layout.Fit(s.Muted.Render(foot), p.width, 1)
}

func dsClamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

func (p *Page) exampleViewKey(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := p.keys
	v := p.exView
	n := len(exampleLines(p.styles, p.ex.ds, v.ex, p.width))
	h := p.viewHeight()
	switch {
	case key.Matches(msg, km.Back):
		p.exView = nil
	case key.Matches(msg, km.Edit):
		e.Push(p.newForm(v.ex, true))
		return nil
	case key.Matches(msg, km.Delete):
		e.Push(p.deleteDialog(v.ex, dialog.BottomLine))
		return nil
	case key.Matches(msg, km.Undo):
		return p.undoDelete(e)
	default:
		v.scroll, _ = components.Move(msg, km, v.scroll, h, max(n-h, 0))
	}
	return nil
}

// selectedExample is the example under the table's cursor.
func (p *Page) selectedExample() *model.Example {
	if row, ok := p.ex.list.Selected(); ok && row < len(p.ex.exs) {
		return p.ex.exs[row]
	}
	return nil
}

// ---- delete -----------------------------------------------------------

// deleteDialog asks before ex is deleted, on the line where (the table's
// header, the pane's footer).
func (p *Page) deleteDialog(ex *model.Example, where dialog.Placement) *dialog.Confirm {
	yes := dialog.Choice{Keys: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "delete")), Result: deleteExampleMsg{ex: ex}}
	no := dialog.Choice{Keys: key.NewBinding(key.WithKeys(append([]string{"n", "N"}, p.keys.Back.Keys()...)...), key.WithHelp("n/esc", "keep"))}
	line := p.styles.Warning.Render(fmt.Sprintf("Delete example %s? (y/n)", ex.ID))
	return dialog.NewConfirm(p.styles, where, []string{line}, yes, no)
}

func (p *Page) deleteExample(e *page.Env, ex *model.Example) tea.Cmd {
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		return exampleDeletedMsg{dataset: ex.Dataset, id: ex.ID, ex: ex, err: repo.DeleteExample(ctx, ex.Dataset, ex.ID)}
	})
}

func (p *Page) applyDeleted(e *page.Env, msg exampleDeletedMsg) tea.Cmd {
	if msg.err != nil {
		return page.NoticeErr(fmt.Errorf("delete example: %w", msg.err))
	}
	t := &p.ex
	if t.ds != nil && t.ds.Name == msg.dataset {
		if i := t.indexOf(msg.id); i >= 0 {
			t.ds.Counts = countsWith(t.ds.Counts, t.exs[i].Split, -1)
			t.exs = slices.Delete(slices.Clone(t.exs), i, i+1)
			t.rows = slices.Delete(slices.Clone(t.rows), i, i+1)
			t.list.SetRows(t.rows)
		}
		if p.exView != nil && p.exView.ex.ID == msg.id {
			p.exView = nil
		}
	}
	p.undo = msg.ex
	// The counts on the list changed.
	return tea.Batch(page.Notice(fmt.Sprintf("deleted example %s from %s · %s undo", msg.id, msg.dataset, p.keys.Undo.Help().Key)), p.refresh(e))
}

// ---- undo -------------------------------------------------------------

// undoBinding is u as the help shows it: what it would undo, if anything.
func (p *Page) undoBinding() key.Binding {
	b := p.keys.Undo
	if p.undo == nil {
		return keys.As(b, "undo (nothing deleted)")
	}
	return keys.As(b, fmt.Sprintf("undo: restore example %s", p.undo.ID))
}

// undoDelete puts the example deleted last back, with its ID and split.
func (p *Page) undoDelete(e *page.Env) tea.Cmd {
	ex := p.undo
	if ex == nil {
		return page.Notice("nothing to undo: no example deleted here this session")
	}
	repo, ctx := p.repo, e.Ctx
	return e.Cmd(func() tea.Msg {
		back, err := repo.RestoreExample(ctx, ex)
		return exampleRestoredMsg{ex: back, err: err}
	})
}

func (p *Page) applyRestored(e *page.Env, msg exampleRestoredMsg) tea.Cmd {
	if msg.err != nil {
		return page.NoticeErr(fmt.Errorf("undo: %w", msg.err))
	}
	p.undo = nil
	ex := msg.ex
	if t := &p.ex; t.ds != nil && t.ds.Name == ex.Dataset && t.indexOf(ex.ID) < 0 {
		p.insertExample(ex)
	}
	return tea.Batch(page.Notice(fmt.Sprintf("restored example %s in %s", ex.ID, ex.Dataset)), p.refresh(e))
}

// insertExample shows ex, new to the table, under the cursor.
func (p *Page) insertExample(ex *model.Example) {
	t := &p.ex
	pos := 0
	if row, ok := t.list.Selected(); ok {
		pos = row + 1
	}
	pos = min(pos, len(t.exs))
	t.exs = slices.Insert(slices.Clone(t.exs), pos, ex)
	t.rows = slices.Insert(slices.Clone(t.rows), pos, p.exampleRow(ex))
	t.seen[ex.ID] = true
	t.list.SetRows(t.rows)
	t.list.SetCursor(pos)
	t.ds.Counts = countsWith(t.ds.Counts, ex.Split, +1)
}

// countsWith is counts with delta added to sp, as a new map (the old one
// may be read by a command).
func countsWith(counts map[model.Split]int, sp model.Split, delta int) map[model.Split]int {
	out := make(map[model.Split]int, len(counts)+1)
	for k, v := range counts {
		out[k] = v
	}
	out[sp] += delta
	if out[sp] <= 0 {
		delete(out, sp)
	}
	return out
}

// ---- edit / add form ----------------------------------------------------

// exampleForm edits one example (orig set) or a new one: one input per
// field and one for the split. It saves the example itself and ends with
// the answer.
type exampleForm struct {
	page.Defaults
	styles    *themes.Styles
	keys      keys.Map
	repo      Datasets
	ds        *model.Dataset
	orig      *model.Example // nil when adding
	fromView  bool           // opened from the example pane: go back there
	fields    []formField
	split     textinput.Model
	origSplit string
	focus     int // index into fields; len(fields) is the split
	err       string
	errField  int // the field the error is about, -1 for none
	saving    bool

	width, height int
}

// formField is one field's input: a textarea for text, lists and objects,
// a textinput for numbers and booleans.
type formField struct {
	name   string
	orig   any
	text   string // the text the field opened with: it is changed when it differs
	had    bool   // the example had the field
	area   *textarea.Model
	input  *textinput.Model
	height int
}

func (f *formField) value() string {
	if f.area != nil {
		return f.area.Value()
	}
	return f.input.Value()
}

func (f *formField) focus() tea.Cmd {
	if f.area != nil {
		return f.area.Focus()
	}
	return f.input.Focus()
}

func (f *formField) blur() {
	if f.area != nil {
		f.area.Blur()
	} else {
		f.input.Blur()
	}
}

func newArea(s *themes.Styles, value string) *textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.CharLimit = 0
	ta.MaxHeight = 0
	ta.Prompt = "│ "
	st := textarea.Styles{
		Focused: textarea.StyleState{Prompt: s.Accent, Placeholder: s.Muted, EndOfBuffer: s.Muted, Text: lipgloss.NewStyle()},
		Blurred: textarea.StyleState{Prompt: s.Muted, Placeholder: s.Muted, EndOfBuffer: s.Muted, Text: s.Muted},
		Cursor:  textarea.CursorStyle{Color: s.Accent.GetForeground(), Shape: tea.CursorBlock, Blink: false},
	}
	ta.SetStyles(st)
	ta.SetValue(value)
	ta.MoveToBegin()
	ta.Blur()
	return &ta
}

func newInput(s *themes.Styles, value, placeholder string) *textinput.Model {
	ti := textinput.New()
	ti.Prompt = "│ "
	ti.Placeholder = placeholder
	ti.CharLimit = 0
	ti.SetStyles(textinput.Styles{
		Focused: textinput.StyleState{Prompt: s.Accent, Placeholder: s.Muted, Text: lipgloss.NewStyle()},
		Blurred: textinput.StyleState{Prompt: s.Muted, Placeholder: s.Muted, Text: s.Muted},
		Cursor:  textinput.CursorStyle{Color: s.Accent.GetForeground(), Shape: tea.CursorBlock, Blink: false},
	})
	ti.SetValue(value)
	ti.CursorStart()
	ti.Blur()
	return &ti
}

// newForm is the form on ex of the open dataset, or on a new example when
// ex is nil.
func (p *Page) newForm(ex *model.Example, fromView bool) *exampleForm {
	f := &exampleForm{styles: p.styles, keys: p.keys, repo: p.repo, ds: p.ex.ds, orig: ex, fromView: fromView, errField: -1}
	for _, name := range exampleFields(p.ex.ds, ex) {
		ff := formField{name: name}
		if ex != nil {
			ff.orig, ff.had = ex.Data[name]
		}
		switch ff.orig.(type) {
		case bool, float64, json.Number, int, int64:
			ff.input = newInput(p.styles, exampleValueText(ff.orig, false), "")
		default:
			ff.area = newArea(p.styles, exampleValueText(ff.orig, true))
		}
		ff.text = ff.value()
		f.fields = append(f.fields, ff)
	}
	split := string(model.Train)
	if ex != nil {
		split = string(ex.Split)
	}
	si := newInput(p.styles, split, "train, validation or test")
	f.split = *si
	f.origSplit = f.split.Value()
	return f
}

func (f *exampleForm) Enter(e *page.Env) tea.Cmd { return e.Wrap(f.focusCmd()) }
func (f *exampleForm) Typing() bool              { return true }

func (f *exampleForm) Bindings() []key.Binding {
	km := f.keys
	return []key.Binding{km.Save, keys.As(km.NextPage, "next field"), keys.As(km.PrevPage, "previous field"), keys.As(km.Back, "cancel")}
}

func (f *exampleForm) focusCmd() tea.Cmd {
	if f.focus < len(f.fields) {
		return f.fields[f.focus].focus()
	}
	return f.split.Focus()
}

func (f *exampleForm) blurAll() {
	for i := range f.fields {
		f.fields[i].blur()
	}
	f.split.Blur()
}

// SetSize sizes the inputs to the body: text areas share the lines left
// after the title, labels, split and hint, between 1 and 8 lines each.
func (f *exampleForm) SetSize(w, h int) {
	f.width, f.height = w, h
	f.layout()
}

func (f *exampleForm) layout() {
	w := max(f.width-2, 10)
	areas := 0
	for _, ff := range f.fields {
		if ff.area != nil {
			areas++
		}
	}
	// title, hint, split label + input, one label per field, one line per input
	fixed := 4 + 2*len(f.fields) - areas
	h := 1
	if areas > 0 {
		h = dsClamp((f.height-fixed)/areas, 1, 8)
	}
	for i := range f.fields {
		ff := &f.fields[i]
		if ff.area != nil {
			// As tall as the text (and a line to type on), up to its share.
			need := strings.Count(ansi.Wrap(ff.area.Value(), max(w-2, 1), " -"), "\n") + 2
			ff.area.SetWidth(w)
			ff.area.SetHeight(min(need, h))
			ff.height = min(need, h)
		} else {
			ff.input.SetWidth(w - 2)
			ff.height = 1
		}
	}
	f.split.SetWidth(w - 2)
}

func (f *exampleForm) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := f.keys
	if f.saving {
		return nil
	}
	switch {
	case key.Matches(msg, km.Back):
		dialog.Leave(e, f.styles, f)
		return nil
	case key.Matches(msg, km.Save):
		return f.save(e)
	case key.Matches(msg, km.NextPage), key.Matches(msg, km.PrevPage):
		f.blurAll()
		n := len(f.fields) + 1
		if key.Matches(msg, km.NextPage) {
			f.focus = (f.focus + 1) % n
		} else {
			f.focus = (f.focus + n - 1) % n
		}
		return e.Wrap(f.focusCmd())
	}
	return e.Wrap(f.edit(msg))
}

// edit hands an input to the focused field.
func (f *exampleForm) edit(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	if f.focus < len(f.fields) {
		ff := &f.fields[f.focus]
		if ff.area != nil {
			*ff.area, cmd = ff.area.Update(msg)
			f.layout() // grow with the text
		} else {
			*ff.input, cmd = ff.input.Update(msg)
		}
	} else {
		f.split, cmd = f.split.Update(msg)
	}
	return cmd
}

// Dirty, Editing and Save make the form a page.Saver: esc, and the shell
// before it quits, ask before its changes are lost.
func (f *exampleForm) Dirty() bool {
	for _, ff := range f.fields {
		if ff.value() != ff.text {
			return true
		}
	}
	return f.split.Value() != f.origSplit
}

func (f *exampleForm) Editing() string {
	if f.orig == nil {
		return "a new example of " + f.ds.Name
	}
	return fmt.Sprintf("example %s of %s", f.orig.ID, f.ds.Name)
}

func (f *exampleForm) Save(e *page.Env) tea.Cmd { return f.save(e) }

// Update takes the save's answer, the answer to the unsaved-changes
// question, and what is not a key (a paste) for the focused field.
func (f *exampleForm) Update(e *page.Env, msg tea.Msg) tea.Cmd {
	if cmd, ok := dialog.Answer(e, f, msg); ok {
		return cmd
	}
	m, ok := msg.(exampleSavedMsg)
	if !ok {
		return e.Wrap(f.edit(msg))
	}
	f.saving = false
	if m.err != nil {
		f.err, f.errField = "save: "+m.err.Error(), -1
		return nil
	}
	e.Close(m)
	return nil
}

// parseValue turns what was typed for a field back into a value. A field
// keeps the type it had: text stays text, a number must be a number, a
// list a list. A field the example did not have (or a new example's) is
// JSON when the text is a JSON number, boolean or list, else text; left
// empty, it stays absent. drop reports that the field is to be left out.
func parseValue(text string, orig any, had bool) (v any, drop bool, err error) {
	trimmed := strings.TrimSpace(text)
	if !had || orig == nil {
		if trimmed == "" {
			return nil, true, nil
		}
		if j, ok := jsonValue(trimmed); ok {
			switch j.(type) {
			case json.Number, bool, []any:
				return j, false, nil
			}
		}
		return text, false, nil
	}
	if _, ok := orig.(string); ok {
		return text, false, nil
	}
	if trimmed == "" {
		return nil, true, nil
	}
	j, ok := jsonValue(trimmed)
	want := exampleKind(orig)
	if !ok || exampleKind(j) != want {
		return nil, false, fmt.Errorf("want a %s (it was %s), got %q", want, exampleValueText(orig, false), dsClip(trimmed, 30))
	}
	return j, false, nil
}

func dsClip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// jsonValue decodes s as one JSON value, numbers as json.Number.
func jsonValue(s string) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	return v, true
}

// save checks the form (in Update: no I/O) and returns the command that
// writes the example.
func (f *exampleForm) save(e *page.Env) tea.Cmd {
	f.err, f.errField = "", -1
	sp, err := model.ParseSplit(strings.TrimSpace(f.split.Value()))
	if err != nil {
		f.err, f.errField = "split: "+err.Error(), len(f.fields)
		return nil
	}
	ex := &model.Example{Dataset: f.ds.Name, Split: sp, Data: map[string]any{}}
	if f.orig != nil {
		ex.ID = f.orig.ID
	}
	for i, ff := range f.fields {
		v, drop, err := parseValue(ff.value(), ff.orig, ff.had)
		if err != nil {
			f.err, f.errField = ff.name+": "+err.Error(), i
			return nil
		}
		if !drop {
			ex.Data[ff.name] = v
		}
	}
	f.saving = true
	repo, ctx, isNew, fromView := f.repo, e.Ctx, f.orig == nil, f.fromView
	return e.Cmd(func() tea.Msg {
		saved, err := repo.PutExample(ctx, ex)
		return exampleSavedMsg{isNew: isNew, fromView: fromView, ex: saved, err: err}
	})
}

// applySaved shows a saved example in the table, and in the pane.
func (p *Page) applySaved(e *page.Env, msg exampleSavedMsg) tea.Cmd {
	ex := msg.ex
	t := &p.ex
	if msg.isNew {
		p.insertExample(ex)
	} else if i := t.indexOf(ex.ID); i >= 0 {
		if old := t.exs[i].Split; old != ex.Split {
			t.ds.Counts = countsWith(countsWith(t.ds.Counts, old, -1), ex.Split, +1)
		}
		t.exs = slices.Clone(t.exs)
		t.exs[i] = ex
		t.rows = slices.Clone(t.rows)
		t.rows[i] = p.exampleRow(ex)
		t.list.SetRows(t.rows)
	}
	if msg.fromView || msg.isNew {
		p.exView = &exampleView{ex: ex}
	}
	verb := "saved"
	if msg.isNew {
		verb = "added"
	}
	// The counts on the list changed.
	return tea.Batch(page.Notice(fmt.Sprintf("%s example %s in %s", verb, ex.ID, ex.Dataset)), p.refresh(e))
}

// Render draws the form over the whole body.
func (f *exampleForm) Render(func() string) string {
	s := f.styles
	d := f.ds
	title := s.Title.Render(d.Name) + s.Muted.Render("  new example")
	if f.orig != nil {
		title = s.Title.Render(d.Name) + s.Muted.Render(fmt.Sprintf("  edit example %s", f.orig.ID))
	}
	var lines []string
	focusStart, focusEnd := 0, 0
	for i := range f.fields {
		ff := &f.fields[i]
		label := s.Subtitle.Render(ff.name)
		if slices.Contains(d.InputKeys, ff.name) {
			label += s.Muted.Render(" (input)")
		}
		if ff.had && ff.orig != nil {
			label += s.Muted.Render(" · " + exampleTypeLabel(ff.orig))
		}
		if i == f.errField {
			label += "  " + s.Error.Render("✗")
		}
		if i == f.focus {
			focusStart = len(lines)
		}
		lines = append(lines, label)
		var view string
		if ff.area != nil {
			view = ff.area.View()
		} else {
			view = ff.input.View()
		}
		lines = append(lines, strings.Split(view, "\n")...)
		if i == f.focus {
			focusEnd = len(lines)
		}
	}
	if f.focus == len(f.fields) {
		focusStart = len(lines)
	}
	splitLabel := s.Subtitle.Render("split")
	if f.errField == len(f.fields) {
		splitLabel += "  " + s.Error.Render("✗")
	}
	lines = append(lines, splitLabel, f.split.View())
	if f.focus == len(f.fields) {
		focusEnd = len(lines)
	}
	h := max(f.height-2, 1)
	// Scroll so that the focused input is in view.
	off := 0
	if len(lines) > h {
		off = dsClamp(focusEnd-h, 0, len(lines)-h)
		off = min(off, focusStart)
	}
	body := strings.Join(lines[off:min(off+h, len(lines))], "\n")
	var hint string
	switch {
	case f.saving:
		hint = s.Muted.Render("saving…")
	case f.err != "":
		hint = s.Error.Render(format.Line(f.err))
	default:
		hint = s.Muted.Render("ctrl+s save · tab/shift+tab next/previous field · esc cancel")
	}
	return layout.Fit(title, f.width, 1) + "\n" + layout.Fit(body, f.width, h) + "\n" + layout.Fit(hint, f.width, 1)
}

// typeLabel names a value's type in the form's labels, for the values
// typed as JSON.
func exampleTypeLabel(v any) string {
	if _, ok := v.(string); ok {
		return "text"
	}
	return exampleKind(v) + " (JSON)"
}
