// Package keys encodes the Badger keys of the Signet store.
//
// A key is a one-byte table prefix followed by fields: fixed-width
// big-endian numbers, 16-byte IDs and strings prefixed by their length
// (uint16, big-endian). Because every variable-length field carries its
// length, no two keys of different records can share a prefix by accident
// ("ab"+"c" vs "a"+"bc"), and all keys of one record group sort together.
// Within a group, byte order is numeric order of the fixed-width fields,
// which is the iteration order the store relies on (versions ascending,
// time-ordered IDs, span sequence numbers).
//
// Note that length-prefixed strings sort by length first, so keys are not in
// lexicographic order of names; the store sorts the few name lists in memory.
package keys

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Tables. The letters are arbitrary but readable in a hex dump.
const (
	Meta            byte = 'm' // m str(name)                                   → value
	ProgramHead     byte = 'P' // P str(program)                                → u32 latest version
	ProgramVersion  byte = 'p' // p str(program) u32(version)                   → program JSON
	Dataset         byte = 'd' // d str(dataset)                                → dataset JSON (lists visible parts)
	Example         byte = 'e' // e str(dataset) id(part) u8(split) id(example) → example JSON
	StagedPart      byte = 's' // s id(part) str(dataset)                       → nil: part being written or deleted
	Execution       byte = 'x' // x id(exec)                                    → execution JSON
	ExecByProgram   byte = 'y' // y str(program) id(exec)                       → nil
	ExecByState     byte = 'z' // z str(state) id(exec)                         → nil
	ExecByProgState byte = 'w' // w str(program) str(state) id(exec)            → nil
	Rollup          byte = 'c' // c str(program) str(month)                     → rollup JSON
	Span            byte = 't' // t id(exec) u64(seq)                           → span JSON
	Optimization    byte = 'o' // o id(opt)                                     → optimization JSON
	OptByProgram    byte = 'q' // q str(program) id(opt)                        → nil
	Trial           byte = 'r' // r id(opt) u32(n)                              → trial JSON
	Evaluation      byte = 'v' // v id(eval)                                    → evaluation JSON
	EvalByProgram   byte = 'u' // u str(program) id(eval)                       → nil
	EvalResult      byte = 'g' // g id(eval) u32(index)                         → example result JSON
	Index           byte = 'i' // i str(index)                                  → index JSON (model.Index)
	User            byte = 'U' // U str(user)                                   → user JSON (model.User)
	Token           byte = 'T' // T id(token)                                   → token JSON (model.Token: hash, never value)
	TokenByHash     byte = 'H' // H str(hex sha256 of the value)                → id(token): authentication's lookup
	Audit           byte = 'A' // A id(record)                                  → audit JSON (model.AuditRecord), time order
	Traffic         byte = 'S' // S str(program)                                → traffic split JSON (model.TrafficSplit)
)

// MaxString is the longest string a key can hold.
const MaxString = 1<<16 - 1

// IDLen is the size of an ID field.
const IDLen = 16

// Key is a key under construction. Each method appends one field and returns
// the extended key; build every key from New so that two keys never share a
// backing array.
type Key []byte

// New starts a key of the given table.
func New(table byte) Key {
	k := make(Key, 1, 48)
	k[0] = table
	return k
}

// Str appends a length-prefixed string. Callers validate names before they
// reach a key, so an over-long string is a programming error.
func (k Key) Str(s string) Key {
	if len(s) > MaxString {
		panic(fmt.Sprintf("keys: string of %d bytes is too long for a key", len(s)))
	}
	k = binary.BigEndian.AppendUint16(k, uint16(len(s)))
	return append(k, s...)
}

// U8 appends one byte.
func (k Key) U8(v uint8) Key { return append(k, v) }

// U32 appends a big-endian uint32.
func (k Key) U32(v uint32) Key { return binary.BigEndian.AppendUint32(k, v) }

// U64 appends a big-endian uint64.
func (k Key) U64(v uint64) Key { return binary.BigEndian.AppendUint64(k, v) }

// ID appends a 16-byte ID.
func (k Key) ID(id [IDLen]byte) Key { return append(k, id[:]...) }

// Bytes returns the key as a byte slice.
func (k Key) Bytes() []byte { return []byte(k) }

// ErrMalformed is returned for bytes that are not a key of the expected shape.
var ErrMalformed = errors.New("malformed key")

// Reader decodes the fields of a key in the order they were written. The
// first error sticks: check Err (or Done) once after reading every field.
type Reader struct {
	b   []byte
	err error
}

// Read starts decoding key, which must belong to table.
func Read(key []byte, table byte) *Reader {
	if len(key) == 0 || key[0] != table {
		return &Reader{err: fmt.Errorf("%w: want table %q", ErrMalformed, table)}
	}
	return &Reader{b: key[1:]}
}

func (r *Reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("%w: %s needs %d bytes, %d left", ErrMalformed, what, n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Str reads a length-prefixed string.
func (r *Reader) Str() string {
	l := r.take(2, "string length")
	if l == nil {
		return ""
	}
	return string(r.take(int(binary.BigEndian.Uint16(l)), "string"))
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if b := r.take(1, "u8"); b != nil {
		return b[0]
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32() uint32 {
	if b := r.take(4, "u32"); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (r *Reader) U64() uint64 {
	if b := r.take(8, "u64"); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// ID reads a 16-byte ID.
func (r *Reader) ID() [IDLen]byte {
	var id [IDLen]byte
	copy(id[:], r.take(IDLen, "id"))
	return id
}

// Err is the first decoding error.
func (r *Reader) Err() error { return r.err }

// Done is Err, plus an error if bytes are left over.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return r.err
}

// LastID returns the trailing ID of an index key; index keys end with the ID
// of the record they point at.
func LastID(key []byte) ([IDLen]byte, error) {
	var id [IDLen]byte
	if len(key) < 1+IDLen {
		return id, fmt.Errorf("%w: %d bytes is too short for an index key", ErrMalformed, len(key))
	}
	copy(id[:], key[len(key)-IDLen:])
	return id, nil
}

// SeekLast returns a key that sorts after every key under prefix whose
// remainder is shorter than 64 bytes. Reverse iteration starts there, because
// Badger's reverse Seek lands on the greatest key not above the one given.
func SeekLast(prefix []byte) []byte {
	k := make([]byte, len(prefix), len(prefix)+64)
	copy(k, prefix)
	for range 64 {
		k = append(k, 0xff)
	}
	return k
}

// ErrBadCursor is returned for a cursor that is not one this store handed out
// for the same query.
var ErrBadCursor = errors.New("invalid cursor")

// Cursor turns the last key of a page into an opaque cursor.
func Cursor(key []byte) string { return hex.EncodeToString(key) }

// ParseCursor decodes a cursor and checks that it points under prefix and has
// a remainder of tailLen bytes (tailLen < 0: any non-empty remainder).
func ParseCursor(cursor string, prefix []byte, tailLen int) ([]byte, error) {
	k, err := hex.DecodeString(cursor)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not hex", ErrBadCursor, cursor)
	}
	if !bytes.HasPrefix(k, prefix) {
		return nil, fmt.Errorf("%w: %q belongs to another listing", ErrBadCursor, cursor)
	}
	rest := len(k) - len(prefix)
	if (tailLen < 0 && rest == 0) || (tailLen >= 0 && rest != tailLen) {
		return nil, fmt.Errorf("%w: %q has the wrong length", ErrBadCursor, cursor)
	}
	return k, nil
}
