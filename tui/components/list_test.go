package components

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

var testCols = []Column{
	{Title: "Name", Flex: 2, MinWidth: 12},
	{Title: "Status", Width: 10},
	{Title: "Ver", Width: 4, Align: AlignRight},
	{Title: "Modules", Width: 7, Align: AlignRight},
	{Title: "Last run", Flex: 1, MinWidth: 10},
	{Title: "Month $", Width: 9, Align: AlignRight},
}

// programRows makes n deterministic rows shaped like the Programs page.
func programRows(n int) []Row {
	names := benchNames(n)
	statuses := []string{"draft", "testing", "production"}
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{
			names[i],
			statuses[i%3],
			fmt.Sprintf("v%d", 1+i%17),
			fmt.Sprint(1 + i%6),
			fmt.Sprintf("2026-11-%02d 1%d:%02d", 1+i%25, i%10, i%60),
			fmt.Sprintf("%.2f", float64(i%5000)/7),
		}
	}
	return rows
}

func newTestList(n, height int) List {
	l := NewList(testCols, 0, ListStyles{})
	l.SetRows(programRows(n))
	l.SetHeight(height)
	return l
}

func TestListNavigation(t *testing.T) {
	// 100 rows, 12 lines: 10 row lines per page.
	type op func(l *List)
	tests := []struct {
		name               string
		ops                []op
		wantCursor, wantOf int
	}{
		{"start", nil, 0, 0},
		{"down three", []op{(*List).Down, (*List).Down, (*List).Down}, 3, 0},
		{"up clamps at top", []op{(*List).Up, (*List).Up}, 0, 0},
		{"scroll follows cursor down", []op{func(l *List) { l.Move(15) }}, 15, 6},
		{"scroll follows cursor up", []op{func(l *List) { l.Move(15) }, func(l *List) { l.Move(-12) }}, 3, 3},
		{"bottom", []op{(*List).Bottom}, 99, 90},
		{"down clamps at bottom", []op{(*List).Bottom, (*List).Down}, 99, 90},
		{"top", []op{(*List).Bottom, (*List).Top}, 0, 0},
		{"page down", []op{(*List).PageDown}, 10, 10},
		{"page down twice keeps line", []op{(*List).Down, (*List).PageDown, (*List).PageDown}, 21, 20},
		{"page down clamps", []op{func(l *List) { l.SetCursor(95) }, (*List).PageDown}, 99, 90},
		{"page up", []op{func(l *List) { l.SetCursor(55) }, (*List).PageUp}, 45, 36},
		{"page up clamps", []op{(*List).Down, (*List).PageUp}, 0, 0},
		{"set cursor clamps", []op{func(l *List) { l.SetCursor(1000) }}, 99, 90},
		{"set cursor negative", []op{func(l *List) { l.SetCursor(-5) }}, 0, 0},
		{"wheel scrolls and drags cursor", []op{func(l *List) { l.ScrollBy(3) }}, 3, 3},
		{"wheel within view keeps cursor", []op{func(l *List) { l.SetCursor(8) }, func(l *List) { l.ScrollBy(3) }}, 8, 3},
		{"wheel clamps", []op{func(l *List) { l.ScrollBy(500) }}, 90, 90},
		{"select row", []op{func(l *List) { l.SelectRow(42) }}, 42, 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestList(100, 12)
			for _, o := range tt.ops {
				o(&l)
			}
			if l.Cursor() != tt.wantCursor || l.Offset() != tt.wantOf {
				t.Fatalf("cursor, offset = %d, %d; want %d, %d", l.Cursor(), l.Offset(), tt.wantCursor, tt.wantOf)
			}
			if row, ok := l.Selected(); !ok || row != tt.wantCursor {
				t.Fatalf("Selected = %d, %v", row, ok)
			}
		})
	}
}

func TestListEmpty(t *testing.T) {
	l := NewList(testCols, 0, ListStyles{})
	for _, f := range []func(){l.Down, l.Up, l.PageDown, l.PageUp, l.Bottom, l.Top, func() { l.ScrollBy(3) }} {
		f()
	}
	if _, ok := l.Selected(); ok {
		t.Fatal("empty list has a selection")
	}
	if l.Cursor() != 0 || l.Offset() != 0 {
		t.Fatalf("cursor, offset = %d, %d", l.Cursor(), l.Offset())
	}
	out := l.Render(40, 4)
	if !strings.Contains(out, "No items") || !strings.Contains(out, "0 of 0") {
		t.Fatalf("render:\n%s", out)
	}
}

func runFilter(l *List, pattern string) FilterResult {
	return Filter(context.Background(), l.FilterRequest(pattern))
}

