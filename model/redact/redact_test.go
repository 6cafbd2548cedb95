package redact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestShapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"key sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD here", "key [redacted] here"},
		{"sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx_yz-0123456789abcdef", "[redacted]"},
		{"x-api-key: sk-ant-api03-Zx9YvW8uT7sR6qP5oN4mL3kJ2iH1gF0eDcBa-_xyz", "x-api-key: [redacted]"},
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc", "Authorization: Bearer [redacted]"},
		{`{"h":"bearer abcdef0123456789xyz"}`, `{"h":"bearer [redacted]"}`},
		{"id AKIAIOSFODNN7EXAMPLE.", "id [redacted]."},
		{"ask-sk-1234567890abcdefghijklmnop", "ask-[redacted]"}, // a dash starts a word
		{"ghp_" + strings.Repeat("a1B2", 9), "[redacted]"},
		{"AIza" + strings.Repeat("x", 34) + "9", "[redacted]"},
	}
	for _, tt := range tests {
		if got := New().String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Ordinary text that looks a little like a key is kept as it is.
func TestShapesKeepOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"we use sk-learn for the baseline",
		"task-management-and-scheduling-overview",
		"sk-learn-compatible-pipelines-and-estimators-2024",
		"Bearer authentication-is-described-in-rfc6750",
		"the bearer of bad news",
		"Bearer tokens expire",
		"AKIA is not a key, nor is AKIAshort",
		"ghp_short and github_pat_ alone",
		"risk-free-rate-of-return-assumptions-for-2025",
	} {
		if got := New().String(s); got != s {
			t.Errorf("String(%q) = %q: ordinary text changed", s, got)
		}
	}
}

func TestValues(t *testing.T) {
	secret := "my-pr1vate\"key\\é"
	r := New(secret, "short", "")
	if got := r.String("a " + secret + " b short"); got != "a [redacted] b short" {
		t.Errorf("String = %q", got)
	}
	// Inside JSON, as Go and as Python (ensure_ascii) write it: still valid JSON.
	goJSON, _ := json.Marshal(map[string]string{"k": "x" + secret})
	pyJSON := []byte(`{"k": "x` + asciiForm(secret) + `"}`)
	for _, doc := range [][]byte{goJSON, pyJSON} {
		out := r.Bytes(doc)
		var v map[string]string
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("redacted %s is not JSON: %v", out, err)
		}
		if v["k"] != "x[redacted]" {
			t.Errorf("Bytes(%s) = %s", doc, out)
		}
	}
	// A value inside another value goes whole.
	r2 := New("abcdefgh", "abcdefgh-longer")
	if got := r2.String("abcdefgh-longer"); got != "[redacted]" {
		t.Errorf("String = %q", got)
	}
}

func TestBytesUnchangedIsSameSlice(t *testing.T) {
	b := []byte(`{"answer":"Paris"}`)
	if out := New("secret-value-1").Bytes(b); &out[0] != &b[0] {
		t.Error("Bytes copied a slice with nothing to redact")
	}
}

func TestValueAndMap(t *testing.T) {
	r := New("s3cret-token")
	in := map[string]any{
		"q":     "use s3cret-token now",
		"n":     1.5,
		"list":  []any{"ok", map[string]any{"deep": "s3cret-token"}},
		"clean": map[string]any{"a": "b"},
	}
	out := r.Map(in)
	if in["q"] != "use s3cret-token now" {
		t.Error("Map changed its argument")
	}
	want := `{"clean":{"a":"b"},"list":["ok",{"deep":"[redacted]"}],"n":1.5,"q":"use [redacted] now"}`
	if got, _ := json.Marshal(out); string(got) != want {
		t.Errorf("Map = %s, want %s", got, want)
	}
	clean := map[string]any{"a": []any{"b"}}
	if got := r.Map(clean); got == nil || len(got) != 1 {
		t.Errorf("Map(clean) = %v", got)
	}
	if r.Map(nil) != nil {
		t.Error("Map(nil) is not nil")
	}
}

func TestNilRedactorRemovesShapes(t *testing.T) {
	var r *Redactor
	if got := r.String("k=sk-abcdefghijklmnopqrstuvwxyz0123456789"); got != "k=[redacted]" {
		t.Errorf("nil String = %q", got)
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := FromEnv(func(n string) string { return map[string]string{"K": "value-of-k-123"}[n] }, "K", "UNSET", "").Writer(&b)
	p := []byte("log: value-of-k-123\n")
	if n, err := w.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if b.String() != "log: [redacted]\n" {
		t.Errorf("wrote %q", b.String())
	}
}

func FuzzRedactKeepsJSON(f *testing.F) {
	f.Add(`{"a":"sk-abcdefghijklmnopqrstuvwxyz0123456789"}`, "value-123456")
	f.Add(`["Bearer abcdefghijklmnop1234", "value-123456"]`, "value-123456")
	f.Fuzz(func(t *testing.T, doc, secret string) {
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		r := New(secret)
		out := r.Bytes([]byte(doc))
		if !json.Valid(out) && !strings.ContainsAny(secret, `"\`) && strings.ToValidUTF8(secret, "") == secret {
			t.Fatalf("redacting %q from %s gave invalid JSON %s", secret, doc, out)
		}
	})
}
