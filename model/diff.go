package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Change is one difference between two versions of a program. Path names
// the field ("lm", "modules.answer.instructions",
// "modules.answer.fields.question", "modules.answer.demos[2]"); Old and New
// are short renderings, "" where the value is absent.
type Change struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// DiffPrograms lists what changed from a to b, field by field, in a fixed
// order: program fields, the module order, then modules in a's order (each
// removed or compared), then modules only b has, in b's order. Version,
// creation time and note are not compared: they differ between any two
// versions and say nothing about behaviour. A nil program is an empty one.
func DiffPrograms(a, b *Program) []Change {
	if a == nil {
		a = &Program{}
	}
	if b == nil {
		b = &Program{}
	}
	d := differ{}
	d.str("name", a.Name, b.Name)
	d.str("description", a.Description, b.Description)
	d.str("status", string(a.Status), string(b.Status))
	d.str("lm", a.LM, b.LM)
	d.str("compiled_from", a.CompiledFrom, b.CompiledFrom)
	d.str("base_dir", a.BaseDir, b.BaseDir)

	ak, bk := moduleKeys(a.Modules), moduleKeys(b.Modules)
	am, bm := map[string]*Module{}, map[string]*Module{}
	for i, k := range ak {
		am[k] = &a.Modules[i]
	}
	for i, k := range bk {
		bm[k] = &b.Modules[i]
	}
	// The pipeline order decides which fields a module can read, so a
	// reordering of modules both versions have is a change of its own.
	common := func(keys []string, other map[string]*Module) []string {
		var out []string
		for _, k := range keys {
			if other[k] != nil {
				out = append(out, k)
			}
		}
		return out
	}
	if ac, bc := common(ak, bm), common(bk, am); !slices.Equal(ac, bc) {
		d.add("modules", strings.Join(ac, ", "), strings.Join(bc, ", "))
	}
	for _, k := range ak {
		if bm[k] == nil {
			d.add("modules."+k, summarizeModule(am[k]), "")
			continue
		}
		d.module("modules."+k, am[k], bm[k])
	}
	for _, k := range bk {
		if am[k] == nil {
			d.add("modules."+k, "", summarizeModule(bm[k]))
		}
	}
	return d.changes
}

// moduleKeys names modules for the diff. Names are unique in a valid
// program; a repeated one gets "#2", "#3"... so nothing is lost on one
// that is not.
func moduleKeys(ms []Module) []string {
	keys := make([]string, len(ms))
	count := map[string]int{}
	for i, m := range ms {
		count[m.Name]++
		keys[i] = m.Name
		if n := count[m.Name]; n > 1 {
			keys[i] = m.Name + "#" + strconv.Itoa(n)
		}
	}
	return keys
}

type differ struct{ changes []Change }

func (d *differ) add(path, was, now string) {
	d.changes = append(d.changes, Change{Path: path, Old: was, New: now})
}

func (d *differ) str(path, was, now string) {
	if was != now {
		d.add(path, was, now)
	}
}

func (d *differ) module(p string, a, b *Module) {
	d.str(p+".type", string(a.Type), string(b.Type))
	if !sameSignature(a.Signature, b.Signature) {
		d.add(p+".signature", a.Signature, b.Signature)
	}
	d.str(p+".instructions", a.Instructions, b.Instructions)
	for _, k := range unionKeys(a.Fields, b.Fields) {
		d.str(p+".fields."+k, a.Fields[k], b.Fields[k])
	}
	if len(a.Demos) != len(b.Demos) {
		d.add(p+".demos", demoCount(len(a.Demos)), demoCount(len(b.Demos)))
	}
	for i := range max(len(a.Demos), len(b.Demos)) {
		var was, now string
		if i < len(a.Demos) {
			was = render(a.Demos[i])
		}
		if i < len(b.Demos) {
			now = render(b.Demos[i])
		}
		d.str(fmt.Sprintf("%s.demos[%d]", p, i), was, now)
	}
	d.str(p+".lm", a.LM, b.LM)
	d.str(p+".source", a.Source, b.Source)
	for _, k := range unionKeys(a.Config, b.Config) {
		var was, now string
		if v, ok := a.Config[k]; ok {
			was = render(v)
		}
		if v, ok := b.Config[k]; ok {
			now = render(v)
		}
		d.str(p+".config."+k, was, now)
	}
}

// sameSignature ignores spelling that DSPy ignores ("q->a" is "q -> a").
func sameSignature(a, b string) bool {
	if a == b {
		return true
	}
	sa, err := ParseSignature(a)
	if err != nil {
		return false
	}
	sb, err := ParseSignature(b)
	if err != nil {
		return false
	}
	return sa.String() == sb.String()
}

func demoCount(n int) string {
	if n == 1 {
		return "1 demo"
	}
	return strconv.Itoa(n) + " demos"
}

func summarizeModule(m *Module) string {
	if m.Signature == "" {
		return string(m.Type)
	}
	return string(m.Type) + ": " + m.Signature
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// render writes a value as compact JSON with sorted keys. Values are
// compared through it too, so 1 read from YAML (int) and 1 read from JSON
// (float64) are the same value.
func render(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <, > and & readable in a diff
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
