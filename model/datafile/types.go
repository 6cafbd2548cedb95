package datafile

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/signet-dspy/signet/model"
)

// Types gives fields their DSPy types. With types set (Reader.SetTypes), a
// CSV cell becomes the JSON value its type says ("3" an integer, "[1, 2]"
// a list, "true" a boolean), by the rules the worker applies to strings
// it gets for a typed field; JSON and JSONL values are checked against
// their type the same way. Fields without a type are left as they are.
//
// The rules, per type:
//   - str, Text, Any: the cell as it is.
//   - an empty cell, for any other type: null (None).
//   - int: a JSON integer ("3", "-12"); float: a number ("2.5", "1e3");
//     bool: true/false, and pydantic's other spellings (yes/no, on/off,
//     1/0, t/f, y/n), in any case.
//   - Literal[...]: one of the values, a string compared as written.
//   - Optional[T], Union[...], A | B: null, or the first member the value
//     fits; a member of type str takes any cell as it is.
//   - list/set/tuple/dict and their typing names: the cell holds JSON, whose
//     items are checked in turn.
//   - any other name (dspy.Image, dspy.History, a pydantic model): JSON
//     when the cell starts with [ or {, else the cell as it is; the worker
//     builds the object when the program runs.
type Types map[string]*model.FieldType

// ParseTypes reads "field=type,field=type" (a --types flag); a comma
// inside brackets or quotes belongs to the type: "label=Literal['a', 'b']".
func ParseTypes(spec string) (Types, error) {
	out := Types{}
	for _, part := range splitTopLevel(spec) {
		if strings.TrimSpace(part) == "" {
			return nil, fmt.Errorf("%q: empty entry between commas (want field=type,...)", spec)
		}
		name, expr, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not field=type (e.g. score=float,tags=list[str])", strings.TrimSpace(part))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("field %q is given twice", name)
		}
		t, err := model.ParseType(strings.TrimSpace(expr))
		if err != nil {
			return nil, fmt.Errorf("field %q: type %q: %w", name, strings.TrimSpace(expr), err)
		}
		out[name] = t
	}
	return out, nil
}

// TypesOf parses field -> type expression, as model.FieldTypes gives them.
func TypesOf(types map[string]string) (Types, error) {
	out := Types{}
	for name, expr := range types {
		t, err := model.ParseType(expr)
		if err != nil {
			return nil, fmt.Errorf("field %q: type %q: %w", name, expr, err)
		}
		out[name] = t
	}
	return out, nil
}

// Exprs are the types as type expressions by field: TypesOf's input, and
// the form a service request carries them in.
func (ts Types) Exprs() map[string]string {
	out := make(map[string]string, len(ts))
	for k, t := range ts {
		out[k] = t.String()
	}
	return out
}

// String is the types as ParseTypes reads them, fields in sorted order.
func (ts Types) String() string {
	names := slices.Sorted(maps.Keys(ts))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + ts[n].String()
	}
	return strings.Join(parts, ",")
}

func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// SetTypes makes Next parse CSV cells and check JSON values by type (see
// Types). Call it before the first Next.
func (r *Reader) SetTypes(ts Types) {
	r.types = ts
	r.typeNames = slices.Sorted(maps.Keys(ts))
}

// checkTypes checks and converts the typed fields of a JSON record in place.
func (r *Reader) checkTypes(m map[string]any, line int) *Error {
	for _, name := range r.typeNames {
		t := r.types[name]
		v, ok := m[name]
		if !ok || v == nil {
			continue // null is None, as an empty CSV cell is
		}
		typed, err := checkJSON(v, t)
		if err != nil {
			return &Error{File: r.name, Line: line, Field: name, Msg: fmt.Sprintf("type %s: %s", t, err.msg)}
		}
		m[name] = typed
	}
	return nil
}

// typeError is a value that does not fit its type; off is a byte offset
// in the cell where that is known, else -1.
type typeError struct {
	msg string
	off int
}

func (e *typeError) Error() string { return e.msg }

func unfit(format string, args ...any) *typeError {
	return &typeError{msg: fmt.Sprintf(format, args...), off: -1}
}

