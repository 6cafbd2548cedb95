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
	d.str("timeout", a.Timeout, b.Timeout)
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
	d.demos(p+".demos", a.Demos, b.Demos)
	d.predictors(p+".predictors", a.Predictors, b.Predictors)
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

func (d *differ) demos(p string, a, b []map[string]any) {
	if len(a) != len(b) {
		d.add(p, demoCount(len(a)), demoCount(len(b)))
	}
	for i := range max(len(a), len(b)) {
		var was, now string
		if i < len(a) {
			was = render(a[i])
		}
		if i < len(b) {
			now = render(b[i])
		}
		d.str(fmt.Sprintf("%s[%d]", p, i), was, now)
	}
}

// asConstructed stands for a predictor state Signet does not store: the
// module's constructor decides it.
const asConstructed = "(as constructed)"

// predictors compares stored predictor states by name, in a's order then
// b's new ones; a predictor or a field stored on one side only is compared
// with what the constructor makes, shown as "(as constructed)".
func (d *differ) predictors(p string, a, b []Predictor) {
	am, bm := map[string]*Predictor{}, map[string]*Predictor{}
	var names []string
	for i := range a {
		am[a[i].Name] = &a[i]
		names = append(names, a[i].Name)
	}
	for i := range b {
		bm[b[i].Name] = &b[i]
		if am[b[i].Name] == nil {
			names = append(names, b[i].Name)
		}
	}
	for _, name := range names {
		pa, pb := am[name], bm[name]
		at := p + "." + name
		d.str(at+".instructions", storedInstructions(pa), storedInstructions(pb))
		fa, fb := fieldsOf(pa), fieldsOf(pb)
		var fields []string
		for _, x := range []*Predictor{pa, pb} {
			if x == nil {
				continue
			}
			for _, f := range x.Fields {
				if !slices.Contains(fields, f.Name) {
					fields = append(fields, f.Name)
				}
			}
		}
		for _, f := range fields {
			xa, oka := fa[f]
			xb, okb := fb[f]
			d.str(at+".fields."+f+".prefix", orConstructed(xa.Prefix, oka), orConstructed(xb.Prefix, okb))
			d.str(at+".fields."+f+".description", orConstructed(xa.Description, oka), orConstructed(xb.Description, okb))
		}
		var da, db []map[string]any
		var oa, ob string
		if pa != nil {
			da = pa.Demos
			if len(pa.Other) > 0 {
				oa = render(pa.Other)
			}
		}
		if pb != nil {
			db = pb.Demos
			if len(pb.Other) > 0 {
				ob = render(pb.Other)
			}
		}
		d.demos(at+".demos", da, db)
		d.str(at+".other", oa, ob)
	}
}

func storedInstructions(p *Predictor) string {
	if p == nil {
		return asConstructed
	}
	return orConstructed(p.Instructions, true)
}

func fieldsOf(p *Predictor) map[string]PredictorField {
	out := map[string]PredictorField{}
	if p != nil {
		for _, f := range p.Fields {
			out[f.Name] = f
		}
	}
	return out
}

// orConstructed is a stored value, or "(as constructed)" when none is
// stored (an empty string is DSPy's constructor's value too).
func orConstructed(v string, stored bool) string {
	if !stored || v == "" {
		return asConstructed
	}
	return v
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
