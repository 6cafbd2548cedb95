package model

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A DSPy string signature is "inputs -> outputs", each side a list of
// Python function parameters: DSPy parses a side as `def f(<side>): pass`
// and turns each annotation into a type (dspy/signatures/signature.py,
// _parse_signature, _parse_field_string, _parse_type_node). This parser
// accepts the same language, minus the corners noted on ParseSignature,
// and rejects up front what DSPy would reject when the worker builds the
// module, so a bad signature is reported with a column at save time.

// Field is one field of a signature.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"` // canonical Python type expression; "" means str
}

// Signature is a parsed DSPy signature string.
type Signature struct {
	Inputs  []Field `json:"inputs"`
	Outputs []Field `json:"outputs"`
}

// Field finds a field by name among inputs and outputs.
func (s *Signature) Field(name string) *Field {
	for i := range s.Inputs {
		if s.Inputs[i].Name == name {
			return &s.Inputs[i]
		}
	}
	for i := range s.Outputs {
		if s.Outputs[i].Name == name {
			return &s.Outputs[i]
		}
	}
	return nil
}

// String renders the signature in DSPy's string form with canonical spacing;
// ParseSignature(s.String()) gives back an equal signature.
func (s *Signature) String() string {
	var b strings.Builder
	writeFields(&b, s.Inputs)
	if len(s.Inputs) > 0 {
		b.WriteByte(' ')
	}
	b.WriteString("->")
	if len(s.Outputs) > 0 {
		b.WriteByte(' ')
	}
	writeFields(&b, s.Outputs)
	return b.String()
}

func writeFields(b *strings.Builder, fs []Field) {
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		if f.Type != "" {
			b.WriteString(": ")
			b.WriteString(f.Type)
		}
	}
}

// SignatureError says where a signature string is wrong and what was
// expected there.
type SignatureError struct {
	Col int // 1-based, counted in characters (a newline counts as one)
	Msg string
}

func (e *SignatureError) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// ParseSignature parses a DSPy string signature such as
// "question, context: list[str] -> answer: Literal['yes', 'no']".
//
// It follows DSPy's rules: exactly one "->" in the whole string (DSPy counts
// it even inside quotes); each side a comma-separated list of `name` or
// `name: type`, a trailing comma allowed; an empty input side allowed; names
// distinct between inputs and outputs; bare type names resolved from Python
// builtins and typing, dotted names (dspy.Image, pathlib.Path) taken on trust.
// It is stricter than DSPy where DSPy would accept something that fails later
// or silently means something else: a signature needs an output field; a name
// may not repeat on one side (DSPy keeps one) nor start with "_" (pydantic
// refuses it); defaults, *args, comments, f-strings, triple-quoted strings,
// calls such as Field(...) and non-ASCII names are not accepted.
func ParseSignature(s string) (*Signature, error) {
	p, err := newSigParser(s)
	if err != nil {
		return nil, err
	}
	if err := checkArrows(s, p.toks); err != nil {
		return nil, err
	}
	sig := &Signature{}
	if sig.Inputs, err = p.side(true); err != nil {
		return nil, err
	}
	p.next() // the arrow: side stops only there
	if sig.Outputs, err = p.side(false); err != nil {
		return nil, err
	}
	if len(sig.Outputs) == 0 {
		// DSPy builds such a module, but it would make an LM call whose
		// result adds nothing to the program's record.
		return nil, p.errAt(len(s), "expected an output field after \"->\": a signature needs at least one output")
	}
	return sig, nil
}

// newSigParser checks and lexes s, ready to parse.
func newSigParser(s string) (*sigParser, error) {
	if err := checkSource(s); err != nil {
		return nil, err
	}
	toks, err := lexSignature(s)
	if err != nil {
		return nil, err
	}
	return &sigParser{src: s, toks: toks, seen: map[string]seenField{}}, nil
}

// checkSource rejects bytes no Python source string can hold.
func checkSource(s string) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return &SignatureError{Col: column(s, i), Msg: "invalid UTF-8"}
		case r == 0:
			return &SignatureError{Col: column(s, i), Msg: "NUL character"}
		}
		i += n
	}
	return nil
}

