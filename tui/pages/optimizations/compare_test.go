package optimizations_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/flips"
	"github.com/signet-dspy/signet/tui/pages/optimizations"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// compared is the comparison of the sample's MIPROv2 (A) and bootstrap
// (B) runs.
func compared(t *testing.T, w, h int) tui.Model {
	t.Helper()
	m := newOptModel(t, w, h, tuitest.SampleOptimizations())
	m = tuitest.Send(t, m, tuitest.Key("j"))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeySpace, 0))
	m = tuitest.Send(t, m, tuitest.Code(tea.KeySpace, 0))
	m = tuitest.Send(t, m, tuitest.Key("C"))
	if _, ok := tuitest.Top(m).(*optimizations.CompareView); !ok {
		t.Fatal("C did not open the comparison")
	}
	return m
}

func darkStyles(t *testing.T) *themes.Styles {
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	return themes.New(p)
}

func TestCompareHighlightsChangedWords(t *testing.T) {
	m := compared(t, 120, 60)
	s := darkStyles(t)
	sc := tuitest.Styled(m)
	// MIPROv2 rewrote "Answer the question." as "Answer in one word.":
	// only the words that changed are highlighted, on each side.
	for _, want := range []string{s.DiffDel.Render("the"), s.DiffDel.Render("question."), s.DiffAdd.Render("one"), s.DiffAdd.Render("word.")} {
		if !strings.Contains(sc, want) {
			t.Errorf("the comparison lacks %q", want)
		}
	}
	if strings.Contains(sc, s.DiffDel.Render("Answer")) || strings.Contains(sc, s.DiffAdd.Render("Answer")) {
		t.Error("a word both share is highlighted")
	}
	plain := tuitest.Screen(m)
	for _, want := range []string{"A 00000002", "B 00000001", "- Answer the question.", "+ Answer in one word.", "demos 0 → 1", "1.00 ┤", "$0.0123", "$0.0456 cost"} {
		if !strings.Contains(plain, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, plain)
		}
	}
}

func TestCompareFlipView(t *testing.T) {
	m := compared(t, 120, 40)
	m = tuitest.Send(t, m, tuitest.Key("f"))
	v, ok := tuitest.Top(m).(*flips.View)
	if !ok {
		t.Fatalf("f opened %T", tuitest.Top(m))
	}
	sc := tuitest.Screen(m)
	for _, want := range []string{"4 examples · 1 flip", "▶ 00000101  fail      pass", "A 00000002 mipro_v2 · B 00000001 bootstrap_fewshot"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the flip view lacks %q:\n%s", want, sc)
		}
	}
	// Optimizer trials record no executions: enter says so, and stays.
	m = tuitest.Send(t, m, tuitest.Enter())
	if tuitest.Top(m) != v || !strings.Contains(m.Notice().Text, "no trace of this example is stored") {
		t.Errorf("enter on a run's example: top %T, notice %q", tuitest.Top(m), m.Notice().Text)
	}
	// Only the flips: one example left.
	m = tuitest.Send(t, m, tuitest.Key("f"))
	if sc := tuitest.Screen(m); !strings.Contains(sc, "only flips") || strings.Contains(sc, "00000102") || !strings.Contains(sc, "00000101") {
		t.Errorf("only flips:\n%s", sc)
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if _, ok := tuitest.Top(m).(*optimizations.CompareView); !ok {
		t.Fatal("esc did not go back to the comparison")
	}
}

func TestCompareExportsMarkdown(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	m := compared(t, 120, 40)
	cmp := tuitest.TopAs[*optimizations.CompareView](t, m).Comparison()
	m = tuitest.Send(t, m, tuitest.Key("e"))
	path := filepath.Join(dir, "compare-00000002-00000001.md")
	if m.Notice().Text != "comparison exported to "+path {
		t.Fatalf("notice %q", m.Notice().Text)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The one renderer `signet opt compare --markdown` prints with.
	if string(raw) != cmp.Markdown(cmp.Points) || !strings.Contains(string(raw), "~~the question.~~ **in one word.**") {
		t.Errorf("exported:\n%s", raw)
	}
}

func TestGoldenCompareColor(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			// Each from its own workbench: dialogs are shared by the copies of a model.
			screens := map[string]tui.Model{
				"compare":       compared(t, sz[0], sz[1]),
				"compare-chart": tuitest.Send(t, compared(t, sz[0], sz[1]), tuitest.Key("G")),
				"flips":         tuitest.Send(t, compared(t, sz[0], sz[1]), tuitest.Key("f")),
			}
			for _, name := range []string{"compare", "compare-chart", "flips"} {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, []byte(tuitest.Styled(screens[name])))
				})
			}
		})
	}
}
