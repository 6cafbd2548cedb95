package components

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/tui/format"
)

// Align is the horizontal alignment of a column's cells and title.
type Align int

const (
	AlignLeft Align = iota
	AlignRight
	AlignCenter
)

// Column describes one column of a List.
type Column struct {
	Title string
	// Width is a fixed width in cells. Zero makes the column flexible.
	Width int
	// Flex is a flexible column's share of the width left by fixed columns
	// (0 counts as 1).
	Flex int
	// MinWidth is the least a flexible column gets before columns are dropped.
	MinWidth int
	Align    Align
	// Fit sizes the column to its widest cell (and its title), at most
	// MaxWidth when that is set: it is that wide, or at least that wide
	// when it has a Flex share of the width left. When the table is too narrow, a fitted column is
	// dropped whole rather than cut.
	Fit      bool
	MaxWidth int
}

// Row is one item of a List: one plain-text cell per column (missing cells
// are blank; ASCII control characters are shown as spaces).
type Row []string

// ListStyles are the styles a List renders with. Only colours and text
// attributes are used (styles are made Inline: no padding, margins, borders).
// The zero value renders plain text without escape codes.
type ListStyles struct {
	Header        lipgloss.Style // the header row
	Row           lipgloss.Style // ordinary rows
	Selected      lipgloss.Style // the row under the cursor, full width
	Match         lipgloss.Style // matched characters in ordinary rows
	SelectedMatch lipgloss.Style // matched characters in the cursor row
	Footer        lipgloss.Style // the scroll indicator line
	Empty         lipgloss.Style // "No matches" / "No items"
}

// DefaultListStyles is a small ANSI-16 palette for use before a theme is
// wired in; pages should pass styles built from the active theme instead.
func DefaultListStyles() ListStyles {
	return ListStyles{
		Header:        lipgloss.NewStyle().Bold(true),
		Selected:      lipgloss.NewStyle().Reverse(true),
		Match:         lipgloss.NewStyle().Foreground(lipgloss.Yellow).Bold(true),
		SelectedMatch: lipgloss.NewStyle().Reverse(true).Foreground(lipgloss.Yellow).Bold(true),
		Footer:        lipgloss.NewStyle().Faint(true),
		Empty:         lipgloss.NewStyle().Faint(true),
	}
}

// CursorMark is drawn in the one-cell gutter of the cursor row, so the
// cursor shows even without colours.
const CursorMark = "▌"

// style is a lipgloss.Style prepared for cheap repeated use.
type style struct {
	s     lipgloss.Style
	plain bool // renders text unchanged: skip lipgloss entirely
}

func prepare(s lipgloss.Style) style {
	s = s.Inline(true)
	return style{s: s, plain: s.Render("a b") == "a b"}
}

func (st style) render(text string) string {
	if st.plain || text == "" {
		return text
	}
	return st.s.Render(text)
}

type preparedStyles struct {
	header, row, selected, match, selectedMatch, footer, empty style
}

// List is a filterable, virtually scrolled table: rendering costs the same
// for 100 rows as for 100,000, since only visible rows are touched.
//
// Positions ("pos") index the current view (filtered order); row indexes
// index the rows given to SetRows. Methods with pointer receivers mutate; a
// List is used as a value field of a page model.
type List struct {
	cols      []Column
	filterCol int
	rows      []Row
	names     []string
	fitW      []int // the widest cell of each fitted column
	styles    preparedStyles

	view    FilterResult // applied filter result (All when unfiltered)
	seq     uint64       // last issued request / rows generation
	cursor  int          // pos of the cursor in the view
	offset  int          // pos of the first visible row
	height  int          // lines available, for paging (see SetHeight)
	pending string       // pattern of the last issued request
	noCur   bool         // the cursor is not drawn (a list shown, not browsed)
}

// NewList returns an empty list. filterCol is the column that Filter matches
// against and whose matched characters are highlighted.
func NewList(cols []Column, filterCol int, styles ListStyles) List {
	l := List{cols: cols, filterCol: filterCol, height: 24}
	l.SetStyles(styles)
	l.view = FilterResult{All: true}
	return l
}

// HideCursor draws no cursor: for a list shown beside the one that has
// the keyboard.
func (l *List) HideCursor() { l.noCur = true }

