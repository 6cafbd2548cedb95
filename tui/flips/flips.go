// Package flips is the flip view: examples across two or more sides
// (optimization runs' validation results, evaluations), pass or fail per
// side, the examples the sides disagree on marked; enter on an example
// opens the traces of the executions that ran it side by side, where the
// sides recorded executions. The comparison of optimization runs and the
// Evaluations page both open it.
package flips

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/components"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/keys"
	"github.com/signet-dspy/signet/tui/layout"
	"github.com/signet-dspy/signet/tui/page"
)

// Traces opens the trace of an execution (runs.Screens.Trace).
type Traces func(id model.ID) page.Dialog

// Side is one column of the view.
type Side struct {
	Label string // "A 3f2a91c0 mipro_v2", "eval 77aa01b2 v3"
	Side  model.FlipSide
}

// View is the flip view, full screen.
type View struct {
	page.Defaults
	styles *themes.Styles
	traces Traces
	title  string
	labels []string
	rows   []model.ExampleRow
	flips  int

	onlyFlips bool
	shown     []int // indexes into rows on screen
	cursor    int
	offset    int

	width, height int
}

// New is the flip view of sides under title; traces opens an execution's
// trace (nil: none is opened).
func New(s *themes.Styles, traces Traces, title string, sides []Side) *View {
	fs := make([]model.FlipSide, len(sides))
	labels := make([]string, len(sides))
	for i, sd := range sides {
		fs[i], labels[i] = sd.Side, sd.Label
	}
	rows, flips := model.FlipMatrix(fs)
	v := &View{styles: s, traces: traces, title: title, labels: labels, rows: rows, flips: flips}
	v.filter()
	return v
}

// FromRows is the flip view of rows a comparison already set side by side.
func FromRows(s *themes.Styles, traces Traces, title string, labels []string, rows []model.ExampleRow, flips int) *View {
	v := &View{styles: s, traces: traces, title: title, labels: labels, rows: rows, flips: flips}
	v.filter()
	return v
}

func (v *View) filter() {
	v.shown = v.shown[:0]
	for i, r := range v.rows {
		if !v.onlyFlips || r.Flip {
			v.shown = append(v.shown, i)
		}
	}
	v.cursor = min(v.cursor, max(len(v.shown)-1, 0))
}

func (v *View) Typing() bool     { return false }
func (v *View) SetSize(w, h int) { v.width, v.height = w, h }

// listHeight is the rows on screen: a title, a header and a legend line.
func (v *View) listHeight() int { return max(v.height-3, 1) }

func (v *View) Bindings() []key.Binding {
	k := keys.Hint
	return []key.Binding{k("enter", "the example's traces side by side"), k("f", "only flips / all"), k("j/k", "move"), k("esc", "back")}
}

// Selected is the example under the cursor.
func (v *View) Selected() (model.ExampleRow, bool) {
	if v.cursor < len(v.shown) {
		return v.rows[v.shown[v.cursor]], true
	}
	return model.ExampleRow{}, false
}

func (v *View) Key(e *page.Env, msg tea.KeyPressMsg) tea.Cmd {
	km := e.Keys
	switch {
	case key.Matches(msg, km.Back):
		e.Close(nil)
	case msg.String() == "f":
		v.onlyFlips = !v.onlyFlips
		v.filter()
	case key.Matches(msg, km.Open):
		return v.open(e)
	default:
		v.cursor, _ = components.Move(msg, km, v.cursor, v.listHeight(), len(v.shown)-1)
	}
	v.cursor = min(max(v.cursor, 0), max(len(v.shown)-1, 0))
	return nil
}

func (v *View) Mouse(e *page.Env, msg tea.MouseMsg, x, y int) tea.Cmd {
	switch m := msg.(type) {
	case tea.MouseWheelMsg:
		v.cursor = min(max(v.cursor+components.WheelDelta(m), 0), max(len(v.shown)-1, 0))
	case tea.MouseClickMsg:
		if i := v.offset + y - 2; y >= 2 && i < len(v.shown) {
			v.cursor = i
		}
	}
	return nil
}

// open shows the traces of the selected example: the two sides that
// disagree on it (else the first two), each side's execution where one
// was recorded.
func (v *View) open(e *page.Env) tea.Cmd {
	row, ok := v.Selected()
	if !ok {
		return nil
	}
	a, b := pickPair(row)
	if len(row.Executions) == 0 || (row.Executions[a].IsZero() && (b < 0 || row.Executions[b].IsZero())) {
		return page.Notice("no trace of this example is stored: an optimizer runs its trials inside DSPy, without executions; evaluations record one per example")
	}
	if v.traces == nil {
		return page.Notice("traces cannot be opened here")
	}
	sides := []pairSide{v.pairSide(row, a)}
	if b >= 0 {
		sides = append(sides, v.pairSide(row, b))
	}
	e.Push(newPair(v.styles, format.RunID(row.Example), sides))
	return nil
}