func parseCell(cell string, t *model.FieldType) (any, *typeError) {
	if takesText(t) {
		return cell, nil
	}
	s := strings.TrimSpace(cell)
	if s == "" {
		return nil, nil
	}
	switch t.Kind {
	case model.TypeValue:
		return checkValue(s, t)
	case model.TypeUnion:
		return parseUnion(cell, s, t.Args)
	case model.TypeName:
		switch t.Base() {
		case "int":
			return parseInt(s)
		case "float":
			return parseFloat(s)
		case "bool":
			return parseBool(s)
		case "NoneType":
			return nil, unfit("want an empty cell (None), found %q", short(s))
		}
	case model.TypeGeneric:
		switch t.Base() {
		case "Optional":
			return parseUnion(cell, s, append([]*model.FieldType{noneValue}, t.Args...))
		case "Union":
			return parseUnion(cell, s, t.Args)
		case "Literal":
			return parseLiteral(s, t.Args)
		case "Annotated":
			return parseCell(cell, t.Args[0])
		}
	}
	lead := len(cell) - len(strings.TrimLeft(cell, " \t\r\n\f\v"))
	if container(t) {
		v, err := decodeJSON(s, lead)
		if err != nil {
			return nil, err
		}
		return checkJSON(v, t)
	}
	// Another type (dspy.Image, dspy.History, a pydantic model, ...): the
	// worker builds it; JSON structure is decoded here.
	if s[0] == '[' || s[0] == '{' {
		return decodeJSON(s, lead)
	}
	return cell, nil
}

// noneValue is the None that Optional[T] adds to T.
var noneValue = &model.FieldType{Kind: model.TypeValue, Name: "None"}

// takesText is whether a type takes any string as it is: str, Any, and a
// union with such a member (pydantic's smart union prefers the exact match,
// as the worker does).
func takesText(t *model.FieldType) bool {
	switch t.Kind {
	case model.TypeName:
		switch t.Base() {
		case "str", "Text", "Any":
			return true
		}
	case model.TypeUnion:
		return slices.ContainsFunc(t.Args, takesText)
	case model.TypeGeneric:
		switch t.Base() {
		case "Annotated":
			return takesText(t.Args[0])
		case "Optional", "Union":
			return slices.ContainsFunc(t.Args, takesText)
		}
	}
	return false
}

// container is whether a type's values are JSON arrays or objects that
// this package checks item by item.
func container(t *model.FieldType) bool {
	switch t.Base() {
	case "list", "set", "frozenset", "tuple", "dict",
		"List", "Set", "FrozenSet", "Tuple", "Dict", "Sequence", "MutableSequence", "Iterable",
		"Collection", "AbstractSet", "MutableSet", "Deque", "Mapping", "MutableMapping",
		"DefaultDict", "OrderedDict":
		return true
	}
	return false
}

func parseUnion(cell, s string, members []*model.FieldType) (any, *typeError) {
	var why []string
	for _, m := range members {
		if m.Kind == model.TypeValue && m.Name == "None" || m.Kind == model.TypeName && m.Base() == "NoneType" {
			if s == "null" || s == "None" {
				return nil, nil
			}
			continue
		}
		v, err := parseCell(s, m)
		if err == nil {
			return v, nil
		}
		why = append(why, m.String()+": "+err.msg)
	}
	return nil, unfit("fits none of the types (%s)", strings.Join(why, "; "))
}

func parseLiteral(s string, options []*model.FieldType) (any, *typeError) {
	var shown []string
	for _, o := range options {
		want, ok := o.Value()
		if !ok {
			continue
		}
		shown = append(shown, o.Name)
		switch w := want.(type) {
		case string:
			if s == w {
				return w, nil
			}
		case nil:
			if s == "None" || s == "null" {
				return nil, nil
			}
		case bool:
			if b, err := parseBool(s); err == nil && b == w {
				return w, nil
			}
		case int64, float64:
			if n, err := parseFloat(s); err == nil && sameNumber(n, w) {
				return n, nil
			}
		}
	}
	return nil, unfit("want one of %s, found %q", strings.Join(shown, ", "), short(s))
}