// ShowCursor draws the cursor again: of two lists on a page, the one the
// keys move shows it.
func (l *List) ShowCursor() { l.noCur = false }

// SetStyles replaces the styles (e.g. when the theme changes).
func (l *List) SetStyles(s ListStyles) {
	l.styles = preparedStyles{
		header: prepare(s.Header), row: prepare(s.Row), selected: prepare(s.Selected),
		match: prepare(s.Match), selectedMatch: prepare(s.SelectedMatch),
		footer: prepare(s.Footer), empty: prepare(s.Empty),
	}
}

// SetRows replaces the rows. The filter is cleared (run a new FilterRequest
// to re-apply a pattern) and results of requests issued before are refused.
// The rows must not be mutated afterwards except through SetRow: filters
// may be reading them.
func (l *List) SetRows(rows []Row) {
	l.rows = rows
	names := make([]string, len(rows))
	for i, r := range rows {
		if l.filterCol < len(r) {
			names[i] = r[l.filterCol]
		}
	}
	l.names = names
	l.fitW = make([]int, len(l.cols))
	for _, r := range rows {
		l.fitRow(r)
	}
	l.seq++
	l.pending = ""
	l.view = FilterResult{Seq: l.seq, All: true, Total: len(rows)}
	l.clamp()
}

// SetRow replaces row i in place, for live updates of one row: the cursor,
// the offset and the filtered view stay. A changed filter column is seen by
// the next filter request (the names are copied first: a filter running now
// reads the old ones).
func (l *List) SetRow(i int, r Row) {
	if i < 0 || i >= len(l.rows) {
		return
	}
	l.rows[i] = r
	l.fitRow(r) // widths only grow until the next SetRows
	name := ""
	if l.filterCol < len(r) {
		name = r[l.filterCol]
	}
	if name != l.names[i] {
		l.names = slices.Clone(l.names)
		l.names[i] = name
	}
}

// fitRow widens the fitted columns to r's cells.
func (l *List) fitRow(r Row) {
	for i, c := range l.cols {
		if c.Fit && i < len(r) {
			l.fitW[i] = max(l.fitW[i], textWidth(r[i]))
		}
	}
}

// laidOut are the columns with each fitted one sized to its content.
func (l *List) laidOut() []Column {
	var cols []Column
	for i, c := range l.cols {
		if !c.Fit {
			continue
		}
		if cols == nil {
			cols = slices.Clone(l.cols)
		}
		w := textWidth(c.Title)
		if i < len(l.fitW) {
			w = max(w, l.fitW[i])
		}
		if c.MaxWidth > 0 {
			w = min(w, c.MaxWidth)
		}
		if c.Flex > 0 {
			cols[i].MinWidth = max(c.MinWidth, w)
		} else {
			cols[i].Width = w
		}
	}
	if cols == nil {
		return l.cols
	}
	return cols
}

// Names returns the filter column of every row (do not modify).
func (l *List) Names() []string { return l.names }

// Total is the number of rows; Len the number in the current view.
func (l *List) Total() int { return len(l.rows) }
func (l *List) Len() int   { return l.view.Len() }

// Pattern is the pattern of the filter result on screen.
func (l *List) Pattern() string { return l.view.Pattern }

// FilterRequest issues a request for pattern; run it with Filter (off the
// Update loop) and hand the result to SetFilterResult. Issuing a request makes
// every earlier one stale. When the pattern extends the one on screen, the
// request narrows the on-screen matches instead of scanning every row.
func (l *List) FilterRequest(pattern string) FilterRequest {
	l.seq++
	l.pending = pattern
	req := FilterRequest{Seq: l.seq, Pattern: pattern, Names: l.names}
	if !l.view.All && l.view.Err == nil && strings.HasPrefix(pattern, l.view.Pattern) {
		prev := l.view
		req.Prev = &prev
	}
	return req
}

// SetFilterResult shows res if it answers the latest request and is
// complete; it reports whether it did. The cursor stays on the same row when
// that row is still in the view (at the same screen line when possible);
// otherwise it goes to the top.
func (l *List) SetFilterResult(res FilterResult) bool {
	if res.Seq != l.seq || res.Err != nil || res.Total != len(l.rows) {
		return false
	}
	oldRow, had := l.Selected()
	line := l.cursor - l.offset
	l.view = res
	l.cursor, l.offset = 0, 0
	if had {
		n := l.view.Len()
		for p := range n {
			if l.view.Index(p) == oldRow {
				l.cursor = p
				l.offset = p - line
				break
			}
		}
	}
	l.clamp()
	return true
}

