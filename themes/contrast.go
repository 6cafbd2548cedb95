package themes

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
)

// parseHex parses "#rrggbb" or "#rgb" (the '#' is required).
func parseHex(s string) (color.RGBA, error) {
	bad := fmt.Errorf("invalid colour %q: want a hex colour such as \"#1e66f5\" or \"#fff\"", s)
	hex, ok := strings.CutPrefix(s, "#")
	if !ok {
		return color.RGBA{}, bad
	}
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	if len(hex) != 6 {
		return color.RGBA{}, bad
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return color.RGBA{}, bad
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}, nil
}

// normalizeHex returns s as lower-case "#rrggbb".
func normalizeHex(s string) (string, error) {
	c, err := parseHex(s)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B), nil
}

// RelativeLuminance is the relative luminance of c as defined by WCAG 2.x:
// 0 for black, 1 for white. Alpha is ignored.
func RelativeLuminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return 0.2126*linear(r) + 0.7152*linear(g) + 0.0722*linear(b)
}

// linear converts a 16-bit sRGB channel to linear light (WCAG 2.x).
func linear(v uint32) float64 {
	c := float64(v) / 0xffff
	if c <= 0.04045 {
		return c / 12.92
	}
	return math.Pow((c+0.055)/1.055, 2.4)
}

// ContrastRatio is the WCAG 2.x contrast ratio of two hex colours, from 1
// (identical) to 21 (black on white). The order of the arguments is
// irrelevant. WCAG AA asks 4.5:1 for normal text, AAA 7:1.
func ContrastRatio(a, b string) (float64, error) {
	ca, err := parseHex(a)
	if err != nil {
		return 0, err
	}
	cb, err := parseHex(b)
	if err != nil {
		return 0, err
	}
	la, lb := RelativeLuminance(ca), RelativeLuminance(cb)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}
