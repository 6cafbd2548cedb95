package datafile

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// fuzzRead reads data in format f and checks what every input must give: no
// panic, an end, errors that are *Error with a line, record lines that never
// go back. It then writes the records read and reads them again: the same
// records must come back.
func fuzzRead(t *testing.T, data []byte, f Format) {
	if len(data) > 1<<20 {
		return
	}
	r := NewReader(bytes.NewReader(data), "fuzz."+string(f), f)
	res := readAll(t, r) // checks the errors
	fuzzLimit(t, data, f, res)
	for i := 1; i < len(res.lines); i++ {
		if res.lines[i] < res.lines[i-1] || (f != JSON && res.lines[i] == res.lines[i-1]) {
			t.Fatalf("record lines go back: %v", res.lines)
		}
	}
	for _, l := range res.lines {
		if l < 1 {
			t.Fatalf("record line %d", l)
		}
	}
	fields := r.Fields()
	if f == CSV {
		if len(fields) == 0 {
			return // no header, so nothing to write
		}
		// Names that differ only in "\r\n" against "\n" cannot both survive
		// CSV (see crlfToLF).
		seen := map[string]bool{}
		for _, k := range fields {
			if seen[crlf.Replace(k)] {
				return
			}
			seen[crlf.Replace(k)] = true
		}
	}
	var buf bytes.Buffer
	if _, err := Write(&buf, f, fields, slices.Values(res.recs)); err != nil {
		t.Fatalf("writing back %v: %v", res.recs, err)
	}
	r2 := NewReader(bytes.NewReader(buf.Bytes()), "again."+string(f), f)
	again := readAll(t, r2)
	if len(again.errs) > 0 {
		t.Fatalf("reading back what was written:\n%q\nerrors: %q", buf.String(), again.errs)
	}
	want := res.recs
	if f == CSV {
		want = crlfToLF(want)
	}
	if len(again.recs) != len(want) || (len(want) > 0 && !reflect.DeepEqual(again.recs, want)) {
		t.Fatalf("round trip changed the records\nwritten: %q\n got %#v\nwant %#v", buf.String(), again.recs, want)
	}
	if f == CSV {
		for i := range fields {
			fields[i] = crlf.Replace(fields[i])
		}
	}
	if f == CSV && !reflect.DeepEqual(r2.Fields(), fields) {
		t.Fatalf("round trip changed the header: %q, want %q", r2.Fields(), fields)
	}
}

// fuzzLimit reads data again with a small record limit: what comes before
// the limit's error is what the unlimited read gave, the limit's error ends
// the read, and a read that never meets the limit gives the same as one
// without it.
func fuzzLimit(t *testing.T, data []byte, f Format, whole result) {
	const limit = 24
	r := NewReader(bytes.NewReader(data), "fuzz."+string(f), f)
	r.SetMaxRecord(limit)
	res := readAll(t, r)
	n := len(res.errv)
	if n == 0 || !errors.Is(res.errv[n-1], errTooLong) {
		if len(res.recs) != len(whole.recs) || len(res.errs) != len(whole.errs) ||
			(len(res.recs) > 0 && !reflect.DeepEqual(res.recs, whole.recs)) || (len(res.errs) > 0 && !reflect.DeepEqual(res.errs, whole.errs)) {
			t.Fatalf("a limit never met changed the read:\n got %q %q\nwant %q %q", res.recs, res.errs, whole.recs, whole.errs)
		}
		return
	}
	if len(res.recs) > len(whole.recs) || (len(res.recs) > 0 && !reflect.DeepEqual(res.recs, whole.recs[:len(res.recs)])) {
		t.Fatalf("records before the limit's error differ from the unlimited read:\n got %q\nwant a prefix of %q", res.recs, whole.recs)
	}
	for i, l := range res.lines {
		if l != whole.lines[i] {
			t.Fatalf("record lines %v, unlimited %v", res.lines, whole.lines)
		}
	}
	if e := res.errv[n-1]; !strings.Contains(e.Msg, "longer than the limit of 24B") {
		t.Fatalf("limit error %q", e)
	}
}