// checkArrows applies DSPy's first rule, signature.count("->") == 1, which
// looks at the raw text, quotes included.
func checkArrows(s string, toks []token) error {
	first := strings.Index(s, "->")
	if first < 0 {
		return &SignatureError{Col: column(s, len(s)), Msg: `expected "->" between the input and the output fields`}
	}
	inString := func(off int) bool {
		for _, t := range toks {
			if t.kind == tString && off >= t.off && off < t.off+len(t.text) {
				return true
			}
		}
		return false
	}
	const hint = `; DSPy splits the signature at every "->", even inside quotes`
	if second := strings.Index(s[first+2:], "->"); second >= 0 {
		off := first + 2 + second
		msg := `a signature has exactly one "->", found a second one`
		if inString(off) || inString(first) {
			msg += hint
		}
		return &SignatureError{Col: column(s, off), Msg: msg}
	}
	if inString(first) {
		return &SignatureError{Col: column(s, first), Msg: `"->" inside a quoted string` + hint}
	}
	return nil
}

// column turns a byte offset into a 1-based character column.
func column(s string, off int) int {
	if off > len(s) {
		off = len(s)
	}
	return utf8.RuneCountInString(s[:off]) + 1
}

// ---- lexer ----

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tNumber
	tString
	tArrow
	tComma
	tColon
	tLBrack
	tRBrack
	tLParen
	tRParen
	tDot
	tPipe
	tEllipsis
	tWideName // an identifier with non-ASCII letters
	tOther
)

type token struct {
	kind tokKind
	text string // as written
	off  int    // byte offset in the source
}

func (t token) describe() string {
	if t.kind == tEOF {
		return "the end of the signature"
	}
	return fmt.Sprintf("%q", t.text)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n' }
func isLetter(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lexSignature splits s into tokens. It fails only where Python's tokenizer
// would (or on what DSPy cannot handle at all); what is out of place is left
// to the parser, which knows what it expected.
func lexSignature(s string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return append(toks, token{kind: tEOF, off: i}), nil
		}
		start, c := i, s[i]
		kind := tOther
		switch {
		case isLetter(c) || c >= utf8.RuneSelf && unicode.IsLetter(firstRune(s[i:])):
			kind = tName
			for i < len(s) {
				if isLetter(s[i]) || isDigit(s[i]) {
					i++
					continue
				}
				r, n := utf8.DecodeRuneInString(s[i:])
				if r < utf8.RuneSelf || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				i += n
				kind = tWideName
			}
			if i < len(s) && (s[i] == '\'' || s[i] == '"') && isStringPrefix(s[start:i]) {
				if strings.ContainsAny(s[start:i], "fF") {
					return nil, &SignatureError{Col: column(s, start), Msg: "f-strings are not supported in a signature"}
				}
				end, err := scanString(s, start, i)
				if err != nil {
					return nil, err
				}
				i, kind = end, tString
			}
		case c == '\'' || c == '"':
			end, err := scanString(s, start, i)
			if err != nil {
				return nil, err
			}
			i, kind = end, tString
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			i = scanNumber(s, i)
			kind = tNumber
		case strings.HasPrefix(s[i:], "->"):
			i, kind = i+2, tArrow
		case strings.HasPrefix(s[i:], "..."):
			i, kind = i+3, tEllipsis
		case c == '#':
			return nil, &SignatureError{Col: column(s, i), Msg: "comments are not supported in a signature"}
		case c == '-' && i+1 < len(s) && (isDigit(s[i+1]) || strings.HasPrefix(s[i+1:], ".") && i+2 < len(s) && isDigit(s[i+2])):
			return nil, &SignatureError{Col: column(s, i), Msg: "negative numbers are not supported: DSPy's signature parser rejects them"}
		default:
			i++
			switch c {
			case ',':
				kind = tComma
			case ':':
				kind = tColon
			case '[':
				kind = tLBrack
			case ']':
				kind = tRBrack
			case '(':
				kind = tLParen
			case ')':
				kind = tRParen
			case '.':
				kind = tDot
			case '|':
				kind = tPipe
			default:
				_, n := utf8.DecodeRuneInString(s[start:])
				i = start + n
			}
		}
		toks = append(toks, token{kind: kind, text: s[start:i], off: start})
	}
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func isStringPrefix(p string) bool {
	switch strings.ToLower(p) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return true
	}
	return false
}