// SetHeight tells the list how many lines it will be rendered with, so that
// paging moves by a screenful. Render works at any height regardless.
func (l *List) SetHeight(h int) {
	l.height = h
	l.clamp()
}

// Cursor is the position of the cursor in the view.
func (l *List) Cursor() int { return l.cursor }

// Offset is the position of the first visible row.
func (l *List) Offset() int { return l.offset }

// Selected returns the row index under the cursor; ok is false when the view
// is empty.
func (l *List) Selected() (row int, ok bool) {
	if l.cursor < 0 || l.cursor >= l.view.Len() {
		return 0, false
	}
	return l.view.Index(l.cursor), true
}

// SelectedCells are the columns' titles and the cells of the row under the
// cursor, whole as they were given (however narrow their column); ok is
// false when the view is empty.
func (l *List) SelectedCells() (titles, cells []string, ok bool) {
	row, ok := l.Selected()
	if !ok {
		return nil, nil, false
	}
	for i, c := range l.cols {
		cell := ""
		if i < len(l.rows[row]) {
			cell = l.rows[row][i]
		}
		titles, cells = append(titles, c.Title), append(cells, cell)
	}
	return titles, cells, true
}

// SelectRow puts the cursor on row index row if it is in the view (O(view)).
func (l *List) SelectRow(row int) bool {
	for p := range l.view.Len() {
		if l.view.Index(p) == row {
			l.SetCursor(p)
			return true
		}
	}
	return false
}

// SetCursor moves the cursor to pos (clamped), scrolling to show it.
func (l *List) SetCursor(pos int) {
	l.cursor = pos
	l.clamp()
}

// Move moves the cursor by delta rows (negative is up).
func (l *List) Move(delta int) { l.SetCursor(l.cursor + delta) }

func (l *List) Up()   { l.Move(-1) }
func (l *List) Down() { l.Move(1) }

// PageDown and PageUp move the cursor and the view by a screenful.
func (l *List) PageDown() {
	b := l.body()
	l.offset += b
	l.cursor += b
	l.clamp()
}

func (l *List) PageUp() {
	b := l.body()
	l.offset -= b
	l.cursor -= b
	l.clamp()
}

// Top and Bottom jump to the first and last row.
func (l *List) Top() { l.cursor, l.offset = 0, 0 }

func (l *List) Bottom() {
	l.cursor = l.view.Len() - 1
	l.offset = l.cursor
	l.clamp()
}

// ScrollBy scrolls the view by delta rows (mouse wheel), dragging the cursor
// along only as far as needed to keep it visible.
func (l *List) ScrollBy(delta int) {
	b := l.body()
	l.offset = clampInt(l.offset+delta, 0, max(l.view.Len()-b, 0))
	l.cursor = clampInt(l.cursor, l.offset, l.offset+b-1)
	l.clamp()
}

// PosAt maps line y of the rendered list (0 is the header) to a view
// position, for mouse clicks; ok is false off the rows.
func (l *List) PosAt(y int) (pos int, ok bool) {
	if y < 1 || y > l.body() {
		return 0, false
	}
	pos = l.offset + y - 1
	return pos, pos < l.view.Len()
}

// body is the number of row lines at the SetHeight height.
func (l *List) body() int { return max(bodyLines(l.height), 1) }

// bodyLines is the number of row lines in h lines: header and footer take one each.
func bodyLines(h int) int { return max(h-2, 0) }

// clamp brings cursor and offset back into range with the cursor visible.
func (l *List) clamp() {
	n := l.view.Len()
	l.cursor = clampInt(l.cursor, 0, max(n-1, 0))
	l.offset = visibleOffset(l.offset, l.cursor, l.body(), n)
}

// visibleOffset is the offset nearest off that shows pos within b lines and
// does not leave blank lines below the last of n rows.
func visibleOffset(off, pos, b, n int) int {
	if b <= 0 {
		return pos
	}
	if pos < off {
		off = pos
	}
	if pos >= off+b {
		off = pos - b + 1
	}
	return clampInt(off, 0, max(n-b, 0))
}

