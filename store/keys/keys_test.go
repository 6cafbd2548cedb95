package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	id := [IDLen]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	k := New(Example).Str("dataset").ID(id).U8(2).U32(7).U64(1 << 40).Str("").Bytes()
	r := Read(k, Example)
	if s := r.Str(); s != "dataset" {
		t.Fatalf("Str = %q", s)
	}
	if got := r.ID(); got != id {
		t.Fatalf("ID = %x", got)
	}
	if r.U8() != 2 || r.U32() != 7 || r.U64() != 1<<40 || r.Str() != "" {
		t.Fatal("numbers do not round-trip")
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestOrder(t *testing.T) {
	// Fixed-width big-endian numbers sort numerically within one string.
	tests := []struct{ a, b Key }{
		{New(ProgramVersion).Str("p").U32(9), New(ProgramVersion).Str("p").U32(10)},
		{New(ProgramVersion).Str("p").U32(255), New(ProgramVersion).Str("p").U32(256)},
		{New(Span).U64(1), New(Span).U64(1 << 33)},
	}
	for _, tt := range tests {
		if bytes.Compare(tt.a, tt.b) >= 0 {
			t.Errorf("%x does not sort before %x", tt.a, tt.b)
		}
	}
	// Every key under a prefix sorts before SeekLast(prefix), and keys of the
	// next string do not.
	p := New(ExecByProgram).Str("p").Bytes()
	last := SeekLast(p)
	in := New(ExecByProgram).Str("p").ID([IDLen]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if bytes.Compare(in, last) >= 0 {
		t.Error("the greatest key under the prefix is not before SeekLast")
	}
	if bytes.HasPrefix(New(ExecByProgram).Str("pq"), p) {
		t.Error("a longer string shares the prefix")
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		key   []byte
		table byte
		read  func(r *Reader)
	}{
		{"empty", nil, 'x', func(r *Reader) { r.Str() }},
		{"wrong table", []byte{'x', 0, 0}, 'p', func(r *Reader) { r.Str() }},
		{"short string", []byte{'p', 0, 5, 'a'}, 'p', func(r *Reader) { r.Str() }},
		{"short id", append([]byte{'x'}, make([]byte, 15)...), 'x', func(r *Reader) { r.ID() }},
		{"trailing", []byte{'t', 0, 0, 0, 0, 0, 0, 0, 1, 9}, 't', func(r *Reader) { r.U64() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Read(tt.key, tt.table)
			tt.read(r)
			if err := r.Done(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestStrTooLongPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(Meta).Str(strings.Repeat("x", MaxString+1))
}

func TestParseCursor(t *testing.T) {
	prefix := New(ExecByProgram).Str("p").Bytes()
	good := Cursor(append(append([]byte{}, prefix...), make([]byte, IDLen)...))
	if k, err := ParseCursor(good, prefix, IDLen); err != nil || Cursor(k) != good {
		t.Fatalf("good cursor: %x, %v", k, err)
	}
	for _, c := range []string{"", "zz", "abc", Cursor(prefix), Cursor(append(prefix, 1)), Cursor(New(ExecByProgram).Str("q").ID([IDLen]byte{}))} {
		if _, err := ParseCursor(c, prefix, IDLen); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: err = %v, want ErrBadCursor", c, err)
		}
	}
}

// FuzzReader decodes arbitrary bytes as every key shape: it must never
// panic, and whatever decodes cleanly must encode back to the same bytes.
func FuzzReader(f *testing.F) {
	f.Add(New(Example).Str("ds").ID([IDLen]byte{1}).U8(1).ID([IDLen]byte{2}).Bytes())
	f.Add(New(ProgramVersion).Str("qa").U32(3).Bytes())
	f.Add(New(Rollup).Str("qa").Str("2026-11").Bytes())
	f.Add([]byte{'e', 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// example key
		r := Read(b, Example)
		ds, part, code, id := r.Str(), r.ID(), r.U8(), r.ID()
		if r.Done() == nil {
			if again := New(Example).Str(ds).ID(part).U8(code).ID(id).Bytes(); !bytes.Equal(again, b) {
				t.Fatalf("example key %x re-encodes as %x", b, again)
			}
		}
		// program version key
		r = Read(b, ProgramVersion)
		name, v := r.Str(), r.U32()
		if r.Done() == nil {
			if again := New(ProgramVersion).Str(name).U32(v).Bytes(); !bytes.Equal(again, b) {
				t.Fatalf("version key %x re-encodes as %x", b, again)
			}
		}
		// rollup key
		r = Read(b, Rollup)
		prog, month := r.Str(), r.Str()
		if r.Done() == nil {
			if again := New(Rollup).Str(prog).Str(month).Bytes(); !bytes.Equal(again, b) {
				t.Fatalf("rollup key %x re-encodes as %x", b, again)
			}
		}
		_, _ = LastID(b)
	})
}

// FuzzParseCursor: any string either parses to a key under the prefix with
// the right tail, or is ErrBadCursor; never a panic.
func FuzzParseCursor(f *testing.F) {
	prefix := New(ExecByProgState).Str("qa").Str("completed").Bytes()
	f.Add(Cursor(append(append([]byte{}, prefix...), make([]byte, IDLen)...)))
	f.Add("")
	f.Add("0")
	f.Add("77000271610009636f6d706c65746564")
	f.Fuzz(func(t *testing.T, c string) {
		k, err := ParseCursor(c, prefix, IDLen)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		if !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+IDLen {
			t.Fatalf("accepted %x for prefix %x", k, prefix)
		}
		if _, err := LastID(k); err != nil {
			t.Fatal(err)
		}
	})
}
