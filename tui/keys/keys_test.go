package keys

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func press(code rune, mod tea.KeyMod, text string) tea.KeyPressMsg {
	return tea.KeyPressMsg{Code: code, Mod: mod, Text: text}
}

func TestDefaultMatches(t *testing.T) {
	m := Default()
	tests := []struct {
		name string
		msg  tea.KeyPressMsg
		b    key.Binding
	}{
		{"q", press('q', 0, "q"), m.Quit},
		{"ctrl+c", press('c', tea.ModCtrl, ""), m.Quit},
		{"?", press('?', 0, "?"), m.Help},
		{"/", press('/', 0, "/"), m.Filter},
		{"esc", press(tea.KeyEscape, 0, ""), m.Back},
		{"tab", press(tea.KeyTab, 0, ""), m.NextPage},
		{"shift+tab", press(tea.KeyTab, tea.ModShift, ""), m.PrevPage},
		{"1", press('1', 0, "1"), m.Pages[0]},
		{"5", press('5', 0, "5"), m.Pages[4]},
		{"j", press('j', 0, "j"), m.Down},
		{"down", press(tea.KeyDown, 0, ""), m.Down},
		{"k", press('k', 0, "k"), m.Up},
		{"up", press(tea.KeyUp, 0, ""), m.Up},
		{"g", press('g', 0, "g"), m.Top},
		{"G", press('G', tea.ModShift, "G"), m.Bottom},
		{"pgup", press(tea.KeyPgUp, 0, ""), m.PageUp},
		{"pgdown", press(tea.KeyPgDown, 0, ""), m.PageDown},
		{"enter", press(tea.KeyEnter, 0, ""), m.Open},
	}
	for _, tt := range tests {
		if !key.Matches(tt.msg, tt.b) {
			t.Errorf("%s (%q) does not match %v", tt.name, tt.msg.String(), tt.b.Keys())
		}
	}
	if key.Matches(press('x', 0, "x"), m.Quit, m.Help, m.Filter, m.Down) {
		t.Error("x matched a binding")
	}
}

func TestOverride(t *testing.T) {
	m, err := New(map[string][]string{"quit": {"ctrl+q"}, "help": {}})
	if err != nil {
		t.Fatal(err)
	}
	if key.Matches(press('q', 0, "q"), m.Quit) {
		t.Error("q still quits after override")
	}
	if !key.Matches(press('q', tea.ModCtrl, ""), m.Quit) {
		t.Error("ctrl+q does not quit")
	}
	if m.Quit.Help().Key != "ctrl+q" {
		t.Errorf("help shows %q, want the overridden key", m.Quit.Help().Key)
	}
	if m.Help.Enabled() {
		t.Error("an empty list should unbind help")
	}
}

func TestOverrideUnknownAction(t *testing.T) {
	_, err := New(map[string][]string{"qiut": {"x"}})
	if err == nil || !strings.Contains(err.Error(), `"qiut"`) {
		t.Fatalf("err = %v, want it to name the unknown action", err)
	}
	if _, err := New(map[string][]string{"open": {" "}}); err == nil {
		t.Fatal("an empty key name was accepted")
	}
}

func TestHelpCoversEveryAction(t *testing.T) {
	m := Default()
	seen := map[string]bool{}
	for _, col := range append(m.FullHelp(), m.PageActions()) {
		for _, b := range col {
			for _, k := range b.Keys() {
				seen[k] = true
			}
		}
	}
	for _, a := range actions {
		for _, k := range a.keys {
			if !seen[k] {
				t.Errorf("key %q of action %s is in neither the full help nor the page actions", k, a.name)
			}
		}
	}
	if len(m.ShortHelp()) == 0 {
		t.Error("empty short help")
	}
}
