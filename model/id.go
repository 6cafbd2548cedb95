package model

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// ID is a UUIDv7: 48 bits of Unix milliseconds first, so byte order is
// creation order and a reverse key scan lists newest first.
type ID [16]byte

var (
	idMu   sync.Mutex
	idLast ID
)

// NewID returns a time-ordered ID. IDs made by NewID in one process are
// strictly increasing, even within one millisecond or if the clock steps
// back (the last ID's random tail is bumped).
func NewID() ID {
	now := time.Now()
	idMu.Lock()
	defer idMu.Unlock()
	idLast = NewIDAfter(now, idLast)
	return idLast
}

// NewIDAfter is NewIDAt(t), or prev's successor when that would not sort
// after prev: how a writer that dates records by one clock keeps their IDs
// in the order it made them, within a millisecond too.
func NewIDAfter(t time.Time, prev ID) ID {
	id := NewIDAt(t)
	if string(id[:]) <= string(prev[:]) {
		id = prev
		id.increment()
	}
	return id
}

// NewIDAt returns an ID whose time part is t, for records that carry their
// own time (benchmarks, restored data). It is not ordered against NewID.
func NewIDAt(t time.Time) ID {
	var id ID
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(id[0:8], ms<<16)
	if _, err := rand.Read(id[6:]); err != nil {
		panic(fmt.Sprintf("model: crypto/rand failed: %v", err))
	}
	id[6] = 0x70 | (id[6] & 0x0f) // version 7
	id[8] = 0x80 | (id[8] & 0x3f) // RFC 4122 variant
	return id
}

// increment adds one to the random tail, skipping the version and variant bits.
func (id *ID) increment() {
	for i := 15; i >= 9; i-- {
		id[i]++
		if id[i] != 0 {
			return
		}
	}
	id[7]++
}

// Time is the creation time encoded in the ID.
func (id ID) Time() time.Time {
	ms := binary.BigEndian.Uint64(id[0:8]) >> 16
	return time.UnixMilli(int64(ms))
}

// IsZero reports whether the ID is unset.
func (id ID) IsZero() bool { return id == ID{} }

// String is the canonical 8-4-4-4-12 form.
func (id ID) String() string {
	var b [36]byte
	return string(id.AppendTo(b[:0]))
}

// AppendTo appends the canonical form to b (String without its allocation).
func (id ID) AppendTo(b []byte) []byte {
	b = hex.AppendEncode(b, id[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, id[10:16])
}

// ParseID reads the canonical form, or the 32 hex digits without dashes.
func ParseID(s string) (ID, error) {
	var id ID
	clean := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			clean = append(clean, s[i])
		}
	}
	if len(clean) != 32 {
		return id, fmt.Errorf("id %q: want 32 hex digits, got %d", s, len(clean))
	}
	if _, err := hex.Decode(id[:], clean); err != nil {
		return id, fmt.Errorf("id %q: %w", s, err)
	}
	return id, nil
}

// MarshalText makes IDs strings in JSON and YAML.
func (id ID) MarshalText() ([]byte, error) {
	if id.IsZero() {
		return []byte{}, nil
	}
	return []byte(id.String()), nil
}

// UnmarshalText accepts what MarshalText writes.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ID{}
		return nil
	}
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
