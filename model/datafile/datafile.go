// Package datafile reads and writes the dataset files users import into
// Signet and export from it: JSON Lines, a JSON array of objects, and CSV
// with a header row.
//
// Files may be large (hundreds of thousands of lines, hundreds of MB), so
// everything streams: a Reader holds one record at a time, never the file.
//
// # Values
//
// A record is a map[string]any. For JSON Lines and JSON a record holds what
// encoding/json produces with UseNumber: strings, bool, nil, []any,
// map[string]any, and json.Number for every number. json.Number keeps the
// number exactly as it was written ("3", "0.10", "1e400",
// "12345678901234567890"), so an import followed by an export writes the
// same digits back, and json.Marshal emits it unchanged. Use its Int64 and
// Float64 methods for arithmetic. If an object repeats a key, the last
// value wins, as in Python's json module.
//
// A CSV record holds strings only; no type is guessed. With Types set
// (Reader.SetTypes), a cell of a typed field holds the JSON value its type
// says, and JSON values of a typed field are checked (see Types).
//
// # Errors
//
// Every problem with the input is an *Error naming the file, the 1-based
// line, and where known the column (1-based, in bytes, like Go's own parsers)
// and the field, as "file:line:column: field "f": what". Some errors concern
// one record only (a JSONL line that is not valid JSON or not an object, a
// JSON array element that is not an object, a CSV row with the wrong number
// of columns, a value that does not fit its field's type): after those, Next
// may be called again and goes on with the following record, so a caller
// can report several at once. A line (JSONL), record (CSV) or array element
// (JSON) longer than the reader's limit (SetMaxRecord) stops the read at
// once, so memory stays near the limit whatever the file. After any other error (a syntax error in a
// JSON array or in CSV quoting, a read error) Next keeps returning the same
// error.
package datafile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/signet-dspy/signet/model"
)

// Format is the kind of a dataset file.
type Format string

const (
	JSONL Format = "jsonl" // one JSON object per line (also .ndjson)
	JSON  Format = "json"  // a JSON array of objects
	CSV   Format = "csv"   // comma-separated values with a header row
)

// Formats lists the formats in the order they are usually offered.
var Formats = []Format{JSONL, JSON, CSV}

var extFormats = []struct {
	ext string
	f   Format
}{{".jsonl", JSONL}, {".ndjson", JSONL}, {".json", JSON}, {".csv", CSV}}

// DetectFormat tells the format of a file from its extension (case is
// ignored): .jsonl and .ndjson are JSONL, .json is JSON, .csv is CSV.
func DetectFormat(path string) (Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	for _, e := range extFormats {
		if ext == e.ext {
			return e.f, nil
		}
	}
	what := fmt.Sprintf("extension %q", ext)
	if ext == "" {
		what = "no extension"
	}
	return "", &Error{File: path, Msg: fmt.Sprintf("cannot tell the dataset format from %s (accepted: .jsonl, .ndjson, .json, .csv; or give the format explicitly)", what)}
}

// ParseFormat checks a format name given by a user, such as the value of a
// --format flag. "ndjson" is accepted as another name for jsonl.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "jsonl", "ndjson":
		return JSONL, nil
	case "json":
		return JSON, nil
	case "csv":
		return CSV, nil
	}
	return "", fmt.Errorf("unknown dataset format %q (want jsonl, json or csv)", s)
}

func (f Format) valid() bool { return f == JSONL || f == JSON || f == CSV }

// Error is a problem with a dataset file, located as precisely as the format
// allows.
type Error struct {
	File  string // the name given to Open or NewReader
	Line  int    // 1-based; 0 if the problem is not on a line (such as an unknown extension)
	Col   int    // 1-based byte column; 0 if unknown
	Field string // the field or column concerned, if any
	Msg   string // what is wrong, for a person
	Err   error  // the underlying error, if any (a *json.SyntaxError, *csv.ParseError, read error...)
}

