package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    Frame
		wantErr string // substring of the error; "" means success
	}{
		{"hello", `{"id": 0, "event": "hello", "data": {"protocol": 1, "dspy": "3.4.1", "python": "3.11.7", "pid": 4242, "threads": 8}}`,
			Frame{ID: 0, Kind: KindEvent, EventName: "hello", Data: json.RawMessage(`{"protocol": 1, "dspy": "3.4.1", "python": "3.11.7", "pid": 4242, "threads": 8}`)}, ""},
		{"event", `{"id":7,"event":"span","data":{"id":"a"}}` + "\n", Frame{ID: 7, Kind: KindEvent, EventName: "span", Data: json.RawMessage(`{"id":"a"}`)}, ""},
		{"event without data", `{"id":7,"event":"tick"}`, Frame{ID: 7, Kind: KindEvent, EventName: "tick"}, ""},
		{"event with null data", `{"id":7,"event":"tick","data":null}`, Frame{ID: 7, Kind: KindEvent, EventName: "tick"}, ""},
		{"result", `{"id":7,"result":{"pid":1}}`, Frame{ID: 7, Kind: KindResult, Result: json.RawMessage(`{"pid":1}`)}, ""},
		{"empty result", `{"result":{},"id":12}`, Frame{ID: 12, Kind: KindResult, Result: json.RawMessage(`{}`)}, ""},
		{"error", `{"id":7,"error":{"code":"lm_timeout","message":"slow","retryable":true,"detail":{"module":"a"}}}`,
			Frame{ID: 7, Kind: KindError, Error: &ErrorBody{Code: "lm_timeout", Message: "slow", Retryable: true, Detail: map[string]any{"module": "a"}}}, ""},
		{"error without retryable", `{"id":7,"error":{"code":"internal","message":""}}`,
			Frame{ID: 7, Kind: KindError, Error: &ErrorBody{Code: "internal"}}, ""},
		{"big id", `{"id":9223372036854775807,"result":{}}`, Frame{ID: 1<<63 - 1, Kind: KindResult, Result: json.RawMessage(`{}`)}, ""},

		{"empty", ``, Frame{}, "empty line"},
		{"blank", "  \t", Frame{}, "empty line"},
		{"garbage", `Downloading model...`, Frame{}, "not JSON"},
		{"array", `[1,2]`, Frame{}, "not a JSON object"},
		{"string", `"hi"`, Frame{}, "not a JSON object"},
		{"truncated", `{"id":7,"result":{`, Frame{}, "not JSON"},
		{"trailing", `{"id":7,"result":{}} {"id":8,"result":{}}`, Frame{}, "after top-level value"},
		{"trailing garbage", `{"id":7,"result":{}}x`, Frame{}, "after top-level value"},
		{"trailing space", "{\"id\":7,\"result\":{}} \r\t", Frame{ID: 7, Kind: KindResult, Result: json.RawMessage(`{}`)}, ""},
		{"spaces everywhere", " { \"id\" : 7 , \"result\" : { } } ", Frame{ID: 7, Kind: KindResult, Result: json.RawMessage(`{ }`)}, ""},
		{"escaped key", `{"\u0069d":7,"result":{}}`, Frame{ID: 7, Kind: KindResult, Result: json.RawMessage(`{}`)}, ""},
		{"escaped duplicate", `{"id":7,"\u0069d":8,"result":{}}`, Frame{}, `key "id" twice`},
		{"key case matters", `{"ID":7,"result":{}}`, Frame{}, "no id"},
		{"nested strings with braces", `{"id":7,"result":{"a":"}{\"]","b":[{"c":"\\"}]}}`, Frame{ID: 7, Kind: KindResult, Result: json.RawMessage(`{"a":"}{\"]","b":[{"c":"\\"}]}`)}, ""},
		{"bad utf8", "{\"id\":7,\"event\":\"s\xff\"}", Frame{}, "UTF-8"},
		{"no id", `{"result":{}}`, Frame{}, "no id"},
		{"null id", `{"id":null,"result":{}}`, Frame{}, "id null"},
		{"string id", `{"id":"7","result":{}}`, Frame{}, "not an integer"},
		{"negative id", `{"id":-1,"result":{}}`, Frame{}, "not a non-negative integer"},
		{"float id", `{"id":7.0,"result":{}}`, Frame{}, "not an integer"},
		{"exp id", `{"id":7e2,"result":{}}`, Frame{}, "not an integer"},
		{"huge id", `{"id":9223372036854775808,"result":{}}`, Frame{}, "out of range"},
		{"none of three", `{"id":7}`, Frame{}, "exactly one of event, result or error (found 0)"},
		{"result and error", `{"id":7,"result":{},"error":{"code":"x","message":""}}`, Frame{}, "found 2"},
		{"event and result", `{"id":7,"event":"span","result":{}}`, Frame{}, "found 2"},
		{"duplicate key", `{"id":7,"id":8,"result":{}}`, Frame{}, `key "id" twice`},
		{"unknown key", `{"id":7,"result":{},"extra":1}`, Frame{}, `unknown key "extra"`},
		{"request echoed", `{"id":7,"method":"ping","params":{}}`, Frame{}, "found 0"},
		{"data on result", `{"id":7,"result":{},"data":{}}`, Frame{}, "data without event"},
		{"event not string", `{"id":7,"event":3}`, Frame{}, "event is not a string"},
		{"empty event", `{"id":7,"event":""}`, Frame{}, "empty event name"},
		{"data not object", `{"id":7,"event":"span","data":[1]}`, Frame{}, "event data is not an object"},
		{"hello with id", `{"id":3,"event":"hello","data":{}}`, Frame{}, "the hello must have id 0"},
		{"id 0 not hello", `{"id":0,"event":"span","data":{}}`, Frame{}, "reserved for the hello"},
		{"result id 0", `{"id":0,"result":{}}`, Frame{}, "needs a request id"},
		{"error id 0", `{"id":0,"error":{"code":"x","message":"m"}}`, Frame{}, "needs a request id"},
		{"result not object", `{"id":7,"result":[]}`, Frame{}, "result is not an object"},
		{"result null", `{"id":7,"result":null}`, Frame{}, "result is not an object"},
		{"error not object", `{"id":7,"error":"boom"}`, Frame{}, "error is not an object"},
		{"error without code", `{"id":7,"error":{"message":"boom"}}`, Frame{}, "error without a code"},
		{"error empty code", `{"id":7,"error":{"code":"","message":"boom"}}`, Frame{}, "error without a code"},
		{"error without message", `{"id":7,"error":{"code":"internal"}}`, Frame{}, "error without a message"},
		{"error unknown key", `{"id":7,"error":{"code":"internal","message":"","trace":1}}`, Frame{}, "unknown field"},
		{"error bad retryable", `{"id":7,"error":{"code":"internal","message":"","retryable":"yes"}}`, Frame{}, "error:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Decode(%q) = %+v, want an error containing %q", tt.line, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Decode(%q) error %q, want it to contain %q", tt.line, err, tt.wantErr)
				}
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %T is not a *DecodeError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.line, err)
			}
			if !sameFrame(got, tt.want) {
				t.Fatalf("Decode(%q) =\n%+v\nwant\n%+v", tt.line, got, tt.want)
			}
		})
	}
}