func (v *View) pairSide(row model.ExampleRow, i int) pairSide {
	ps := pairSide{label: v.labels[i], pass: row.Pass[i]}
	if x := row.Executions[i]; !x.IsZero() {
		ps.trace = v.traces(x)
	}
	return ps
}

// pickPair is the two sides to set side by side: the first that disagree,
// else the first two with an outcome; b is -1 when there is one side.
func pickPair(row model.ExampleRow) (a, b int) {
	var seen []int
	for i, p := range row.Pass {
		if p != nil {
			seen = append(seen, i)
		}
	}
	for _, i := range seen {
		for _, j := range seen {
			if j > i && *row.Pass[i] != *row.Pass[j] {
				return i, j
			}
		}
	}
	switch len(seen) {
	case 0:
		return 0, min(1, len(row.Pass)-1)
	case 1:
		return seen[0], -1
	}
	return seen[0], seen[1]
}

// Render draws the legend of the sides and the matrix, scrolled to the
// cursor.
func (v *View) Render(func() string) string {
	s := v.styles
	w, h := v.width, v.listHeight()
	which := "all examples"
	if v.onlyFlips {
		which = "only flips"
	}
	title := s.Title.Render(v.title) + s.Muted.Render(fmt.Sprintf(" · %s · %s · %s · f toggles · enter traces · esc back", format.Count(len(v.rows), "example"), format.Count(v.flips, "flip"), which))
	lines := []string{layout.Fit(title, w, 1)}
	colW := v.colWidth()
	var hdr strings.Builder
	hdr.WriteString(s.Muted.Render(layout.PadRight("  example", 12)))
	for i := range v.labels {
		hdr.WriteString(s.Header.Render(layout.PadRight(string(rune('A'+i%26)), colW)))
	}
	lines = append(lines, layout.Fit(hdr.String(), w, 1))
	if len(v.shown) == 0 {
		msg := "no per-example results recorded"
		if v.onlyFlips {
			msg = "no example flips"
		}
		lines = append(lines, s.Muted.Render("  "+msg))
	}
	v.offset = min(max(v.offset, v.cursor-h+1), v.cursor)
	v.offset = max(v.offset, 0)
	for n := v.offset; n < len(v.shown) && n < v.offset+h; n++ {
		lines = append(lines, v.renderRow(v.rows[v.shown[n]], n == v.cursor, colW, w))
	}
	for len(lines) < v.height-1 {
		lines = append(lines, "")
	}
	var legend []string
	for i, l := range v.labels {
		legend = append(legend, fmt.Sprintf("%c %s", rune('A'+i%26), l))
	}
	lines = append(lines[:v.height-1], layout.Fit(s.Muted.Render(ansi.Truncate(strings.Join(legend, " · "), w, "…")), w, 1))
	return layout.Fit(strings.Join(lines, "\n"), w, v.height)
}

// colWidth is a side's column: "pass ●" fits, and all fit in the width.
func (v *View) colWidth() int {
	return max(min((v.width-12)/max(len(v.labels), 1), 10), 5)
}

func (v *View) renderRow(r model.ExampleRow, sel bool, colW, w int) string {
	s := v.styles
	var b strings.Builder
	mark := "  "
	if r.Flip {
		mark = s.Warning.Render("▶ ")
	}
	b.WriteString(mark + layout.PadRight(format.RunID(r.Example), 10))
	for i, p := range r.Pass {
		traced := len(r.Executions) > i && !r.Executions[i].IsZero()
		b.WriteString(Cell(s, p, traced, colW))
	}
	line := layout.Fit(b.String(), w, 1)
	if sel {
		return s.RowSelected.Render(ansi.Strip(line))
	}
	return line
}

// Cell is one outcome, colW wide: pass, fail or · (not evaluated), with
// ● where the side recorded the example's execution.
func Cell(s *themes.Styles, pass *bool, traced bool, colW int) string {
	dot := ""
	if traced {
		dot = " ●"
	}
	switch {
	case pass == nil:
		return s.Muted.Render(layout.PadRight("·", colW))
	case *pass:
		return s.Success.Render(layout.PadRight("pass"+dot, colW))
	}
	return s.Error.Render(layout.PadRight("fail"+dot, colW))
}
