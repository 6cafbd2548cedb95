package datafile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
)

// Writer writes records in one of the formats, streaming: nothing is held
// but the record being written. What it writes, a Reader reads back as the
// same records (for CSV: the same strings, see NewWriter).
type Writer struct {
	f      Format
	fields []string
	known  map[string]bool
	bw     *bufio.Writer
	enc    *json.Encoder
	buf    bytes.Buffer // the record being encoded
	row    []string
	extra  []string
	n      int
	err    error
	closed bool
}

// NewWriter starts writing records in format f to w.
//
// fields orders the keys: for JSONL and JSON each object lists the fields in
// this order, then any other keys of the record in sorted order; fields may
// be nil. For CSV fields is the header and is required; a record with a key
// that is not a column is an error (nothing is dropped silently). A CSV cell
// holds a string value as is, nothing for nil or a missing key, and the
// JSON encoding of any other value (json.Number 3.10 becomes 3.10, true
// becomes true, a list becomes ["a","b"]). CSV cannot carry "\r\n" inside
// a value: encoding/csv reads it back as "\n".
//
// The header of a CSV file is written at once; Close finishes the file.
func NewWriter(w io.Writer, f Format, fields []string) (*Writer, error) {
	if !f.valid() {
		return nil, fmt.Errorf("unknown dataset format %q (want jsonl, json or csv)", f)
	}
	wr := &Writer{f: f, fields: slices.Clone(fields), known: map[string]bool{}, bw: bufio.NewWriterSize(w, 64<<10)}
	for _, k := range fields {
		if f == CSV && strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("csv: a column needs a name (fields %q)", fields)
		}
		if wr.known[k] {
			return nil, fmt.Errorf("field %q is given twice", k)
		}
		wr.known[k] = true
	}
	wr.enc = json.NewEncoder(&wr.buf)
	wr.enc.SetEscapeHTML(false) // keep <, > and & readable; still valid JSON
	if f == CSV {
		if len(fields) == 0 {
			return nil, fmt.Errorf("csv: the header needs at least one field")
		}
		wr.row = make([]string, len(fields))
		wr.err = wr.writeCSVRow(wr.fields, true)
	}
	return wr, wr.err
}

// Write writes one record. After an error the Writer writes nothing more,
// and Close returns the error.
func (w *Writer) Write(rec map[string]any) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("datafile: write after Close")
	}
	if w.f == CSV {
		w.err = w.csvRecord(rec)
	} else {
		w.err = w.jsonRecord(rec)
	}
	if w.err == nil {
		w.n++
	}
	return w.err
}

// Count is the number of records written.
func (w *Writer) Count() int { return w.n }

// Close finishes the file (the closing bracket of a JSON array) and flushes
// what is buffered. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if w.f == JSON {
		if w.n == 0 {
			w.bw.WriteString("[]\n")
		} else {
			w.bw.WriteString("\n]\n")
		}
	}
	w.err = w.bw.Flush()
	return w.err
}

// Write writes all records of rows to w in format f and finishes the file;
// see NewWriter for fields. It returns the number of records written.
func Write(w io.Writer, f Format, fields []string, rows iter.Seq[map[string]any]) (int, error) {
	wr, err := NewWriter(w, f, fields)
	if err != nil {
		return 0, err
	}
	for rec := range rows {
		if err := wr.Write(rec); err != nil {
			return wr.n, err
		}
	}
	return wr.n, wr.Close()
}

// encode appends the JSON encoding of v to w.buf.
func (w *Writer) encode(v any) error {
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	w.buf.Truncate(w.buf.Len() - 1) // the newline Encode adds
	return nil
}

func (w *Writer) jsonRecord(rec map[string]any) error {
	w.buf.Reset()
	switch {
	case w.f == JSON && w.n == 0:
		w.buf.WriteString("[\n")
	case w.f == JSON:
		w.buf.WriteString(",\n")
	}
	w.buf.WriteByte('{')
	first := true
	put := func(k string, v any) error {
		if !first {
			w.buf.WriteByte(',')
		}
		first = false
		w.encode(k) // a string always encodes
		w.buf.WriteByte(':')
		if err := w.encode(v); err != nil {
			return fmt.Errorf("record %d: field %q: %w", w.n+1, k, err)
		}
		return nil
	}
	for _, k := range w.fields {
		if v, ok := rec[k]; ok {
			if err := put(k, v); err != nil {
				return err
			}
		}
	}
	for _, k := range w.others(rec) {
		if err := put(k, rec[k]); err != nil {
			return err
		}
	}
	w.buf.WriteByte('}')
	if w.f == JSONL {
		w.buf.WriteByte('\n')
	}
	_, err := w.bw.Write(w.buf.Bytes())
	return err
}

// others lists the keys of rec that are not among the fields, sorted.
func (w *Writer) others(rec map[string]any) []string {
	w.extra = w.extra[:0]
	for k := range rec {
		if !w.known[k] {
			w.extra = append(w.extra, k)
		}
	}
	slices.Sort(w.extra)
	return w.extra
}

func (w *Writer) csvRecord(rec map[string]any) error {
	if extra := w.others(rec); len(extra) > 0 {
		return fmt.Errorf("record %d: field %q is not a column of the CSV file (columns: %s)", w.n+1, extra[0], strings.Join(w.fields, ","))
	}
	for i, k := range w.fields {
		switch v := rec[k].(type) {
		case nil:
			w.row[i] = ""
		case string:
			w.row[i] = v
		default:
			w.buf.Reset()
			if err := w.encode(v); err != nil {
				return fmt.Errorf("record %d: field %q: %w", w.n+1, k, err)
			}
			w.row[i] = w.buf.String()
		}
	}
	return w.writeCSVRow(w.row, false)
}

// writeCSVRow writes one row of CSV. It quotes like encoding/csv.Writer,
// and also in the two cases where that writes what encoding/csv.Reader does
// not read back: a row of one empty cell (an empty line, which readers skip)
// and a first cell of the file that starts with a byte order mark (which
// Reader strips).
func (w *Writer) writeCSVRow(row []string, first bool) error {
	for i, c := range row {
		if i > 0 {
			w.bw.WriteByte(',')
		}
		quote := strings.ContainsAny(c, ",\"\r\n") ||
			(c != "" && (c[0] == ' ' || c[0] == '\t')) ||
			(len(row) == 1 && c == "") ||
			(i == 0 && first && strings.HasPrefix(c, "\uFEFF")) ||
			// A file that starts with [ or { reads as JSON (see sniff).
			(i == 0 && first && c != "" && (c[0] == '[' || c[0] == '{'))
		if !quote {
			w.bw.WriteString(c)
			continue
		}
		w.bw.WriteByte('"')
		w.bw.WriteString(strings.ReplaceAll(c, `"`, `""`))
		w.bw.WriteByte('"')
	}
	return w.bw.WriteByte('\n')
}
