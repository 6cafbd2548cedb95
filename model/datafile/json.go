package datafile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

const (
	jsonStart = iota
	jsonInArray
	jsonDone
)

// nextJSON streams the elements of the top-level array with the decoder's
// token API: one element is decoded at a time, and the keys of each object
// come in file order.
func (r *Reader) nextJSON() (map[string]any, error) {
	if r.state == jsonStart {
		t, err := r.dec.Token()
		if err == io.EOF {
			return r.fail(&Error{File: r.name, Line: 1, Msg: "empty file: want a JSON array of objects"})
		}
		if err != nil {
			return r.fail(r.jsonSyntax(err))
		}
		if t != json.Delim('[') {
			line, col := r.pos.position(r.dec.InputOffset() - 1)
			if _, delim := t.(json.Delim); !delim {
				col = 0 // the start of a scalar is not known
			}
			return r.fail(&Error{File: r.name, Line: line, Col: col, Msg: fmt.Sprintf("want a JSON array of objects, found %s", tokenKind(t))})
		}
		r.state = jsonInArray
		r.setMark("[")
	}
	if r.state == jsonDone {
		return nil, io.EOF
	}
	if !r.dec.More() {
		t, err := r.dec.Token()
		if err != nil {
			return r.fail(r.jsonSyntax(err))
		}
		if t != json.Delim(']') { // cannot happen: More is false at ']' or at the end
			return r.fail(r.errAt(r.dec.InputOffset()-1, "invalid JSON: unexpected "+tokenKind(t)))
		}
		// Only whitespace may follow the array.
		r.setMark("[]")
		if t, err := r.dec.Token(); err != io.EOF {
			if err != nil {
				return r.fail(r.jsonSyntax(err))
			}
			e := r.errAt(r.dec.InputOffset()-1, fmt.Sprintf("invalid JSON: %s after the top-level array (the file must hold one array)", tokenKind(t)))
			if _, delim := t.(json.Delim); !delim {
				e.Col = 0
			}
			return r.fail(e)
		}
		r.state = jsonDone
		return nil, io.EOF
	}

	i := r.index
	r.index++
	t, err := r.dec.Token()
	if err != nil {
		return r.fail(r.jsonSyntax(err))
	}
	// The token ends at InputOffset; '{' and '[' are one byte and a scalar
	// never spans lines, so its last byte gives the line it is on.
	line, col := r.pos.position(r.dec.InputOffset() - 1)
	if t != json.Delim('{') {
		if t == json.Delim('[') {
			if err := r.skipNested(); err != nil {
				return r.fail(r.jsonSyntax(err))
			}
		} else {
			col = 0 // the start of a scalar is not known
		}
		r.setMark("[{}")
		return r.bad(&Error{File: r.name, Line: line, Col: col, Msg: fmt.Sprintf("element [%d] of the array is %s, want an object", i, tokenKind(t))})
	}
	start := r.dec.InputOffset() - 1
	m := map[string]any{}
	keys := r.keys[:0]
	for r.dec.More() {
		t, err := r.dec.Token()
		if err != nil {
			return r.fail(r.jsonSyntax(err))
		}
		k, ok := t.(string)
		if !ok { // the decoder rejects a non-string key itself; stay safe
			return r.fail(r.errAt(r.dec.InputOffset()-1, "invalid JSON: object key is not a string"))
		}
		var v any
		if err := r.dec.Decode(&v); err != nil {
			return r.fail(r.jsonSyntax(err))
		}
		m[k] = v
		keys = append(keys, k)
	}
	if _, err := r.dec.Token(); err != nil { // the closing '}'
		return r.fail(r.jsonSyntax(err))
	}
	if r.dec.InputOffset()-start > r.max {
		return r.fail(r.tooLong(line, fmt.Sprintf("element [%d] of the array", i)))
	}
	for _, k := range keys {
		r.addField(k)
	}
	r.keys = keys
	r.setMark("[{}")
	if e := r.checkTypes(m, line); e != nil {
		return r.bad(e)
	}
	r.line = line
	return m, nil
}

// setMark notes that the input up to the decoder's position was valid and
// left the decoder in the state a fresh one reaches after reading prefix.
func (r *Reader) setMark(prefix string) {
	r.markPrefix = prefix
	r.pos.setMark(r.dec.InputOffset())
}

