package store

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/signet-dspy/signet/model"
)

// A stored span is the bytes encoding/json writes for model.Span. Spans are
// most of what a batch writes and encoding/json's reflection was a tenth of
// the owner's CPU in one (BENCHMARKS.md), so the store writes those same
// bytes by hand: appendSpan must stay byte for byte what json.Marshal
// gives (spanjson_test.go compares them), so that readers, the API and old
// records see no difference. A value it does not know (a field's type that
// is not what the worker's JSON decodes to, a retrieval) is handed to
// encoding/json, and a span it cannot encode is encoded by json.Marshal
// again, for the same error.

// errSpanJSON says the fast path met what encoding/json reports as an error.
var errSpanJSON = errors.New("span: not encodable by hand")

// marshalSpan encodes sp exactly as json.Marshal does, appended to b.
func marshalSpan(b []byte, sp *model.Span) ([]byte, error) {
	n := len(b)
	out, err := appendSpan(b, sp)
	if err == nil {
		return out, nil
	}
	enc, err := json.Marshal(sp)
	if err != nil {
		return b[:n], err
	}
	return append(b[:n], enc...), nil
}

// spansSize is about the bytes spans encode to, so that one buffer is
// allocated for them, not a doubling series.
func spansSize(spans []model.Span) int {
	n := 0
	for i := range spans {
		sp := &spans[i]
		n += 240 + len(sp.ID) + len(sp.Parent) + len(sp.Name) + len(sp.Module) + len(sp.Completion) + len(sp.Model) + len(sp.Error) +
			mapSize(sp.Inputs) + mapSize(sp.Outputs)
		for _, m := range sp.Messages {
			n += 32 + len(m.Role) + len(m.Content)
		}
	}
	return n + n/16 // escapes
}

func mapSize(m map[string]any) int {
	n := 2
	for k, v := range m {
		n += len(k) + 4
		if s, ok := v.(string); ok {
			n += len(s)
		} else {
			n += 24
		}
	}
	return n
}

func appendSpan(b []byte, sp *model.Span) ([]byte, error) {
	b = append(b, `{"execution":`...)
	if sp.Execution.IsZero() {
		b = append(b, `""`...)
	} else {
		b = append(sp.Execution.AppendTo(append(b, '"')), '"') // hex and dashes: nothing to escape
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, sp.Seq, 10)
	b = appendField(b, `,"id":`, sp.ID)
	if sp.Parent != "" {
		b = appendField(b, `,"parent":`, sp.Parent)
	}
	b = appendField(b, `,"kind":`, string(sp.Kind))
	b = appendField(b, `,"name":`, sp.Name)
	if sp.Module != "" {
		b = appendField(b, `,"module":`, sp.Module)
	}
	var err error
	if b, err = appendTime(append(b, `,"start":`...), sp.Start); err != nil {
		return b, err
	}
	if !sp.End.IsZero() {
		if b, err = appendTime(append(b, `,"end":`...), sp.End); err != nil {
			return b, err
		}
	}
	if len(sp.Inputs) > 0 {
		if b, err = appendMap(append(b, `,"inputs":`...), sp.Inputs); err != nil {
			return b, err
		}
	}
	if len(sp.Outputs) > 0 {
		if b, err = appendMap(append(b, `,"outputs":`...), sp.Outputs); err != nil {
			return b, err
		}
	}
	if len(sp.Messages) > 0 {
		b = append(b, `,"messages":[`...)
		for i, m := range sp.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendField(b, `{"role":`, m.Role)
			b = appendField(b, `,"content":`, m.Content)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if sp.Completion != "" {
		b = appendField(b, `,"completion":`, sp.Completion)
	}
	if sp.Model != "" {
		b = appendField(b, `,"model":`, sp.Model)
	}
	if u := sp.Usage; u != (model.Usage{}) {
		b = append(b, `,"usage":{`...)
		if u.Calls != 0 {
			b = strconv.AppendInt(append(b, `"calls":`...), int64(u.Calls), 10)
			b = append(b, ',')
		}
		b = strconv.AppendInt(append(b, `"prompt_tokens":`...), int64(u.PromptTokens), 10)
		b = strconv.AppendInt(append(b, `,"completion_tokens":`...), int64(u.CompletionTokens), 10)
		b = append(b, '}')
	}
	if sp.Cost != 0 {
		if b, err = appendFloat(append(b, `,"cost":`...), sp.Cost); err != nil {
			return b, err
		}
	}
	if sp.CostUnknown {
		b = append(b, `,"cost_unknown":true`...)
	}
	if sp.CacheHit {
		b = append(b, `,"cache_hit":true`...)
	}
	if sp.Error != "" {
		b = appendField(b, `,"error":`, sp.Error)
	}
	if sp.Retrieval != nil {
		r, err := json.Marshal(sp.Retrieval)
		if err != nil {
			return b, err
		}
		b = append(append(b, `,"retrieval":`...), r...)
	}
	return append(b, '}'), nil
}

// appendTime is time.Time's MarshalJSON without its allocation: RFC 3339
// with nanoseconds, and what it refuses (a year beyond 4 digits, a zone
// beyond ±23:59) left to encoding/json, for its error.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	n := len(b) + 1
	b = append(t.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	if b[n+len("9999")] != '-' {
		return b, errSpanJSON
	}
	if z := b[len(b)-2]; z != 'Z' {
		c := b[len(b)-1-len("Z07:00")]
		if ('0' <= c && c <= '9') || 10*(b[len(b)-6]-'0')+(b[len(b)-5]-'0') >= 24 {
			return b, errSpanJSON
		}
	}
	return b, nil
}

func appendField(b []byte, name, s string) []byte {
	return appendString(append(b, name...), s)
}

// appendAny encodes what the worker's JSON decodes to; other types go to
// encoding/json.
func appendAny(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case float64:
		return appendFloat(b, v)
	case bool:
		return strconv.AppendBool(b, v), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendMap(b, v)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendAny(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// appendMap writes m's keys in order, as encoding/json sorts them.
func appendMap(b []byte, m map[string]any) ([]byte, error) {
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		var err error
		if b, err = appendAny(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendFloat is encoding/json's float64 encoding: ES6's number to string.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errSpanJSON
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding with HTML escaping, its
// default: control characters, '"', '\\', '<', '>' and '&' escaped, invalid
// UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
