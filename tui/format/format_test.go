package format

import (
	"testing"
	"time"
)

func TestNumbers(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{USD(0), "$0.00"},
		{USD(12.345), "$12.35"},
		{USD(0.0042), "$0.0042"},
		{USD(0.0000042), "$0.000004"},
		{USDMaybe(0.5, true), "$0.5000?"},
		{Thousands(100000), "100,000"},
		{Thousands(-1234), "-1,234"},
		{Thousands(999), "999"},
		{Duration(850 * time.Millisecond), "850ms"},
		{Duration(4200 * time.Millisecond), "4.2s"},
		{Duration(3*time.Minute + 7*time.Second), "3m07s"},
		{Duration(2*time.Hour + 5*time.Minute), "2h05m"},
		{Duration(-1), "-"},
		{Tokens(0), "-"},
		{Tokens(9999), "9999"},
		{Tokens(12500), "12.5k"},
		{Tokens(1_200_000), "1.2M"},
		{Bytes(950), "950 B"},
		{Bytes(12595), "12.3 KiB"},
		{Bytes(4 << 20), "4.0 MiB"},
		{Bytes(1288490189), "1.2 GiB"},
		{Ago(time.Unix(100, 0), time.Unix(55, 0)), "45s ago"},
		{Ago(time.Unix(7200, 0), time.Unix(0, 0)), "2h ago"},
		{Ago(time.Unix(5*86400, 0), time.Unix(0, 0)), "5d ago"},
		{Ago(time.Unix(100*86400, 0), time.Unix(0, 0)), "1970-01-01"},
		{Ago(time.Unix(100, 0), time.Time{}), "never"},
		{Examples(1), "1 example"},
		{Examples(2000), "2,000 examples"},
		{Count(1, "version"), "1 version"},
		{Count(0, "version"), "0 versions"},
		{Dash(""), "-"},
		{Dash("x"), "x"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestEscape: what a terminal would obey in data is shown, not obeyed.
func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, text, line string }{
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`, `\x1b]0;pwned\x07`},
		{"\x1b[2J", `\x1b[2J`, `\x1b[2J`},
		{"a\nb\tc\r\n", "a\nb\tc\\r\n", "a b c  "},
		{"csi \u009b2J", `csi \u009b2J`, `csi \u009b2J`},
		{"8-bit \x9b2J", `8-bit \x9b2J`, `8-bit \x9b2J`},
		{"del \x7f nul \x00", `del \u007f nul \x00`, `del \u007f nul \x00`},
		{"plain é ě 日本 😀", "plain é ě 日本 😀", "plain é ě 日本 😀"},
		{"\xc2", "\xc2", "\xc2"}, // a cut UTF-8 sequence that is no control
	} {
		if got := Text(c.in); got != c.text {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.text)
		}
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.line)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 flips", 1: "1 flip", 3: "3 flips"} {
		if got := Count(n, "flip"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
