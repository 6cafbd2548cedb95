package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
)

// readProgramFile reads a program definition (YAML, or JSON, which YAML
// reads too) strictly: unknown keys are errors, and every error names the
// file (as the user typed it) and line. abs is the file resolved against the
// command line's working directory.
//
// User code is named relative to the program file, as in a DSPy project:
// the paths are kept as written and the file's directory becomes the
// program's BaseDir, against which runs resolve them (the worker's
// base_dir), so a program file and its code can move together.
func readProgramFile(name, abs string) (*model.Program, error) {
	data, err := readProgramPath(name, abs)
	if err != nil {
		return nil, err
	}
	p, err := parseProgram(name, data)
	if err != nil {
		return nil, err
	}
	p.BaseDir = filepath.Dir(abs)
	return p, nil
}

// readProgramPath reads the program file at abs (name as the user typed it)
// within the program file limit.
func readProgramPath(name, abs string) ([]byte, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("reading program file: %w", asTyped(err, name))
	}
	defer f.Close()
	return readProgramData(f, name)
}

// readProgramData reads a program file (or a DSPy save() file, or stdin)
// named name, up to the config's program_file limit: a larger one is
// refused after reading one byte past the limit, never read whole.
func readProgramData(r io.Reader, name string) ([]byte, error) {
	cfg, err := config.Load("")
	if err != nil {
		return nil, err
	}
	limit := int64(cfg.Limits().ProgramFile)
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: the file is larger than the limit of %s for a program file (limits: program_file in config.yaml)",
			name, model.FormatSize(limit))
	}
	return data, nil
}

// userCode calls fn on every path of user code in p (a module's source,
// config.tools of a ReAct module), for it to rewrite.
func userCode(p *model.Program, fn func(ref string) string) {
	for i := range p.Modules {
		m := &p.Modules[i]
		if m.Source != "" {
			m.Source = fn(m.Source)
		}
		if tools, ok := m.Config["tools"].([]any); ok {
			tools = slices.Clone(tools)
			for j, t := range tools {
				if s, ok := t.(string); ok {
					tools[j] = fn(s)
				}
			}
			m.Config = maps.Clone(m.Config)
			m.Config["tools"] = tools
		}
	}
}

// relativeTo is p as written into a program file in dir: the paths of its
// user code (resolved against p.BaseDir when relative) made relative to dir
// where they can be, and no BaseDir, which a file never carries.
func relativeTo(p *model.Program, dir string) *model.Program {
	out := *p
	out.Modules = slices.Clone(p.Modules)
	out.BaseDir = ""
	userCode(&out, func(ref string) string {
		file, obj, ok := strings.Cut(ref, ":")
		if !ok || file == "" {
			return ref
		}
		if !filepath.IsAbs(file) {
			if p.BaseDir == "" {
				return ref // relative to an unknown directory: keep it as written
			}
			file = filepath.Join(p.BaseDir, file)
		}
		if rel, err := filepath.Rel(dir, file); err == nil {
			file = rel
		}
		return filepath.ToSlash(file) + ":" + obj
	})
	return &out
}

func parseProgram(name string, data []byte) (*model.Program, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty program file", name)
	}
	var p model.Program
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", name, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// Version and creation time belong to the store; a file exported with
	// `show` carries them, and they are ignored on the way back in.
	p.Version = 0
	p.CreatedAt = p.CreatedAt.UTC()
	if err := p.Validate(); err != nil {
		var fe *model.FieldError
		if errors.As(err, &fe) {
			if line := fieldLine(root.Content[0], fe.Field); line > 0 {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &p, nil
}

var modulePath = regexp.MustCompile(`^modules\[(\d+)\](?: \([^)]*\))?(?:\.(\w+))?(?:\.(\w+))?`)

// fieldLine finds the line of the YAML node a validation error names, such
// as "modules[1] (answer).signature", "modules[0] (search).retriever.k" or
// "status".
func fieldLine(doc *yaml.Node, field string) int {
	if m := modulePath.FindStringSubmatch(field); m != nil {
		mods := mapValue(doc, "modules")
		i, _ := strconv.Atoi(m[1])
		if mods == nil || mods.Kind != yaml.SequenceNode || i >= len(mods.Content) {
			if mods != nil {
				return mods.Line
			}
			return 0
		}
		mod := mods.Content[i]
		if m[2] != "" {
			if v := mapValue(mod, m[2]); v != nil {
				if w := mapValue(v, m[3]); m[3] != "" && w != nil {
					return w.Line
				}
				return v.Line
			}
		}
		return mod.Line
	}
	key := field
	if i := strings.IndexByte(key, '.'); i >= 0 {
		key = key[:i]
	}
	if v := mapValue(doc, key); v != nil {
		return v.Line
	}
	return 0
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// flowFields writes each field of a predictor's state on one line
// ({name: answer, type: str, prefix: 'Answer:', ...}): a predictor lists
// every field of its signature, and one line each keeps them readable.
func flowFields(n *yaml.Node, inPredictor bool) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if inPredictor && k.Value == "fields" && v.Kind == yaml.SequenceNode {
				for _, f := range v.Content {
					f.Style = yaml.FlowStyle
				}
				continue
			}
			flowFields(v, k.Value == "predictors")
		}
		return
	}
	for _, c := range n.Content {
		flowFields(c, inPredictor && n.Kind == yaml.SequenceNode)
	}
}

// encodeProgram renders a program as YAML or JSON for show, edit and export:
// a program file, which never carries BaseDir (paths stay as stored).
func encodeProgram(p *model.Program, format string) ([]byte, error) {
	if p.BaseDir != "" {
		c := *p
		c.BaseDir = ""
		p = &c
	}
	switch format {
	case "yaml", "yml", "":
		var node yaml.Node
		if err := node.Encode(p); err != nil {
			return nil, fmt.Errorf("encoding program %q as YAML: %w", p.Name, err)
		}
		flowFields(&node, false)
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&node); err != nil {
			return nil, fmt.Errorf("encoding program %q as YAML: %w", p.Name, err)
		}
		return b.Bytes(), nil
	case "json":
		out, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding program %q as JSON: %w", p.Name, err)
		}
		return append(out, '\n'), nil
	}
	return nil, usagef("unknown format %q (want yaml or json)", format)
}
