package model

import (
	"strconv"
	"strings"
)

// FieldType is a field's type parsed from DSPy's type syntax ("int",
// "list[str]", "dict[str, int]", "Literal['a', 'b']", "Optional[int]",
// "int | None", "dspy.Image"), by the parser of signatures, so a type
// given on its own (a --types flag) obeys the same rules as one in a
// signature.
type FieldType struct {
	Kind TypeKind
	// Name is the name as written, dotted or not (str, typing.List,
	// dspy.Image) for TypeName and TypeGeneric; for TypeValue the value in
	// canonical Python form ('a', 3, True, None).
	Name string
	Args []*FieldType // TypeGeneric: the arguments; TypeUnion: the members
}

// TypeKind says what a FieldType node is.
type TypeKind int

const (
	TypeName    TypeKind = iota // a bare or dotted name: str, int, dspy.Image
	TypeValue                   // a value, inside Literal[...]: 'a', 3, True, None
	TypeGeneric                 // name[args]: list[str], Literal['a'], Optional[int]
	TypeUnion                   // a | b | ...
)

// ParseType parses one type expression, such as the part after "name:"
// in a signature field.
func ParseType(s string) (*FieldType, error) {
	p, err := newSigParser(s)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return nil, p.errAt(0, "expected a type, found nothing")
	}
	n, err := p.typeExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t.off, "expected the end of the type, found %s", t.describe())
	}
	if err := p.check(n, ctxField); err != nil {
		return nil, err
	}
	return n.fieldType(), nil
}

func (n *typeNode) fieldType() *FieldType {
	t := &FieldType{Name: n.text}
	switch n.kind {
	case nValue:
		t.Kind = TypeValue
	case nSubscript:
		t.Kind = TypeGeneric
	case nUnion:
		t.Kind = TypeUnion
	}
	for _, a := range n.args {
		t.Args = append(t.Args, a.fieldType())
	}
	return t
}

// String is the type in canonical form; ParseType(t.String()) gives t back.
func (t *FieldType) String() string {
	switch t.Kind {
	case TypeGeneric, TypeUnion:
		parts := make([]string, len(t.Args))
		for i, a := range t.Args {
			parts[i] = a.String()
		}
		if t.Kind == TypeUnion {
			return strings.Join(parts, " | ")
		}
		return t.Name + "[" + strings.Join(parts, ", ") + "]"
	}
	return t.Name
}

// Base is the name without a "typing." prefix: typing.List and List are
// both "List".
func (t *FieldType) Base() string { return strings.TrimPrefix(t.Name, "typing.") }

// Value is the Go value of a TypeValue: a string, an int64 (or a float64
// when it does not fit), a float64, a bool or nil for None. ok is false
// for other kinds and for values with no JSON equivalent (complex
// numbers, bytes, (), ...).
func (t *FieldType) Value() (v any, ok bool) {
	if t.Kind != TypeValue {
		return nil, false
	}
	switch s := t.Name; {
	case s == "None":
		return nil, true
	case s == "True" || s == "False":
		return s == "True", true
	case s == "()" || s == "...":
		return nil, false
	case s[0] == '\'' || s[0] == '"' || isLetter(s[0]):
		return stringValue(s)
	}
	digits := strings.ReplaceAll(t.Name, "_", "")
	if strings.HasSuffix(digits, "j") || strings.HasSuffix(digits, "J") {
		return nil, false
	}
	if i, err := strconv.ParseInt(digits, 0, 64); err == nil {
		return i, true
	}
	if f, err := strconv.ParseFloat(digits, 64); err == nil {
		return f, true
	}
	return nil, false
}

// stringValue decodes a Python string literal as the lexer accepted it.
func stringValue(lit string) (any, bool) {
	q := strings.IndexAny(lit, `'"`)
	prefix, body := strings.ToLower(lit[:q]), lit[q+1:len(lit)-1]
	if strings.Contains(prefix, "b") {
		return nil, false // bytes: no JSON value equals them
	}
	if strings.Contains(prefix, "r") {
		return body, true
	}
	// Python's escapes, as far as the lexer lets them through, are Go's
	// once the quotes are Go's: \' needs none and " needs one.
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == '\\' && i+1 < len(body) && body[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case body[i] == '\\' && i+1 < len(body):
			b.WriteString(body[i : i+2])
			i++
		case body[i] == '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(body[i])
		}
	}
	s, err := strconv.Unquote(`"` + b.String() + `"`)
	if err != nil {
		return body, true // an escape Go reads otherwise (\d, \8): Python keeps it as written
	}
	return s, true
}

// FieldTypes gives each field of a program a declared type: the first
// module (in order) whose signature gives it a type other than str wins,
// as the worker decides when it converts inputs. Fields typed by no
// signature (str, or only read by custom modules without a signature)
// are absent. A signature that does not parse is skipped: saving the
// program reported it.
func FieldTypes(p *Program) map[string]string {
	out := map[string]string{}
	for _, m := range p.Modules {
		if m.Signature == "" {
			continue
		}
		sig, err := ParseSignature(m.Signature)
		if err != nil {
			continue
		}
		for _, f := range append(sig.Inputs, sig.Outputs...) {
			if _, seen := out[f.Name]; !seen && f.Type != "" && f.Type != "str" {
				out[f.Name] = f.Type
			}
		}
	}
	return out
}
