package model

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func fld(name, typ string) Field { return Field{Name: name, Type: typ} }

func fieldList(fs ...Field) []Field { return fs }

// validSignatures are signatures DSPy accepts, with what they parse to and
// their canonical form. Many mirror DSPy's tests/signatures/test_signature.py.
var validSignatures = []struct {
	name  string
	in    string
	ins   []Field
	outs  []Field
	canon string
}{
	{"plain", "input1, input2 -> output", fieldList(fld("input1", ""), fld("input2", "")), fieldList(fld("output", "")), "input1, input2 -> output"},
	{"no spaces", "question,context->answer", fieldList(fld("question", ""), fld("context", "")), fieldList(fld("answer", "")), "question, context -> answer"},
	{"extra whitespace and newlines", "  q\n,\tr  ->\n  a  \n", fieldList(fld("q", ""), fld("r", "")), fieldList(fld("a", "")), "q, r -> a"},
	{"empty input side", "-> answer", nil, fieldList(fld("answer", "")), "-> answer"},
	{"blank input side", "   ->answer", nil, fieldList(fld("answer", "")), "-> answer"},
	{"trailing commas", "q, -> a,", fieldList(fld("q", "")), fieldList(fld("a", "")), "q -> a"},
	{"several outputs", "q->a,b,c", fieldList(fld("q", "")), fieldList(fld("a", ""), fld("b", ""), fld("c", "")), "q -> a, b, c"},
	{"soft keywords are names", "type, match, case -> result", fieldList(fld("type", ""), fld("match", ""), fld("case", "")), fieldList(fld("result", "")), "type, match, case -> result"},
	{"basic types", "input1: int, input2: str -> output: float", fieldList(fld("input1", "int"), fld("input2", "str")), fieldList(fld("output", "float")), "input1: int, input2: str -> output: float"},
	{"explicit str stays explicit", "question: str -> answer: str", fieldList(fld("question", "str")), fieldList(fld("answer", "str")), "question: str -> answer: str"},
	{"more builtins", "a: bool, b: bytes, c: complex, d: NoneType -> e: list, f: dict, g: tuple, h: set, i: frozenset",
		fieldList(fld("a", "bool"), fld("b", "bytes"), fld("c", "complex"), fld("d", "NoneType")),
		fieldList(fld("e", "list"), fld("f", "dict"), fld("g", "tuple"), fld("h", "set"), fld("i", "frozenset")),
		"a: bool, b: bytes, c: complex, d: NoneType -> e: list, f: dict, g: tuple, h: set, i: frozenset"},
	{"PEP 585 generics", "input_list: list[int], input_dict: dict[str, float] -> output_tuple: tuple[str, int]",
		fieldList(fld("input_list", "list[int]"), fld("input_dict", "dict[str, float]")), fieldList(fld("output_tuple", "tuple[str, int]")),
		"input_list: list[int], input_dict: dict[str, float] -> output_tuple: tuple[str, int]"},
	{"typing generics", "a: List[str], b: Dict[str,int] -> c: Set[ int ], d: FrozenSet[str], e: Tuple[int, ...]",
		fieldList(fld("a", "List[str]"), fld("b", "Dict[str, int]")), fieldList(fld("c", "Set[int]"), fld("d", "FrozenSet[str]"), fld("e", "Tuple[int, ...]")),
		"a: List[str], b: Dict[str, int] -> c: Set[int], d: FrozenSet[str], e: Tuple[int, ...]"},
	{"unions and optionals", "input_opt: Optional[str], input_union: Union[int, None] -> output_union: Union[int, str]",
		fieldList(fld("input_opt", "Optional[str]"), fld("input_union", "Union[int, None]")), fieldList(fld("output_union", "Union[int, str]")),
		"input_opt: Optional[str], input_union: Union[int, None] -> output_union: Union[int, str]"},
	{"any", "input_any: Any -> output_any: Any", fieldList(fld("input_any", "Any")), fieldList(fld("output_any", "Any")), "input_any: Any -> output_any: Any"},
	{"nested", "input_nested: list[Union[str, int]] -> output_nested: Tuple[int, Optional[float], list[str]]",
		fieldList(fld("input_nested", "list[Union[str, int]]")), fieldList(fld("output_nested", "Tuple[int, Optional[float], list[str]]")),
		"input_nested: list[Union[str, int]] -> output_nested: Tuple[int, Optional[float], list[str]]"},
	{"complex combinations", "input_complex: dict[str, list[Optional[Tuple[int, str]]]] -> output_complex: Union[list[str], dict[str, Any]]",
		fieldList(fld("input_complex", "dict[str, list[Optional[Tuple[int, str]]]]")), fieldList(fld("output_complex", "Union[list[str], dict[str, Any]]")),
		"input_complex: dict[str, list[Optional[Tuple[int, str]]]] -> output_complex: Union[list[str], dict[str, Any]]"},
	{"PEP 604 unions", "input1: str | None, input2: None|int -> output_union: int | str",
		fieldList(fld("input1", "str | None"), fld("input2", "None | int")), fieldList(fld("output_union", "int | str")),
		"input1: str | None, input2: None | int -> output_union: int | str"},
	{"parenthesised union is flattened", "input: str | (int | float) | None -> output: str",
		fieldList(fld("input", "str | int | float | None")), fieldList(fld("output", "str")), "input: str | int | float | None -> output: str"},
	{"redundant parentheses", "q: (list[str]) -> a: ((int))", fieldList(fld("q", "list[str]")), fieldList(fld("a", "int")), "q: list[str] -> a: int"},
	{"union inside a generic", "q: dict[str, int | None] -> a: list[str] | None",
		fieldList(fld("q", "dict[str, int | None]")), fieldList(fld("a", "list[str] | None")), "q: dict[str, int | None] -> a: list[str] | None"},
	{"literal strings", "text -> sentiment: Literal['pos', 'neg']", fieldList(fld("text", "")), fieldList(fld("sentiment", "Literal['pos', 'neg']")), "text -> sentiment: Literal['pos', 'neg']"},
	{"literal quotes normalised", `text -> label: Literal["a", 'b' , "it's"]`, fieldList(fld("text", "")), fieldList(fld("label", `Literal['a', 'b', "it's"]`)), `text -> label: Literal['a', 'b', "it's"]`},
	{"literal strings hold commas and brackets", `q: Literal['a, b', "c]", '[d', '(e)'] -> a`,
		fieldList(fld("q", "Literal['a, b', 'c]', '[d', '(e)']")), fieldList(fld("a", "")), "q: Literal['a, b', 'c]', '[d', '(e)'] -> a"},
	{"literal escapes kept", `q: Literal['it\'s', '\n', '\x41', '\u00e9'] -> a`,
		fieldList(fld("q", `Literal['it\'s', '\n', '\x41', '\u00e9']`)), fieldList(fld("a", "")), `q: Literal['it\'s', '\n', '\x41', '\u00e9'] -> a`},
	{"literal non-ASCII text", "q: Literal['é', '日本'] -> a", fieldList(fld("q", "Literal['é', '日本']")), fieldList(fld("a", "")), "q: Literal['é', '日本'] -> a"},
	{"literal prefixes", `q: Literal[U'x', Rb"y", bR'z', b'\xff'] -> a`, fieldList(fld("q", `Literal['x', rb'y', rb'z', b'\xff']`)), fieldList(fld("a", "")), `q: Literal['x', rb'y', rb'z', b'\xff'] -> a`},
	{"literal numbers and constants", "q: Literal[1, 2.5, 0x1F, 1_000, 1e-3, .5, 5., 1j, True, False, None] -> a",
		fieldList(fld("q", "Literal[1, 2.5, 0x1F, 1_000, 1e-3, .5, 5., 1j, True, False, None]")), fieldList(fld("a", "")),
		"q: Literal[1, 2.5, 0x1F, 1_000, 1e-3, .5, 5., 1j, True, False, None] -> a"},
	{"literal trailing comma", "q: Literal['a',] -> a", fieldList(fld("q", "Literal['a']")), fieldList(fld("a", "")), "q: Literal['a'] -> a"},
	{"literal of enum member by dotted name", "q: Literal[mymod.Color.RED] -> a", fieldList(fld("q", "Literal[mymod.Color.RED]")), fieldList(fld("a", "")), "q: Literal[mymod.Color.RED] -> a"},
	{"optional literal", "q -> a: Optional[Literal['yes', 'no']]", fieldList(fld("q", "")), fieldList(fld("a", "Optional[Literal['yes', 'no']]")), "q -> a: Optional[Literal['yes', 'no']]"},
	{"dotted names", "image: dspy.Image, history: dspy.History, question -> answer: pathlib.Path",
		fieldList(fld("image", "dspy.Image"), fld("history", "dspy.History"), fld("question", "")), fieldList(fld("answer", "pathlib.Path")),
		"image: dspy.Image, history: dspy.History, question -> answer: pathlib.Path"},
	{"dotted name with spaces", "q: dspy . Image -> a", fieldList(fld("q", "dspy.Image")), fieldList(fld("a", "")), "q: dspy.Image -> a"},
	{"list of dotted", "images: list[dspy.Image] -> caption", fieldList(fld("images", "list[dspy.Image]")), fieldList(fld("caption", "")), "images: list[dspy.Image] -> caption"},
	{"typing prefix", "q: typing.Optional[int] -> a: typing.List[str]", fieldList(fld("q", "typing.Optional[int]")), fieldList(fld("a", "typing.List[str]")), "q: typing.Optional[int] -> a: typing.List[str]"},
	{"bare alias inside a generic or a union", "q: list[List] -> a: List | None", fieldList(fld("q", "list[List]")), fieldList(fld("a", "List | None")), "q: list[List] -> a: List | None"},
	{"callable and empty tuple", "q: Callable[..., str] -> a: tuple[()]", fieldList(fld("q", "Callable[..., str]")), fieldList(fld("a", "tuple[()]")), "q: Callable[..., str] -> a: tuple[()]"},
	{"annotated metadata", `q: Annotated[str, "a note", 3] -> a`, fieldList(fld("q", "Annotated[str, 'a note', 3]")), fieldList(fld("a", "")), "q: Annotated[str, 'a note', 3] -> a"},
	{"none as a type", "q: None -> a: list[None]", fieldList(fld("q", "None")), fieldList(fld("a", "list[None]")), "q: None -> a: list[None]"},
	{"mapping and friends", "q: Mapping[str, int], r: Sequence[str] -> a: DefaultDict[str, list[int]]",
		fieldList(fld("q", "Mapping[str, int]"), fld("r", "Sequence[str]")), fieldList(fld("a", "DefaultDict[str, list[int]]")),
		"q: Mapping[str, int], r: Sequence[str] -> a: DefaultDict[str, list[int]]"},
	{"deep nesting", "q: list[list[list[list[list[int]]]]] -> a", fieldList(fld("q", "list[list[list[list[list[int]]]]]")), fieldList(fld("a", "")), "q: list[list[list[list[list[int]]]]] -> a"},
}