func TestListFilterResult(t *testing.T) {
	rows := []Row{{"alpha"}, {"beta"}, {"gamma"}, {"delta"}, {"epsilon"}, {"zeta"}, {"eta"}, {"theta"}}
	cols := []Column{{Title: "Name", Flex: 1}}
	newL := func() List {
		l := NewList(cols, 0, ListStyles{})
		l.SetRows(rows)
		l.SetHeight(6) // 4 row lines
		return l
	}

	t.Run("cursor stays on the same item", func(t *testing.T) {
		l := newL()
		l.SelectRow(5) // zeta
		if !l.SetFilterResult(runFilter(&l, "eta")) {
			t.Fatal("result refused")
		}
		// beta, delta, zeta, eta, theta match "eta"; the cursor is still on zeta.
		if row, _ := l.Selected(); row != 5 {
			t.Fatalf("selected row %d (%s), want 5", row, rows[row][0])
		}
		if l.Len() != 5 {
			t.Fatalf("Len = %d", l.Len())
		}
	})
	t.Run("cursor goes to top when its item is filtered out", func(t *testing.T) {
		l := newL()
		l.SelectRow(0) // alpha
		l.SetFilterResult(runFilter(&l, "eta"))
		if l.Cursor() != 0 || l.Offset() != 0 {
			t.Fatalf("cursor, offset = %d, %d", l.Cursor(), l.Offset())
		}
		if row, _ := l.Selected(); rows[row][0] == "alpha" {
			t.Fatal("alpha still selected")
		}
	})
	t.Run("clearing the filter keeps the item", func(t *testing.T) {
		l := newL()
		l.SetFilterResult(runFilter(&l, "eta"))
		l.Bottom()
		want, _ := l.Selected()
		l.SetFilterResult(runFilter(&l, ""))
		if got, _ := l.Selected(); got != want || l.Len() != len(rows) {
			t.Fatalf("selected %d, want %d (len %d)", got, want, l.Len())
		}
	})
	t.Run("stale result is refused", func(t *testing.T) {
		l := newL()
		old := runFilter(&l, "e")
		cur := runFilter(&l, "et")
		if l.SetFilterResult(old) {
			t.Fatal("stale result applied")
		}
		if !l.SetFilterResult(cur) || l.Pattern() != "et" {
			t.Fatal("current result refused")
		}
	})
	t.Run("result for replaced rows is refused", func(t *testing.T) {
		l := newL()
		res := runFilter(&l, "e")
		l.SetRows(rows[:3])
		if l.SetFilterResult(res) {
			t.Fatal("result for old rows applied")
		}
	})
	t.Run("cancelled result is refused", func(t *testing.T) {
		l := newL()
		res := runFilter(&l, "e")
		res.Err = context.Canceled
		if l.SetFilterResult(res) {
			t.Fatal("cancelled result applied")
		}
	})
	t.Run("typing narrows the shown result", func(t *testing.T) {
		l := newL()
		l.SetFilterResult(runFilter(&l, "e"))
		req := l.FilterRequest("et")
		if req.Prev == nil || req.Prev.Pattern != "e" {
			t.Fatalf("Prev = %+v", req.Prev)
		}
		if req := l.FilterRequest("x"); req.Prev != nil {
			t.Fatal("unrelated pattern narrowed")
		}
	})
	t.Run("no matches", func(t *testing.T) {
		l := newL()
		l.SetFilterResult(runFilter(&l, "qqq"))
		if _, ok := l.Selected(); ok {
			t.Fatal("selection in empty view")
		}
		out := l.Render(30, 6)
		if !strings.Contains(out, "No matches") || !strings.Contains(out, "0 of 0 (8 total)") {
			t.Fatalf("render:\n%s", out)
		}
	})
}

func TestListPosAt(t *testing.T) {
	l := newTestList(100, 12)
	l.Move(15) // offset 6
	for _, tt := range []struct {
		y    int
		pos  int
		okay bool
	}{{0, 0, false}, {1, 6, true}, {10, 15, true}, {11, 0, false}} {
		pos, ok := l.PosAt(tt.y)
		if ok != tt.okay || (ok && pos != tt.pos) {
			t.Errorf("PosAt(%d) = %d, %v; want %d, %v", tt.y, pos, ok, tt.pos, tt.okay)
		}
	}
}

