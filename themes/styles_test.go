package themes

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// render renders s through a writer fixed to the given colour profile, as
// the TUI's golden tests do, so the output does not depend on the terminal
// or the environment running the test.
func render(t *testing.T, profile colorprofile.Profile, s lipgloss.Style, text string) string {
	t.Helper()
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: profile}
	if _, err := w.WriteString(s.Render(text)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStylesRender(t *testing.T) {
	const sample = "summarize-v2  running  $0.42"
	for _, name := range Names() {
		p, _ := Get(name)
		st := New(p)
		if st.Palette != p {
			t.Errorf("%s: Styles.Palette is not the palette given", name)
		}
		all := map[string]lipgloss.Style{
			"Base": st.Base, "Title": st.Title, "Subtitle": st.Subtitle, "Muted": st.Muted,
			"Accent": st.Accent, "TabIdle": st.TabIdle, "Header": st.Header, "Row": st.Row,
			"RowSelected": st.RowSelected, "RowMuted": st.RowMuted, "Match": st.Match,
			"MatchSelected": st.MatchSelected, "StatusBar": st.StatusBar, "StatusKey": st.StatusKey,
			"StatusValue": st.StatusValue, "HelpKey": st.HelpKey, "HelpDesc": st.HelpDesc,
			"HelpSep": st.HelpSep, "Pane": st.Pane, "PaneFocused": st.PaneFocused,
			"Dialog": st.Dialog, "Error": st.Error, "Warning": st.Warning, "Success": st.Success,
			"Info": st.Info, "DiffAdd": st.DiffAdd, "DiffDel": st.DiffDel,
		}
		for _, state := range append(stateRoles, "unknown-state", "") {
			all["StateBadge("+state+")"] = st.StateBadge(state)
			all["StateColor("+state+")"] = st.StateColor(state)
		}
		for field, s := range all {
			for _, profile := range []colorprofile.Profile{colorprofile.TrueColor, colorprofile.ANSI256, colorprofile.ANSI, colorprofile.Ascii, colorprofile.NoTTY} {
				out := render(t, profile, s, sample)
				if plain := sgr.ReplaceAllString(out, ""); !strings.Contains(plain, sample) {
					t.Errorf("%s %s %s: rendered %q lost the text", name, field, profile, out)
				}
				if profile == colorprofile.NoTTY && strings.Contains(out, "\x1b") {
					t.Errorf("%s %s: NoTTY output has escape sequences: %q", name, field, out)
				}
			}
		}
	}
}

func TestSelectedRowDiffersFromNormal(t *testing.T) {
	for _, name := range Names() {
		p, _ := Get(name)
		st := New(p)
		for _, profile := range []colorprofile.Profile{colorprofile.TrueColor, colorprofile.ANSI256, colorprofile.ANSI} {
			row := render(t, profile, st.Row, "program")
			sel := render(t, profile, st.RowSelected, "program")
			if row == sel {
				t.Errorf("%s %s: selected and normal rows render the same: %q", name, profile, row)
			}
			if m, ms := render(t, profile, st.Match, "p"), render(t, profile, st.MatchSelected, "p"); m == ms {
				t.Errorf("%s %s: Match and MatchSelected render the same: %q", name, profile, m)
			}
		}
		// Golden check of one style under TrueColor: the selected row is
		// bold Text on Selection.
		fg, _ := parseHex(p.Text)
		bg, _ := parseHex(p.Selection)
		got := render(t, colorprofile.TrueColor, st.RowSelected, "x")
		for _, want := range []string{
			seq("38", fg.R, fg.G, fg.B),
			seq("48", bg.R, bg.G, bg.B),
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: RowSelected = %q, want it to contain %q", name, got, want)
			}
		}
	}
}

func seq(kind string, r, g, b uint8) string {
	return fmt.Sprintf("%s;2;%d;%d;%d", kind, r, g, b)
}

// sgr matches the SGR sequences the styles emit.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestStylesDifferBetweenThemes(t *testing.T) {
	dark := render(t, colorprofile.TrueColor, New(Auto(true)).Row, "x")
	light := render(t, colorprofile.TrueColor, New(Auto(false)).Row, "x")
	if dark == light {
		t.Errorf("dark and light rows render the same: %q", dark)
	}
}

func TestStateBadges(t *testing.T) {
	for _, name := range Names() {
		p, _ := Get(name)
		st := New(p)
		seen := map[string]string{} // rendering → state
		for _, state := range stateRoles {
			out := render(t, colorprofile.TrueColor, st.StateBadge(state), "state")
			if other, dup := seen[out]; dup {
				t.Errorf("%s: badges %s and %s look the same", name, other, state)
			}
			seen[out] = state
			if got, want := st.StateBadge(state).GetBackground(), st.StateColor(state).GetForeground(); got != want {
				t.Errorf("%s %s: badge background %v, state colour %v", name, state, got, want)
			}
		}
		// Any other state still renders, padded like the others.
		if got := lipgloss.Width(st.StateBadge("bogus").Render("bogus")); got != len("bogus")+2 {
			t.Errorf("%s: unknown badge width %d, want %d", name, got, len("bogus")+2)
		}
	}
}

func TestStylesConcurrentUse(t *testing.T) {
	st := New(Auto(false))
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				_ = st.StateBadge("running").Render("running")
				_ = st.RowSelected.Render("row")
			}
		}()
	}
	for range 4 {
		<-done
	}
}