func clampInt(v, lo, hi int) int {
	if hi < lo {
		hi = lo
	}
	return min(max(v, lo), hi)
}

// Render draws the list in exactly height lines of exactly width cells: a
// header, the visible rows and a scroll indicator. It reads only the rows on
// screen and does not modify the list.
func (l *List) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	widths := columnWidths(l.laidOut(), width)
	b := bodyLines(height)
	n := l.view.Len()
	off := visibleOffset(l.offset, clampInt(l.cursor, 0, max(n-1, 0)), b, n)

	var sb strings.Builder
	sb.Grow((width + 32) * height)
	line := make([]byte, 0, width*4)

	// Header.
	line = append(line[:0], ' ')
	for i, c := range l.cols {
		if widths[i] == 0 {
			continue
		}
		if i > 0 {
			line = append(line, ' ')
		}
		line = appendFitted(line, c.Title, widths[i], c.Align)
	}
	line = padTo(line, width)
	sb.WriteString(l.styles.header.render(string(line)))

	// Rows.
	shown := 0
	for k := range b {
		sb.WriteByte('\n')
		pos := off + k
		if pos >= n {
			if k == 0 {
				msg := "No items"
				if !l.view.All {
					msg = "No matches"
				}
				sb.WriteString(l.styles.empty.render(string(padTo(appendFitted(line[:0], " "+msg, width, AlignLeft), width))))
			} else {
				sb.WriteString(strings.Repeat(" ", width))
			}
			continue
		}
		shown++
		l.renderRow(&sb, line, pos, widths, width)
	}

	// Footer.
	if height >= 2 {
		sb.WriteByte('\n')
		ind := l.indicator(off, shown)
		sb.WriteString(l.styles.footer.render(string(appendFitted(line[:0], ind+" ", width, AlignRight))))
	}
	return sb.String()
}

// indicator is e.g. "12–34 of 100,000" or "1–20 of 1,234 (100,000 total)".
func (l *List) indicator(off, shown int) string {
	n := l.view.Len()
	var s string
	if shown == 0 {
		s = "0 of " + commas(n)
	} else {
		s = commas(off+1) + "–" + commas(off+shown) + " of " + commas(n)
	}
	if !l.view.All {
		s += " (" + commas(len(l.rows)) + " total)"
	}
	return s
}

// rowWriter accumulates runs of text that share a style and renders each run
// once.
type rowWriter struct {
	sb      *strings.Builder
	base    style
	hi      style
	pending []byte
	pendHi  bool
}

func (w *rowWriter) write(s string, hi bool) {
	if s == "" {
		return
	}
	if hi != w.pendHi && len(w.pending) > 0 {
		w.flush()
	}
	w.pendHi = hi
	w.pending = append(w.pending, s...)
}

func (w *rowWriter) flush() {
	if len(w.pending) == 0 {
		return
	}
	st := w.base
	if w.pendHi {
		st = w.hi
	}
	w.sb.WriteString(st.render(string(w.pending)))
	w.pending = w.pending[:0]
}

func (l *List) renderRow(sb *strings.Builder, buf []byte, pos int, widths []int, width int) {
	idx := l.view.Index(pos)
	var cells Row
	if idx < len(l.rows) {
		cells = l.rows[idx]
	}
	w := rowWriter{sb: sb, base: l.styles.row, hi: l.styles.match, pending: buf[:0]}
	gutter := " "
	if pos == l.cursor && !l.noCur {
		w.base, w.hi = l.styles.selected, l.styles.selectedMatch
		gutter = CursorMark
	}
	w.write(gutter, false)
	used := 1
	first := true
	for i, c := range l.cols {
		cw := widths[i]
		if cw == 0 {
			continue
		}
		if !first {
			w.write(" ", false)
			used++
		}
		first = false
		var text string
		if i < len(cells) {
			text = format.Line(cells[i])
		}
		var hl []int
		if i == l.filterCol {
			hl = l.view.Positions(pos)
		}
		used += writeCell(&w, text, cw, c.Align, hl)
	}
	if used < width {
		w.write(strings.Repeat(" ", width-used), false)
	}
	w.flush()
}

