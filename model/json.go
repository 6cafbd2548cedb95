package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// UnmarshalFast is goccy/go-json's Unmarshal (three to four times
// encoding/json's speed on the hottest decodes: span events in the owner,
// events in a batch's client) with its panics turned into errors. On an
// error the caller decodes again with encoding/json, whose result the
// callers' fuzz tests hold it to and whose error is the one reported.
func UnmarshalFast(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding %T: %v", v, r)
		}
	}()
	return gojson.Unmarshal(data, v)
}

// Spans and executions are most of what the owner encodes in a batch (for
// the store, and the executions again for the API's event streams), and
// encoding/json's reflection was a tenth of its CPU there (BENCHMARKS.md),
// so AppendJSON writes their bytes by hand. It must stay byte for byte what
// json.Marshal gives (json_test.go compares them on every field), so that
// readers, clients and old records see no difference: a value it does not
// know (an `any` that is not what JSON decodes to, a variant, a retrieval)
// is handed to encoding/json, and one it cannot encode is encoded by
// json.Marshal again, for the same error. A field added to Span or
// Execution goes here too: TestEncodingEveryField fails until it does.

// errByHand says the fast path met what encoding/json reports as an error.
var errByHand = errors.New("not encodable by hand")

// AppendJSON appends sp as json.Marshal encodes it.
func (sp *Span) AppendJSON(b []byte) ([]byte, error) {
	return orMarshal(b, sp, appendSpan)
}

// AppendJSON appends x as json.Marshal encodes it.
func (x *Execution) AppendJSON(b []byte) ([]byte, error) {
	return orMarshal(b, x, appendExecution)
}

// orMarshal is enc, or json.Marshal where enc fails.
func orMarshal[T any](b []byte, v *T, enc func([]byte, *T) ([]byte, error)) ([]byte, error) {
	n := len(b)
	out, err := enc(b, v)
	if err == nil {
		return out, nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b[:n], err
	}
	return append(b[:n], j...), nil
}

