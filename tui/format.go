package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/signet-dspy/signet/themes"
)

// Formatting shared by the pages, so that a cost, a count or a duration
// reads the same everywhere.

// usd formats a cost in dollars: cents from a dollar up, more decimals
// below, where local and test LMs' fractions of a cent would otherwise
// all read $0.00.
func usd(c float64) string {
	a := math.Abs(c)
	switch {
	case c == 0:
		return "$0.00"
	case a >= 1:
		return fmt.Sprintf("$%.2f", c)
	case a >= 0.0001:
		return fmt.Sprintf("$%.4f", c)
	}
	return fmt.Sprintf("$%.6f", c)
}

// usdMaybe is usd marked with "?" when some LM call had no known price.
func usdMaybe(c float64, unknown bool) string {
	if unknown {
		return usd(c) + "?"
	}
	return usd(c)
}

// thousands formats n with thousands separators: 100000 → "100,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fmtDuration is a short duration: 850ms, 4.2s, 3m07s, 2h05m; "-" when
// negative (unknown).
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// bar draws a bar of width w filled to frac (0..1).
func bar(s *themes.Styles, frac float64, w int) string {
	frac = math.Min(math.Max(frac, 0), 1)
	n := int(math.Round(frac * float64(w)))
	return s.Accent.Render(strings.Repeat("█", n)) + s.Muted.Render(strings.Repeat("░", w-n))
}
