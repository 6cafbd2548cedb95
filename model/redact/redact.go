// Package redact removes secrets from text before Signet writes it
// anywhere: the values of the API-key variables the config names, and
// anything shaped like a common API key or bearer token.
//
// One Redactor serves every exit: the store's writers (inputs, worker
// frames), the logs (owner, worker stderr, the local LM server), exports
// and events. It works on raw JSON text too: the replacement and every
// shape it matches hold no JSON syntax, and each value is also matched in
// its JSON-escaped forms, so a redacted JSON document stays valid.
//
// The worker's signet_worker/redact.py applies the same shapes to what
// Python writes; keep the two in step.
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Replacement stands where a secret was.
const Replacement = "[redacted]"

// MinLen is the shortest value redacted: shorter ones would eat ordinary
// text and protect nothing (a real key is far longer).
const MinLen = 8

// A shape is a kind of key recognised by its form. Every match contains
// one of its markers, checked before the (slower) expression runs; ok
// vets a match (the part group 1 holds, when the expression has one),
// so that ordinary words of the same form are kept.
type shape struct {
	markers []string
	re      *regexp.Regexp
	ok      func(string) bool
}

var shapes = []shape{
	// OpenAI (sk-, sk-proj-...), Anthropic (sk-ant-api03-...) and the many
	// services that copied the prefix. "sk-learn-style-identifiers" stays.
	{[]string{"sk-"}, regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{20,}`), keyLike},
	// An HTTP bearer token; the word stays, the token goes.
	{[]string{"earer"}, regexp.MustCompile(`\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)`), keyLike},
	// AWS access key ids.
	{[]string{"AKIA", "ASIA"}, regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), nil},
	// GitHub tokens.
	{[]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`), nil},
	{[]string{"github_pat_"}, regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{22,}`), nil},
	// Google API keys.
	{[]string{"AIza"}, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`), nil},
}

// keyLike says whether a match looks generated: a digit, and a run
// of 16 letters and digits (words joined by dashes have neither).
func keyLike(s string) bool {
	run, longest := 0, 0
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest >= 16 && hasDigit(s)
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// Redactor knows the secret values to remove. The zero value and nil
// remove the key shapes only. It is safe for concurrent use (it is never
// changed after New).
type Redactor struct {
	values []string // every form of every value, longest first
	vars   []string // the variables FromEnv read them from
}

// New is a redactor of these values (empty and short ones are ignored)
// and of the key shapes.
func New(values ...string) *Redactor {
	var forms []string
	for _, v := range values {
		if len(v) < MinLen {
			continue
		}
		forms = append(forms, v, jsonForm(v, true), jsonForm(v, false), asciiForm(v))
	}
	// Longest first, so a value that contains another goes whole.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return &Redactor{values: slices.Compact(forms)}
}

// FromEnv is a redactor of the values of the variables named (each
// profile's api_key_env), read with getenv (os.Getenv).
func FromEnv(getenv func(string) string, names ...string) *Redactor {
	var values, vars []string
	for _, n := range names {
		if n != "" {
			values, vars = append(values, getenv(n)), append(vars, n)
		}
	}
	r := New(values...)
	r.vars = vars
	return r
}

// Vars are the variables the values were read from (FromEnv): a worker
// process reads them itself (signet_worker/redact.py).
func (r *Redactor) Vars() []string {
	if r == nil {
		return nil
	}
	return r.vars
}

// jsonForm is v as it appears inside a JSON string that Go writes.
func jsonForm(v string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v) // a string always encodes
	s := strings.TrimSpace(b.String())
	return s[1 : len(s)-1]
}

// asciiForm is v as Python's json.dumps (ensure_ascii) writes it inside a
// string: the worker's frames.
func asciiForm(v string) string {
	var b strings.Builder
	for _, c := range jsonForm(v, false) {
		switch {
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		case c > 0xFFFF:
			c -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(c>>10), 0xDC00+(c&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	return b.String()
}

// String is s without secrets.
func (r *Redactor) String(s string) string {
	if r != nil {
		for _, v := range r.values {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, Replacement)
			}
		}
	}
	for _, sh := range shapes {
		if slices.ContainsFunc(sh.markers, func(m string) bool { return strings.Contains(s, m) }) {
			s = replaceShape(sh, s)
		}
	}
	return s
}

func replaceShape(sh shape, s string) string {
	idx := sh.re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		start, end := m[0], m[1]
		if len(m) > 2 && m[2] >= 0 { // only the group goes
			start, end = m[2], m[3]
		}
		if sh.ok != nil && !sh.ok(s[start:end]) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Replacement)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Bytes is b without secrets: b itself when it holds none (the common
// case costs no allocation), else a new slice.
func (r *Redactor) Bytes(b []byte) []byte {
	if !r.has(b) {
		return b
	}
	return []byte(r.String(string(b)))
}

// has says whether b may hold a secret (a value, or a shape's marker).
func (r *Redactor) has(b []byte) bool {
	if r != nil {
		for _, v := range r.values {
			if bytes.Contains(b, []byte(v)) {
				return true
			}
		}
	}
	for _, sh := range shapes {
		for _, m := range sh.markers {
			if bytes.Contains(b, []byte(m)) {
				return true
			}
		}
	}
	return false
}

// Value is v with every string in it redacted: maps and slices are copied
// where something changed, other values returned as they are. It takes
// what encoding/json decodes into (map[string]any, []any, string, ...).
func (r *Redactor) Value(v any) any {
	out, _ := r.value(v)
	return out
}

// Map is m with every string in it (keys too) redacted; m itself when
// nothing changed.
func (r *Redactor) Map(m map[string]any) map[string]any {
	out, _ := r.redactMap(m)
	return out
}

// value is v redacted, and whether anything changed.
func (r *Redactor) value(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		s := r.String(x)
		return s, s != x
	case map[string]any:
		return r.redactMap(x)
	case []any:
		var out []any
		for i, e := range x {
			re, changed := r.value(e)
			if changed && out == nil {
				out = slices.Clone(x)
			}
			if out != nil {
				out[i] = re
			}
		}
		if out == nil {
			return x, false
		}
		return out, true
	}
	return v, false
}

func (r *Redactor) redactMap(m map[string]any) (map[string]any, bool) {
	var out map[string]any
	for k, e := range m {
		rk := r.String(k)
		re, changed := r.value(e)
		if (changed || rk != k) && out == nil {
			out = maps.Clone(m)
		}
		if out != nil {
			delete(out, k)
			out[rk] = re
		}
	}
	if out == nil {
		return m, false
	}
	return out, true
}

// Writer redacts each Write to w. Writes must hold whole records (a log
// line, a JSON line): a secret split over two writes is not seen.
func (r *Redactor) Writer(w io.Writer) io.Writer { return writer{r, w} }

type writer struct {
	r *Redactor
	w io.Writer
}

func (w writer) Write(p []byte) (int, error) {
	if _, err := w.w.Write(w.r.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