var crlf = strings.NewReplacer("\r\n", "\n")

// crlfToLF: encoding/csv reads "\r\n" inside a quoted value (or header
// name) as "\n", so CSV cannot carry it through a write and a read.
func crlfToLF(recs []map[string]any) []map[string]any {
	out := make([]map[string]any, len(recs))
	for i, rec := range recs {
		m := make(map[string]any, len(rec))
		for k, v := range rec {
			m[crlf.Replace(k)] = crlf.Replace(v.(string))
		}
		out[i] = m
	}
	return out
}

func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		"",
		"{\"a\":1}\n{\"b\":[1,2,{\"c\":null}]}\n",
		"\uFEFF{\"q\":\"x\"}\r\n\n  \n{\"q\":\"y\"}",
		"{\"a\":\n1}\n",
		"[1]\n\"s\"\n3\nnull\ntrue\n",
		"{\"a\":1} x\n{\"a\": tru}\n{\"a\":\"\\ud800\"}\n",
		"{\"n\":1e400,\"m\":-0.0e-0,\"big\":123456789012345678901234567890}",
		"{\"a\":1,\"a\":2}",
		"{\"\":\"\\u0000\"}\n{\"x\":\"\xff\xfe\"}",
		"{\"a\":1}\n{\"long\":\"over the fuzz targets' limit of 24 bytes\"}\n{\"a\":2}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, JSONL) })
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		"",
		"[]",
		"[{\"a\":1},\n {\"b\":[1,2,{\"c\":null}]}]",
		"\uFEFF[\n{\"q\":\"x\"},\n\"s\",\n[1,[2]],\n{\"q\":\"y\"}\n]",
		"{\"a\":1}",
		"[{\"a\":1}]{\"b\":2}",
		"[{\"a\": tru}]",
		"[{\"a\":1},",
		"[{\"a\":1} {\"b\":2}]",
		"[{1:2}]",
		"[{\"a\":1,}]",
		"[{\"n\":1e400,\"a\":1,\"a\":\"\xff\"}]",
		"[{\"a\":1},\n{\"long\":\"over the fuzz targets' limit of 24 bytes\"},\n{\"a\":2}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data, JSON)
		checkSyntaxPosition(t, data)
	})
}

// checkSyntaxPosition checks that a syntax error in a JSON array is placed
// where json.Unmarshal, reading the whole input at once, places it.
func checkSyntaxPosition(t *testing.T, data []byte) {
	if body := bytes.TrimPrefix(data, bom); firstNonSpace(body) < len(body) && body[firstNonSpace(body)] == '{' {
		return // JSON lines, read line by line (see sniff)
	}
	res := readAll(t, NewReader(bytes.NewReader(data), "fuzz.json", JSON))
	if len(res.errv) == 0 {
		return
	}
	e := res.errv[len(res.errv)-1]
	var se *json.SyntaxError
	if !errors.As(e, &se) {
		return
	}
	data = bytes.TrimPrefix(data, bom)
	var v any
	err := json.Unmarshal(data, &v)
	var want *json.SyntaxError
	if !errors.As(err, &want) {
		t.Fatalf("reader: %v; json.Unmarshal: %v", e, err)
	}
	at := int(want.Offset) - 1
	line := 1 + bytes.Count(data[:at], []byte("\n"))
	col := at - bytes.LastIndexByte(data[:at], '\n')
	if e.Line != line || e.Col != col {
		t.Fatalf("reader: %v; json.Unmarshal: %v at %d:%d", e, err, line, col)
	}
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"",
		"a,b\n1,2\n",
		"\uFEFFq,a\r\n\"x, y\",\"multi\nline\"\r\n3,4\r\n",
		"a,b,c\n1,2\n1,2,3,4\n",
		"a,a\n1,2\n",
		"a,,b\n",
		"a,b\n\"unclosed,2\n",
		"a,b\nx\"y,2\n",
		"only\n\n\"\"\nx\n",
		"\"\uFEFFa\",b\n1,2\n",
		"a\n\"\r\r\n\"\n",
		"a,b\n1,2\n\"over the fuzz targets'\nlimit\",of 24 bytes\n3,4\n",
		"a,b\n1,2\n\"over the fuzz targets'\nlimit\",of 24 bytes\n3,4\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data, CSV)
		fuzzTypedCSV(t, data)
	})
}

