package datafile

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// roundTrip writes recs in format f and reads them back.
func roundTrip(t testing.TB, f Format, fields []string, recs []map[string]any) (string, result, []string) {
	t.Helper()
	var buf bytes.Buffer
	n, err := Write(&buf, f, fields, slices.Values(recs))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n != len(recs) {
		t.Fatalf("Write wrote %d records, want %d", n, len(recs))
	}
	r := NewReader(bytes.NewReader(buf.Bytes()), "out."+string(f), f)
	res := readAll(t, r)
	if len(res.errs) > 0 {
		t.Fatalf("reading back:\n%s\nerrors: %q", buf.String(), res.errs)
	}
	return buf.String(), res, r.Fields()
}

func TestRoundTrip(t *testing.T) {
	jsonRecs := []map[string]any{
		{"question": "What is 2+2?", "answer": "4", "score": num("0.10"), "n": num("12345678901234567890")},
		{"question": "Quote \"this\", please\nand a <tag> & \u2028", "answer": nil, "ctx": []any{"a", num("1e3"), map[string]any{"deep": true}}},
		{"question": "ünïcödé 漢字 🙂", "extra": map[string]any{}},
		{},
	}
	csvRecs := []map[string]any{
		{"question": "a, b", "answer": `say "hi"`, "context": "line one\nline two\n\nfour"},
		{"question": "", "answer": " leading space", "context": "\ttab"},
		{"question": `\.`, "answer": "\"", "context": ","},
		{"question": "\r", "answer": "x\ry", "context": "ü"},
	}
	fields := []string{"question", "answer", "context"}
	for _, tc := range []struct {
		f      Format
		fields []string
		recs   []map[string]any
	}{
		{JSONL, []string{"question", "answer"}, jsonRecs},
		{JSONL, nil, jsonRecs},
		{JSON, []string{"question", "answer"}, jsonRecs},
		{JSON, nil, jsonRecs},
		{JSON, nil, nil},
		{JSONL, nil, nil},
		{CSV, fields, csvRecs},
		{CSV, fields, nil},
		{CSV, []string{"only"}, []map[string]any{{"only": ""}, {"only": "x"}, {"only": ""}}},
		{CSV, []string{"\uFEFFodd", "b"}, []map[string]any{{"\uFEFFodd": "1", "b": "2"}}},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			out, res, got := roundTrip(t, tc.f, tc.fields, tc.recs)
			if len(res.recs) != len(tc.recs) || (len(tc.recs) > 0 && !reflect.DeepEqual(res.recs, tc.recs)) {
				t.Fatalf("round trip changed the records\nwritten:\n%s\n got %#v\nwant %#v", out, res.recs, tc.recs)
			}
			if tc.f == CSV && !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("fields %q, want %q", got, tc.fields)
			}
		})
	}
}