// SpansSize is about the bytes spans encode to, so that one buffer is
// allocated for them, not a doubling series.
func SpansSize(spans []Span) int {
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

func appendSpan(b []byte, sp *Span) ([]byte, error) {
	b = append(b, `{"execution":`...)
	b = appendID(b, sp.Execution)
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
	if sp.Usage != (Usage{}) {
		b = appendUsage(append(b, `,"usage":`...), sp.Usage)
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
		if b, err = appendMarshalled(append(b, `,"retrieval":`...), sp.Retrieval); err != nil {
			return b, err
		}
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
		return b, errByHand
	}
	if z := b[len(b)-2]; z != 'Z' {
		c := b[len(b)-1-len("Z07:00")]
		if ('0' <= c && c <= '9') || 10*(b[len(b)-6]-'0')+(b[len(b)-5]-'0') >= 24 {
			return b, errByHand
		}
	}
	return b, nil
}

func appendExecution(b []byte, x *Execution) ([]byte, error) {
	var err error
	b = appendID(append(b, `{"id":`...), x.ID)
	b = appendField(b, `,"program":`, x.Program)
	b = strconv.AppendInt(append(b, `,"version":`...), int64(x.Version), 10)
	if x.LM != "" {
		b = appendField(b, `,"lm":`, x.LM)
	}
	b = appendField(b, `,"state":`, string(x.State))
	b = strconv.AppendInt(append(b, `,"attempts":`...), int64(x.Attempts), 10)
	b = append(b, `,"inputs":`...)
	if x.Inputs == nil {
		b = append(b, "null"...)
	} else if b, err = appendMap(b, x.Inputs); err != nil {
		return b, err
	}
	if len(x.Outputs) > 0 {
		if b, err = appendMap(append(b, `,"outputs":`...), x.Outputs); err != nil {
			return b, err
		}
	}
	if len(x.Usage) > 0 {
		b = append(b, `,"usage":{`...)
		for i, m := range sortedKeys(x.Usage) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendUsage(append(appendString(b, m), ':'), x.Usage[m])
		}
		b = append(b, '}')
	}
	if b, err = appendFloat(append(b, `,"cost":`...), x.Cost); err != nil {
		return b, err
	}
	if x.CostUnknown {
		b = append(b, `,"cost_unknown":true`...)
	}
	if x.Duration != 0 {
		b = strconv.AppendInt(append(b, `,"duration_ns":`...), int64(x.Duration), 10)
	}
	if c := x.EmbedCache; c != (EmbedCache{}) {
		b = append(b, `,"embed_cache":{`...)
		if c.Hits != 0 {
			b = strconv.AppendInt(append(b, `"hits":`...), int64(c.Hits), 10)
		}
		if c.Misses != 0 {
			if c.Hits != 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(append(b, `"misses":`...), int64(c.Misses), 10)
		}
		b = append(b, '}')
	}
	if x.ErrorCode != "" {
		b = appendField(b, `,"error_code":`, x.ErrorCode)
	}
	if x.Error != "" {
		b = appendField(b, `,"error":`, x.Error)
	}
	if x.Traceback != "" {
		b = appendField(b, `,"traceback":`, x.Traceback)
	}
	if x.CacheHit {
		b = append(b, `,"cache_hit":true`...)
	}
	if !x.CacheOf.IsZero() {
		b = appendID(append(b, `,"cache_of":`...), x.CacheOf)
	}
	if x.Batch != "" {
		b = appendField(b, `,"batch":`, x.Batch)
	}
	if x.User != "" {
		b = appendField(b, `,"user":`, x.User)
	}
	if x.Routed {
		b = append(b, `,"routed":true`...)
	}
	if x.Worker != "" {
		b = appendField(b, `,"worker":`, x.Worker)
	}
	if f := x.Feedback; f != nil {
		if b, err = appendFloat(append(b, `,"feedback":{"score":`...), f.Score); err != nil {
			return b, err
		}
		if f.Note != "" {
			b = appendField(b, `,"note":`, f.Note)
		}
		if f.By != "" {
			b = appendField(b, `,"by":`, f.By)
		}
		if b, err = appendTime(append(b, `,"at":`...), f.At); err != nil {
			return b, err
		}
		b = append(b, '}')
	}
	if x.Variant != nil {
		if b, err = appendMarshalled(append(b, `,"variant":`...), x.Variant); err != nil {
			return b, err
		}
	}
	if x.Eval != nil {
		if b, err = appendMarshalled(append(b, `,"eval":`...), x.Eval); err != nil {
			return b, err
		}
	}
	if x.Timeout != 0 {
		b = strconv.AppendInt(append(b, `,"timeout_ns":`...), int64(x.Timeout), 10)
	}
	if b, err = appendTime(append(b, `,"created_at":`...), x.CreatedAt); err != nil {
		return b, err
	}
	if !x.StartedAt.IsZero() {
		if b, err = appendTime(append(b, `,"started_at":`...), x.StartedAt); err != nil {
			return b, err
		}
	}
	if !x.FinishedAt.IsZero() {
		if b, err = appendTime(append(b, `,"finished_at":`...), x.FinishedAt); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendID is an ID's text: "" when zero, else hex and dashes (nothing to
// escape).
func appendID(b []byte, id ID) []byte {
	if id.IsZero() {
		return append(b, `""`...)
	}
	return append(id.AppendTo(append(b, '"')), '"')
}

func appendUsage(b []byte, u Usage) []byte {
	b = append(b, '{')
	if u.Calls != 0 {
		b = strconv.AppendInt(append(b, `"calls":`...), int64(u.Calls), 10)
		b = append(b, ',')
	}
	b = strconv.AppendInt(append(b, `"prompt_tokens":`...), int64(u.PromptTokens), 10)
	b = strconv.AppendInt(append(b, `,"completion_tokens":`...), int64(u.CompletionTokens), 10)
	return append(b, '}')
}

// appendMarshalled is encoding/json's encoding of v.
func appendMarshalled(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// sortedKeys is m's keys in order, as encoding/json writes them.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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
	return appendMarshalled(b, v)
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
		return b, errByHand
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