// scanString reads a one-line quoted string whose prefix starts at start and
// whose opening quote is at q; it returns the offset just past the closing
// quote. Escapes are checked as Python checks them.
func scanString(s string, start, q int) (int, error) {
	prefix := strings.ToLower(s[start:q])
	raw, bytesLit := strings.Contains(prefix, "r"), strings.Contains(prefix, "b")
	quote := s[q]
	if strings.HasPrefix(s[q:], strings.Repeat(string(quote), 3)) {
		return 0, &SignatureError{Col: column(s, start), Msg: "triple-quoted strings are not supported in a signature"}
	}
	fail := func(off int, msg string) (int, error) {
		return 0, &SignatureError{Col: column(s, off), Msg: msg}
	}
	for i := q + 1; i < len(s); {
		c := s[i]
		switch {
		case c == quote:
			return i + 1, nil
		case c == '\n' || c == '\r':
			return fail(start, "unterminated string: a quoted string must end on the line it starts")
		case bytesLit && c >= utf8.RuneSelf:
			return fail(i, "a bytes literal can only contain ASCII characters")
		case c == '\\':
			if i+1 >= len(s) {
				return fail(start, "unterminated string")
			}
			if raw {
				// In a raw string a backslash only keeps the next
				// character from ending the string.
				i += 2
				continue
			}
			n, ok := escapeLen(s[i+1:], bytesLit)
			switch {
			case ok:
			case s[i+1] == '\n' || s[i+1] == '\r':
				return fail(start, "unterminated string: a quoted string must end on the line it starts")
			case s[i+1] == 'N':
				return fail(i, `\N{...} escapes are not supported in a signature: write the character itself`)
			default:
				return fail(i, fmt.Sprintf("invalid escape sequence %q", truncate(s[i:], 4)))
			}
			i += 1 + n
		default:
			i++
		}
	}
	return fail(start, "unterminated string")
}

// escapeLen is the length of the escape after a backslash, or false where
// Python refuses to compile it. Unknown escapes such as \d are only a
// warning in Python, so they pass.
func escapeLen(s string, bytesLit bool) (int, bool) {
	hex := func(n int) bool {
		if len(s) < 1+n {
			return false
		}
		for i := 1; i <= n; i++ {
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
				return false
			}
		}
		return true
	}
	switch s[0] {
	case '\n', '\r':
		return 0, false // a line continuation: the string would span lines
	case 'x':
		return 3, hex(2)
	case 'u':
		if bytesLit {
			return 1, true
		}
		return 5, hex(4)
	case 'U':
		if bytesLit {
			return 1, true
		}
		if !hex(8) {
			return 0, false
		}
		v, err := strconv.ParseUint(s[1:9], 16, 32)
		return 9, err == nil && v <= utf8.MaxRune
	case 'N':
		// Python checks the name against the Unicode database, which this
		// parser does not carry: refuse rather than accept a bad name.
		if bytesLit {
			return 1, true
		}
		return 0, false
	}
	_, n := utf8.DecodeRuneInString(s)
	return n, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// scanNumber reads the longest run that could be part of a Python number;
// validPyNumber decides later whether it is one.
func scanNumber(s string, i int) int {
	start := i
	hex := strings.HasPrefix(s[i:], "0x") || strings.HasPrefix(s[i:], "0X")
	for i < len(s) {
		c := s[i]
		if isLetter(c) || isDigit(c) || c == '.' {
			i++
			continue
		}
		if (c == '+' || c == '-') && !hex && i > start && (s[i-1] == 'e' || s[i-1] == 'E') && i+1 < len(s) && isDigit(s[i+1]) {
			i++
			continue
		}
		break
	}
	return i
}