// Error reads like "data/qa.jsonl:4812:37: invalid JSON: unexpected end
// of input", the form editors and compilers use.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File == "" {
			b.WriteString("line ")
		} else {
			b.WriteByte(':')
		}
		fmt.Fprint(&b, e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

var errClosed = errors.New("datafile: reader is closed")

// Reader reads the records of one dataset file, one at a time.
type Reader struct {
	name   string
	format Format
	closer io.Closer
	br     *bufio.Reader

	line   int            // line of the record last returned
	fields []string       // field names in first-seen order
	seen   map[string]int // field name -> index in fields
	err    error          // sticky error
	types  Types          // see SetTypes
	max    int64          // see SetMaxRecord
	// typeNames are the typed fields in sorted order, so a record with two
	// bad values always reports the same one.
	typeNames []string

	// JSONL
	phys       int          // physical lines consumed
	long       []byte       // holds a line longer than the bufio buffer
	lineReader bytes.Reader // feeds one line to a json.Decoder

	// JSON
	dec        *json.Decoder
	pos        *posReader
	state      int      // jsonStart, jsonInArray, jsonDone
	index      int      // index of the next array element
	markPrefix string   // see setMark
	keys       []string // keys of the object being read, in order

	// JSON lines in a file named .json (see sniff)
	jsonNamed bool

	// CSV
	bound    *boundReader // counts the bytes of the record being read
	nextLine int          // the line the next record starts on, as far as known
	recEnd   int64        // input offset of the end of the last record
	cr       *csv.Reader
	header   []string
	started  bool // CSV header read
}

const readBufSize = 64 << 10

// DefaultMaxRecord is the longest line, record or element a Reader takes
// unless SetMaxRecord says otherwise.
const DefaultMaxRecord = 16 << 20

// SetMaxRecord sets the longest JSONL line, CSV record or JSON array element
// read, in bytes (n ≤ 0: DefaultMaxRecord). Call it before Next.
func (r *Reader) SetMaxRecord(n int64) {
	if n <= 0 {
		n = DefaultMaxRecord
	}
	r.max = n
	if r.bound != nil {
		r.bound.max = n + readBufSize
	}
	if r.pos != nil {
		r.pos.max = n + readBufSize
	}
}

// tooLong is the error for a record over the limit that starts on line.
func (r *Reader) tooLong(line int, what string) *Error {
	return &Error{File: r.name, Line: line, Err: errTooLong,
		Msg: fmt.Sprintf("%s is longer than the limit of %s (limits: import_line in config.yaml)", what, model.FormatSize(r.max))}
}

var errTooLong = errors.New("record longer than the limit")

// boundReader fails once more than max bytes were read since the last
// reset: encoding/csv would otherwise grow one record without end.
type boundReader struct {
	r      io.Reader
	n, max int64
}

func (b *boundReader) Read(p []byte) (int, error) {
	left := b.max - b.n
	if left <= 0 {
		return 0, errTooLong
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// Open opens the file at path for reading in format f. For CSV it reads the
// header at once, so a bad header is reported here.
func Open(path string, f Format) (*Reader, error) {
	if !f.valid() {
		return nil, &Error{File: path, Msg: fmt.Sprintf("unknown dataset format %q (want jsonl, json or csv)", f)}
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := NewReader(file, path, f)
	r.closer = file
	if f == CSV {
		r.readHeader()
		if r.err != nil {
			file.Close()
			return nil, r.err
		}
	}
	return r, nil
}

// NewReader reads records in format f from rd; name is used in errors. Any
// problem, including an unknown format or a bad CSV header, is reported by
// the first call to Next. Close does not close rd.
func NewReader(rd io.Reader, name string, f Format) *Reader {
	r := &Reader{name: name, format: f, seen: map[string]int{}, max: DefaultMaxRecord}
	if !f.valid() {
		r.err = &Error{File: name, Line: 1, Msg: fmt.Sprintf("unknown dataset format %q (want jsonl, json or csv)", f)}
		return r
	}
	r.br = bufio.NewReaderSize(rd, readBufSize)
	// A UTF-8 byte order mark, as written by some Windows tools, is not data.
	if b, _ := r.br.Peek(3); bytes.Equal(b, bom) {
		r.br.Discard(3)
	}
	if r.sniff(); r.err != nil {
		return r
	}
	switch r.format {
	case JSON:
		r.pos = newPosReader(r.br)
		r.pos.max = r.max + readBufSize
		r.dec = json.NewDecoder(r.pos)
		r.dec.UseNumber()
	case CSV:
		// The bound allows the limit plus what csv's buffer reads ahead.
		r.bound = &boundReader{r: r.br, max: r.max + readBufSize}
		r.cr = csv.NewReader(r.bound)
		r.cr.FieldsPerRecord = -1 // checked here, for a better message
		r.cr.ReuseRecord = true
	}
	return r
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// sniff looks at the first byte of content: a .json file whose content
// starts with "{" holds JSON lines (nextJSONL checks that there is more
// than one value), and content that cannot be the format asked for is an
// error that says what it looks like.
func (r *Reader) sniff() {
	head, _ := r.br.Peek(readBufSize)
	i := firstNonSpace(head)
	if i == len(head) {
		return // empty: each format says so in its own words
	}
	line := 1 + bytes.Count(head[:i], []byte{'\n'})
	col := i - bytes.LastIndexByte(head[:i], '\n')
	lies := func(found string, want Format) {
		r.err = &Error{File: r.name, Line: line, Col: col, Msg: fmt.Sprintf(
			"the content is %s, not %s: name the file .%s or give the format explicitly", found, r.format, want)}
	}
	switch c := head[i]; {
	case r.format == JSON && c == '{':
		r.format, r.jsonNamed = JSONL, true
	case r.format == JSONL && c == '[':
		lies("a JSON array", JSON)
	case r.format == CSV && c == '[':
		lies("a JSON array", JSON)
	case r.format == CSV && c == '{':
		lies("JSON objects", JSONL)
	}
}

// Next returns the next record, or io.EOF after the last one.
func (r *Reader) Next() (map[string]any, error) {
	if r.err != nil {
		return nil, r.err
	}
	switch r.format {
	case JSONL:
		return r.nextJSONL()
	case JSON:
		return r.nextJSON()
	default:
		return r.nextCSV()
	}
}

// Line is the line where the record last returned by Next starts (1-based),
// or the line of the error Next last returned.
func (r *Reader) Line() int { return r.line }

// Fields returns the field names seen so far, in the order they were first
// seen; for CSV, the header (read now if Next has not been called yet).
func (r *Reader) Fields() []string {
	if r.format == CSV && !r.started && r.err == nil {
		r.readHeader()
	}
	return slices.Clone(r.fields)
}

// Close closes the file opened by Open. Next fails after Close.
func (r *Reader) Close() error {
	if r.err == errClosed {
		return nil
	}
	r.err = errClosed
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// fail records a sticky error and returns it.
func (r *Reader) fail(e *Error) (map[string]any, error) {
	if e.Line < 1 {
		e.Line = 1
	}
	r.line = e.Line
	r.err = e
	return nil, e
}

// bad returns an error about one record only; Next may go on after it.
func (r *Reader) bad(e *Error) (map[string]any, error) {
	if e.Line < 1 {
		e.Line = 1
	}
	r.line = e.Line
	return nil, e
}

func (r *Reader) addField(k string) {
	if _, ok := r.seen[k]; !ok {
		r.seen[k] = len(r.fields)
		r.fields = append(r.fields, k)
	}
}

// kind names the JSON type of a value decoded with UseNumber.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// firstNonSpace is the index of the first byte of b that is not JSON
// whitespace, or len(b).
func firstNonSpace(b []byte) int {
	for i, c := range b {
		if !isSpace(c) {
			return i
		}
	}
	return len(b)
}
