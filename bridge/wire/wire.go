// Package wire is the framing of the worker protocol (docs/protocol.md): the
// frames Go and the Python workers exchange, one JSON object per line, and a
// strict decoder for the frames a worker sends.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Protocol is the protocol version this package speaks; a worker whose hello
// states another version is refused.
const Protocol = 2

// MaxFrame is the largest frame in bytes, newline included.
const MaxFrame = 64 << 20

// Methods of the protocol.
const (
	MethodPing     = "ping"
	MethodExecute  = "execute"
	MethodRender   = "render"
	MethodValidate = "validate"
	MethodOptimize = "optimize"
	MethodExport   = "export"
	MethodImport   = "import_state"
	MethodIndex    = "index"
	MethodCancel   = "cancel"
	MethodShutdown = "shutdown"
	MethodAdmit    = "admit" // Go's answer to a reserve event
)

// EventHello is the event of a worker's first frame, the only frame with id 0.
const EventHello = "hello"

// EventSpans streams a batch of span events of an execution: each a span's
// start (the span so far) or its end (only what is new since its start).
const EventSpans = "spans"

// EventProgress and EventTrial stream the progress and the candidates of
// an optimize request.
const (
	EventProgress = "progress"
	EventTrial    = "trial"
)

// EventReserve asks, before an LM call of a request starts, whether the
// budget admits its estimate; the call waits for an admit request.
// EventSettle says what a reserved call cost once it ended.
const (
	EventReserve = "reserve"
	EventSettle  = "settle"
)

// Reserve is the data of a reserve event.
type Reserve struct {
	Call     string  `json:"call"`     // the LM call's id (its span's id)
	Estimate float64 `json:"estimate"` // USD
}

// Settle is the data of a settle event.
type Settle struct {
	Call string   `json:"call"`
	Cost *float64 `json:"cost"` // USD; nil when nothing priced the call
}

// Admit is the params of an admit request: the answer to request Target's
// reservation of Call.
type Admit struct {
	Target  uint64 `json:"target"`
	Call    string `json:"call"`
	Admit   bool   `json:"admit"`
	Message string `json:"message,omitempty"` // why it was refused
}

// Request is a frame Go sends to a worker.
type Request struct {
	ID     uint64          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// Event is a stream frame of a running request (or the hello, id 0).
type Event struct {
	ID    uint64          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Result ends a request that succeeded.
type Result struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result"`
}

// ErrorBody is what a worker says about a request that failed.
type ErrorBody struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Retryable bool           `json:"retryable"`
	Detail    map[string]any `json:"detail,omitempty"`
}

// ErrorFrame ends a request that failed.
type ErrorFrame struct {
	ID    uint64    `json:"id"`
	Error ErrorBody `json:"error"`
}

// Hello is the data of the hello event.
type Hello struct {
	Protocol int    `json:"protocol"`
	DSPy     string `json:"dspy"`
	Python   string `json:"python"`
	PID      int    `json:"pid"`
	Threads  int    `json:"threads"`
}

// Kind says which of the worker's frames a Frame is.
type Kind uint8