// validPyNumber follows Python's grammar for integer, float and imaginary
// literals, underscores included.
func validPyNumber(s string) bool {
	digits := func(s string, ok func(byte) bool) bool { // digit (["_"] digit)*
		if s == "" || !ok(s[0]) || !ok(s[len(s)-1]) {
			return false
		}
		for i := 1; i < len(s); i++ {
			if s[i] == '_' {
				if s[i-1] == '_' {
					return false
				}
			} else if !ok(s[i]) {
				return false
			}
		}
		return true
	}
	if len(s) > 2 && s[0] == '0' {
		var ok func(byte) bool
		switch s[1] {
		case 'x', 'X':
			ok = func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
		case 'o', 'O':
			ok = func(c byte) bool { return '0' <= c && c <= '7' }
		case 'b', 'B':
			ok = func(c byte) bool { return c == '0' || c == '1' }
		}
		if ok != nil {
			rest := strings.TrimPrefix(s[2:], "_")
			return digits(rest, ok)
		}
	}
	imag := false
	if n := len(s); n > 0 && (s[n-1] == 'j' || s[n-1] == 'J') {
		s, imag = s[:n-1], true
	}
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		if exp != "" && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if !digits(exp, isDigit) {
			return false
		}
	}
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if intPart == "" && frac == "" {
		return false
	}
	if intPart != "" && !digits(intPart, isDigit) || frac != "" && !digits(frac, isDigit) {
		return false
	}
	if !hasDot && exp == "" && !imag {
		// A plain decimal integer: no leading zeros unless it is zero.
		return intPart[0] != '0' || strings.Trim(intPart, "0_") == ""
	}
	return true
}

// ---- parser ----

type nodeKind int

const (
	nName      nodeKind = iota // a name, possibly dotted: str, dspy.Image
	nValue                     // a constant: 'pos', 3, True, None, ...
	nSubscript                 // name[args]
	nUnion                     // a | b | c
)

// typeNode is a parsed type expression; fieldType().String() gives its
// canonical text.
type typeNode struct {
	kind nodeKind
	text string // nName, nSubscript: the dotted name; nValue: canonical literal
	tok  tokKind
	args []*typeNode // nSubscript: arguments; nUnion: members
	off  int
}

type seenField struct {
	off   int
	input bool
}

type sigParser struct {
	src   string
	toks  []token
	pos   int
	depth int
	seen  map[string]seenField
}

// maxTypeDepth bounds nesting of brackets and parentheses; Python's own
// parser stops at a similar depth.
const maxTypeDepth = 100

func (p *sigParser) peek() token { return p.toks[p.pos] }

func (p *sigParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *sigParser) errAt(off int, format string, args ...any) error {
	return &SignatureError{Col: column(p.src, off), Msg: fmt.Sprintf(format, args...)}
}

// side parses the fields up to "->" (inputs) or the end (outputs).
func (p *sigParser) side(input bool) ([]Field, error) {
	end, endName := tArrow, `"->"`
	if !input {
		end, endName = tEOF, "the end of the signature"
	}
	var fields []Field
	if p.peek().kind == end {
		return fields, nil
	}
	for {
		f, err := p.field(input)
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
		t := p.peek()
		switch {
		case t.kind == tComma:
			p.next()
			if p.peek().kind == end { // a trailing comma, as Python allows
				return fields, nil
			}
		case t.kind == end:
			return fields, nil
		case f.Type == "":
			return nil, p.errAt(t.off, `expected ":", "," or %s after field %q, found %s`, endName, f.Name, t.describe())
		default:
			return nil, p.errAt(t.off, `expected "," or %s after the type of field %q, found %s`, endName, f.Name, t.describe())
		}
	}
}

func (p *sigParser) field(input bool) (Field, error) {
	t := p.next()
	switch t.kind {
	case tName:
	case tWideName:
		return Field{}, p.errAt(t.off, "field name %q is not ASCII: Signet accepts ASCII Python identifiers only", t.text)
	default:
		return Field{}, p.errAt(t.off, "expected a field name (a Python identifier), found %s", t.describe())
	}
	name := t.text
	switch {
	case pythonKeywords[name]:
		return Field{}, p.errAt(t.off, "expected a field name, found the Python keyword %q", name)
	case name[0] == '_':
		return Field{}, p.errAt(t.off, "field name %q starts with \"_\": pydantic, under DSPy, refuses such field names", name)
	}
	if prev, ok := p.seen[name]; ok {
		if prev.input != input {
			return Field{}, p.errAt(t.off, "%q is both an input field (column %d) and an output field: DSPy requires distinct names", name, column(p.src, prev.off))
		}
		return Field{}, p.errAt(t.off, "duplicate field name %q (first at column %d)", name, column(p.src, prev.off))
	}
	p.seen[name] = seenField{off: t.off, input: input}
	f := Field{Name: name}
	if p.peek().kind != tColon {
		return f, nil
	}
	p.next()
	n, err := p.typeExpr()
	if err != nil {
		return Field{}, err
	}
	if err := p.check(n, ctxField); err != nil {
		return Field{}, err
	}
	f.Type = n.fieldType().String()
	return f, nil
}

