package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// schemas builds the JSON Schemas (2020-12, the dialect of OpenAPI 3.1) of
// Go types by reflection, as encoding/json writes them: a named struct is a
// component that others $ref; a field without omitempty/omitzero is
// required; a pointer, slice or map that can be nil where it is not omitted
// may be null.
//
// A request body is read by decode, which takes any of its fields and no
// unknown one (the service refuses what it lacks, naming the field): its
// schemas (input) require none. A struct that is in answers too has a
// component of each kind, the input's named NAME + "Input".
type schemas struct {
	names map[reflect.Type]string // component names, decided before any is built
	defs  map[string]any          // the components built, of both kinds
	input bool
	// closed answers' objects have no members but their fields (tests;
	// the document leaves them open: v1 may add fields, docs/api.md).
	closed bool
	// inputs is the schemas of request bodies, sharing defs; of itself
	// when input.
	inputs *schemas
}

// enums are the named types whose values are a known set: the consts of
// each type (TestOpenAPIEnumsAreTheConsts holds them to the source).
var enums = map[reflect.Type][]string{
	reflect.TypeFor[model.RunState]():      strs(model.RunStates),
	reflect.TypeFor[model.Split]():         strs(model.Splits),
	reflect.TypeFor[model.ModuleType]():    strs(model.ModuleTypes),
	reflect.TypeFor[model.Role]():          strs(model.Roles),
	reflect.TypeFor[model.ProgramStatus](): strs([]model.ProgramStatus{model.Draft, model.Testing, model.Production}),
	reflect.TypeFor[model.SpanKind](): strs([]model.SpanKind{model.SpanModule, model.SpanAdapter, model.SpanLM, model.SpanTool,
		model.SpanRetrieval}),
	// A request's metric may be spelled (kind ""), which the service parses.
	reflect.TypeFor[model.MetricKind](): strs([]model.MetricKind{model.MetricBuiltin, model.MetricCustom, model.MetricJudge,
		app.MetricSpelled}),
	reflect.TypeFor[app.EventKind](): strs([]app.EventKind{app.EventExecution, app.EventSpan, app.EventPool, app.EventOptimization,
		app.EventEvaluation, app.EventProgram, app.EventDataset, app.EventIndex}),
	reflect.TypeFor[app.Code](): codes(),
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// codes are the service's error codes: the ones statusOf maps.
func codes() []string {
	var out []string
	for c := range statusOf {
		out = append(out, string(c))
	}
	slices.Sort(out)
	return out
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	idType       = reflect.TypeFor[model.ID]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	textType     = reflect.TypeFor[encoding.TextMarshaler]()
	marshalType  = reflect.TypeFor[json.Marshaler]()
)

// newSchemas names the components of every named type reachable from
// answers and from requests: its Go name, or package and name where two
// packages share one (app.Comparison and model.Comparison).
func newSchemas(answers, requests []reflect.Type, closed bool) *schemas {
	out, in := reachable(answers), reachable(requests)
	count := map[string]int{}
	for t := range unionKeys(out, in) {
		count[exported(t.Name())]++
	}
	name := func(t reflect.Type) string {
		n := exported(t.Name())
		if count[n] > 1 {
			pkg := t.PkgPath()
			n = exported(pkg[strings.LastIndex(pkg, "/")+1:]) + n
		}
		return n
	}
	s := &schemas{names: map[reflect.Type]string{}, defs: map[string]any{}, closed: closed}
	s.inputs = &schemas{names: map[reflect.Type]string{}, defs: s.defs, input: true}
	s.inputs.inputs = s.inputs
	for t := range out {
		s.names[t] = name(t)
	}
	for t := range in {
		n := name(t)
		if out[t] && t.Kind() == reflect.Struct {
			n += "Input"
		}
		s.inputs.names[t] = n
	}
	return s
}

func unionKeys(a, b map[reflect.Type]bool) map[reflect.Type]bool {
	u := map[reflect.Type]bool{}
	for t := range a {
		u[t] = true
	}
	for t := range b {
		u[t] = true
	}
	return u
}

// reachable is the named types of components reachable from roots.
func reachable(roots []reflect.Type) map[reflect.Type]bool {
	seen := map[reflect.Type]bool{}
	named := map[reflect.Type]bool{}
	var walk, walkFields func(t reflect.Type)
	walk = func(t reflect.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		if t.Name() != "" && componentKind(t) {
			named[t] = true
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			if t == timeType || t.Implements(textType) {
				return
			}
			walkFields(t)
		}
	}
	// An embedded struct's fields are its parent's (object): it is no
	// component of its own.
	walkFields = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if et := f.Type; f.Anonymous && f.Tag.Get("json") == "" {
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walkFields(et)
					continue
				}
			}
			walk(f.Type)
		}
	}
	for _, t := range roots {
		walk(t)
	}
	return named
}

