package datafile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// result is everything a Reader gives for one input.
type result struct {
	recs  []map[string]any
	lines []int    // Line() after each record
	errs  []string // error texts, in order
	errv  []*Error
}

// readAll reads until io.EOF or an error that repeats (a sticky one),
// checking on the way that every error is an *Error with a line.
func readAll(t testing.TB, r *Reader) result {
	t.Helper()
	var res result
	var last error
	for range 1_000_000 {
		rec, err := r.Next()
		if err == io.EOF {
			return res
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if e.Line < 1 {
				t.Fatalf("error %q has line %d", err, e.Line)
			}
			if err == last {
				return res
			}
			last = err
			res.errs = append(res.errs, err.Error())
			res.errv = append(res.errv, e)
			continue
		}
		if rec == nil {
			t.Fatal("Next returned a nil record and no error")
		}
		res.recs = append(res.recs, rec)
		res.lines = append(res.lines, r.Line())
	}
	t.Fatal("reader never ends")
	return res
}

func read(t testing.TB, data string, f Format) (result, *Reader) {
	t.Helper()
	r := NewReader(strings.NewReader(data), "in."+string(f), f)
	return readAll(t, r), r
}

func num(s string) json.Number { return json.Number(s) }

type readCase struct {
	name   string
	in     string
	recs   []map[string]any // nil: don't check
	lines  []int
	errs   []string // each error must contain the matching string
	fields []string // nil: don't check
}

func runReadCases(t *testing.T, f Format, cases []readCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, r := read(t, tc.in, f)
			if tc.recs != nil && !reflect.DeepEqual(res.recs, tc.recs) {
				t.Errorf("records:\n got %#v\nwant %#v", res.recs, tc.recs)
			}
			if tc.lines != nil && !reflect.DeepEqual(res.lines, tc.lines) {
				t.Errorf("lines: got %v, want %v", res.lines, tc.lines)
			}
			if len(res.errs) != len(tc.errs) {
				t.Fatalf("errors: got %q, want %d matching %q", res.errs, len(tc.errs), tc.errs)
			}
			for i, want := range tc.errs {
				if !strings.Contains(res.errs[i], want) {
					t.Errorf("error %d: got %q, want it to contain %q", i, res.errs[i], want)
				}
			}
			if tc.fields != nil && !reflect.DeepEqual(r.Fields(), tc.fields) {
				t.Errorf("fields: got %q, want %q", r.Fields(), tc.fields)
			}
		})
	}
}

