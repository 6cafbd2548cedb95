package model

import "testing"

func TestWordDiff(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{"", "Answer briefly.", "{+Answer briefly.+}"},
		{"Answer the question.", "Answer the question in one word.", "Answer the [-question.-] {+question in one word.+}"},
		{"a b c", "a c", "a [-b-] c"},
		{"same", "same", "same"},
	} {
		if got := WordDiff(tt.a, tt.b); got != tt.want {
			t.Errorf("WordDiff(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