// componentKind says whether a named type gets a component of its own:
// structs, IDs and enums; a named string or number without known values is
// written in place.
func componentKind(t reflect.Type) bool {
	if t == timeType || t == durationType || t == rawType {
		return false
	}
	if _, ok := enums[t]; ok || t == idType {
		return true
	}
	return t.Kind() == reflect.Struct && !t.Implements(textType)
}

func exported(name string) string {
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// ref is the schema of t where it is used: a $ref to its component (built
// on first use) or a schema in place; nullable adds null for a nil pointer,
// slice or map that is not omitted.
func (s *schemas) ref(t reflect.Type, nullable bool) map[string]any {
	if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Pointer && !t.Implements(marshalType) {
		return orNullOf(s.ref(t.Elem(), false), nullable)
	}
	if name, ok := s.names[t]; ok {
		if _, built := s.defs[name]; !built {
			s.defs[name] = nil // a recursive type refers to itself meanwhile
			s.defs[name] = s.build(t)
		}
		return schema{"$ref": "#/components/schemas/" + name}
	}
	sc := s.build(t)
	if k := t.Kind(); (k == reflect.Slice || k == reflect.Map) && t != rawType {
		return orNullOf(sc, nullable)
	}
	return sc
}

// schema is a JSON Schema object.
type schema = map[string]any

// orNullOf is sc, or sc or null when nullable.
func orNullOf(sc schema, nullable bool) schema {
	if !nullable {
		return sc
	}
	if ty, ok := sc["type"].(string); ok {
		out := schema{}
		for k, v := range sc {
			out[k] = v
		}
		out["type"] = []string{ty, "null"}
		return out
	}
	return schema{"anyOf": []any{sc, schema{"type": "null"}}}
}

// build is t's own schema.
func (s *schemas) build(t reflect.Type) schema {
	switch {
	case t == timeType:
		return schema{"type": "string", "format": "date-time"}
	case t == durationType:
		return schema{"type": "integer", "description": "nanoseconds"}
	case t == idType:
		return schema{"type": "string", "description": "a UUIDv7 in its canonical form; empty where unset",
			"pattern": "^([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})?$"}
	case t == rawType:
		return schema{}
	}
	if vals, ok := enums[t]; ok {
		return schema{"type": "string", "enum": vals}
	}
	if t.Implements(textType) {
		return schema{"type": "string"}
	}
	if t.Implements(marshalType) {
		panic(fmt.Sprintf("openapi: %v has its own MarshalJSON: describe it in build", t))
	}
	switch t.Kind() {
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return schema{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return schema{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}
	case reflect.Interface:
		return schema{}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return schema{"type": "string", "contentEncoding": "base64"}
		}
		return schema{"type": "array", "items": s.ref(t.Elem(), true)}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": s.ref(t.Elem(), true)}
	case reflect.Struct:
		return s.object(t)
	}
	panic(fmt.Sprintf("openapi: no JSON schema for %v", t))
}

// field is one JSON member of a struct, as encoding/json finds it.
type field struct {
	name     string
	typ      reflect.Type
	omit     bool // omitempty or omitzero
	depth    int
	required bool
}

// object is a struct's schema: its JSON members, embedded structs'
// promoted as encoding/json does (the shallower of two of one name wins).
func (s *schemas) object(t reflect.Type) schema {
	var fields []field
	byName := map[string]int{}
	var collect func(t reflect.Type, depth int)
	collect = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					collect(et, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
			nf := field{name: name, typ: ft, omit: omit, depth: depth, required: !omit && !s.input}
			if j, ok := byName[name]; ok {
				if fields[j].depth <= depth {
					continue
				}
				fields[j] = nf
				continue
			}
			byName[name] = len(fields)
			fields = append(fields, nf)
		}
	}
	collect(t, 0)
	props := schema{}
	required := []string{}
	for _, f := range fields {
		props[f.name] = s.ref(f.typ, !f.omit)
		if f.required {
			required = append(required, f.name)
		}
	}
	out := schema{"type": "object", "properties": props}
	// decode refuses a member it does not know.
	if s.input || s.closed {
		out["additionalProperties"] = false
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
