package wire

import (
	"encoding/json"
	"unicode/utf8"
)

// Every frame a worker sends is read here, span events the most: a batch
// of 1,000 executions is some 10,000 lines. Checking a line was three
// passes (utf8.Valid, json.Valid's byte-at-a-time state machine, then the
// walk that splits the top level); split does all three in one. It only
// says yes or no: on no, Decode runs the checks it replaces, so that a bad
// line gets the same error as before. FuzzDecode holds it to
// json.Valid && utf8.Valid.

// maxDepth is encoding/json's bound on nesting, which json.Valid applies.
const maxDepth = 10000

// split returns the members of the JSON object that line is (values alias
// line), or ok false when line is not one valid UTF-8 JSON object, has a
// key twice, or has a key that needs unescaping (the slow path has it).
func split(line []byte) (fields map[string]json.RawMessage, ok bool) {
	s := scanner{b: line}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	s.i++
	fields = make(map[string]json.RawMessage, 4)
	s.space()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.space()
			ks := s.i
			escaped, good := s.str()
			if !good || escaped {
				return nil, false
			}
			key := string(s.b[ks+1 : s.i-1])
			s.space()
			if s.peek() != ':' {
				return nil, false
			}
			s.i++
			s.space()
			vs := s.i
			if !s.value(1) {
				return nil, false
			}
			if _, dup := fields[key]; dup {
				return nil, false
			}
			fields[key] = s.b[vs:s.i:s.i]
			s.space()
			switch s.peek() {
			case ',':
				s.i++
				continue
			case '}':
				s.i++
			default:
				return nil, false
			}
			break
		}
	}
	s.space()
	return fields, s.i == len(s.b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at nesting depth (the containers it is inside).
func (s *scanner) value(depth int) bool {
	switch c := s.peek(); {
	case c == '{':
		return s.items(depth, '}')
	case c == '[':
		return s.items(depth, ']')
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// items scans an object (end '}') or an array (end ']') at s.b[s.i].
func (s *scanner) items(depth int, end byte) bool {
	if depth+1 > maxDepth {
		return false
	}
	s.i++
	s.space()
	if s.peek() == end {
		s.i++
		return true
	}
	for {
		s.space()
		if end == '}' && !s.key() {
			return false
		}
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case end:
			s.i++
			return true
		default:
			return false
		}
	}
}

// key scans a member's key and its colon, and the space after.
func (s *scanner) key() bool {
	if _, ok := s.str(); !ok {
		return false
	}
	s.space()
	if s.peek() != ':' {
		return false
	}
	s.i++
	s.space()
	return true
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits scans one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// str scans a string at s.b[s.i] == '"': valid escapes, no control
// characters, valid UTF-8. escaped says whether it had an escape.
func (s *scanner) str() (escaped, ok bool) {
	if s.peek() != '"' {
		return false, false
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, true
		case c == '\\':
			escaped = true
			s.i++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return escaped, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return escaped, false
					}
				}
				s.i += 5
			default:
				return escaped, false
			}
		case c < 0x20:
			return escaped, false
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return escaped, false
			}
			s.i += n
		}
	}
	return escaped, false
}