// writeCell writes text fitted to cw cells with the matched byte offsets hl
// highlighted, and returns cw.
func writeCell(w *rowWriter, text string, cw int, align Align, hl []int) int {
	shown, tail, tw := fit(text, cw)
	left, right := alignPad(cw-tw, align)
	w.write(spaces(left), false)
	last := 0
	for _, p := range hl {
		if p < last || p >= len(shown) {
			continue
		}
		_, size := utf8.DecodeRuneInString(shown[p:])
		w.write(shown[last:p], false)
		w.write(shown[p:p+size], true)
		last = p + size
	}
	w.write(shown[last:], false)
	w.write(tail, false)
	w.write(spaces(right), false)
	return cw
}

const ellipsis = "…"

// fit cuts text to at most cw cells: shown is a byte prefix of text, tail is
// "" or the ellipsis, tw the width of shown+tail.
func fit(text string, cw int) (shown, tail string, tw int) {
	if w := textWidth(text); w <= cw {
		return text, "", w
	}
	if cw <= 0 {
		return "", "", 0
	}
	t := ansi.Truncate(text, cw, ellipsis)
	shown = strings.TrimSuffix(t, ellipsis)
	if !strings.HasPrefix(text, shown) { // not expected for plain text
		shown = ""
	}
	return shown, ellipsis, textWidth(shown) + 1
}

// textWidth is the display width of plain text (wide runes count 2).
func textWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

func alignPad(extra int, a Align) (left, right int) {
	if extra <= 0 {
		return 0, 0
	}
	switch a {
	case AlignRight:
		return extra, 0
	case AlignCenter:
		return extra / 2, extra - extra/2
	default:
		return 0, extra
	}
}

// appendFitted appends text fitted and aligned to exactly cw cells.
func appendFitted(dst []byte, text string, cw int, a Align) []byte {
	shown, tail, tw := fit(format.Line(text), cw)
	left, right := alignPad(cw-tw, a)
	dst = append(dst, spaces(left)...)
	dst = append(dst, shown...)
	dst = append(dst, tail...)
	return append(dst, spaces(right)...)
}

// padTo pads a line of plain text with spaces to width cells.
func padTo(line []byte, width int) []byte {
	if w := textWidth(string(line)); w < width {
		line = append(line, spaces(width-w)...)
	}
	return line
}

const blanks = "                                                                                                                                "

func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	if n <= len(blanks) {
		return blanks[:n]
	}
	return strings.Repeat(" ", n)
}

// columnWidths lays the columns out in width cells: a one-cell gutter, one
// space between columns, fixed columns at their width, flexible columns
// sharing the rest by weight. When they do not fit, columns are narrowed and
// then dropped (width 0) from the right.
func columnWidths(cols []Column, width int) []int {
	ws := make([]int, len(cols))
	if len(cols) == 0 {
		return ws
	}
	avail := width - 1 - (len(cols) - 1)
	fixed, weights := 0, 0
	for i, c := range cols {
		if c.Width > 0 {
			ws[i] = c.Width
			fixed += c.Width
		} else {
			weights += max(c.Flex, 1)
		}
	}
	if weights > 0 {
		rest := max(avail-fixed, 0)
		given, lastFlex := 0, -1
		for i, c := range cols {
			if c.Width > 0 {
				continue
			}
			ws[i] = rest * max(c.Flex, 1) / weights
			given += ws[i]
			lastFlex = i
		}
		ws[lastFlex] += rest - given
		for i, c := range cols {
			if c.Width == 0 && ws[i] < c.MinWidth {
				ws[i] = c.MinWidth
			}
		}
	}
	// Shrink from the right until the columns (and their separators) fit.
	total := func() int {
		t, k := 0, 0
		for _, w := range ws {
			if w > 0 {
				t += w
				k++
			}
		}
		return t + max(k-1, 0) + 1
	}
	for i := len(ws) - 1; i >= 0 && total() > width; i-- {
		over := total() - width
		if ws[i] > over && ws[i]-over >= 3 && !cols[i].Fit {
			ws[i] -= over
		} else {
			ws[i] = 0
		}
	}
	return ws
}

// commas formats n with thousands separators: 100000 → "100,000".
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