// checkValue checks a cell against a bare value type (Literal's members,
// None).
func checkValue(s string, t *model.FieldType) (any, *typeError) {
	return parseLiteral(s, []*model.FieldType{t})
}

func parseInt(s string) (any, *typeError) {
	n, err := parseFloat(s)
	if err != nil {
		return nil, unfit("want an integer, found %q", short(s))
	}
	return integer(n)
}

// integer is n as an integer, written without a fraction or exponent
// ("3.0" and "3e0" are 3, as pydantic reads them).
func integer(n json.Number) (any, *typeError) {
	if !integral(n) {
		return nil, unfit("want an integer, found %s", n)
	}
	if strings.ContainsAny(string(n), ".eE") {
		f, _ := strconv.ParseFloat(string(n), 64)
		return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	return n, nil
}

func parseFloat(s string) (json.Number, *typeError) {
	if isJSONNumber(s) {
		return json.Number(s), nil
	}
	// Python's float() reads more than JSON does: +1, .5, 1., 1_000.
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", unfit("want a number, found %q", short(s))
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

func parseBool(s string) (bool, *typeError) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y", "on", "t":
		return true, nil
	case "false", "0", "no", "n", "off", "f":
		return false, nil
	}
	return false, unfit("want a boolean (true or false), found %q", short(s))
}

// integral is whether a JSON number has no fraction: 3, -3, 3.0, 1e3.
func integral(n json.Number) bool {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		return true
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53
}

func sameNumber(n json.Number, want any) bool {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return false
	}
	switch w := want.(type) {
	case int64:
		return f == float64(w)
	case float64:
		return f == w
	}
	return false
}

func isJSONNumber(s string) bool {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return false
	}
	n, ok := v.(json.Number)
	return ok && string(n) == s
}

// decodeJSON decodes a cell that holds one JSON value; s is the cell
// without its lead bytes of leading space.
func decodeJSON(s string, lead int) (any, *typeError) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		e := jsonError(err, []byte(s))
		return nil, &typeError{msg: "not valid JSON: " + strings.TrimPrefix(e.Msg, "invalid JSON: "), off: lead + e.Col - 1}
	}
	if rest := s[dec.InputOffset():]; strings.TrimSpace(rest) != "" {
		off := int(dec.InputOffset()) + firstNonSpace([]byte(rest))
		return nil, &typeError{msg: "not valid JSON: unexpected content after the value", off: lead + off}
	}
	return v, nil
}

// checkJSON checks a JSON value (decoded with UseNumber) against t and
// returns it as the type wants it: numeric strings become numbers, as
// pydantic reads them.
func checkJSON(v any, t *model.FieldType) (any, *typeError) {
	switch {
	case t.Kind == model.TypeName && t.Base() == "Any":
		return v, nil
	case t.Kind == model.TypeValue:
		if want, ok := t.Value(); ok && jsonEqual(v, want) {
			return v, nil
		}
		return nil, unfit("want %s, found %s", t.Name, describe(v))
	case t.Kind == model.TypeUnion:
		return checkUnion(v, t.Args)
	case t.Kind == model.TypeGeneric && t.Base() == "Optional":
		return checkUnion(v, append([]*model.FieldType{noneValue}, t.Args...))
	case t.Kind == model.TypeGeneric && t.Base() == "Union":
		return checkUnion(v, t.Args)
	}
	if v == nil {
		if t.Base() == "NoneType" {
			return nil, nil
		}
		return nil, unfit("want %s, found null", t.String())
	}
	switch t.Base() {
	case "str", "Text":
		if _, ok := v.(string); ok {
			return v, nil
		}
		return nil, unfit("want a string, found %s", describe(v))
	case "int", "float", "bool":
		return checkScalar(v, t.Base())
	case "Literal":
		for _, o := range t.Args {
			if want, ok := o.Value(); ok && jsonEqual(v, want) {
				return v, nil
			}
		}
		if s, ok := v.(string); ok {
			return parseLiteral(s, t.Args)
		}
		return parseLiteral(fmt.Sprint(v), t.Args)
	case "Annotated":
		return checkJSON(v, t.Args[0])
	case "dict", "Dict", "Mapping", "MutableMapping", "DefaultDict", "OrderedDict":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, unfit("want an object, found %s", describe(v))
		}
		return checkObject(m, t)
	}
	if container(t) {
		items, ok := v.([]any)
		if !ok {
			return nil, unfit("want an array, found %s", describe(v))
		}
		return checkArray(items, t)
	}
	return v, nil // a type the worker checks
}

