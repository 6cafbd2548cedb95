package datafile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// readLine returns the next physical line without its newline, up to the
// reader's limit (errTooLong past it). The slice is valid until the next
// call.
func (r *Reader) readLine() ([]byte, error) {
	r.long = r.long[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if int64(len(r.long)+len(chunk)) > r.max+1 { // +1: the newline
			return nil, errTooLong
		}
		if err == bufio.ErrBufferFull {
			r.long = append(r.long, chunk...)
			continue
		}
		if len(r.long) > 0 {
			r.long = append(r.long, chunk...)
			chunk = r.long
		}
		if err == io.EOF && len(chunk) > 0 {
			err = nil // a last line without a newline
		}
		if err != nil {
			return nil, err
		}
		r.phys++
		if n := len(chunk); n > 0 && chunk[n-1] == '\n' {
			chunk = chunk[:n-1]
		}
		return chunk, nil
	}
}

func (r *Reader) nextJSONL() (map[string]any, error) {
	for {
		line, err := r.readLine()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err == errTooLong {
			return r.fail(r.tooLong(r.phys+1, "line"))
		}
		if err != nil {
			return r.fail(&Error{File: r.name, Line: r.phys + 1, Msg: "read error: " + err.Error(), Err: err})
		}
		start := firstNonSpace(line)
		if start == len(line) {
			continue // blank line
		}
		m, e := decodeLine(&r.lineReader, line, start)
		if e != nil {
			e.File, e.Line = r.name, r.phys
			if r.jsonNamed && r.line == 0 && errors.Is(e.Err, io.ErrUnexpectedEOF) {
				// The first object does not end on its line: one object over
				// several lines, not JSON lines.
				return r.fail(&Error{File: r.name, Line: r.phys, Col: start + 1, Msg: notArrayMsg})
			}
			return r.bad(e)
		}
		if r.jsonNamed && r.line == 0 && !r.moreContent() {
			return r.fail(&Error{File: r.name, Line: r.phys, Col: start + 1, Msg: notArrayMsg})
		}
		r.noteKeys(m, line)
		if e := r.checkTypes(m, r.phys); e != nil {
			return r.bad(e)
		}
		r.line = r.phys
		return m, nil
	}
}

const notArrayMsg = "want a JSON array of objects, found one object (a .json file holds an array of objects, or JSON lines: one object per line)"

// moreContent is whether anything but whitespace follows in the input.
func (r *Reader) moreContent() bool {
	for n := 1; ; n *= 2 {
		b, err := r.br.Peek(min(n, readBufSize))
		if firstNonSpace(b) < len(b) {
			return true
		}
		if err != nil || n >= readBufSize {
			return err == nil // a buffer of nothing but spaces: let the next lines tell
		}
	}
}

// decodeLine decodes one JSONL line that has something other than
// whitespace at index start. The error has Msg, Col and Err set.
func decodeLine(br *bytes.Reader, line []byte, start int) (map[string]any, *Error) {
	br.Reset(line)
	dec := json.NewDecoder(br)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err, line)
	}
	if rest := line[dec.InputOffset():]; firstNonSpace(rest) < len(rest) {
		col := int(dec.InputOffset()) + firstNonSpace(rest) + 1
		return nil, &Error{Col: col, Msg: fmt.Sprintf("invalid JSON: unexpected content after the %s (one JSON object per line)", kindNoun(v))}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Col: start + 1, Msg: fmt.Sprintf("want a JSON object, found %s", kind(v))}
	}
	return m, nil
}

// jsonError describes an error from decoding one whole value held in b.
func jsonError(err error, b []byte) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// The decoder counts the offending byte in Offset.
		col := max(int(se.Offset), 1)
		return &Error{Col: col, Msg: "invalid JSON: " + se.Error(), Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		end := len(b)
		for end > 0 && isSpace(b[end-1]) {
			end--
		}
		return &Error{Col: end + 1, Msg: "invalid JSON: unexpected end of input", Err: err}
	}
	return &Error{Msg: "invalid JSON: " + err.Error(), Err: err}
}

func kindNoun(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case nil:
		return "null"
	case bool:
		return "boolean"
	}
	return "number"
}

// noteKeys adds the keys of m that are new to the fields, in the order they
// appear on the line. The order is only worked out when there are new keys,
// which in a regular file is the first line alone.
func (r *Reader) noteKeys(m map[string]any, line []byte) {
	fresh := false
	for k := range m {
		if _, ok := r.seen[k]; !ok {
			fresh = true
			break
		}
	}
	if !fresh {
		return
	}
	for _, k := range objectKeys(line) {
		r.addField(k)
	}
	// objectKeys cannot fail on a line that decoded, but stay safe.
	for k := range m {
		r.addField(k)
	}
}

// objectKeys lists the top-level keys of the JSON object in b in order.
func objectKeys(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, ok := t.(string)
		if !ok {
			return keys
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}
