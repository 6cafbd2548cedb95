// Package format writes the numbers the pages show, so that a cost, a
// count or a duration reads the same everywhere.
package format

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet-dspy/signet/model"
)

// USD formats a cost in dollars: cents from a dollar up, more decimals
// below, where local and test LMs' fractions of a cent would otherwise all
// read $0.00.
func USD(c float64) string {
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

// USDMaybe is USD marked with "?" when some LM call had no known price.
func USDMaybe(c float64, unknown bool) string {
	if unknown {
		return USD(c) + "?"
	}
	return USD(c)
}

// Thousands formats n with thousands separators: 100000 → "100,000".
func Thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Thousands(-n)
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

// Duration is a short duration: 850ms, 4.2s, 3m07s, 2h05m; "-" when
// negative (unknown).
func Duration(d time.Duration) string {
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

// Seconds is Duration of a number of seconds (a report's latencies).
func Seconds(s float64) string { return Duration(time.Duration(s * float64(time.Second))) }

// Tokens is a token count in a few characters: 950, 12.5k, 1.2M; "-" for none.
func Tokens(n int) string {
	switch {
	case n == 0:
		return "-"
	case n < 10_000:
		return strconv.Itoa(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1e6)
}

// Bytes is a size in a few characters, in binary units: 950 B, 12.3 KiB,
// 4.0 MiB, 1.2 GiB.
func Bytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// Ago is a short "how long ago" t was, at now: 45s ago, 12m ago, 3h ago,
// 5d ago, then the date; "never" for the zero time.
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
	return t.UTC().Format("2006-01-02")
}

// Examples is "1 example", "2,000 examples".
func Examples(n int) string { return Count(n, "example") }

// Count is n of noun, in the plural unless n is 1: "1 version", "2,000
// spans" (nouns whose plural adds an s).
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Thousands(n) + " " + noun + "s"
}

// RunID is the short form of an optimization's or an evaluation's ID: its
// last eight hex digits.
func RunID(id model.ID) string {
	s := id.String()
	return s[max(len(s)-8, 0):]
}

// Dash is s, or "-" when it is empty.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Month is t's month as cost rollups are kept and asked for: "2006-01",
// in UTC.
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// Text makes data safe to show on a terminal, keeping its lines: every
// control character but newline and tab (C0, DEL, the C1 controls such as
// U+009B, the 8-bit CSI, and a lone byte of that range) is written as an
// escape (\x1b, \r, \u009b), so a value cannot set the window title, move
// the cursor or clear the screen. The CLI's output and the workbench's
// details and cells all go through it.
func Text(s string) string { return escape(s, false) }

// Line is Text on one line: newlines, tabs and carriage returns become
// spaces, for table cells and labels.
func Line(s string) string { return escape(s, true) }

func escape(s string, oneLine bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == 0xc2 || (c >= 0x80 && c <= 0x9f) {
			clean = false
			break
		}
	}
	if clean {
		return s // the common case: no copy
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if c := s[i]; c >= 0x80 && c <= 0x9f {
				fmt.Fprintf(&b, `\x%02x`, c) // an 8-bit C1 control on its own
			} else {
				b.WriteByte(c)
			}
		case r == '\n' || r == '\t' || (oneLine && r == '\r'):
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x7f && r <= 0x9f: // \u, which JSON output reads as the same character
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