const (
	KindEvent Kind = iota + 1
	KindResult
	KindError
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Frame is one decoded frame from a worker: exactly one of Event (with
// EventName and Data), Result or Error, as Kind says.
type Frame struct {
	ID        uint64
	Kind      Kind
	EventName string
	Data      json.RawMessage // event data; nil when absent or null
	Result    json.RawMessage // a JSON object
	Error     *ErrorBody
}

// AsEvent is the frame as an Event (meaningful when Kind is KindEvent).
func (f *Frame) AsEvent() Event { return Event{ID: f.ID, Event: f.EventName, Data: f.Data} }

// DecodeError says why a line is not a valid frame.
type DecodeError struct {
	Msg  string
	Line []byte // an excerpt of the offending line, at most 120 bytes
	Err  error  // the JSON error, when there is one
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("invalid frame: %s (line %q)", e.Msg, e.Line)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrFrameTooLarge is returned for a line longer than MaxFrame.
var ErrFrameTooLarge = errors.New("frame larger than 64 MiB")

func decodeErr(line []byte, err error, format string, args ...any) error {
	ex := line
	if len(ex) > 120 {
		ex = append(ex[:120:120], "..."...)
	}
	return &DecodeError{Msg: fmt.Sprintf(format, args...), Line: bytes.Clone(ex), Err: err}
}

// Decode parses one line (with or without its trailing newline) into a
// frame. It is strict: the line is one UTF-8 JSON object with an integer id,
// exactly one of event, result or error, no other keys and no key twice; id
// 0 is the hello and nothing else; an error has a code.
func Decode(line []byte) (Frame, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) >= MaxFrame {
		return Frame{}, &DecodeError{Msg: ErrFrameTooLarge.Error(), Err: ErrFrameTooLarge}
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return Frame{}, decodeErr(line, nil, "empty line")
	}
	fields, ok := split(line) // one pass, for the lines that are fine
	var err error
	if !ok {
		if !utf8.Valid(line) {
			// encoding/json would silently replace the bad bytes.
			return Frame{}, decodeErr(line, nil, "not valid UTF-8")
		}
		if fields, err = topLevel(line); err != nil {
			return Frame{}, err
		}
	}
	var f Frame
	rawID, ok := fields["id"]
	if !ok {
		return Frame{}, decodeErr(line, nil, "no id")
	}
	if f.ID, err = parseID(rawID); err != nil {
		return Frame{}, decodeErr(line, err, "id %s: %v", rawID, err)
	}
	present := 0
	for _, k := range []string{"event", "result", "error"} {
		if _, ok := fields[k]; ok {
			present++
		}
	}
	if present != 1 {
		return Frame{}, decodeErr(line, nil, "a frame has exactly one of event, result or error (found %d)", present)
	}
	for k := range fields {
		switch k {
		case "id", "event", "result", "error":
		case "data":
			if _, ok := fields["event"]; !ok {
				return Frame{}, decodeErr(line, nil, "data without event")
			}
		default:
			return Frame{}, decodeErr(line, nil, "unknown key %q", k)
		}
	}
	switch {
	case fields["event"] != nil:
		f.Kind = KindEvent
		if err := json.Unmarshal(fields["event"], &f.EventName); err != nil {
			return Frame{}, decodeErr(line, err, "event is not a string")
		}
		if f.EventName == "" {
			return Frame{}, decodeErr(line, nil, "empty event name")
		}
		if d, ok := fields["data"]; ok && !isNull(d) {
			if d[0] != '{' {
				return Frame{}, decodeErr(line, nil, "event data is not an object")
			}
			f.Data = bytes.Clone(d) // the line's buffer is reused
		}
		if (f.ID == 0) != (f.EventName == EventHello) {
			if f.ID == 0 {
				return Frame{}, decodeErr(line, nil, "id 0 is reserved for the hello, not event %q", f.EventName)
			}
			return Frame{}, decodeErr(line, nil, "the hello must have id 0, not %d", f.ID)
		}
	case fields["result"] != nil:
		f.Kind = KindResult
		if r := fields["result"]; r[0] != '{' {
			return Frame{}, decodeErr(line, nil, "result is not an object")
		}
		f.Result = bytes.Clone(fields["result"])
		if f.ID == 0 {
			return Frame{}, decodeErr(line, nil, "a result needs a request id, not 0")
		}
	default:
		f.Kind = KindError
		raw := fields["error"]
		if raw[0] != '{' {
			return Frame{}, decodeErr(line, nil, "error is not an object")
		}
		var body struct {
			Code      *string        `json:"code"`
			Message   *string        `json:"message"`
			Retryable *bool          `json:"retryable"`
			Detail    map[string]any `json:"detail"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return Frame{}, decodeErr(line, err, "error: %v", err)
		}
		if body.Code == nil || *body.Code == "" {
			return Frame{}, decodeErr(line, nil, "error without a code")
		}
		if body.Message == nil {
			return Frame{}, decodeErr(line, nil, "error without a message")
		}
		f.Error = &ErrorBody{Code: *body.Code, Message: *body.Message, Detail: body.Detail}
		if body.Retryable != nil {
			f.Error.Retryable = *body.Retryable
		}
		if f.ID == 0 {
			return Frame{}, decodeErr(line, nil, "an error needs a request id, not 0")
		}
	}
	return f, nil
}

// topLevel splits a JSON object into its members (values alias line),
// refusing duplicate keys (encoding/json would keep the last one silently)
// and anything after the object. One validity pass, then a walk of the top
// level that can trust the syntax: a third of the cost of json.Decoder's
// token API, which this replaced (see refTopLevel in the tests).
func topLevel(line []byte) (map[string]json.RawMessage, error) {
	if !json.Valid(line) {
		var v any
		err := json.Unmarshal(line, &v) // only for its message
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, decodeErr(line, err, "not JSON: %v", err)
	}
	i := skipSpace(line, 0)
	if line[i] != '{' {
		return nil, decodeErr(line, nil, "not a JSON object")
	}
	fields := make(map[string]json.RawMessage, 4)
	i = skipSpace(line, i+1)
	if line[i] == '}' {
		return fields, nil
	}
	for {
		end := skipValue(line, i) // the key: a string
		key := string(line[i+1 : end-1])
		if bytes.IndexByte(line[i:end], '\\') >= 0 {
			if err := json.Unmarshal(line[i:end], &key); err != nil {
				return nil, decodeErr(line, err, "bad key: %v", err)
			}
		}
		i = skipSpace(line, end)
		i = skipSpace(line, i+1) // past ':'
		end = skipValue(line, i)
		if _, dup := fields[key]; dup {
			return nil, decodeErr(line, nil, "key %q twice", key)
		}
		fields[key] = line[i:end:end]
		i = skipSpace(line, end)
		if line[i] == '}' {
			return fields, nil
		}
		i = skipSpace(line, i+1) // past ','
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the end of the string that starts at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// parseID accepts a JSON integer in [0, 2^63).
func parseID(raw json.RawMessage) (uint64, error) {
	s := string(raw)
	if s == "" || s[0] == '-' {
		return 0, errors.New("not a non-negative integer")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not an integer")
		}
	}
	id, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return id, nil
}

// DecodeHello checks that a frame is the hello and parses its data.
func DecodeHello(f Frame) (Hello, error) {
	if f.Kind != KindEvent || f.EventName != EventHello {
		return Hello{}, fmt.Errorf("expected the hello as the first frame, got %s %q with id %d", f.Kind, f.EventName, f.ID)
	}
	var h Hello
	if f.Data == nil {
		return Hello{}, errors.New("hello without data")
	}
	if err := json.Unmarshal(f.Data, &h); err != nil {
		return Hello{}, fmt.Errorf("hello data: %w", err)
	}
	if h.Protocol == 0 {
		return Hello{}, errors.New("hello without a protocol version")
	}
	return h, nil
}
