// Package layout fits text into cells: a block of exactly w x h, a bordered
// box, a box drawn over the middle of another block, a progress bar. Pages
// and dialogs render strings at a given size (DESIGN.md section 6); these
// are the few shapes they all draw.
package layout

import (
	"math"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/format"
)

// Fit makes s exactly w cells wide and h lines high: long lines are cut,
// short ones padded with spaces, missing lines added and extra ones dropped.
func Fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			lines[i] = ansi.Truncate(l, w, "…")
		} else if lw < w {
			lines[i] = l + strings.Repeat(" ", w-lw)
		}
	}
	return strings.Join(lines, "\n")
}

// Box draws content in a rounded border of exactly w x h cells with one
// space of padding each side.
func Box(content string, w, h int, s *themes.Styles) string {
	border := s.PaneFocused.GetBorderStyle()
	if border.Top == "" {
		border = lipgloss.RoundedBorder()
	}
	bs := lipgloss.NewStyle().Foreground(s.PaneFocused.GetBorderTopForeground())
	innerW, innerH := max(w-2, 0), max(h-2, 0)
	body := Fit(content, max(innerW-2, 0), innerH)
	var b strings.Builder
	b.WriteString(bs.Render(border.TopLeft + strings.Repeat(border.Top, innerW) + border.TopRight))
	for _, l := range strings.Split(body, "\n") {
		b.WriteString("\n" + bs.Render(border.Left) + " " + l + " " + bs.Render(border.Right))
	}
	b.WriteString("\n" + bs.Render(border.BottomLeft+strings.Repeat(border.Bottom, innerW)+border.BottomRight))
	return b.String()
}

// BoxLines draws lines in a box as wide as the widest of them (and its
// border and padding), at least 20 cells and at most w.
func BoxLines(lines []string, s *themes.Styles, w int) string {
	inner := 0
	for _, l := range lines {
		inner = max(inner, ansi.StringWidth(l))
	}
	bw := min(inner+4, max(w, 20))
	return Box(strings.Join(lines, "\n"), bw, len(lines)+2, s)
}

// Overlay draws box over the middle of below, a block of w x h: the lines
// of below above and under the box stay, the rows it covers are replaced
// by it, centred.
func Overlay(below, box string, w, h int) string {
	lines := strings.Split(Fit(below, w, h), "\n")
	bl := strings.Split(box, "\n")
	top := max((h-len(bl))/2, 0)
	for i, l := range bl {
		if top+i >= len(lines) {
			break
		}
		lines[top+i] = lipgloss.PlaceHorizontal(w, lipgloss.Center, l)
	}
	return Fit(strings.Join(lines, "\n"), w, h)
}

// ReplaceLine is block with its line i (negative: from the end, -1 the
// last) replaced by line; a block without that line is returned as it is.
func ReplaceLine(block, line string, i int) string {
	lines := strings.Split(block, "\n")
	if i < 0 {
		i += len(lines)
	}
	if i < 0 || i >= len(lines) {
		return block
	}
	lines[i] = line
	return strings.Join(lines, "\n")
}

// PadRight pads s with spaces to w cells.
func PadRight(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// Truncate cuts s to n runes, the last one an ellipsis when it was cut.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n-1, 0)]) + "…"
}

// WrapLines wraps text to w cells (at least 10), paragraph by paragraph;
// empty text is "(none)".
func WrapLines(text string, w int) []string {
	text = strings.TrimSpace(text)
	if text == "" {
		return []string{"(none)"}
	}
	var out []string
	for _, para := range strings.Split(format.Text(text), "\n") {
		out = append(out, strings.Split(ansi.Wrap(para, max(w, 10), " -"), "\n")...)
	}
	return out
}

// Bar draws a bar of width w filled to frac (0..1).
func Bar(s *themes.Styles, frac float64, w int) string {
	frac = math.Min(math.Max(frac, 0), 1)
	n := int(math.Round(frac * float64(w)))
	return s.Accent.Render(strings.Repeat("█", n)) + s.Muted.Render(strings.Repeat("░", w-n))
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Spinner is frame i of the spinner that marks work under way.
func Spinner(i int) string { return spinner[(i%len(spinner)+len(spinner))%len(spinner)] }
