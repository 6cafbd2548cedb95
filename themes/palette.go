// Package themes holds Signet's semantic palettes and the Lip Gloss styles
// built from them: the built-in dark, light and high-contrast themes, user
// theme files (YAML or JSON, optionally extending a built-in), and the choice
// between dark and light when the configuration says "auto".
//
// A Palette names roles (Text, Accent, Failed, ...), never raw colours, so
// that the TUI asks for "the colour of a failed run" and a theme decides what
// that is. Styles are derived from a Palette by New and must be rebuilt when
// the palette changes, for example when the terminal reports its background.
//
// This package imports only Lip Gloss, the YAML decoder and the standard
// library (DESIGN.md section 2).
package themes

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Palette is a theme: one colour per semantic role, each a hex string
// "#rrggbb". The json/yaml names of the roles are the keys of a theme file.
type Palette struct {
	// Name is the theme's name ("dark", or a user theme's name); not a role.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`

	Background  string `json:"background" yaml:"background"`     // the screen
	Surface     string `json:"surface" yaml:"surface"`           // raised areas: status bar, dialogs, headers
	Border      string `json:"border" yaml:"border"`             // pane borders, separators
	BorderFocus string `json:"border_focus" yaml:"border_focus"` // the focused pane's border
	Text        string `json:"text" yaml:"text"`                 // body text
	TextMuted   string `json:"text_muted" yaml:"text_muted"`     // secondary text, help descriptions
	TextInverse string `json:"text_inverse" yaml:"text_inverse"` // text on Accent and state badges
	Accent      string `json:"accent" yaml:"accent"`             // titles, keys, the current page
	AccentMuted string `json:"accent_muted" yaml:"accent_muted"` // inactive tabs, secondary accents
	Selection   string `json:"selection" yaml:"selection"`       // background of the selected row
	Match       string `json:"match" yaml:"match"`               // fuzzy-filter matched characters

	Success string `json:"success" yaml:"success"`
	Warning string `json:"warning" yaml:"warning"`
	Error   string `json:"error" yaml:"error"`
	Info    string `json:"info" yaml:"info"`

	// Run states (model.RunState).
	Pending   string `json:"pending" yaml:"pending"`
	Running   string `json:"running" yaml:"running"`
	Completed string `json:"completed" yaml:"completed"`
	Failed    string `json:"failed" yaml:"failed"`
	Cancelled string `json:"cancelled" yaml:"cancelled"`
}

// role is one colour field of Palette: its theme-file key and field index.
type role struct {
	key   string
	index int
}

// roles lists Palette's colour fields in declaration order, derived from the
// struct so that adding a role needs no other change here.
var roles = func() []role {
	t := reflect.TypeFor[Palette]()
	var rs []role
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "Name" || f.Type.Kind() != reflect.String {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		rs = append(rs, role{key: key, index: i})
	}
	return rs
}()

// Roles returns the theme-file keys of every colour role, in a stable order.
func Roles() []string {
	keys := make([]string, len(roles))
	for i, r := range roles {
		keys[i] = r.key
	}
	return keys
}

func findRole(key string) (role, bool) {
	i := slices.IndexFunc(roles, func(r role) bool { return r.key == key })
	if i < 0 {
		return role{}, false
	}
	return roles[i], true
}

// Role returns the colour of the role with the given theme-file key
// ("text_muted"), and whether such a role exists.
func (p Palette) Role(key string) (string, bool) {
	r, ok := findRole(key)
	if !ok {
		return "", false
	}
	return reflect.ValueOf(p).Field(r.index).String(), true
}

func (p *Palette) set(r role, value string) {
	reflect.ValueOf(p).Elem().Field(r.index).SetString(value)
}

// Validate reports the first role that is unset or not a valid colour.
func (p Palette) Validate() error {
	v := reflect.ValueOf(p)
	for _, r := range roles {
		s := v.Field(r.index).String()
		if s == "" {
			return fmt.Errorf("theme %q: role %q is not set", p.Name, r.key)
		}
		if _, err := parseHex(s); err != nil {
			return fmt.Errorf("theme %q: role %q: %w", p.Name, r.key, err)
		}
	}
	return nil
}

// Built-in theme names.
const (
	Dark         = "dark"
	Light        = "light"
	HighContrast = "high-contrast"
)

var builtins = map[string]Palette{
	Dark: {
		Name:        Dark,
		Background:  "#1e1e2e",
		Surface:     "#2a2b3d",
		Border:      "#585b70",
		BorderFocus: "#89b4fa",
		Text:        "#cdd6f4",
		TextMuted:   "#a6adc8",
		TextInverse: "#1e1e2e",
		Accent:      "#89b4fa",
		AccentMuted: "#8a8fa8",
		Selection:   "#3b3f5c",
		Match:       "#f9e2af",
		Success:     "#a6e3a1",
		Warning:     "#f9e2af",
		Error:       "#f38ba8",
		Info:        "#89dceb",
		Pending:     "#a6adc8",
		Running:     "#89b4fa",
		Completed:   "#a6e3a1",
		Failed:      "#f38ba8",
		Cancelled:   "#fab387",
	},
	Light: {
		Name:        Light,
		Background:  "#fafafa",
		Surface:     "#e6e9ef",
		Border:      "#9ca0b0",
		BorderFocus: "#1e66f5",
		Text:        "#303446",
		TextMuted:   "#5c5f77",
		TextInverse: "#fafafa",
		Accent:      "#1a5fd6",
		AccentMuted: "#6c6f85",
		Selection:   "#d4dcf0",
		Match:       "#9a4a00",
		Success:     "#2b7a1f",
		Warning:     "#8a5a00",
		Error:       "#c4112f",
		Info:        "#0e6f86",
		Pending:     "#5c5f77",
		Running:     "#1a5fd6",
		Completed:   "#2b7a1f",
		Failed:      "#c4112f",
		Cancelled:   "#a0440f",
	},
	HighContrast: {
		Name:        HighContrast,
		Background:  "#000000",
		Surface:     "#1a1a1a",
		Border:      "#bfbfbf",
		BorderFocus: "#ffff00",
		Text:        "#ffffff",
		TextMuted:   "#d0d0d0",
		TextInverse: "#000000",
		Accent:      "#00e5ff",
		AccentMuted: "#9ad7ff",
		Selection:   "#003a8c",
		Match:       "#ffff00",
		Success:     "#3dff6a",
		Warning:     "#ffd000",
		Error:       "#ff8080",
		Info:        "#00e5ff",
		Pending:     "#d0d0d0",
		Running:     "#00e5ff",
		Completed:   "#3dff6a",
		Failed:      "#ff8080",
		Cancelled:   "#ffae42",
	},
}

// Names returns the names of the built-in themes, sorted.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for name := range builtins {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Get returns the built-in theme with the given name.
func Get(name string) (Palette, error) {
	p, ok := builtins[name]
	if !ok {
		return Palette{}, fmt.Errorf("unknown theme %q (built-in themes: %s)", name, strings.Join(Names(), ", "))
	}
	return p, nil
}

// Auto chooses the dark or the light built-in for a terminal whose background
// is, or is not, dark: what the TUI uses when the configuration says
// "theme: auto" and the terminal reports its background colour.
func Auto(hasDarkBackground bool) Palette {
	if hasDarkBackground {
		return builtins[Dark]
	}
	return builtins[Light]
}