func TestWriteOutput(t *testing.T) {
	recs := []map[string]any{
		{"answer": "4", "question": "2+2?", "z": 1, "b": true},
		{"question": "<b>&", "answer": 2.5},
	}
	for _, tc := range []struct {
		name   string
		f      Format
		fields []string
		recs   []map[string]any
		want   string
	}{
		{"jsonl in field order then sorted", JSONL, []string{"question", "answer"}, recs,
			`{"question":"2+2?","answer":"4","b":true,"z":1}` + "\n" + `{"question":"<b>&","answer":2.5}` + "\n"},
		{"json array", JSON, []string{"question", "answer"}, recs,
			"[\n" + `{"question":"2+2?","answer":"4","b":true,"z":1}` + ",\n" + `{"question":"<b>&","answer":2.5}` + "\n]\n"},
		{"empty json", JSON, nil, nil, "[]\n"},
		{"empty jsonl", JSONL, nil, nil, ""},
		{"csv non-strings JSON-encoded", CSV, []string{"question", "answer", "b", "z"}, recs,
			"question,answer,b,z\n2+2?,4,true,1\n<b>&,2.5,,\n"},
		{"csv nested", CSV, []string{"a", "b"}, []map[string]any{{"a": []any{"x", num("1.50")}, "b": map[string]any{"k": "v,w"}}},
			"a,b\n\"[\"\"x\"\",1.50]\",\"{\"\"k\"\":\"\"v,w\"\"}\"\n"},
		{"csv header only", CSV, []string{"a"}, nil, "a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := Write(&buf, tc.f, tc.fields, slices.Values(tc.recs)); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tc.want)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      Format
		fields []string
		recs   []map[string]any
		want   string
	}{
		{"csv extra key", CSV, []string{"a"}, []map[string]any{{"a": "1"}, {"a": "2", "b": "3"}}, `record 2: field "b" is not a column of the CSV file (columns: a)`},
		{"csv no fields", CSV, nil, nil, "at least one field"},
		{"csv empty field name", CSV, []string{"a", ""}, nil, "needs a name"},
		{"duplicate field", JSONL, []string{"a", "a"}, nil, `field "a" is given twice`},
		{"NaN", JSONL, nil, []map[string]any{{"x": math.NaN()}}, `record 1: field "x": json: unsupported value: NaN`},
		{"bad number", CSV, []string{"x"}, []map[string]any{{"x": json.Number("1.2.3")}}, `record 1: field "x"`},
		{"unknown format", "xml", nil, nil, `unknown dataset format "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write(&bytes.Buffer{}, tc.f, tc.fields, slices.Values(tc.recs))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteCountOnError(t *testing.T) {
	recs := []map[string]any{{"a": "1"}, {"a": "2"}, {"b": "3"}, {"a": "4"}}
	n, err := Write(&bytes.Buffer{}, CSV, []string{"a"}, slices.Values(recs))
	if n != 2 || err == nil || !strings.HasPrefix(err.Error(), "record 3:") {
		t.Errorf("got %d, %v", n, err)
	}
}

func TestWriterStreaming(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, JSON, []string{"q"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Write(map[string]any{"q": i}); err != nil {
			t.Fatal(err)
		}
	}
	if w.Count() != 3 {
		t.Errorf("Count %d", w.Count())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(map[string]any{}); err == nil {
		t.Error("Write after Close: no error")
	}
	res, _ := read(t, buf.String(), JSON)
	want := []map[string]any{{"q": num("0")}, {"q": num("1")}, {"q": num("2")}}
	if !reflect.DeepEqual(res.recs, want) {
		t.Errorf("got %v", res.recs)
	}
}

func TestInputKeys(t *testing.T) {
	fields := []string{"question", "answer", "context"}
	for _, tc := range []struct {
		spec string
		want []string
		err  string
	}{
		{"question", []string{"question"}, ""},
		{"question,context", []string{"question", "context"}, ""},
		{" question , context ", []string{"question", "context"}, ""},
		{"contxt", nil, `input key "contxt" is not a field of the dataset (fields: question, answer, context); did you mean "context" for "contxt"?`},
		{"question,foo,Answer", nil, `input keys "foo", "Answer" are not fields of the dataset (fields: question, answer, context); did you mean "answer" for "Answer"?`},
		{"", nil, "no input keys given"},
		{"question,,context", nil, "empty name between commas"},
		{"question,question", nil, `input key "question" is given twice`},
	} {
		got, err := InputKeys(tc.spec, fields)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, %v", tc.spec, got, err)
		}
	}
}

// The records a Reader returns for JSON and JSONL survive a trip through
// encoding/json unchanged, as the store and the Python workers will do.
func TestValuesSurviveJSON(t *testing.T) {
	res, _ := read(t, `{"a":0.10,"b":[1,2e5],"c":{"d":-0}}`, JSONL)
	b, err := json.Marshal(res.recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":0.10,"b":[1,2e5],"c":{"d":-0}}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