func TestParseSignature(t *testing.T) {
	for _, tc := range validSignatures {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := ParseSignature(tc.in)
			if err != nil {
				t.Fatalf("ParseSignature(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(sig.Inputs, tc.ins) {
				t.Errorf("inputs = %#v, want %#v", sig.Inputs, tc.ins)
			}
			if !reflect.DeepEqual(sig.Outputs, tc.outs) {
				t.Errorf("outputs = %#v, want %#v", sig.Outputs, tc.outs)
			}
			if got := sig.String(); got != tc.canon {
				t.Errorf("String() = %q, want %q", got, tc.canon)
			}
		})
	}
}

func TestSignatureRoundTrip(t *testing.T) {
	for _, tc := range validSignatures {
		sig, err := ParseSignature(tc.in)
		if err != nil {
			t.Fatalf("ParseSignature(%q): %v", tc.in, err)
		}
		again, err := ParseSignature(sig.String())
		if err != nil {
			t.Fatalf("ParseSignature(%q) (from String of %q): %v", sig.String(), tc.in, err)
		}
		if !reflect.DeepEqual(again, sig) {
			t.Errorf("%q: round trip through %q gave %#v, want %#v", tc.in, sig.String(), again, sig)
		}
	}
	// Signatures built in code render too.
	built := &Signature{Inputs: []Field{{Name: "q", Type: "list[str]"}}, Outputs: []Field{{Name: "a"}, {Name: "b", Type: "int | None"}}}
	if got, want := built.String(), "q: list[str] -> a, b: int | None"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseSignatureErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		col  int
		msg  string // a part of the message
	}{
		{"empty", "", 1, `expected "->"`},
		{"no arrow", "question answer", 16, `expected "->" between the input and the output fields`},
		{"two arrows", "q -> a -> b", 8, `exactly one "->"`},
		{"arrow inside quotes counts", "q: Literal['a->b'] -> a", 20, `even inside quotes`},
		{"only arrow inside quotes", "q: Literal['->']", 13, `"->" inside a quoted string`},
		{"no outputs", "question ->", 12, "at least one output"},
		{"bare arrow", "->", 3, "at least one output"},
		{"name starts with a digit", "question, 1x -> answer", 11, `expected a field name (a Python identifier), found "1x"`},
		{"leading comma", ", q -> a", 1, `expected a field name (a Python identifier), found ","`},
		{"double comma", "q,, r -> a", 3, `found ","`},
		{"lone comma", ", -> a", 1, `found ","`},
		{"output side double comma", "q -> a,,b", 8, `found ","`},
		{"keyword name", "class -> a", 1, `Python keyword "class"`},
		{"None as name", "q -> None", 6, `Python keyword "None"`},
		{"underscore name", "q, _hidden -> a", 4, `starts with "_"`},
		{"non-ASCII name", "q -> réponse", 6, "not ASCII"},
		{"symbol as name", "q -> a, $b", 9, `found "$"`},
		{"duplicate input", "a, b, a -> c", 7, `duplicate field name "a" (first at column 1)`},
		{"duplicate output", "q -> a, a", 9, `duplicate field name "a" (first at column 6)`},
		{"input and output share a name", "value -> value", 10, "both an input field (column 1) and an output field"},
		{"space inside a name", "q a -> b", 3, `expected ":", "," or "->" after field "q", found "a"`},
		{"output junk", "q -> a b", 8, `expected ":", "," or the end of the signature after field "a", found "b"`},
		{"default value", "q: int = 3 -> a", 8, `after the type of field "q", found "="`},
		{"star args", "*args -> a", 1, `found "*"`},
		{"missing type", "q: -> a", 4, `expected a type, found "->"`},
		{"missing type at end", "q -> a:", 8, "expected a type, found the end of the signature"},
		{"unclosed bracket", "q: list[str -> a", 13, `expected "," or "]" to close "[" at column 8, found "->"`},
		{"unclosed paren", "q: (int | str -> a", 15, `expected ")" to close "(" at column 4`},
		{"empty brackets", "q: list[] -> a", 9, `expected a type, found "]"`},
		{"stray closing bracket", "q: int] -> a", 7, `after the type of field "q", found "]"`},
		{"chained subscript", "q: list[int][str] -> a", 13, `found "["`},
		{"slice", "q: list[str:int] -> a", 12, `found ":"`},
		{"call", "q: Annotated[int, Field(ge=0)] -> a", 24, `found "("`},
		{"nested list argument", "q: Callable[[int], str] -> a", 13, `expected a type, found "["`},
		{"dangling pipe", "q: int | -> a", 10, `expected a type, found "->"`},
		{"leading pipe", "q: | int -> a", 4, `expected a type, found "|"`},
		{"double dot", "q: a..b -> a", 6, `expected a name after "a.", found "."`},
		{"leading dot", "q: .b -> a", 4, `expected a type, found "."`},
		{"keyword in dotted name", "q: a.class -> a", 6, `expected a name after "a."`},
		{"keyword as type", "q: lambda -> a", 4, `Python keyword "lambda"`},
		{"unknown type", "question: strang -> answer", 11, `unknown type "strang"`},
		{"custom type needs a dotted name", "q: Path -> a", 4, "dotted name such as dspy.Image or pathlib.Path"},
		{"type not in DSPy's builtins", "q: type[int] -> a", 4, `unknown type "type"`},
		{"pydantic cannot use it", "q: bytearray -> a", 4, `unknown type "bytearray"`},
		{"unknown typing attribute", "q: typing.Foo -> a", 4, `unsupported type "typing.Foo"`},
		{"attribute of a builtin", "q: int.real -> a", 4, `"int.real" is an attribute of the type int`},
		{"bare typing alias", "q: List -> a", 4, "List needs arguments as a field type, e.g. List[str]"},
		{"bare Dict", "q -> a: Dict", 9, "e.g. Dict[str, int]"},
		{"bare Optional", "q: Optional -> a", 4, "Optional needs arguments, e.g. Optional[str]"},
		{"bare Literal inside", "q: list[Literal] -> a", 9, "Literal needs arguments, e.g. Literal['yes', 'no']"},
		{"Optional with two", "q: Optional[int, str] -> a", 4, "Optional takes exactly 1 argument, found 2"},
		{"List with two", "q: List[int, str] -> a", 4, "List takes exactly 1 argument, found 2"},
		{"Dict with one", "q: Dict[str] -> a", 4, "Dict takes exactly 2 arguments, found 1"},
		{"dict with one", "q: dict[str] -> a", 4, "dict takes exactly 2 arguments, found 1"},
		{"Annotated with one", "q: Annotated[int] -> a", 4, "Annotated takes at least 2 arguments, found 1"},
		{"not generic", "q: str[int] -> a", 4, "str is not generic"},
		{"Any not generic", "q: Any[int] -> a", 4, "Any is not generic"},
		{"value as type", "q: 'x' -> a", 4, "found the value 'x': values belong in Literal[...]"},
		{"number as type", "q -> a: 3", 9, "found the value 3"},
		{"bool as type", "q: True -> a", 4, "found the value True"},
		{"forward reference", `q: list["Foo"] -> a`, 9, "found the value 'Foo'"},
		{"value in a union", "q: Literal['a'] | 'b' -> a", 19, "found the value 'b'"},
		{"ellipsis as type", "q: ... -> a", 4, `"..." is only allowed`},
		{"ellipsis in list", "q: list[...] -> a", 9, `"..." is only allowed`},
		{"ellipsis in dict", "q: dict[str, ...] -> a", 14, `"..." is only allowed`},
		{"empty tuple outside tuple", "q: Literal[()] -> a", 12, `"()" is only allowed in tuple[()]`},
		{"unquoted literal", "q -> a: Literal[pos, neg]", 17, `unknown name "pos" in Literal[...]: quote it`},
		{"negative number", "q: Literal[-1] -> a", 12, "negative numbers are not supported"},
		{"bad number", "q: Literal[01] -> a", 12, `invalid number "01"`},
		{"bad number suffix", "q: Literal[1e] -> a", 12, `invalid number "1e"`},
		{"unterminated string", "q -> a: Literal['x", 17, "unterminated string"},
		{"string across lines", "q: Literal['x\n'] -> a", 12, "must end on the line it starts"},
		{"line continuation in string", "q: Literal['x\\\ny'] -> a", 12, "must end on the line it starts"},
		{"triple quotes", "q: Literal['''x'''] -> a", 12, "triple-quoted strings are not supported"},
		{"f-string", "q: Literal[f'x'] -> a", 12, "f-strings are not supported"},
		{"implicit concatenation", "q: Literal['a' 'b'] -> a", 16, `expected "," or "]" to close "[" at column 11, found "'b'"`},
		{"bad hex escape", `q: Literal['\x4'] -> a`, 13, `invalid escape sequence "\\x4'"`},
		{"bad unicode escape", `q: Literal['\u12'] -> a`, 13, "invalid escape sequence"},
		{"code point too large", `q: Literal['\U00110000'] -> a`, 13, "invalid escape sequence"},
		{"named escape", `q: Literal['\N{EM DASH}'] -> a`, 13, `\N{...} escapes are not supported`},
		{"non-ASCII bytes", "q: Literal[b'é'] -> a", 14, "bytes literal can only contain ASCII"},
		{"raw string ending in backslash", `q: Literal[r'\'] -> a`, 12, "unterminated string"},
		{"comment", "q: list[str]  # the question\n -> a", 15, "comments are not supported"},
		{"column counts characters", "q: Literal['é'], ü -> a", 18, "not ASCII"},
		{"NUL", "q\x00 -> a", 2, "NUL"},
		{"invalid UTF-8", "q -> a\xff", 7, "invalid UTF-8"},
		{"too deep", "q: " + strings.Repeat("list[", maxTypeDepth+1) + "int" + strings.Repeat("]", maxTypeDepth+1) + " -> a", 8 + 5*maxTypeDepth, "nested too deeply"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := ParseSignature(tc.in)
			if err == nil {
				t.Fatalf("ParseSignature(%q) = %q, want an error", tc.in, sig.String())
			}
			var se *SignatureError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SignatureError", err, err)
			}
			if se.Col != tc.col || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("ParseSignature(%q) error = %q (column %d), want column %d and %q", tc.in, se.Msg, se.Col, tc.col, tc.msg)
			}
			if want := "column "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want it to start with %q", err.Error(), want)
			}
		})
	}
}