// typeExpr parses operand ("|" operand)*.
func (p *sigParser) typeExpr() (*typeNode, error) {
	first, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tPipe {
		return first, nil
	}
	u := &typeNode{kind: nUnion, off: first.off}
	add := func(n *typeNode) {
		if n.kind == nUnion { // (a | b) | c is a | b | c
			u.args = append(u.args, n.args...)
		} else {
			u.args = append(u.args, n)
		}
	}
	add(first)
	for p.peek().kind == tPipe {
		p.next()
		n, err := p.operand()
		if err != nil {
			return nil, err
		}
		add(n)
	}
	return u, nil
}

func (p *sigParser) enter(off int) error {
	p.depth++
	if p.depth > maxTypeDepth {
		return p.errAt(off, "type nested too deeply (more than %d levels)", maxTypeDepth)
	}
	return nil
}

func (p *sigParser) operand() (*typeNode, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if p.peek().kind == tRParen { // (), the empty tuple of tuple[()]
			p.next()
			return &typeNode{kind: nValue, tok: tLParen, text: "()", off: t.off}, nil
		}
		if err := p.enter(t.off); err != nil {
			return nil, err
		}
		n, err := p.typeExpr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errAt(c.off, `expected ")" to close "(" at column %d, found %s`, column(p.src, t.off), c.describe())
		}
		p.depth--
		return n, nil
	case tString:
		return &typeNode{kind: nValue, tok: tString, text: canonicalString(t.text), off: t.off}, nil
	case tNumber:
		if !validPyNumber(t.text) {
			return nil, p.errAt(t.off, "invalid number %q", t.text)
		}
		return &typeNode{kind: nValue, tok: tNumber, text: t.text, off: t.off}, nil
	case tEllipsis:
		return &typeNode{kind: nValue, tok: tEllipsis, text: "...", off: t.off}, nil
	case tName:
		switch t.text {
		case "None", "True", "False":
			return &typeNode{kind: nValue, tok: tName, text: t.text, off: t.off}, nil
		}
		if pythonKeywords[t.text] {
			return nil, p.errAt(t.off, "expected a type, found the Python keyword %q", t.text)
		}
		n := &typeNode{kind: nName, text: t.text, off: t.off}
		for p.peek().kind == tDot {
			p.next()
			a := p.next()
			if a.kind != tName || pythonKeywords[a.text] {
				return nil, p.errAt(a.off, "expected a name after %q, found %s", n.text+".", a.describe())
			}
			n.text += "." + a.text
		}
		if p.peek().kind == tLBrack {
			return p.subscript(n)
		}
		return n, nil
	}
	return nil, p.errAt(t.off, "expected a type, found %s", t.describe())
}

// subscript parses name[arg, ...], a trailing comma allowed.
func (p *sigParser) subscript(base *typeNode) (*typeNode, error) {
	open := p.next()
	if err := p.enter(open.off); err != nil {
		return nil, err
	}
	n := &typeNode{kind: nSubscript, text: base.text, off: base.off}
	for {
		a, err := p.typeExpr()
		if err != nil {
			return nil, err
		}
		n.args = append(n.args, a)
		t := p.next()
		if t.kind == tComma && p.peek().kind == tRBrack {
			t = p.next()
		}
		if t.kind == tRBrack {
			break
		}
		if t.kind != tComma {
			return nil, p.errAt(t.off, `expected "," or "]" to close "[" at column %d, found %s`, column(p.src, open.off), t.describe())
		}
	}
	p.depth--
	return n, nil
}

