package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Marshalled is params as json.Marshal wrote them: valid UTF-8, compact,
// no raw newline, so EncodeRequest frames them as they are instead of
// checking and compacting them again (a request's program is most of its
// bytes, and each one is sent once per execution).
type Marshalled []byte

// EncodeRequest is the line (newline included) of a request; nil params
// become {}. Params are marshalled and compacted, so a pretty-printed
// json.RawMessage cannot break the framing; Marshalled params are taken as
// they are.
func EncodeRequest(id uint64, method string, params any) ([]byte, error) {
	if id == 0 {
		return nil, errors.New("request id 0 is reserved for the hello")
	}
	if method == "" {
		return nil, errors.New("request without a method")
	}
	var raw []byte
	switch p := params.(type) {
	case nil:
		raw = []byte("{}")
	case Marshalled:
		raw = p
		if len(p) == 0 {
			raw = []byte("{}")
		}
	case json.RawMessage:
		if len(p) == 0 {
			raw = []byte("{}")
			break
		}
		if !utf8.Valid(p) { // Compact would pass bad bytes through
			return nil, fmt.Errorf("params of %s are not valid UTF-8", method)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, p); err != nil {
			return nil, fmt.Errorf("params of %s are not JSON: %w", method, err)
		}
		raw = buf.Bytes()
	default:
		b, err := json.Marshal(p) // compact, with newlines in strings escaped
		if err != nil {
			return nil, fmt.Errorf("encoding params of %s: %w", method, err)
		}
		raw = b
	}
	m, _ := json.Marshal(method) // a string always marshals
	b := make([]byte, 0, len(raw)+len(m)+40)
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"method":`...)
	b = append(b, m...)
	b = append(b, `,"params":`...)
	b = append(b, raw...)
	b = append(b, "}\n"...)
	if len(b) > MaxFrame {
		return nil, fmt.Errorf("request %s #%d is %d bytes: %w", method, id, len(b), ErrFrameTooLarge)
	}
	return b, nil
}

// Encode is the line (newline included) of a worker frame; the inverse of
// Decode, used by fake workers in tests.
func Encode(f Frame) ([]byte, error) {
	switch f.Kind {
	case KindEvent:
		return line(Event{ID: f.ID, Event: f.EventName, Data: f.Data})
	case KindResult:
		r := f.Result
		if r == nil {
			r = json.RawMessage("{}")
		}
		return line(Result{ID: f.ID, Result: r})
	case KindError:
		if f.Error == nil {
			return nil, errors.New("error frame without an error")
		}
		return line(ErrorFrame{ID: f.ID, Error: *f.Error})
	}
	return nil, fmt.Errorf("cannot encode a frame of %s", f.Kind)
}

func line(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b)+1 > MaxFrame {
		return nil, ErrFrameTooLarge
	}
	return append(b, '\n'), nil
}

// Reader reads lines of at most MaxFrame bytes from a worker's stream.
type Reader struct {
	br  *bufio.Reader
	buf []byte
}

// NewReader reads frames from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// ReadLine returns the next line without its newline. The slice is valid
// until the next call. A line longer than MaxFrame is ErrFrameTooLarge; a
// stream that ends inside a line is io.ErrUnexpectedEOF; the clean end is
// io.EOF.
func (r *Reader) ReadLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxFrame {
			return nil, ErrFrameTooLarge
		}
		switch {
		case err == nil:
			if len(r.buf) == 0 {
				return chunk[:len(chunk)-1], nil // the common case: no copy
			}
			r.buf = append(r.buf, chunk[:len(chunk)-1]...)
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.buf = append(r.buf, chunk...)
		case errors.Is(err, io.EOF):
			if len(r.buf)+len(chunk) > 0 {
				return nil, fmt.Errorf("stream ended inside a frame: %w", io.ErrUnexpectedEOF)
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}

// Next reads and decodes the next frame.
func (r *Reader) Next() (Frame, error) {
	l, err := r.ReadLine()
	if err != nil {
		return Frame{}, err
	}
	return Decode(l)
}