func TestReadJSONL(t *testing.T) {
	runReadCases(t, JSONL, []readCase{
		{
			name:   "simple",
			in:     `{"question":"2+2?","answer":"4"}` + "\n" + `{"question":"capital of France?","answer":"Paris","hops":2}` + "\n",
			recs:   []map[string]any{{"question": "2+2?", "answer": "4"}, {"question": "capital of France?", "answer": "Paris", "hops": num("2")}},
			lines:  []int{1, 2},
			fields: []string{"question", "answer", "hops"},
		},
		{
			name:  "numbers keep their form",
			in:    `{"i":3,"f":0.10,"e":1e400,"big":12345678901234567890,"neg":-0}`,
			recs:  []map[string]any{{"i": num("3"), "f": num("0.10"), "e": num("1e400"), "big": num("12345678901234567890"), "neg": num("-0")}},
			lines: []int{1},
		},
		{
			name:  "nested values",
			in:    `{"ctx":["a",{"b":null,"c":true}],"n":{"x":1.5}}`,
			recs:  []map[string]any{{"ctx": []any{"a", map[string]any{"b": nil, "c": true}}, "n": map[string]any{"x": num("1.5")}}},
			lines: []int{1},
		},
		{
			name:  "blank lines are skipped",
			in:    "\n   \n{\"a\":1}\n\t\r\n\n{\"a\":2}\n\n",
			recs:  []map[string]any{{"a": num("1")}, {"a": num("2")}},
			lines: []int{3, 6},
		},
		{
			name:  "byte order mark",
			in:    "\uFEFF{\"a\":\"x\"}\n{\"a\":\"y\"}\n",
			recs:  []map[string]any{{"a": "x"}, {"a": "y"}},
			lines: []int{1, 2},
		},
		{
			name:  "CRLF and no final newline",
			in:    "{\"a\":1}\r\n{\"a\":2}",
			recs:  []map[string]any{{"a": num("1")}, {"a": num("2")}},
			lines: []int{1, 2},
		},
		{
			name: "empty file",
			in:   "",
		},
		{
			name: "only blank lines",
			in:   "\n\n  \n",
		},
		{
			name:  "non-object lines are errors and reading goes on",
			in:    "{\"a\":1}\n[1,2]\n\"text\"\n  42\nnull\ntrue\n{\"a\":2}\n",
			recs:  []map[string]any{{"a": num("1")}, {"a": num("2")}},
			lines: []int{1, 7},
			errs: []string{
				"in.jsonl:2:1: want a JSON object, found an array",
				"in.jsonl:3:1: want a JSON object, found a string",
				"in.jsonl:4:3: want a JSON object, found a number",
				"in.jsonl:5:1: want a JSON object, found null",
				"in.jsonl:6:1: want a JSON object, found a boolean",
			},
		},
		{
			name:  "malformed line gives its column",
			in:    "{\"a\":1}\n{\"a\": x}\n{\"a\":3}\n",
			recs:  []map[string]any{{"a": num("1")}, {"a": num("3")}},
			lines: []int{1, 3},
			errs:  []string{"in.jsonl:2:7: invalid JSON: invalid character 'x' looking for beginning of value"},
		},
		{
			name: "truncated line",
			in:   `{"question": "what is the capital of"` + "\n",
			errs: []string{"in.jsonl:1:38: invalid JSON: unexpected end of input"},
		},
		{
			name: "two objects on a line",
			in:   `{"a":1} {"a":2}`,
			errs: []string{"in.jsonl:1:9: invalid JSON: unexpected content after the object (one JSON object per line)"},
		},
		{
			name: "object split over lines",
			in:   "{\"a\":\n1}\n",
			errs: []string{"in.jsonl:1:6: invalid JSON: unexpected end of input", "in.jsonl:2:2: invalid JSON: unexpected content after the number (one JSON object per line)"},
		},
		{
			name:   "fields in first-seen order",
			in:     `{"q":1,"a":2}` + "\n" + `{"z":1,"a":2,"ctx":3,"q":4}` + "\n",
			fields: []string{"q", "a", "z", "ctx"},
		},
		{
			name:  "duplicate key: last wins",
			in:    `{"a":1,"a":2}`,
			recs:  []map[string]any{{"a": num("2")}},
			lines: []int{1},
		},
	})
}