func checkScalar(v any, base string) (any, *typeError) {
	if s, ok := v.(string); ok { // pydantic reads "3" as 3 for an int
		switch base {
		case "int":
			return parseInt(strings.TrimSpace(s))
		case "float":
			return parseFloat(strings.TrimSpace(s))
		default:
			return parseBool(strings.TrimSpace(s))
		}
	}
	switch base {
	case "bool":
		if _, ok := v.(bool); ok {
			return v, nil
		}
		if n, ok := v.(json.Number); ok && (n == "0" || n == "1") {
			return n == "1", nil
		}
		return nil, unfit("want a boolean, found %s", describe(v))
	case "int":
		if n, ok := v.(json.Number); ok {
			return integer(n)
		}
		return nil, unfit("want an integer, found %s", describe(v))
	}
	if _, ok := v.(json.Number); ok {
		return v, nil
	}
	return nil, unfit("want a number, found %s", describe(v))
}

func checkUnion(v any, members []*model.FieldType) (any, *typeError) {
	var why []string
	for _, m := range members {
		if v == nil && (m.Kind == model.TypeValue && m.Name == "None" || m.Base() == "NoneType") {
			return nil, nil
		}
		out, err := checkJSON(v, m)
		if err == nil {
			return out, nil
		}
		why = append(why, m.String()+": "+err.msg)
	}
	return nil, unfit("fits none of the types (%s)", strings.Join(why, "; "))
}

func checkObject(m map[string]any, t *model.FieldType) (any, *typeError) {
	if len(t.Args) != 2 {
		return m, nil
	}
	out := make(map[string]any, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, err := parseCell(k, t.Args[0]); err != nil && !takesText(t.Args[0]) {
			return nil, unfit("key %q: %s", short(k), err.msg)
		}
		v, err := checkJSON(m[k], t.Args[1])
		if err != nil {
			return nil, unfit("key %q: %s", short(k), err.msg)
		}
		out[k] = v
	}
	return out, nil
}

func checkArray(items []any, t *model.FieldType) (any, *typeError) {
	if len(t.Args) == 0 {
		return items, nil
	}
	elem := func(i int) *model.FieldType { return t.Args[0] }
	if b := t.Base(); b == "tuple" || b == "Tuple" {
		variadic := len(t.Args) == 2 && t.Args[1].Kind == model.TypeValue && t.Args[1].Name == "..."
		switch {
		case len(t.Args) == 1 && t.Args[0].Name == "()":
			if len(items) > 0 {
				return nil, unfit("want an empty array, found %d items", len(items))
			}
			return items, nil
		case !variadic && len(items) != len(t.Args):
			return nil, unfit("want an array of %d items, found %d", len(t.Args), len(items))
		case !variadic:
			elem = func(i int) *model.FieldType { return t.Args[i] }
		}
	}
	out := make([]any, len(items))
	for i, item := range items {
		v, err := checkJSON(item, elem(i))
		if err != nil {
			return nil, unfit("item %d: %s", i, err.msg)
		}
		out[i] = v
	}
	return out, nil
}

// jsonEqual compares a JSON value with a Literal's Go value.
func jsonEqual(v, want any) bool {
	switch w := want.(type) {
	case nil:
		return v == nil
	case string, bool:
		return v == w
	case int64, float64:
		n, ok := v.(json.Number)
		return ok && sameNumber(n, w)
	}
	return false
}

func describe(v any) string {
	s := kind(v)
	switch x := v.(type) {
	case string:
		s += " " + strconv.Quote(short(x))
	case json.Number:
		s += " " + string(x)
	}
	return s
}

func short(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n) + "..."
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