func TestSignatureField(t *testing.T) {
	sig, err := ParseSignature("question, context: list[str] -> answer: int")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, typ string
		found     bool
	}{
		{"question", "", true},
		{"context", "list[str]", true},
		{"answer", "int", true},
		{"missing", "", false},
	}
	for _, tc := range cases {
		f := sig.Field(tc.name)
		if (f != nil) != tc.found {
			t.Errorf("Field(%q) = %v, want found=%v", tc.name, f, tc.found)
			continue
		}
		if f != nil && (f.Name != tc.name || f.Type != tc.typ) {
			t.Errorf("Field(%q) = %+v, want type %q", tc.name, *f, tc.typ)
		}
	}
}

func TestValidPyNumber(t *testing.T) {
	// Expectations checked against Python 3.11's own parser.
	cases := map[string]bool{
		"0": true, "00": true, "0_0": true, "01": false, "1": true, "10": true, "1_0": true,
		"1__0": false, "1_": false, "0x": false, "0x_f": true, "0xF": true, "0x_": false,
		"0xg": false, "0o7": true, "0o8": false, "0b1": true, "0b2": false, "0b_1_0": true,
		"1e3": true, "1e": false, "1e+": false, "1e+5": true, "1E-5": true, "1.": true,
		"1.5": true, ".5": true, "..5": false, "1..2": false, "1.5.2": false, "1e3.5": false,
		"5j": true, "5.j": true, ".5j": true, "1e3j": true, "0j": true, "00j": true,
		"01j": true, "01.5": true, "01e3": true, "1_000.000_1": true, "1_.5": false,
		"1._5": false, "1e_5": false, "1e5_0": true, "0xfj": false, "1jj": false,
		"0_1": false, "0.0e0": true, "1x": false, "0O17": true, "0B1": true, "09.5": true,
		"0e0": true, "00.0": true, "": false, "j": false, ".": false,
	}
	for in, want := range cases {
		if got := validPyNumber(in); got != want {
			t.Errorf("validPyNumber(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIsIdentifier(t *testing.T) {
	cases := map[string]bool{
		"answer": true, "_private": true, "_": true, "x1": true, "CamelCase": true,
		"match": true, "type": true, "case": true, // soft keywords
		"": false, "1x": false, "a-b": false, "a b": false, "a.b": false, "réponse": false,
		"class": false, "None": false, "True": false, "lambda": false, "await": false,
	}
	for in, want := range cases {
		if got := isIdentifier(in); got != want {
			t.Errorf("isIdentifier(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	for _, tc := range validSignatures {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"", "->", "q -> a -> b", "q: Literal['a->b'] -> a", "q: list[", "q: Literal['", `q: Literal['\`,
		"q: (((int))) -> a", "q: Literal[r'\\''] -> a", "q: Literal[1e+5, 0x_f, .5j] -> a", "q, -> a,",
		"q: tuple[()] -> a", "é -> a", "q -> a\xff", "q: a.b[c.d, ...] -> e", "-1 -> a", "q: Literal[-.5] -> a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sig, err := ParseSignature(in)
		if err != nil {
			var se *SignatureError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSignature(%q): error %v is not a *SignatureError", in, err)
			}
			if n := utf8.RuneCountInString(in); se.Col < 1 || se.Col > n+1 {
				t.Fatalf("ParseSignature(%q): column %d outside 1..%d", in, se.Col, n+1)
			}
			return
		}
		if len(sig.Outputs) == 0 {
			t.Fatalf("ParseSignature(%q) has no outputs", in)
		}
		seen := map[string]bool{}
		for _, fl := range append(append([]Field{}, sig.Inputs...), sig.Outputs...) {
			if !isIdentifier(fl.Name) || seen[fl.Name] {
				t.Fatalf("ParseSignature(%q): bad or repeated name %q", in, fl.Name)
			}
			seen[fl.Name] = true
		}
		out := sig.String()
		again, err := ParseSignature(out)
		if err != nil {
			t.Fatalf("ParseSignature(%q) rendered %q, which does not parse: %v", in, out, err)
		}
		if !reflect.DeepEqual(again, sig) {
			t.Fatalf("ParseSignature(%q) = %#v; String() %q parses to %#v", in, sig, out, again)
		}
		if again.String() != out {
			t.Fatalf("String() not stable: %q then %q", out, again.String())
		}
	})
}