// fuzzTypes are the types the fuzz targets give CSV columns, in turn.
var fuzzTypes = []string{"int", "float", "bool", "list[str]", "dict[str, int]", "Literal['a', 'b', 3]",
	"Optional[int]", "str", "dspy.Image", "tuple[int, str]", "list[Optional[float]]", "int | list[int]"}

// fuzzTypedCSV reads data again with every column typed: each row gives a
// record or an error naming the row's line, the cell's column and its
// field, and every typed value is JSON that fits its type.
func fuzzTypedCSV(t *testing.T, data []byte) {
	if len(data) > 1<<20 {
		return
	}
	plain := readAll(t, NewReader(bytes.NewReader(data), "fuzz.csv", CSV))
	r := NewReader(bytes.NewReader(data), "fuzz.csv", CSV)
	ts := Types{}
	for i, name := range r.Fields() {
		ft, err := model.ParseType(fuzzTypes[i%len(fuzzTypes)])
		if err != nil {
			t.Fatal(err)
		}
		ts[name] = ft
	}
	r.SetTypes(ts)
	typed := readAll(t, r)
	var typeErrs int
	for _, e := range typed.errv {
		if !strings.HasPrefix(e.Msg, "type ") {
			continue
		}
		typeErrs++
		if ts[e.Field] == nil || e.Col < 1 || e.Line < 1 {
			t.Fatalf("type error without its field, line or column: %#v", e)
		}
	}
	if len(typed.recs)+typeErrs != len(plain.recs) || len(typed.errs)-typeErrs != len(plain.errs) {
		t.Fatalf("typing changed the rows: %d records + %d type errors, %d other errors; untyped %d records, %d errors",
			len(typed.recs), typeErrs, len(typed.errs)-typeErrs, len(plain.recs), len(plain.errs))
	}
	for _, rec := range typed.recs {
		for name, v := range rec {
			checkTyped(t, v, ts[name])
		}
	}
}

// checkTyped: a typed value is JSON, and checking it against its type
// again changes nothing.
func checkTyped(t *testing.T, v any, ft *model.FieldType) {
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("value %#v of type %s is not JSON: %v", v, ft, err)
	}
	if v == nil {
		return
	}
	again, err := checkJSON(v, ft)
	if err != nil || !reflect.DeepEqual(again, v) {
		t.Fatalf("value %#v of type %s checks as %#v, %v", v, ft, again, err)
	}
}

// FuzzTypedCell parses one cell by one type: no panic, and a value that
// fits (see checkTyped) or an error.
func FuzzTypedCell(f *testing.F) {
	for _, typ := range fuzzTypes {
		for _, cell := range []string{"", "3", " 2.5 ", "true", "a", "[1, \"x\"]", "{\"k\": 1}", "[1,", "null", "1e400", "-0"} {
			f.Add(cell, typ)
		}
	}
	f.Fuzz(func(t *testing.T, cell, typ string) {
		ft, err := model.ParseType(typ)
		if err != nil {
			return
		}
		v, terr := parseCell(cell, ft)
		if terr != nil {
			if terr.msg == "" {
				t.Fatalf("%s %q: an error without a message", ft, cell)
			}
			return
		}
		checkTyped(t, v, ft)
	})
}
