package model

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in, canon string
		kind      TypeKind
		base      string
		args      int
	}{
		{"int", "int", TypeName, "int", 0},
		{"  list[ str ] ", "list[str]", TypeGeneric, "list", 1},
		{"dict[str,int]", "dict[str, int]", TypeGeneric, "dict", 2},
		{`Literal["a", 'b', 3]`, "Literal['a', 'b', 3]", TypeGeneric, "Literal", 3},
		{"typing.Optional[int]", "typing.Optional[int]", TypeGeneric, "Optional", 1},
		{"int | None", "int | None", TypeUnion, "", 2},
		{"dspy.Image", "dspy.Image", TypeName, "dspy.Image", 0},
		{"tuple[int, ...]", "tuple[int, ...]", TypeGeneric, "tuple", 2},
	}
	for _, tt := range tests {
		got, err := ParseType(tt.in)
		if err != nil {
			t.Errorf("ParseType(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.canon || got.Kind != tt.kind || len(got.Args) != tt.args ||
			(tt.base != "" && got.Base() != tt.base) {
			t.Errorf("ParseType(%q) = %s (kind %d, base %s, %d args)", tt.in, got, got.Kind, got.Base(), len(got.Args))
		}
		again, err := ParseType(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseType(%q) does not round-trip: %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, tt := range []struct{ in, col, msg string }{
		{"", "column 1", "expected a type"},
		{"strng", "column 1", `unknown type "strng"`},
		{"list[str", "column 9", `"]"`},
		{"int, str", "column 4", "expected the end of the type"},
		{"Literal", "column 1", "needs arguments"},
		{"List", "column 1", "bare List"},
		{"'a'", "column 1", "values belong in Literal"},
	} {
		_, err := ParseType(tt.in)
		var se *SignatureError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.col) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseType(%q) = %v, want %s: ...%s...", tt.in, err, tt.col, tt.msg)
		}
	}
}

func TestFieldTypeValue(t *testing.T) {
	lit, err := ParseType(`Literal['a', "it's", r'\d', 'tab\t', 3, 0x10, 1_000, 2.5, True, None, b'x']`)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"a", "it's", `\d`, "tab\t", int64(3), int64(16), int64(1000), 2.5, true, nil, nil}
	okWant := []bool{true, true, true, true, true, true, true, true, true, true, false}
	for i, a := range lit.Args {
		v, ok := a.Value()
		if ok != okWant[i] || !reflect.DeepEqual(v, want[i]) {
			t.Errorf("Value of %s = %#v, %v; want %#v, %v", a.Name, v, ok, want[i], okWant[i])
		}
	}
	if _, ok := lit.Value(); ok {
		t.Error("a Literal type is not a value")
	}
}

func TestFieldTypes(t *testing.T) {
	p := &Program{Name: "p", Modules: []Module{
		{Name: "a", Type: Predict, Signature: "question, n -> facts: list[str]"},
		{Name: "b", Type: Predict, Signature: "question: str, n: int, facts: list[int] -> answer: Literal['yes', 'no']"},
		{Name: "c", Type: Custom, Source: "m.py:M"},
		{Name: "d", Type: Predict, Signature: "n: float -> score: float"},
	}}
	got := FieldTypes(p)
	want := map[string]string{"facts": "list[str]", "n": "int", "answer": "Literal['yes', 'no']", "score": "float"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FieldTypes = %v, want %v", got, want)
	}
}