// TestJSONLErrorDeepInLargeFile: a bad line among 10,000 is named by number.
func TestJSONLErrorDeepInLargeFile(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 10_000; i++ {
		if i == 4812 {
			fmt.Fprintf(&b, "{\"id\":%d,\"question\":\"q%d\",\"answer\":\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "{\"id\":%d,\"question\":\"q%d\",\"answer\":\"a%d\"}\n", i, i, i)
	}
	path := filepath.Join(t.TempDir(), "qa.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, JSONL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			t.Fatal("no error for line 4812")
		}
		if err != nil {
			// The line is `{"id":4812,"question":"q4812","answer":` (39 bytes).
			want := path + ":4812:40: invalid JSON: unexpected end of input"
			if err.Error() != want {
				t.Fatalf("got  %q\nwant %q", err, want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line != 4812 || e.Col != 40 || e.File != path {
				t.Fatalf("error fields: %#v", e)
			}
			if r.Line() != 4812 {
				t.Errorf("Line() after the error = %d", r.Line())
			}
			break
		}
		n++
	}
	if n != 4811 {
		t.Errorf("%d records before the error, want 4811", n)
	}
	// The rest of the file still reads, with the right line numbers.
	rest := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rest++
		if want := fmt.Sprint(r.Line()); string(rec["id"].(json.Number)) != want {
			t.Fatalf("record id %v at line %d", rec["id"], r.Line())
		}
	}
	if rest != 10_000-4812 {
		t.Errorf("%d records after the error", rest)
	}
}

func TestHugeLine(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	for _, f := range []Format{JSONL, JSON, CSV} {
		t.Run(string(f), func(t *testing.T) {
			var in string
			switch f {
			case JSONL:
				in = `{"a":"` + big + `"}` + "\n" + `{"a":"small"}` + "\n"
			case JSON:
				in = `[{"a":"` + big + `"},` + "\n" + `{"a":"small"}]`
			case CSV:
				in = "a\n" + big + "\nsmall\n"
			}
			res, _ := read(t, in, f)
			if len(res.errs) > 0 {
				t.Fatal(res.errs)
			}
			if len(res.recs) != 2 || res.recs[0]["a"] != big || res.recs[1]["a"] != "small" {
				t.Fatalf("got %d records", len(res.recs))
			}
			if want := []int{1, 2}; !reflect.DeepEqual(res.lines, want) {
				if f != CSV || !reflect.DeepEqual(res.lines, []int{2, 3}) {
					t.Errorf("lines %v", res.lines)
				}
			}
		})
	}
}

func TestReadJSON(t *testing.T) {
	runReadCases(t, JSON, []readCase{
		{
			name:   "pretty printed",
			in:     "[\n  {\n    \"q\": \"a\",\n    \"n\": 1\n  },\n  {\"q\": \"b\", \"z\": [1, 2.50]}\n]\n",
			recs:   []map[string]any{{"q": "a", "n": num("1")}, {"q": "b", "z": []any{num("1"), num("2.50")}}},
			lines:  []int{2, 6},
			fields: []string{"q", "n", "z"},
		},
		{
			name:  "one line",
			in:    `[{"a":1},{"a":2}]`,
			recs:  []map[string]any{{"a": num("1")}, {"a": num("2")}},
			lines: []int{1, 1},
		},
		{
			name:  "byte order mark",
			in:    "\uFEFF[{\"a\":\"x\"}]",
			recs:  []map[string]any{{"a": "x"}},
			lines: []int{1},
		},
		{
			name: "empty array",
			in:   " [ ]\n",
		},
		{
			name:   "keys in file order",
			in:     `[{"b":1,"a":2},{"c":3,"a":1}]`,
			fields: []string{"b", "a", "c"},
		},
		{
			name:  "non-object elements are errors and reading goes on",
			in:    "[\n{\"a\":1},\n\"text\",\n[1,[2,{\"x\":3}]],\n7,\n{\"a\":2}\n]",
			recs:  []map[string]any{{"a": num("1")}, {"a": num("2")}},
			lines: []int{2, 6},
			errs: []string{
				"in.json:3: element [1] of the array is a string, want an object",
				"in.json:4:1: element [2] of the array is an array, want an object",
				"in.json:5: element [3] of the array is a number, want an object",
			},
		},
		{
			name: "top level is an object",
			in:   "\n  {\"a\":1}",
			errs: []string{"in.json:2:3: want a JSON array of objects, found one object (a .json file holds an array of objects, or JSON lines: one object per line)"},
		},
		{
			name: "top level is a string",
			in:   `"x"`,
			errs: []string{"in.json:1: want a JSON array of objects, found a string"},
		},
		{
			name: "empty file",
			in:   "  \n",
			errs: []string{"in.json:1: empty file: want a JSON array of objects"},
		},
		{
			name:  "syntax error in a value",
			in:    "[\n  {\"a\": 1},\n  {\"a\": tru}\n]",
			recs:  []map[string]any{{"a": num("1")}},
			lines: []int{2},
			errs:  []string{"in.json:3:12: invalid JSON: invalid character '}' in literal true (expecting 'e')"},
		},
		{
			name:  "missing comma",
			in:    "[\n  {\"a\": 1}\n  {\"a\": 2}\n]",
			recs:  []map[string]any{{"a": num("1")}},
			lines: []int{2},
			errs:  []string{"in.json:3:3: invalid JSON: invalid character '{' after array element"},
		},
		{
			name: "bad key",
			in:   "[{\"a\": 1,\n 2: 3}]",
			errs: []string{"in.json:2:2: invalid JSON: invalid character '2' looking for beginning of object key string"},
		},
		{
			name: "error deep in a nested value",
			in:   "[{\"a\": {\"b\": [1,\n2,\n3 4]}}]",
			errs: []string{"in.json:3:3: invalid JSON: invalid character '4' after array element"},
		},
		{
			name:  "unterminated",
			in:    "[{\"a\":1},\n{\"a\":2}\n\n",
			recs:  []map[string]any{{"a": num("1")}, {"a": num("2")}},
			lines: []int{1, 2},
			errs:  []string{"in.json:2:8: invalid JSON: unexpected end of input"},
		},
		{
			name:  "cut inside an object",
			in:    "[{\"a\":1},\n{\"a\":",
			recs:  []map[string]any{{"a": num("1")}},
			lines: []int{1},
			errs:  []string{"in.json:2:6: invalid JSON: unexpected end of input"},
		},
		{
			name:   "a broken object adds no fields",
			in:     `[{"a":1},{"b":2,"c":tru}]`,
			errs:   []string{"invalid JSON"},
			fields: []string{"a"},
		},
		{
			name:  "content after the array",
			in:    "[{\"a\":1}]\n\n{\"b\":2}",
			recs:  []map[string]any{{"a": num("1")}},
			lines: []int{1},
			errs:  []string{"in.json:3:1: invalid JSON: an object after the top-level array (the file must hold one array)"},
		},
	})
}

func TestReadCSV(t *testing.T) {
	runReadCases(t, CSV, []readCase{
		{
			name:   "simple",
			in:     "question,answer\n2+2?,4\ncapital of France?,Paris\n",
			recs:   []map[string]any{{"question": "2+2?", "answer": "4"}, {"question": "capital of France?", "answer": "Paris"}},
			lines:  []int{2, 3},
			fields: []string{"question", "answer"},
		},
		{
			name:   "byte order mark",
			in:     "\uFEFFquestion,answer\r\nq,a\r\n",
			recs:   []map[string]any{{"question": "q", "answer": "a"}},
			lines:  []int{2},
			fields: []string{"question", "answer"},
		},
		{
			name: "quoted commas, quotes and newlines",
			in: "question,answer,context\n" +
				"\"a, b\",\"say \"\"hi\"\"\",\"line one\nline two\n\nline four\"\n" +
				"q2,a2,c2\n" +
				"q3,\"x\ny\",c3\n" +
				"q4,a4,c4",
			recs: []map[string]any{
				{"question": "a, b", "answer": `say "hi"`, "context": "line one\nline two\n\nline four"},
				{"question": "q2", "answer": "a2", "context": "c2"},
				{"question": "q3", "answer": "x\ny", "context": "c3"},
				{"question": "q4", "answer": "a4", "context": "c4"},
			},
			lines: []int{2, 6, 7, 9},
		},
		{
			name:  "values stay strings",
			in:    "n,b,x\n42,true,null\n",
			recs:  []map[string]any{{"n": "42", "b": "true", "x": "null"}},
			lines: []int{2},
		},
		{
			name:  "wrong column count; reading goes on",
			in:    "question,answer,context\nq,a,c\nq,a,c,extra\nq,a\nq2,a2,c2\n",
			recs:  []map[string]any{{"question": "q", "answer": "a", "context": "c"}, {"question": "q2", "answer": "a2", "context": "c2"}},
			lines: []int{2, 5},
			errs: []string{
				"in.csv:3: row has 4 columns, header has 3 (question,answer,context)",
				"in.csv:4: row has 2 columns, header has 3 (question,answer,context)",
			},
		},
		{
			name: "duplicate header",
			in:   "question,answer,question\nq,a,b\n",
			errs: []string{`in.csv:1:17: field "question": header names two columns alike (columns 1 and 3)`},
		},
		{
			name: "empty header name",
			in:   "question,,answer\nq,a,b\n",
			errs: []string{"in.csv:1:10: column 2 of the header has no name"},
		},
		{
			name: "empty file",
			in:   "",
			errs: []string{"in.csv:1: empty file: want a header row"},
		},
		{
			name:   "header only",
			in:     "a,b\n",
			fields: []string{"a", "b"},
		},
		{
			name:  "bare quote",
			in:    "a,b\nx,y\nx,ab\"c\n",
			recs:  []map[string]any{{"a": "x", "b": "y"}},
			lines: []int{2},
			errs:  []string{"in.csv:3:5: invalid CSV: bare \" in non-quoted-field"},
		},
		{
			name: "quote never closed",
			in:   "a,b\nx,\"y\n\nz\n",
			errs: []string{"in.csv:4:3: invalid CSV: extraneous or missing \" in quoted-field (in the row that starts on line 2)"},
		},
	})
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("bad CSV header is reported by Open", func(t *testing.T) {
		p := write("dup.csv", "a,a\n1,2\n")
		_, err := Open(p, CSV)
		var e *Error
		if !errors.As(err, &e) || e.File != p || e.Line != 1 || e.Field != "a" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("CSV fields before Next", func(t *testing.T) {
		p := write("ok.csv", "q,a\n1,2\n")
		r, err := Open(p, CSV)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Fields(); !reflect.DeepEqual(got, []string{"q", "a"}) {
			t.Errorf("fields %q", got)
		}
		rec, err := r.Next()
		if err != nil || rec["q"] != "1" || r.Line() != 2 {
			t.Errorf("got %v, %v, line %d", rec, err, r.Line())
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if _, err := r.Next(); err == nil || err == io.EOF {
			t.Errorf("Next after Close: %v", err)
		}
	})
	t.Run("NewReader CSV fields before Next", func(t *testing.T) {
		r := NewReader(strings.NewReader("x,y\n1,2\n"), "s.csv", CSV)
		if got := r.Fields(); !reflect.DeepEqual(got, []string{"x", "y"}) {
			t.Errorf("fields %q", got)
		}
		res := readAll(t, r)
		if len(res.recs) != 1 || res.lines[0] != 2 {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := Open(filepath.Join(dir, "nope.jsonl"), JSONL); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		if _, err := Open(write("x.txt", ""), "txt"); err == nil {
			t.Error("no error")
		}
		_, err := NewReader(strings.NewReader("{}"), "x", "yaml").Next()
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), `"yaml"`) {
			t.Errorf("got %v", err)
		}
	})
}

type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadError(t *testing.T) {
	for _, tc := range []struct {
		f  Format
		in string
	}{
		{JSONL, "{\"a\":1}\n{\"a\":2}\n"},
		{JSON, "[{\"a\":1},\n{\"a\":2},\n"},
		{CSV, "a\n1\n2\n"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			r := NewReader(&failingReader{tc.in}, "x", tc.f)
			res := readAll(t, r)
			if len(res.recs) != 2 || len(res.errs) != 1 || !strings.Contains(res.errs[0], "read error: disk on fire") {
				t.Errorf("got %+v", res)
			}
		})
	}
}

func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Format
		err  string
	}{
		{"data/qa.jsonl", JSONL, ""},
		{"data/qa.NDJSON", JSONL, ""},
		{"qa.json", JSON, ""},
		{"/tmp/x/QA.Csv", CSV, ""},
		{"data/qa.txt", "", `data/qa.txt: cannot tell the dataset format from extension ".txt" (accepted: .jsonl, .ndjson, .json, .csv`},
		{"data/qa", "", "data/qa: cannot tell the dataset format from no extension"},
		{"qa.jsonl.gz", "", `".gz"`},
	} {
		got, err := DetectFormat(tc.path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v", tc.path, got, err)
		}
	}
	for s, want := range map[string]Format{"jsonl": JSONL, "NDJSON": JSONL, "json": JSON, " csv": CSV} {
		if got, err := ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseFormat("tsv"); err == nil {
		t.Error("ParseFormat(tsv): no error")
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "data/qa.jsonl", Line: 4812, Col: 37, Msg: "invalid JSON: unexpected end of input"}, "data/qa.jsonl:4812:37: invalid JSON: unexpected end of input"},
		{Error{File: "data/qa.csv", Line: 17, Msg: "row has 4 columns, header has 3 (question,answer,context)"}, "data/qa.csv:17: row has 4 columns, header has 3 (question,answer,context)"},
		{Error{File: "a.csv", Line: 1, Field: "q", Msg: "m"}, `a.csv:1: field "q": m`},
		{Error{Line: 3, Msg: "m"}, "line 3: m"},
		{Error{File: "a.txt", Msg: "m"}, "a.txt: m"},
		{Error{Msg: "m"}, "m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	inner := errors.New("inner")
	if e := (&Error{Err: inner}); !errors.Is(e, inner) {
		t.Error("Unwrap")
	}
}
