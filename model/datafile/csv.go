package datafile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readHeader reads the header row; a problem becomes the sticky error.
func (r *Reader) readHeader() {
	r.started = true
	rec, err := r.cr.Read()
	if err == io.EOF {
		r.fail(&Error{File: r.name, Line: 1, Msg: "empty file: want a header row naming the columns"})
		return
	}
	if err != nil {
		r.fail(r.csvError(err))
		return
	}
	line, _ := r.cr.FieldPos(0)
	if r.recordRead(rec) {
		r.fail(r.tooLong(line, "header"))
		return
	}
	header := make([]string, len(rec))
	at := make(map[string]int, len(rec))
	for i, name := range rec {
		_, col := r.cr.FieldPos(i)
		if strings.TrimSpace(name) == "" {
			r.fail(&Error{File: r.name, Line: line, Col: col, Msg: fmt.Sprintf("column %d of the header has no name", i+1)})
			return
		}
		if j, dup := at[name]; dup {
			r.fail(&Error{File: r.name, Line: line, Col: col, Field: name, Msg: fmt.Sprintf("header names two columns alike (columns %d and %d)", j+1, i+1)})
			return
		}
		at[name] = i
		header[i] = name
	}
	for _, name := range header {
		r.addField(name)
	}
	r.header = header
	r.line = line
}

func (r *Reader) nextCSV() (map[string]any, error) {
	if !r.started {
		if r.readHeader(); r.err != nil {
			return nil, r.err
		}
	}
	rec, err := r.cr.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return r.fail(r.csvError(err))
	}
	line, _ := r.cr.FieldPos(0)
	if r.recordRead(rec) {
		return r.fail(r.tooLong(line, "record"))
	}
	if len(rec) != len(r.header) {
		return r.bad(&Error{File: r.name, Line: line, Msg: fmt.Sprintf("row has %d columns, header has %d (%s)", len(rec), len(r.header), strings.Join(r.header, ","))})
	}
	m := make(map[string]any, len(rec))
	for i, v := range rec {
		name := r.header[i]
		t := r.types[name]
		if t == nil {
			m[name] = v
			continue
		}
		typed, err := parseCell(v, t)
		if err != nil {
			cellLine, col := r.cr.FieldPos(i)
			msg := fmt.Sprintf("type %s: %s", t, err.msg)
			if err.off > 0 {
				msg += fmt.Sprintf(" (at byte %d of the cell)", err.off+1)
			}
			return r.bad(&Error{File: r.name, Line: cellLine, Col: col, Field: name, Msg: msg})
		}
		m[name] = typed
	}
	r.line = line
	return m, nil
}

func (r *Reader) csvError(err error) *Error {
	if errors.Is(err, errTooLong) {
		return r.tooLong(max(r.nextLine, 1), "record")
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := "invalid CSV: " + pe.Err.Error()
		if pe.StartLine != pe.Line {
			msg += fmt.Sprintf(" (in the row that starts on line %d)", pe.StartLine)
		}
		return &Error{File: r.name, Line: pe.Line, Col: pe.Column, Msg: msg, Err: err}
	}
	return &Error{File: r.name, Line: max(r.line, 1), Msg: "read error: " + err.Error(), Err: err}
}

// recordRead starts the count of the next record's bytes and notes the line
// it starts on: the line after the end of rec, whose last value holds the
// newlines of its quoted lines (a record too long has no position of its
// own). It tells whether rec, without its newline, is over the limit.
func (r *Reader) recordRead(rec []string) (tooLong bool) {
	r.bound.n = 0
	last := len(rec) - 1
	line, _ := r.cr.FieldPos(last)
	r.nextLine = line + strings.Count(rec[last], "\n") + 1
	end := r.cr.InputOffset()
	size := end - r.recEnd
	r.recEnd = end
	return size > r.max+1 // +1: its newline
}
