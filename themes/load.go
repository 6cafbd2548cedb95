package themes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadError is a problem in a theme file. Line is 0 when unknown; Role is the
// key at fault ("accent", "extends"), empty for a problem with the whole file.
type LoadError struct {
	File string
	Line int
	Role string
	Err  error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Role != "" {
		fmt.Fprintf(&b, ": %q", e.Role)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// entry is one key: value pair of a theme file.
type entry struct {
	key, value string
	line       int
}

// Load reads a user theme file, YAML (.yaml, .yml, or any other extension)
// or JSON (.json). Its keys are the role names of Palette ("text_muted"),
// plus optional "name" and "extends". With "extends: dark|light|high-contrast"
// the file may set any subset of roles and the rest come from that built-in;
// without it, it must set every role. Colours are hex strings, "#rrggbb" or
// "#rgb" (quote them in YAML: an unquoted '#' starts a comment).
//
// Errors are *LoadError values naming the file, the line when known, and the
// role. A theme without a name is named after its file.
func Load(path string) (Palette, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Palette{}, err
	}
	var entries []entry
	if strings.EqualFold(filepath.Ext(path), ".json") {
		entries, err = jsonEntries(path, data)
	} else {
		entries, err = yamlEntries(path, data)
	}
	if err != nil {
		return Palette{}, err
	}
	return build(path, entries)
}

// build turns a file's entries into a validated palette.
func build(path string, entries []entry) (Palette, error) {
	fail := func(e entry, err error) (Palette, error) {
		return Palette{}, &LoadError{File: path, Line: e.line, Role: e.key, Err: err}
	}
	var p Palette
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.key] {
			return fail(e, errors.New("set twice"))
		}
		seen[e.key] = true
		if e.key != "extends" {
			continue
		}
		base, ok := builtins[e.value]
		if !ok {
			return fail(e, fmt.Errorf("unknown theme %q: extends takes one of %s", e.value, strings.Join(Names(), ", ")))
		}
		p = base
	}
	p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	for _, e := range entries {
		switch e.key {
		case "extends":
		case "name":
			if e.value == "" {
				return fail(e, errors.New("empty name"))
			}
			p.Name = e.value
		default:
			r, ok := findRole(e.key)
			if !ok {
				return fail(e, fmt.Errorf("unknown key: want name, extends or a role (%s)", strings.Join(Roles(), ", ")))
			}
			hex, err := normalizeHex(e.value)
			if err != nil {
				return fail(e, err)
			}
			p.set(r, hex)
		}
	}
	var missing []string
	for _, r := range roles {
		if v, _ := p.Role(r.key); v == "" {
			missing = append(missing, r.key)
		}
	}
	if len(missing) > 0 {
		return Palette{}, &LoadError{File: path, Err: fmt.Errorf(
			"roles not set: %s; set them, or add \"extends: %s\" to take the others from a built-in theme",
			strings.Join(missing, ", "), strings.Join(Names(), "|"))}
	}
	return p, nil
}

// hexComment matches a line comment that is really an unquoted colour.
// yamlLine picks the line out of a YAML syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

var hexComment = regexp.MustCompile(`^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?\b`)

func yamlEntries(path string, data []byte) ([]entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		le := &LoadError{File: path, Err: err}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			le.Line, _ = strconv.Atoi(m[1])
			le.Err = errors.New(m[2])
		}
		return nil, le
	}
	if doc.Kind == 0 {
		return nil, nil // empty file
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return nil, &LoadError{File: path, Line: top.Line, Err: errors.New("a theme file is a mapping of role: colour")}
	}
	entries := make([]entry, 0, len(top.Content)/2)
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		e := entry{key: k.Value, value: v.Value, line: k.Line}
		if v.Kind != yaml.ScalarNode {
			return nil, &LoadError{File: path, Line: v.Line, Role: e.key, Err: errors.New("want a string")}
		}
		if v.Tag == "!!null" {
			err := errors.New("no value")
			if c := strings.TrimSpace(v.LineComment + k.LineComment); hexComment.MatchString(c) {
				err = fmt.Errorf("no value: quote the colour, %s: %q (an unquoted '#' starts a YAML comment)", e.key, hexComment.FindString(c))
			}
			return nil, &LoadError{File: path, Line: k.Line, Role: e.key, Err: err}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func jsonEntries(path string, data []byte) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	syntax := func(err error) error {
		line := lineAt(dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = lineAt(se.Offset)
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return &LoadError{File: path, Line: line, Err: err}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	if tok != json.Delim('{') {
		return nil, &LoadError{File: path, Line: lineAt(dec.InputOffset()), Err: errors.New("a theme file is an object of \"role\": \"colour\"")}
	}
	var entries []entry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		key, _ := tok.(string) // object keys are always strings
		line := lineAt(dec.InputOffset())
		tok, err = dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		value, ok := tok.(string)
		if !ok {
			return nil, &LoadError{File: path, Line: line, Role: key, Err: errors.New("want a string")}
		}
		entries = append(entries, entry{key: key, value: value, line: line})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &LoadError{File: path, Line: lineAt(dec.InputOffset()), Err: errors.New("data after the theme object")}
	}
	return entries, nil
}