// canonicalString writes a string literal the way Python's repr would in
// the common case: lower-case prefix (u dropped) and single quotes when that
// needs no escaping. Anything else stays as written.
func canonicalString(lit string) string {
	q := strings.IndexAny(lit, `'"`)
	prefix, body := strings.ToLower(lit[:q]), lit[q:]
	switch prefix {
	case "u":
		prefix = ""
	case "br":
		prefix = "rb"
	}
	if body[0] == '"' {
		inner := body[1 : len(body)-1]
		if !strings.ContainsAny(inner, `'\`) {
			body = "'" + inner + "'"
		}
	}
	return prefix + body
}

// ---- type checks ----

// typeCtx is where a type expression stands, which decides what it may be.
type typeCtx int

const (
	ctxField   typeCtx = iota // the whole annotation of a field
	ctxType                   // a type inside another type
	ctxTuple                  // an argument of tuple, Tuple or Callable: a type or ...
	ctxLiteral                // an argument of Literal: a value or a type
	ctxAny                    // Annotated metadata, arguments of a dotted generic
)

// typeInfo describes a bare name DSPy resolves (builtins it lists, typing,
// NoneType) and that pydantic can use as a field type.
type typeInfo struct {
	typing bool // also reachable as typing.<name>
	form   bool // Optional, Union, Literal, Annotated: meaningless without [...]
	alias  bool // typing.List and co.: DSPy refuses them bare as a field's type
	min    int  // arguments when subscripted; max 0: not subscriptable
	max    int  // -1: no upper bound
}

var knownTypes = map[string]typeInfo{
	// Builtins in DSPy's list (bytearray is there too, but pydantic has no
	// schema for it).
	"str": {}, "int": {}, "float": {}, "bool": {}, "complex": {}, "bytes": {},
	"list": {min: 1, max: -1}, "set": {min: 1, max: -1}, "frozenset": {min: 1, max: -1},
	"tuple": {min: 1, max: -1}, "dict": {min: 2, max: 2}, // pydantic insists on dict[K, V]
	"NoneType": {},
	// typing.
	"Any": {typing: true}, "Text": {typing: true},
	"Optional":        {typing: true, form: true, min: 1, max: 1},
	"Union":           {typing: true, form: true, min: 1, max: -1},
	"Literal":         {typing: true, form: true, min: 1, max: -1},
	"Annotated":       {typing: true, form: true, min: 2, max: -1},
	"List":            {typing: true, alias: true, min: 1, max: 1},
	"Set":             {typing: true, alias: true, min: 1, max: 1},
	"FrozenSet":       {typing: true, alias: true, min: 1, max: 1},
	"Type":            {typing: true, alias: true, min: 1, max: 1},
	"Sequence":        {typing: true, alias: true, min: 1, max: 1},
	"MutableSequence": {typing: true, alias: true, min: 1, max: 1},
	"Iterable":        {typing: true, alias: true, min: 1, max: 1},
	"Iterator":        {typing: true, alias: true, min: 1, max: 1},
	"Collection":      {typing: true, alias: true, min: 1, max: 1},
	"AbstractSet":     {typing: true, alias: true, min: 1, max: 1},
	"MutableSet":      {typing: true, alias: true, min: 1, max: 1},
	"Deque":           {typing: true, alias: true, min: 1, max: 1},
	"Counter":         {typing: true, alias: true, min: 1, max: 1},
	"Pattern":         {typing: true, alias: true, min: 1, max: 1},
	"Dict":            {typing: true, alias: true, min: 2, max: 2},
	"Mapping":         {typing: true, alias: true, min: 2, max: 2},
	"MutableMapping":  {typing: true, alias: true, min: 2, max: 2},
	"DefaultDict":     {typing: true, alias: true, min: 2, max: 2},
	"OrderedDict":     {typing: true, alias: true, min: 2, max: 2},
	"ChainMap":        {typing: true, alias: true, min: 2, max: 2},
	"Callable":        {typing: true, alias: true, min: 2, max: 2},
	"Tuple":           {typing: true, alias: true, min: 1, max: -1},
}

const knownTypesHint = "use a builtin (str, int, float, bool, list, dict, ...), a typing name (List, Optional, Literal, Any, ...) or a dotted name such as dspy.Image or pathlib.Path"

// example shows a correct use of a generic name in error messages.
func example(name string, info typeInfo) string {
	base := name[strings.LastIndexByte(name, '.')+1:]
	switch {
	case base == "Literal":
		return name + "['yes', 'no']"
	case base == "Union":
		return name + "[int, str]"
	case base == "Annotated":
		return name + "[str, 'a note']"
	case base == "Callable":
		return name + "[..., str]"
	case info.min == 2:
		return name + "[str, int]"
	}
	return name + "[str]"
}

// resolve looks a (possibly dotted) name up. known is false for a dotted
// name DSPy would import at run time, which is accepted unchecked.
func (p *sigParser) resolve(n *typeNode) (info typeInfo, known bool, err error) {
	head, rest, dotted := strings.Cut(n.text, ".")
	if !dotted {
		info, ok := knownTypes[head]
		if !ok {
			return info, false, p.errAt(n.off, "unknown type %q: %s", head, knownTypesHint)
		}
		return info, true, nil
	}
	if head == "typing" {
		info, ok := knownTypes[rest]
		if !ok || !info.typing {
			return info, false, p.errAt(n.off, "unsupported type %q: %s", n.text, knownTypesHint)
		}
		return info, true, nil
	}
	if _, ok := knownTypes[head]; ok {
		return info, false, p.errAt(n.off, "%q is an attribute of the type %s, not a type", n.text, head)
	}
	return info, false, nil
}

// check applies what DSPy (through typing and pydantic) requires of a type
// expression standing in ctx.
func (p *sigParser) check(n *typeNode, ctx typeCtx) error {
	switch n.kind {
	case nValue:
		switch {
		case n.tok == tLParen && (ctx == ctxTuple || ctx == ctxAny):
			return nil
		case n.tok == tLParen:
			return p.errAt(n.off, `"()" is only allowed in tuple[()]`)
		case n.text == "None", ctx == ctxLiteral || ctx == ctxAny:
			return nil
		case n.tok == tEllipsis && ctx == ctxTuple:
			return nil
		case n.tok == tEllipsis:
			return p.errAt(n.off, `"..." is only allowed in tuple[...], Callable[...] and Literal[...]`)
		}
		return p.errAt(n.off, "expected a type, found the value %s: values belong in Literal[...]", n.text)
	case nUnion:
		for _, m := range n.args {
			if err := p.check(m, ctxType); err != nil {
				return err
			}
		}
		return nil
	case nName:
		info, known, err := p.resolve(n)
		if err != nil {
			if ctx == ctxLiteral && !strings.Contains(n.text, ".") {
				return p.errAt(n.off, "unknown name %q in Literal[...]: quote it to make it a value: '%s'", n.text, n.text)
			}
			return err
		}
		switch {
		case !known:
		case info.form:
			return p.errAt(n.off, "%s needs arguments, e.g. %s", n.text, example(n.text, info))
		case info.alias && ctx == ctxField:
			return p.errAt(n.off, "%s needs arguments as a field type, e.g. %s: DSPy refuses a bare %s", n.text, example(n.text, info), n.text)
		}
		return nil
	}
	// nSubscript
	info, known, err := p.resolve(n)
	if err != nil {
		return err
	}
	if !known {
		for _, a := range n.args {
			if err := p.check(a, ctxAny); err != nil {
				return err
			}
		}
		return nil
	}
	if info.max == 0 {
		return p.errAt(n.off, "%s is not generic: %s[...] is not a type", n.text, n.text)
	}
	if got := len(n.args); got < info.min || info.max > 0 && got > info.max {
		want := "exactly"
		if info.max < 0 {
			want = "at least"
		}
		plural := "s"
		if info.min == 1 {
			plural = ""
		}
		return p.errAt(n.off, "%s takes %s %d argument%s, found %d, e.g. %s", n.text, want, info.min, plural, got, example(n.text, info))
	}
	name := n.text[strings.LastIndexByte(n.text, '.')+1:]
	for i, a := range n.args {
		actx := ctxType
		switch {
		case name == "Literal":
			actx = ctxLiteral
		case name == "Annotated" && i > 0:
			actx = ctxAny
		case name == "tuple" || name == "Tuple" || name == "Callable":
			actx = ctxTuple
		}
		if err := p.check(a, actx); err != nil {
			return err
		}
	}
	return nil
}

// pythonKeywords are the hard keywords: none can name a parameter. Soft
// keywords (match, case, type, _) can.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true,
	"try": true, "while": true, "with": true, "yield": true,
}

// isIdentifier reports whether s is an ASCII Python identifier that is not
// a keyword, so it can name a field or a module attribute in DSPy.
func isIdentifier(s string) bool {
	if s == "" || isDigit(s[0]) || pythonKeywords[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}
