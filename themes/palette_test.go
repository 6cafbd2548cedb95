package themes

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestBuiltinsSetEveryRole walks Palette by reflection, so a role added to the
// struct and forgotten in a built-in fails here.
func TestBuiltinsSetEveryRole(t *testing.T) {
	typ := reflect.TypeFor[Palette]()
	for _, name := range Names() {
		p, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != name {
			t.Errorf("Get(%q).Name = %q", name, p.Name)
		}
		v := reflect.ValueOf(p)
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Type.Kind() != reflect.String {
				t.Fatalf("Palette.%s is a %s: roles are hex strings", f.Name, f.Type)
			}
			s := v.Field(i).String()
			if s == "" {
				t.Errorf("%s: Palette.%s is empty", name, f.Name)
				continue
			}
			if f.Name == "Name" {
				continue
			}
			if _, err := parseHex(s); err != nil {
				t.Errorf("%s: Palette.%s: %v", name, f.Name, err)
			}
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
	}
}

func TestRolesMatchStructTags(t *testing.T) {
	typ := reflect.TypeFor[Palette]()
	got := Roles()
	if len(got) != typ.NumField()-1 {
		t.Fatalf("Roles() has %d roles, Palette has %d colour fields", len(got), typ.NumField()-1)
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		yamlKey, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		jsonKey, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if yamlKey != jsonKey || yamlKey == "" {
			t.Errorf("Palette.%s: yaml key %q and json key %q differ", f.Name, yamlKey, jsonKey)
		}
		if f.Name != "Name" && !slices.Contains(got, yamlKey) {
			t.Errorf("Roles() lacks %q", yamlKey)
		}
	}
	dark, _ := Get(Dark)
	if v, ok := dark.Role("text_muted"); !ok || v != dark.TextMuted {
		t.Errorf(`Role("text_muted") = %q, %v; want %q`, v, ok, dark.TextMuted)
	}
	if _, ok := dark.Role("name"); ok {
		t.Error(`Role("name") found a role: name is not a colour`)
	}
}

func TestNamesGetAuto(t *testing.T) {
	if got, want := Names(), []string{"dark", "high-contrast", "light"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if _, err := Get("solarized"); err == nil || !strings.Contains(err.Error(), "high-contrast") {
		t.Errorf("Get(unknown) error = %v; want one listing the built-ins", err)
	}
	if p := Auto(true); p.Name != Dark {
		t.Errorf("Auto(true) = %q, want dark", p.Name)
	}
	if p := Auto(false); p.Name != Light {
		t.Errorf("Auto(false) = %q, want light", p.Name)
	}
	// Built-ins are values: changing a copy must not change the theme.
	p, _ := Get(Dark)
	p.Text = "#000000"
	if q, _ := Get(Dark); q.Text == "#000000" {
		t.Error("Get returned a palette shared with the built-in table")
	}
}

func TestValidate(t *testing.T) {
	p, _ := Get(Light)
	p.Accent = "blue"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `"accent"`) {
		t.Errorf("Validate with a bad accent = %v; want an error naming accent", err)
	}
	p, _ = Get(Light)
	p.Cancelled = ""
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `"cancelled" is not set`) {
		t.Errorf("Validate with no cancelled = %v", err)
	}
}

func TestParseHex(t *testing.T) {
	good := map[string]string{"#1E66F5": "#1e66f5", "#fff": "#ffffff", "#000000": "#000000"}
	for in, want := range good {
		if got, err := normalizeHex(in); err != nil || got != want {
			t.Errorf("normalizeHex(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "#", "1e66f5", "#1e66f", "#1e66f5ff", "#ggg", "red", "# fff", "#+12345"} {
		if _, err := parseHex(bad); err == nil {
			t.Errorf("parseHex(%q) accepted it", bad)
		}
	}
}
