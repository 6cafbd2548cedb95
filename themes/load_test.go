package themes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTheme(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadExtendsWithPartialOverrides(t *testing.T) {
	files := map[string]string{
		"ocean.yaml": `# my theme
name: ocean
extends: light
accent: "#0A4D8C"
match: '#a40'
`,
		"ocean.json": `{
  "name": "ocean",
  "extends": "light",
  "accent": "#0A4D8C",
  "match": "#a40"
}`,
	}
	for file, content := range files {
		t.Run(file, func(t *testing.T) {
			p, err := Load(writeTheme(t, file, content))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Get(Light)
			want.Name = "ocean"
			want.Accent = "#0a4d8c" // normalised
			want.Match = "#aa4400"  // expanded
			if p != want {
				t.Errorf("Load = %+v\nwant   %+v", p, want)
			}
			if err := p.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLoadExtendsOrderIndependentAndNamedAfterFile(t *testing.T) {
	// extends after the overrides still applies them on top.
	p, err := Load(writeTheme(t, "night.yml", "text: '#eeeeee'\nextends: high-contrast\n"))
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := Get(HighContrast)
	if p.Text != "#eeeeee" || p.Accent != hc.Accent {
		t.Errorf("text %q accent %q; want #eeeeee and high-contrast's %q", p.Text, p.Accent, hc.Accent)
	}
	if p.Name != "night" {
		t.Errorf("Name = %q, want the file's name, night", p.Name)
	}
}

func TestLoadCompleteWithoutExtends(t *testing.T) {
	var b strings.Builder
	for _, r := range Roles() {
		b.WriteString(r + ": '#123456'\n")
	}
	p, err := Load(writeTheme(t, "flat.yaml", b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Cancelled != "#123456" || p.Background != "#123456" {
		t.Errorf("got %+v", p)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file, content string
		want          []string // substrings of the error
		role          string
		line          int
	}{
		{
			"bad.yaml", "extends: dark\ntext: '#fff'\naccent: '#12zz45'\n",
			[]string{"bad.yaml:3", `"accent"`, `"#12zz45"`}, "accent", 3,
		},
		{
			"bad.json", "{\n  \"extends\": \"dark\",\n  \"error\": \"crimson\"\n}\n",
			[]string{"bad.json:3", `"error"`, `"crimson"`}, "error", 3,
		},
		{
			"unquoted.yaml", "extends: dark\nwarning: #ffaa00\n",
			[]string{"unquoted.yaml:2", `"warning"`, "quote the colour", `"#ffaa00"`}, "warning", 2,
		},
		{
			"typo.yaml", "extends: dark\n\ntext_mute: '#888888'\n",
			[]string{"typo.yaml:3", `"text_mute"`, "unknown key", "text_muted"}, "text_mute", 3,
		},
		{
			"base.yaml", "extends: solarized\n",
			[]string{"base.yaml:1", `"extends"`, `unknown theme "solarized"`}, "extends", 1,
		},
		{
			"partial.yaml", "text: '#ffffff'\n",
			[]string{"partial.yaml", "roles not set", "background", "extends"}, "", 0,
		},
		{
			"twice.yaml", "extends: dark\ntext: '#ffffff'\ntext: '#000000'\n",
			[]string{"twice.yaml:3", `"text"`, "set twice"}, "text", 3,
		},
		{
			"number.json", "{\"extends\": \"dark\",\n\"text\": 12}",
			[]string{"number.json:2", `"text"`, "want a string"}, "text", 2,
		},
		{
			"list.yaml", "- dark\n", []string{"list.yaml:1", "mapping"}, "", 1,
		},
		{
			"syntax.json", "{\n\"extends\": \"dark\"\n\"text\": \"#fff\"}", []string{"syntax.json:3"}, "", 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(writeTheme(t, tt.file, tt.content))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError", err)
			}
			if le.Role != tt.role || le.Line != tt.line {
				t.Errorf("Role %q Line %d, want %q %d", le.Role, le.Line, tt.role, tt.line)
			}
			if !strings.HasSuffix(le.File, tt.file) {
				t.Errorf("File = %q", le.File)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want a not-exist error", err)
	}
}

func FuzzLoadYAML(f *testing.F) {
	f.Add("extends: dark\naccent: '#fff'\n")
	f.Add("name: x\n")
	f.Add("- a\n")
	f.Add("accent: #fff\n")
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(t.TempDir(), "f.yaml")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(path)
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("Load accepted a palette that does not validate: %v", verr)
			}
		}
	})
}

func TestLoadYAMLSyntaxErrorHasLine(t *testing.T) {
	_, err := Load(writeTheme(t, "broken.yaml", "extends: dark\ntext: '#fff\n"))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load = %v; want a *LoadError", err)
	}
	if le.Line != 2 {
		t.Errorf("Line = %d, want 2 (error %q)", le.Line, err)
	}
	if !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("error %q does not name the file", err)
	}
}

func FuzzLoadJSON(f *testing.F) {
	f.Add(`{"extends": "dark", "accent": "#fff"}`)
	f.Add(`{"text": 1}`)
	f.Add(`[]`)
	f.Add(`{"a": {"b": "c"}}`)
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(t.TempDir(), "f.json")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(path)
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("Load accepted a palette that does not validate: %v", verr)
			}
		}
	})
}