func TestColumnWidths(t *testing.T) {
	tests := []struct {
		width int
		want  []int
	}{
		// avail = width - gutter(1) - separators(5); fixed = 30.
		{80, []int{29, 10, 4, 7, 15, 9}},
		{160, []int{82, 10, 4, 7, 42, 9}},
		{50, []int{12, 10, 4, 7, 10, 0}}, // Month $ dropped
		{30, []int{12, 10, 4, 0, 0, 0}},  // narrowed from the right
	}
	for _, tt := range tests {
		got := columnWidths(testCols, tt.width)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("width %d: %v, want %v", tt.width, got, tt.want)
		}
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		text      string
		cw        int
		shown     string
		tail      string
		wantWidth int
	}{
		{"short", 10, "short", "", 5},
		{"exactly10!", 10, "exactly10!", "", 10},
		{"qa_program_12345", 8, "qa_prog", "…", 8},
		{"感情分析_program", 6, "感情", "…", 5}, // a wide rune does not fit in the last cell
		{"感情分析", 8, "感情分析", "", 8},
		{"x", 0, "", "", 0},
	}
	for _, tt := range tests {
		shown, tail, w := fit(tt.text, tt.cw)
		if shown != tt.shown || tail != tt.tail || w != tt.wantWidth {
			t.Errorf("fit(%q, %d) = %q, %q, %d; want %q, %q, %d", tt.text, tt.cw, shown, tail, w, tt.shown, tt.tail, tt.wantWidth)
		}
	}
}

// TestRenderSize checks every render is exactly height lines of width cells.
func TestRenderSize(t *testing.T) {
	l := newTestList(1000, 24)
	l.SetStyles(DefaultListStyles())
	l.SetRows(append(programRows(50), Row{"感情分析_プログラム_with_a_long_name", "draft\nx", "v1"}))
	l.SetFilterResult(runFilter(&l, "a"))
	l.Bottom()
	for _, w := range []int{1, 2, 5, 20, 33, 80, 161} {
		for _, h := range []int{1, 2, 3, 7, 24} {
			out := l.Render(w, h)
			lines := strings.Split(out, "\n")
			if len(lines) != h {
				t.Fatalf("%dx%d: %d lines", w, h, len(lines))
			}
			for i, line := range lines {
				if got := ansi.StringWidth(line); got != w {
					t.Fatalf("%dx%d: line %d is %d wide: %q", w, h, i, got, line)
				}
			}
		}
	}
}

func goldenList(styles ListStyles) List {
	rows := programRows(100000)
	rows[3][0] = "感情_qa_pr_1_日本語" // wide runes, highlighted
	rows[11][0] = "qa_program_with_an_extraordinarily_long_name_that_will_not_fit_in_any_column_00001"
	l := NewList(testCols, 0, styles)
	l.SetRows(rows)
	return l
}

func TestRenderGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}} {
		for _, st := range []struct {
			name   string
			styles ListStyles
		}{
			{"plain", ListStyles{}},
			{"ansi", DefaultListStyles()},
		} {
			name := fmt.Sprintf("%dx%d_%s", size.w, size.h, st.name)
			t.Run(name+"_unfiltered", func(t *testing.T) {
				l := goldenList(st.styles)
				l.SetHeight(size.h)
				l.Move(30)
				l.Move(-27) // cursor 3, first row 3: the wide and the long name show
				golden.RequireEqual(t, []byte(l.Render(size.w, size.h)))
			})
			t.Run(name+"_filtered", func(t *testing.T) {
				l := goldenList(st.styles)
				l.SetHeight(size.h)
				if !l.SetFilterResult(runFilter(&l, "qa pr 1")) {
					t.Fatal("refused")
				}
				l.Move(2)
				golden.RequireEqual(t, []byte(l.Render(size.w, size.h)))
			})
		}
	}
}

// Styles with colours must render the same everywhere: Lip Gloss v2 does not
// look at the terminal when rendering a string.
func TestStylesDeterministic(t *testing.T) {
	s := prepare(lipgloss.NewStyle().Foreground(lipgloss.Yellow).Bold(true))
	if got, want := s.render("x"), "\x1b[1;33mx\x1b[m"; got != want {
		t.Fatalf("render = %q, want %q", got, want)
	}
	if !prepare(lipgloss.NewStyle()).plain {
		t.Fatal("zero style should be plain")
	}
}

