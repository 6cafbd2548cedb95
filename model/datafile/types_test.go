package datafile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/model"
)

func mustType(t testing.TB, s string) *model.FieldType {
	t.Helper()
	ft, err := model.ParseType(s)
	if err != nil {
		t.Fatalf("ParseType(%q): %v", s, err)
	}
	return ft
}

func TestParseCell(t *testing.T) {
	tests := []struct {
		typ, cell string
		want      any
	}{
		{"str", " kept as is ", " kept as is "},
		{"str", "", ""},
		{"Any", "[1]", "[1]"},
		{"int", "3", num("3")},
		{"int", " -12 ", num("-12")},
		{"int", "3.0", num("3")},
		{"int", "1e3", num("1000")},
		{"int", "", nil}, // an empty cell of a non-str field is None
		{"float", "2.5", num("2.5")},
		{"float", ".5", num("0.5")},
		{"float", "1_000", num("1000")},
		{"bool", "true", true},
		{"bool", "False", false},
		{"bool", "yes", true},
		{"bool", "0", false},
		{"list[str]", `["a", "b"]`, []any{"a", "b"}},
		{"list[int]", `[1, "2"]`, []any{num("1"), num("2")}},
		{"list[float]", "[]", []any{}},
		{"dict[str, int]", `{"a": 1}`, map[string]any{"a": num("1")}},
		{"dict[int, str]", `{"1": "x"}`, map[string]any{"1": "x"}},
		{"tuple[int, str]", `[1, "x"]`, []any{num("1"), "x"}},
		{"tuple[int, ...]", `[1, 2, 3]`, []any{num("1"), num("2"), num("3")}},
		{"Literal['a', 'b']", "b", "b"},
		{"Literal[1, 2]", "2", num("2")},
		{"Literal[True]", "true", true},
		{"Optional[int]", "7", num("7")},
		{"Optional[int]", "", nil},
		{"Optional[int]", "null", nil},
		{"int | None", "None", nil},
		{"Union[int, list[int]]", "[1]", []any{num("1")}},
		{"int | str", "3", "3"}, // a str member takes the cell as it is, as pydantic's smart union does
		{"dspy.Image", "pics/cat.png", "pics/cat.png"},
		{"dspy.History", `{"messages": []}`, map[string]any{"messages": []any{}}},
		{"dspy.History", `[{"question": "q"}]`, []any{map[string]any{"question": "q"}}},
		{"Annotated[int, 'a count']", "4", num("4")},
		{"list[Literal['x', 'y']]", `["x"]`, []any{"x"}},
		{"list[Optional[int]]", `[1, null]`, []any{num("1"), nil}},
	}
	for _, tt := range tests {
		got, err := parseCell(tt.cell, mustType(t, tt.typ))
		if err != nil {
			t.Errorf("%s %q: %v", tt.typ, tt.cell, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %q = %#v, want %#v", tt.typ, tt.cell, got, tt.want)
		}
	}
}

func TestParseCellErrors(t *testing.T) {
	tests := []struct{ typ, cell, msg string }{
		{"int", "three", `want an integer, found "three"`},
		{"int", "2.5", "want an integer, found 2.5"},
		{"float", "nan", `want a number, found "nan"`},
		{"bool", "maybe", "want a boolean"},
		{"list[str]", "[1, 2", "not valid JSON: unexpected end of input"},
		{"list[str]", "a, b", "not valid JSON"},
		{"list[str]", "[1, 2]", `item 0: want a string, found a number 1`},
		{"list[str]", `{"a": 1}`, "want an array, found an object"},
		{"dict[str, int]", `{"a": "x"}`, `key "a": want an integer, found "x"`},
		{"dict[int, str]", `{"x": "y"}`, `key "x": want an integer`},
		{"tuple[int, str]", `[1]`, "want an array of 2 items, found 1"},
		{"Literal['a', 'b']", "c", `want one of 'a', 'b', found "c"`},
		{"Literal['a', 'b']", "A", `found "A"`}, // compared as written
		{"Optional[int]", "x", "fits none of the types"},
		{"NoneType", "x", "want an empty cell"},
		{"dspy.History", "[{", "not valid JSON"},
		{"list[int]", "[1] x", "unexpected content after the value"},
		{"list[int]", "  [1,", "not valid JSON"},
	}
	for _, tt := range tests {
		_, err := parseCell(tt.cell, mustType(t, tt.typ))
		if err == nil || !strings.Contains(err.msg, tt.msg) {
			t.Errorf("%s %q: error %v, want it to contain %q", tt.typ, tt.cell, err, tt.msg)
		}
	}
}

func TestParseTypes(t *testing.T) {
	ts, err := ParseTypes("score=float, tags=list[str],label=Literal['a, b', \"c\"] ,n=dict[str, int]")
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.String(); got != "label=Literal['a, b', 'c'],n=dict[str, int],score=float,tags=list[str]" {
		t.Errorf("types = %s", got)
	}
	// Exprs is what TypesOf reads back: the same types.
	back, err := TypesOf(ts.Exprs())
	if err != nil || back.String() != ts.String() || ts.Exprs()["label"] != "Literal['a, b', 'c']" {
		t.Errorf("TypesOf(Exprs()) = %v, %v", back, err)
	}
	for _, tt := range []struct{ spec, msg string }{
		{"score", "is not field=type"},
		{"=int", "is not field=type"},
		{"a=int,,b=int", "empty entry"},
		{"a=int,a=str", `"a" is given twice`},
		{"a=strng", `field "a": type "strng": column 1: unknown type "strng"`},
		{"a=list[str", `field "a"`},
	} {
		if _, err := ParseTypes(tt.spec); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseTypes(%q) = %v, want it to contain %q", tt.spec, err, tt.msg)
		}
	}
}