// skipNested consumes the rest of an array or object whose opening bracket
// has just been read.
func (r *Reader) skipNested() error {
	for depth := 1; depth > 0; {
		t, err := r.dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return nil
}

func tokenKind(t json.Token) string {
	switch t {
	case json.Delim('['):
		return "an array"
	case json.Delim('{'):
		return "an object"
	case json.Delim(']'):
		return "']'"
	case json.Delim('}'):
		return "'}'"
	}
	return kind(t)
}

func (r *Reader) errAt(off int64, msg string) *Error {
	line, col := r.pos.position(max(off, 0))
	return &Error{File: r.name, Line: line, Col: col, Msg: msg}
}

// jsonSyntax turns an error of the stream decoder into an *Error with the
// line and column where the input went wrong.
func (r *Reader) jsonSyntax(err error) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// In a stream, SyntaxError.Offset does not count from the start of the
		// input, and the decoder may stop before the bad byte or on it. So
		// check again what was read since the last mark, after a prefix that
		// puts a fresh scanner in the state the decoder was in at the mark:
		// both stop at the first byte that cannot be JSON.
		off := r.dec.InputOffset()
		doc := append([]byte(r.markPrefix), r.pos.sinceMark()...)
		var raw json.RawMessage
		var se2 *json.SyntaxError
		if errors.As(json.Unmarshal(doc, &raw), &se2) {
			if i := se2.Offset - 1 - int64(len(r.markPrefix)); i >= 0 && i < int64(len(doc)) {
				off = r.pos.mark + i
			}
		}
		e := r.errAt(off, "invalid JSON: "+se.Error())
		e.Err = err
		return e
	case errors.Is(err, errTooLong):
		line, _ := r.pos.position(r.pos.mark)
		return r.tooLong(line, fmt.Sprintf("element [%d] of the array", max(r.index-1, 0)))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		// Point just after the last thing in the file.
		e := r.errAt(r.pos.lastNonSpace+1, "invalid JSON: unexpected end of input")
		e.Err = io.ErrUnexpectedEOF
		return e
	}
	line, _ := r.pos.position(r.pos.n)
	return &Error{File: r.name, Line: line, Msg: "read error: " + err.Error(), Err: err}
}

// posReader passes reads through and remembers where the newlines are, so
// that a byte offset of the decoder can be turned into a line and column.
// Offsets must be asked for in increasing order; newlines before the last
// offset asked for are counted and forgotten, so memory stays bounded by
// what the decoder holds in its buffer.
type posReader struct {
	r            io.Reader
	n            int64   // bytes read so far
	nl           []int64 // offsets of newlines not yet passed
	line         int     // newlines passed
	lastNL       int64   // offset of the last newline passed, -1 if none
	lastNonSpace int64   // offset of the last byte read that is not whitespace, -1 if none
	mark         int64   // offset of keep[0]
	keep         []byte  // the bytes read from mark on
	max          int64   // most bytes read past the mark: one element and what the decoder reads ahead
}

// setMark forgets the bytes before off.
func (p *posReader) setMark(off int64) {
	if d := off - p.mark; d > 0 {
		p.keep = p.keep[min(d, int64(len(p.keep))):]
		p.mark = off
	}
}

// sinceMark returns the bytes read from the mark on.
func (p *posReader) sinceMark() []byte { return p.keep }

func newPosReader(r io.Reader) *posReader {
	return &posReader{r: r, lastNL: -1, lastNonSpace: -1, max: DefaultMaxRecord + readBufSize}
}

func (p *posReader) Read(b []byte) (int, error) {
	left := p.max - (p.n - p.mark)
	if left <= 0 {
		return 0, errTooLong
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	n, err := p.r.Read(b)
	chunk := b[:n]
	p.keep = append(p.keep, chunk...)
	for i := 0; ; {
		j := bytes.IndexByte(chunk[i:], '\n')
		if j < 0 {
			break
		}
		p.nl = append(p.nl, p.n+int64(i+j))
		i += j + 1
	}
	for i := len(chunk) - 1; i >= 0; i-- {
		if !isSpace(chunk[i]) {
			p.lastNonSpace = p.n + int64(i)
			break
		}
	}
	p.n += int64(n)
	return n, err
}

// position is the 1-based line and byte column of offset off.
func (p *posReader) position(off int64) (line, col int) {
	k := 0
	for k < len(p.nl) && p.nl[k] < off {
		p.lastNL = p.nl[k]
		k++
	}
	p.line += k
	p.nl = p.nl[k:]
	return p.line + 1, max(int(off-p.lastNL), 1)
}
