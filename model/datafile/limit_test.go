package datafile

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// endless is a stream of size bytes: head, then filler bytes, then tail; it
// is generated as it is read, so a test can feed a reader a file of
// gigabytes that never exists.
type endless struct {
	head, tail string
	fill       byte
	size, read int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), e.size-e.read))
	for i := range n {
		off := e.read + int64(i)
		switch tailAt := e.size - int64(len(e.tail)); {
		case off < int64(len(e.head)):
			p[i] = e.head[off]
		case off >= tailAt:
			p[i] = e.tail[off-tailAt]
		default:
			p[i] = e.fill
		}
	}
	e.read += int64(n)
	return n, nil
}

// TestRecordLimit: a 2 GB file whose record after the first two lines never
// ends fails at the limit, naming the file, the line and the limit, having
// read and allocated about the limit and no more.
func TestRecordLimit(t *testing.T) {
	const limit = 1 << 20
	const size = 2 << 30
	for _, tc := range []struct {
		f          Format
		head, tail string
		fill       byte
		want       string
	}{
		{JSONL, "{\"a\":1}\n\n{\"a\":\"", "\"}\n", 'x', "big.jsonl:3: line is longer than the limit of 1MiB"},
		{JSON, "[{\"a\":1},\n{\"a\":\"", "\"}]", 'x', "big.json:2: element [1] of the array is longer than the limit of 1MiB"},
		{CSV, "a\n1\n\"", "\"\n", 'x', "big.csv:3: record is longer than the limit of 1MiB"},
		// A quoted CSV value of short lines is one record all the same.
		{CSV, "a\n\"1\n2\"\n\"", "\"\n", '\n', "big.csv:4: record is longer than the limit of 1MiB"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			in := &endless{head: tc.head, tail: tc.tail, fill: tc.fill, size: size}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := NewReader(in, "big."+string(tc.f), tc.f)
			r.SetMaxRecord(limit)
			var recs int
			var err error
			for {
				var rec map[string]any
				if rec, err = r.Next(); err != nil {
					break
				}
				recs++
				_ = rec
			}
			runtime.ReadMemStats(&after)
			if recs != 1 {
				t.Errorf("%d records before the error, want 1", recs)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "import_line") {
				t.Fatalf("error %v, want it to contain %q and the config key", err, tc.want)
			}
			if !errors.Is(err, errTooLong) {
				t.Errorf("error %v does not wrap errTooLong", err)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("after the limit, Next gave %v, want the same error", again)
			}
			if in.read > 2*limit {
				t.Errorf("read %d bytes of the stream, want about the limit (%d)", in.read, limit)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*limit {
				t.Errorf("allocated %d bytes, want O(limit) (%d)", alloc, limit)
			}
		})
	}
}

// TestRecordLimitExact: a record of exactly the limit is read; one byte
// more is refused.
func TestRecordLimitExact(t *testing.T) {
	const limit = 100
	for _, tc := range []struct {
		f            Format
		line, header string
	}{
		{JSONL, `{"a":"` + strings.Repeat("x", limit-8) + `"}`, ""},
		{JSON, `{"a":"` + strings.Repeat("x", limit-8) + `"}`, ""},
		{CSV, strings.Repeat("x", limit), "a\n"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			for _, extra := range []int{0, 1} {
				rec := tc.line
				if extra > 0 {
					rec = strings.Replace(rec, "x", "xx", 1)
				}
				in := tc.header + rec + "\n"
				if tc.f == JSON {
					in = "[" + rec + "]"
				}
				r := NewReader(strings.NewReader(in), "f", tc.f)
				r.SetMaxRecord(limit)
				_, err := r.Next()
				if extra == 0 && err != nil {
					t.Errorf("a record of %d bytes: %v", len(rec), err)
				}
				if extra == 1 && !errors.Is(err, errTooLong) {
					t.Errorf("a record of %d bytes: %v, want the limit's error", len(rec), err)
				}
			}
		})
	}
}