func typedRead(t *testing.T, data string, f Format, types string) result {
	t.Helper()
	ts, err := ParseTypes(types)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(strings.NewReader(data), "in."+string(f), f)
	r.SetTypes(ts)
	return readAll(t, r)
}

func TestTypedCSV(t *testing.T) {
	data := "question,n,tags,label,note\n" +
		"q1,3,\"[\"\"a\"\", \"\"b\"\"]\",yes,\n" +
		"q2,,[],no,x\n" +
		"q3,three,[],yes,y\n" +
		"\"q4\nspans lines\",4,\"[1,\",yes,z\n" +
		"q5,5,[],maybe,w\n" +
		"q6,6,[],no,v\n"
	res := typedRead(t, data, CSV, "n=int,tags=list[str],label=Literal['yes', 'no'],note=Optional[str]")
	want := []map[string]any{
		{"question": "q1", "n": num("3"), "tags": []any{"a", "b"}, "label": "yes", "note": ""},
		{"question": "q2", "n": nil, "tags": []any{}, "label": "no", "note": "x"},
		{"question": "q6", "n": num("6"), "tags": []any{}, "label": "no", "note": "v"},
	}
	if !reflect.DeepEqual(res.recs, want) {
		t.Errorf("records:\n got %#v\nwant %#v", res.recs, want)
	}
	wantErrs := []string{
		`in.csv:4:4: field "n": type int: want an integer, found "three"`,
		`in.csv:6:16: field "tags": type list[str]: not valid JSON: unexpected end of input (at byte 4 of the cell)`,
		`in.csv:7:9: field "label": type Literal['yes', 'no']: want one of 'yes', 'no', found "maybe"`,
	}
	if !reflect.DeepEqual(res.errs, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", res.errs, wantErrs)
	}
	for _, e := range res.errv {
		if e.Field == "" || e.Col == 0 {
			t.Errorf("error %v lacks its field or column", e)
		}
	}
}

func TestTypedJSONAndJSONL(t *testing.T) {
	lines := `{"n": "3", "tags": ["a"], "x": 1}
{"n": 4.0, "tags": null}
{"n": 2.5, "tags": []}
{"n": 1, "tags": [1]}
`
	res := typedRead(t, lines, JSONL, "n=int,tags=list[str]")
	want := []map[string]any{
		{"n": num("3"), "tags": []any{"a"}, "x": num("1")},
		{"n": num("4"), "tags": nil},
	}
	if !reflect.DeepEqual(res.recs, want) {
		t.Errorf("records:\n got %#v\nwant %#v", res.recs, want)
	}
	wantErrs := []string{
		`in.jsonl:3: field "n": type int: want an integer, found 2.5`,
		`in.jsonl:4: field "tags": type list[str]: item 0: want a string, found a number 1`,
	}
	if !reflect.DeepEqual(res.errs, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", res.errs, wantErrs)
	}
	res = typedRead(t, "[\n{\"n\": 1},\n{\"n\": \"x\"}\n]", JSON, "n=int")
	if len(res.recs) != 1 || !reflect.DeepEqual(res.errs, []string{`in.json:3: field "n": type int: want an integer, found "x"`}) {
		t.Errorf("JSON array: %#v %q", res.recs, res.errs)
	}
}

// A .json file holding JSON lines reads as JSON lines; a file whose content
// is not what its format says is an error that says so.
func TestContentDecidesBetweenJSONAndJSONLines(t *testing.T) {
	runReadCases(t, JSON, []readCase{
		{
			name:  "JSON lines in a .json file",
			in:    "\n{\"q\": \"a\"}\n{\"q\": \"b\"}\n",
			recs:  []map[string]any{{"q": "a"}, {"q": "b"}},
			lines: []int{2, 3},
		},
		{
			name: "one object on one line",
			in:   "{\"q\": \"a\"}\n\n",
			errs: []string{"in.json:1:1: want a JSON array of objects, found one object"},
		},
		{
			name: "one object over several lines",
			in:   "{\n  \"q\": \"a\"\n}\n",
			errs: []string{"in.json:1:1: want a JSON array of objects, found one object"},
		},
		{
			name: "a bad line later is a JSON lines error",
			in:   "{\"q\": \"a\"}\n{\"q\": }\n",
			recs: []map[string]any{{"q": "a"}},
			errs: []string{"in.json:2:7: invalid JSON"},
		},
	})
	runReadCases(t, JSONL, []readCase{{
		name: "a JSON array in a .jsonl file",
		in:   "  [{\"q\": \"a\"}]",
		errs: []string{"in.jsonl:1:3: the content is a JSON array, not jsonl: name the file .json or give the format explicitly"},
	}})
	runReadCases(t, CSV, []readCase{
		{name: "JSON lines in a .csv file", in: "{\"q\": 1}\n", errs: []string{"in.csv:1:1: the content is JSON objects, not csv: name the file .jsonl"}},
		{name: "a JSON array in a .csv file", in: "\n[]", errs: []string{"in.csv:2:1: the content is a JSON array, not csv: name the file .json"}},
	})
}

func TestOpenSniffs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines.json")
	if err := os.WriteFile(path, []byte("{\"a\": 1}\n{\"a\": 2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, JSON)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := readAll(t, r)
	if len(res.recs) != 2 || len(res.errs) != 0 {
		t.Fatalf("records %v, errors %q", res.recs, res.errs)
	}
	if b, err := json.Marshal(res.recs); err != nil || string(b) != `[{"a":1},{"a":2}]` {
		t.Errorf("records %s %v", b, err)
	}
}