func sameFrame(a, b Frame) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestDecodeErrorExcerpt(t *testing.T) {
	long := strings.Repeat("x", 1000)
	_, err := Decode([]byte(long))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error for a long garbage line should be short, got %d bytes: %v", len(err.Error()), err)
	}
}

func TestDecodeHello(t *testing.T) {
	f, err := Decode([]byte(`{"id":0,"event":"hello","data":{"protocol":1,"dspy":"3.4.1","python":"3.11.7","pid":42,"threads":8}}`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := DecodeHello(f)
	if err != nil {
		t.Fatal(err)
	}
	if h != (Hello{Protocol: 1, DSPy: "3.4.1", Python: "3.11.7", PID: 42, Threads: 8}) {
		t.Fatalf("hello = %+v", h)
	}
	for _, line := range []string{
		`{"id":7,"result":{}}`,
		`{"id":0,"event":"hello"}`,
		`{"id":0,"event":"hello","data":{"dspy":"3"}}`,
		`{"id":0,"event":"hello","data":{"protocol":"1"}}`,
	} {
		f, err := Decode([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeHello(f); err == nil {
			t.Errorf("DecodeHello(%s) accepted it", line)
		}
	}
}

func TestEncodeRequest(t *testing.T) {
	b, err := EncodeRequest(7, MethodPing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":7,"method":"ping","params":{}}`+"\n" {
		t.Fatalf("got %q", b)
	}
	b, err = EncodeRequest(8, MethodCancel, map[string]any{"target": 7})
	if err != nil || string(b) != `{"id":8,"method":"cancel","params":{"target":7}}`+"\n" {
		t.Fatalf("got %q, %v", b, err)
	}
	b, err = EncodeRequest(9, MethodExecute, json.RawMessage("{\n  \"a\": [1, 2]\n}\n"))
	if err != nil || string(b) != `{"id":9,"method":"execute","params":{"a":[1,2]}}`+"\n" {
		t.Fatalf("pretty-printed raw params: %q, %v", b, err)
	}
	b, err = EncodeRequest(9, MethodPing, json.RawMessage(nil))
	if err != nil || string(b) != `{"id":9,"method":"ping","params":{}}`+"\n" {
		t.Fatalf("empty raw params: %q, %v", b, err)
	}
	for _, bad := range []string{"{", "{\"a\":\"\xff\"}", "{\"a\":\"x\ny\"}"} {
		if _, err := EncodeRequest(9, MethodPing, json.RawMessage(bad)); err == nil {
			t.Errorf("raw params %q accepted", bad)
		}
	}
	// What json.Marshal wrote is framed as it is, and reads back whole.
	params := map[string]any{"q": "line\none \xff <b>", "n": []any{1.5, nil}}
	m, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	b, err = EncodeRequest(10, MethodExecute, Marshalled(m))
	if err != nil || string(b) != `{"id":10,"method":"execute","params":`+string(m)+"}\n" || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("marshalled params: %q, %v", b, err)
	}
	var back struct {
		Params map[string]any `json:"params"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Params["q"] != "line\none \ufffd <b>" {
		t.Fatalf("marshalled params read back: %+v %v", back, err)
	}
	if _, err := EncodeRequest(0, MethodPing, nil); err == nil {
		t.Error("id 0 accepted")
	}
	if _, err := EncodeRequest(1, "", nil); err == nil {
		t.Error("empty method accepted")
	}
	if _, err := EncodeRequest(1, "x", func() {}); err == nil {
		t.Error("unencodable params accepted")
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, f := range []Frame{
		{ID: 3, Kind: KindEvent, EventName: "span", Data: json.RawMessage(`{"a":1}`)},
		{ID: 3, Kind: KindResult, Result: json.RawMessage(`{"b":[1,2]}`)},
		{ID: 3, Kind: KindError, Error: &ErrorBody{Code: "bad_input", Message: "no field", Detail: map[string]any{"field": "q"}}},
	} {
		b, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", f, err)
		}
		if !sameFrame(f, g) {
			t.Fatalf("round trip %+v → %s → %+v", f, b, g)
		}
	}
	if _, err := Encode(Frame{ID: 1, Kind: KindError}); err == nil {
		t.Error("error frame without error encoded")
	}
	if _, err := Encode(Frame{ID: 1}); err == nil {
		t.Error("frame without kind encoded")
	}
}

func TestReader(t *testing.T) {
	long := `{"id":1,"result":{"s":"` + strings.Repeat("a", 200<<10) + `"}}`
	in := `{"id":0,"event":"hello","data":{"protocol":1}}` + "\n" + long + "\n" + `{"id":2,"result":{}}` + "\n"
	r := NewReader(strings.NewReader(in))
	for i, want := range []uint64{0, 1, 2} {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.ID != want {
			t.Fatalf("frame %d has id %d", i, f.ID)
		}
		if i == 1 && len(f.Result) != len(long)-len(`{"id":1,"result":}`) {
			t.Fatalf("long result has %d bytes", len(f.Result))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}

	r = NewReader(strings.NewReader(`{"id":1,"result":{}}`))
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("unterminated line: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReaderTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 128 MiB")
	}
	big := bytes.Repeat([]byte("a"), MaxFrame+10)
	big[len(big)-1] = '\n'
	r := NewReader(io.MultiReader(bytes.NewReader(big), strings.NewReader(`{"id":1,"result":{}}`+"\n")))
	if _, err := r.ReadLine(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("a %d-byte line: %v, want ErrFrameTooLarge", len(big), err)
	}
	// Exactly at the limit (newline included) is fine.
	ok := bytes.Repeat([]byte("b"), MaxFrame)
	ok[len(ok)-1] = '\n'
	r = NewReader(bytes.NewReader(ok))
	l, err := r.ReadLine()
	if err != nil || len(l) != MaxFrame-1 {
		t.Fatalf("a line of MaxFrame bytes: %d bytes, %v", len(l), err)
	}
	if _, err := Decode(append(l, 'x')); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Decode of an oversized line: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":0,"event":"hello","data":{"protocol":1,"dspy":"3.4.1","python":"3.11.7","pid":4242,"threads":8}}`,
		`{"id":7,"event":"span","data":{"id":"c1","parent":"c0","kind":"lm","start":"2025-01-01T00:00:00.000000001Z"}}`,
		`{"id":7,"result":{"outputs":{"answer":"Paris"},"cost":0.0000228}}`,
		`{"id":7,"error":{"code":"lm_timeout","message":"slow","retryable":true,"detail":{"module":"a"}}}`,
		`{"id":7,"id":7,"result":{}}`,
		`{"id":1e3,"result":{}}`,
		`{"id":7,"result":{}} trailing`,
		"\xff",
		``,
		`{"id":7,"event":"spans","data":{"spans":[{"a":[1,-0.5e+3,true,false,null,"\u00e9\n"]}],"k\u0065y":{}}}`,
		`{"id":7,"result":{"x":"é 東京 🙂","y":[[[[]]]],"z":01}}`,
		"{\"id\":7,\"result\":{\"x\":\"\xed\xa0\x80\"}}",
		"{\"id\":7,\"result\":{\"x\":\"tab\there\"}}",
		` {"id" : 7 , "result" : { } } `,
		`{"id":7,"result":{"n":-},"e":1.}`,
		"[" + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "]",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if got, want := valid(line), json.Valid(line) && utf8.Valid(line); got != want {
			t.Fatalf("valid(%q) = %v, json.Valid && utf8.Valid = %v", line, got, want)
		}
		if got, ok := split(line); ok {
			want, err := refTopLevel(line)
			if err != nil || !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
				t.Fatalf("split(%q) = %q, reference %q (%v)", line, got, want, err)
			}
		} else if obj, err := refTopLevel(line); err == nil && utf8.Valid(line) && !escapedKey(obj, line) {
			t.Fatalf("split(%q) refused an object the reference splits", line)
		}
		fr, err := Decode(line)
		if utf8.Valid(line) {
			got, gerr := topLevel(line)
			want, werr := refTopLevel(line)
			if (gerr == nil) != (werr == nil) {
				t.Fatalf("topLevel(%q): %v, reference: %v", line, gerr, werr)
			}
			if gerr == nil && !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
				t.Fatalf("topLevel(%q) = %q, reference %q", line, got, want)
			}
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			return
		}
		// Invariants of a valid frame.
		switch fr.Kind {
		case KindEvent:
			if fr.EventName == "" || (fr.ID == 0) != (fr.EventName == EventHello) {
				t.Fatalf("bad event accepted: %+v", fr)
			}
		case KindResult:
			if fr.ID == 0 || len(fr.Result) == 0 || fr.Result[0] != '{' {
				t.Fatalf("bad result accepted: %+v", fr)
			}
		case KindError:
			if fr.ID == 0 || fr.Error == nil || fr.Error.Code == "" {
				t.Fatalf("bad error accepted: %+v", fr)
			}
		default:
			t.Fatalf("frame without kind: %+v", fr)
		}
		// Encoding is stable: encode, decode, encode gives the same line.
		b1, err := Encode(fr)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", fr, err)
		}
		fr2, err := Decode(b1)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b1, err)
		}
		b2, err := Encode(fr2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("unstable encoding: %s vs %s (%v)", b1, b2, err)
		}
		if fr2.ID != fr.ID || fr2.Kind != fr.Kind || fr2.EventName != fr.EventName {
			t.Fatalf("round trip changed the frame: %+v vs %+v", fr, fr2)
		}
	})
}

// refTopLevel is the obvious top-level split with json.Decoder's token API,
// kept as the reference that FuzzDecode holds topLevel to.
func refTopLevel(line []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		if _, dup := fields[key]; dup {
			return nil, errors.New("duplicate key")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fields[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return fields, nil
}

// valid is the scanner on a whole value: json.Valid(b) && utf8.Valid(b).
func valid(b []byte) bool {
	s := scanner{b: b}
	s.space()
	if !s.value(0) {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

// escapedKey says whether a key of the object line is written with an
// escape (split leaves those to the slow path).
func escapedKey(obj map[string]json.RawMessage, line []byte) bool {
	for k := range obj {
		if !bytes.Contains(line, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return bytes.Contains(line, []byte(`\\`)) // a conservative guess: any escape may be in a key
}
