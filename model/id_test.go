package model

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewIDStrictlyIncreasing(t *testing.T) {
	// Far more IDs than milliseconds pass, so most share a millisecond
	// and only the bumped random tail keeps them in order.
	const n = 50000
	prev := NewID()
	for i := range n {
		id := NewID()
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("id %d: %s not after %s", i, id, prev)
		}
		if id.String() <= prev.String() {
			t.Fatalf("id %d: string %s does not sort after %s", i, id, prev)
		}
		if id[6]>>4 != 7 || id[8]>>6 != 2 {
			t.Fatalf("id %s: version %d, variant bits %b; want 7 and 10", id, id[6]>>4, id[8]>>6)
		}
		prev = id
	}
}

func TestNewIDConcurrent(t *testing.T) {
	const workers, each = 8, 2000
	var mu sync.Mutex
	seen := make(map[ID]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			ids := make([]ID, each)
			for i := range ids {
				ids[i] = NewID()
				if i > 0 && bytes.Compare(ids[i][:], ids[i-1][:]) <= 0 {
					t.Errorf("not increasing within a goroutine: %s then %s", ids[i-1], ids[i])
					return
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
}

func TestIDTime(t *testing.T) {
	now := time.Now()
	if got, want := NewIDAt(now).Time(), now.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("NewIDAt(now).Time() = %v, want %v", got, want)
	}
	if d := time.Since(NewID().Time()); d < 0 || d > time.Minute {
		t.Errorf("NewID().Time() is %v away from now", d)
	}
	// The example UUIDv7 of RFC 9562, appendix A.6.
	id, err := ParseID("017F22E2-79B0-7CC3-98C4-DC0C0C07398F")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id.Time(), time.Date(2022, 2, 22, 19, 22, 22, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got.UTC(), want)
	}
}

func TestIDStringParse(t *testing.T) {
	const canon = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"
	cases := []struct {
		in  string
		ok  bool
		msg string
	}{
		{canon, true, ""},
		{strings.ToUpper(canon), true, ""},
		{strings.ReplaceAll(canon, "-", ""), true, ""},
		{"", false, "want 32 hex digits, got 0"},
		{canon[:35], false, "got 31"},
		{canon + "0", false, "got 33"},
		{strings.Replace(canon, "f", "g", 1), false, "invalid byte"},
		{strings.Replace(canon, "-", " ", 1), false, "got 33"},
	}
	for _, tc := range cases {
		id, err := ParseID(tc.in)
		if !tc.ok {
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "id ") {
				t.Errorf("ParseID(%q) = %s, %v; want an error containing %q", tc.in, id, err, tc.msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseID(%q): %v", tc.in, err)
			continue
		}
		if id.String() != canon {
			t.Errorf("ParseID(%q).String() = %s, want %s", tc.in, id, canon)
		}
	}
	for range 100 {
		id := NewID()
		back, err := ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseID(%s) = %s, %v", id, back, err)
		}
	}
}

func TestIDText(t *testing.T) {
	type rec struct {
		ID   ID `json:"id"`
		Zero ID `json:"zero"`
	}
	in := rec{ID: NewID()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"` + in.ID.String() + `","zero":""}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var out rec
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in || !out.Zero.IsZero() || out.ID.IsZero() {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"id":"nope"}`), &out); err == nil {
		t.Error("Unmarshal of a bad id succeeded")
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"017f22e2-79b0-7cc3-98c4-dc0c0c07398f", "017F22E279B07CC398C4DC0C0C07398F", "", "-",
		"--------------------------------", "0-1-2-3-4-5-6-7-8-9-a-b-c-d-e-f-0-1-2-3-4-5-6-7-8-9-a-b-c-d-e-f",
		NewID().String(), "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "00000000-0000-0000-0000-000000000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if hexDigits := strings.ReplaceAll(s, "-", ""); !strings.EqualFold(hexDigits, strings.ReplaceAll(id.String(), "-", "")) {
			t.Fatalf("ParseID(%q) = %s: digits differ", s, id)
		}
		back, err := ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %s, which re-parses to %s, %v", s, id, back, err)
		}
		text, err := id.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var u ID
		if err := u.UnmarshalText(text); err != nil || u != id {
			t.Fatalf("text round trip of %s: %s, %v", id, u, err)
		}
	})
}

func TestNewIDAtKeepsItsTime(t *testing.T) {
	NewID() // a later ID exists in the process
	past := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	if got := NewIDAt(past).Time(); !got.Equal(past) {
		t.Errorf("NewIDAt(%v).Time() = %v", past, got)
	}
}
