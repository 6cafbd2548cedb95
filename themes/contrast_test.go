package themes

import (
	"image/color"
	"math"
	"testing"
)

func TestContrastRatioKnownValues(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#000000", 21}, // order does not matter
		{"#777777", "#777777", 1},
		{"#777777", "#ffffff", 4.48}, // the classic "grey that just fails AA"
		{"#767676", "#ffffff", 4.54}, // and the one that just passes
		{"#0000ff", "#ffffff", 8.59},
		{"#f00", "#ffffff", 4.00}, // short form
	}
	for _, tt := range tests {
		got, err := ContrastRatio(tt.a, tt.b)
		if err != nil {
			t.Fatalf("ContrastRatio(%q, %q): %v", tt.a, tt.b, err)
		}
		if math.Abs(got-tt.want) > 0.01 {
			t.Errorf("ContrastRatio(%q, %q) = %.3f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
	if _, err := ContrastRatio("#12345", "#fff"); err == nil {
		t.Error("ContrastRatio accepted a five-digit colour")
	}
}

func TestRelativeLuminanceBounds(t *testing.T) {
	if l := RelativeLuminance(color.Black); l != 0 {
		t.Errorf("black: %v", l)
	}
	if l := RelativeLuminance(color.White); math.Abs(l-1) > 1e-9 {
		t.Errorf("white: %v", l)
	}
}

// pair is one foreground/background combination the styles actually use.
type pair struct{ fg, bg string }

func ratio(t *testing.T, p Palette, fgRole, bgRole string) float64 {
	t.Helper()
	fg, ok1 := p.Role(fgRole)
	bg, ok2 := p.Role(bgRole)
	if !ok1 || !ok2 {
		t.Fatalf("no role %q or %q", fgRole, bgRole)
	}
	r, err := ContrastRatio(fg, bg)
	if err != nil {
		t.Fatalf("%s: %s on %s: %v", p.Name, fgRole, bgRole, err)
	}
	return r
}

var stateRoles = []string{"pending", "running", "completed", "failed", "cancelled"}

// TestContrast checks WCAG 2.x contrast of the pairs the styles render:
// high-contrast meets AAA (7:1) for body text and AA (4.5:1) for the rest;
// dark and light meet AA for text and its readable variants.
func TestContrast(t *testing.T) {
	type check struct {
		theme string
		pairs []pair
		min   float64
	}
	var checks []check
	aa := func(theme string, pairs ...pair) { checks = append(checks, check{theme, pairs, 4.5}) }
	aaa := func(theme string, pairs ...pair) { checks = append(checks, check{theme, pairs, 7}) }

	aaa(HighContrast,
		pair{"text", "background"},
		pair{"text", "surface"},
		pair{"text", "selection"},
	)
	for _, name := range Names() {
		aa(name,
			pair{"text", "background"},
			pair{"text", "surface"},   // header, status bar
			pair{"text", "selection"}, // selected row
			pair{"text_muted", "background"},
			pair{"accent", "background"},
			pair{"accent_muted", "background"}, // idle tabs, subtitles
			pair{"text_inverse", "accent"},     // status key
			pair{"match", "background"},
			pair{"match", "selection"},
			pair{"success", "background"},
			pair{"warning", "background"},
			pair{"error", "background"},
			pair{"info", "background"},
		)
		for _, s := range stateRoles {
			aa(name,
				pair{s, "background"},   // state column
				pair{"text_inverse", s}, // state badge
			)
		}
	}
	for _, c := range checks {
		p, err := Get(c.theme)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range c.pairs {
			if r := ratio(t, p, pr.fg, pr.bg); r < c.min {
				t.Errorf("%s: %s on %s: contrast %.2f:1, want at least %.1f:1", c.theme, pr.fg, pr.bg, r, c.min)
			}
		}
	}
}

// TestContrastReport logs every built-in's ratios, for tuning (go test -v).
func TestContrastReport(t *testing.T) {
	for _, name := range Names() {
		p, _ := Get(name)
		for _, fg := range []string{"text", "text_muted", "accent", "accent_muted", "match", "success", "warning", "error", "info", "pending", "running", "completed", "failed", "cancelled", "border"} {
			t.Logf("%-13s %-12s on background %5.2f  on selection %5.2f", name, fg, ratio(t, p, fg, "background"), ratio(t, p, fg, "selection"))
		}
	}
}