func TestRenderHighlightsMatches(t *testing.T) {
	hi := lipgloss.NewStyle().Bold(true)
	on, off := "\x1b[1m", "\x1b[m"
	tests := []struct {
		name, pattern string
		width         int
		want          string // the name cell as rendered, on a row that is not the cursor row
	}{
		{"ascii", "pr 12", 40, "qa_" + on + "pr" + off + "ogram_" + on + "12" + off + "345"},
		{"wide runes", "情ab", 40, "感" + on + "情" + off + "_" + on + "a" + off + "l" + on + "b" + off + "e"},
		{"cut by ellipsis", "qa 45", 12, on + "qa" + off + "_program…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewList([]Column{{Title: "Name", Flex: 1}}, 0, ListStyles{Match: hi})
			l.SetRows([]Row{{"qa_program_12345"}, {"感情_albe"}, {"qa_program_12345"}, {"感情_albe"}})
			l.SetFilterResult(runFilter(&l, tt.pattern))
			l.Down() // the second match is not the cursor row
			lines := strings.Split(l.Render(tt.width, 5), "\n")
			if !strings.HasPrefix(lines[1], " "+tt.want) {
				t.Fatalf("row = %q, want prefix %q", lines[1], " "+tt.want)
			}
			if w := ansi.StringWidth(lines[1]); w != tt.width {
				t.Fatalf("row width %d", w)
			}
		})
	}
}

func TestSetRowKeepsViewAndCopiesNames(t *testing.T) {
	l := NewList([]Column{{Title: "NAME", Flex: 1}, {Title: "STATE", Width: 10}}, 0, ListStyles{})
	l.SetRows([]Row{{"alpha", "running"}, {"beta", "running"}, {"gamma", "running"}})
	l.SetHeight(10)
	req := l.FilterRequest("a")
	names := req.Names
	if !l.SetFilterResult(Filter(context.Background(), req)) {
		t.Fatal("filter result refused")
	}
	l.SetCursor(1)
	before := l.Len()
	l.SetRow(1, Row{"beta", "completed"})
	if l.Len() != before || l.Cursor() != 1 || l.Pattern() != "a" {
		t.Fatalf("SetRow changed the view: len %d→%d, cursor %d, pattern %q", before, l.Len(), l.Cursor(), l.Pattern())
	}
	if !strings.Contains(l.Render(40, 6), "completed") {
		t.Error("the new cell is not drawn")
	}
	// A new name goes to a fresh names slice: a filter holding the old one
	// must not see it change under it.
	l.SetRow(0, Row{"delta", "running"})
	if names[0] != "alpha" || l.Names()[0] != "delta" {
		t.Fatalf("names: request saw %q, list has %q", names[0], l.Names()[0])
	}
}

// TestCellsEscapeControls: a cell holding terminal controls shows them
// escaped.
func TestCellsEscapeControls(t *testing.T) {
	l := NewList(testCols, 0, ListStyles{})
	l.SetRows([]Row{{"a\x1b]0;pwned\x07", "\x1b[2J", "x"}})
	l.SetHeight(5)
	out := l.Render(120, 5)
	if strings.Contains(out, "\x1b]0;") || strings.Contains(out, "\x1b[2J") {
		t.Fatalf("raw controls in the list: %q", out)
	}
	for _, want := range []string{`a\x1b]0;pwned\x07`, `\x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in the list, got %q", want, out)
		}
	}
}

// TestFitColumns: fitted columns are as wide as their widest cell (a
// flexible one at least that), grow with a row set in place, and are
// dropped whole, never cut, when the width runs out.
func TestFitColumns(t *testing.T) {
	cols := []Column{
		{Title: "NAME", Flex: 1, Fit: true},
		{Title: "KIND", Fit: true},
		{Title: "WHEN", Fit: true},
	}
	l := NewList(cols, 0, ListStyles{})
	l.SetRows([]Row{{"sentiment v2", "bootstrap_fewshot", "Nov 24 11:30"}, {"qa v1", "gepa", "Nov 24"}})
	lines := func(w int) []string { return strings.Split(ansi.Strip(l.Render(w, 4)), "\n") }
	wide := lines(60)
	for _, want := range []string{"sentiment v2", "bootstrap_fewshot", "Nov 24 11:30"} {
		if !strings.Contains(wide[1], want) {
			t.Fatalf("at 60 cells a cell is cut (want %q):\n%s", want, strings.Join(wide, "\n"))
		}
	}
	narrow := lines(40) // 1 + 12 + 17 + 12 + 2 = 44: WHEN goes, whole
	if strings.Contains(narrow[0], "WHEN") || strings.Contains(narrow[1], "Nov") || !strings.Contains(narrow[1], "bootstrap_fewshot") {
		t.Fatalf("at 40 cells:\n%s", strings.Join(narrow, "\n"))
	}
	l.SetRow(1, Row{"qa v1", "a_much_longer_optimizer", "Nov 24"})
	if got := lines(80); !strings.Contains(got[2], "a_much_longer_optimizer") {
		t.Fatalf("a row set in place does not widen its column:\n%s", strings.Join(got, "\n"))
	}
}
