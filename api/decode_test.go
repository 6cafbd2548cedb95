package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// decodeCases are request bodies and what decoding them as a RunRequest,
// an EvaluateRequest or an OptimizeRequest gives: "" is success, else a
// part of the error.
var decodeCases = []struct {
	body, run, eval, opt, field string
}{
	{body: `{"program":"qa","inputs":{"question":"q"}}`, eval: `unknown field "inputs"`, opt: `unknown field "inputs"`},
	{body: `{"program":"qa","version":0}`},
	{body: `{"program":"qa","version":3,"threads":64,"budget":1.5,"seed":7}`, run: `unknown field "threads"`, eval: `unknown field "budget"`},
	{body: `{"program":"qa","verison":2}`, run: `unknown field "verison"`, eval: `unknown field "verison"`, opt: `unknown field "verison"`},
	{body: `{"program":"qa","version":-1}`, field: "version", run: "version: -1 is out of range (at least 0; 0 = newest)",
		eval: "version: -1 is out of range", opt: "version: -1 is out of range"},
	{body: `{"program":"qa","threads":-5}`, field: "threads", run: `unknown field "threads"`,
		eval: "threads: -5 is out of range (0 to 64; 0 = the default)", opt: "threads: -5 is out of range"},
	{body: `{"program":"qa","threads":65}`, field: "threads", run: `unknown field "threads"`, eval: "threads: 65 is out of range", opt: "threads: 65 is out of range"},
	{body: `{"program":"qa","budget":-0.5}`, field: "budget", run: `unknown field "budget"`, eval: `unknown field "budget"`,
		opt: "budget: -0.5 is out of range (at least 0; USD; 0 = none)"},
	{body: `{"program":"qa","seed":-1}`, field: "seed", run: `unknown field "seed"`, eval: `unknown field "seed"`, opt: "seed: -1 is out of range"},
	{body: `{"program":"qa"} {}`, run: "data after the JSON value", eval: "data after the JSON value", opt: "data after the JSON value"},
	{body: `{"program":"qa","variant":{"name":"qa","bogus":1}}`, run: `unknown field "bogus"`, eval: `unknown field "variant"`, opt: `unknown field "variant"`},
	{body: `{"program":`, run: "unexpected EOF", eval: "unexpected EOF", opt: "unexpected EOF"},
	{body: `{"program":"qa","inputs":{"q":"` + strings.Repeat("x", MaxBody) + `"}}`,
		run: "request body: larger than the limit of 32MiB", eval: "larger than the limit of 32MiB", opt: "larger than the limit of 32MiB"},
}

func TestDecodeBody(t *testing.T) {
	for _, tc := range decodeCases {
		name := tc.body[:min(len(tc.body), 60)]
		t.Run(name, func(t *testing.T) {
			check := func(kind string, err error, want string) {
				t.Helper()
				if want == "" {
					if err != nil {
						t.Errorf("%s: %v", kind, err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %v, want %q", kind, err, want)
					return
				}
				var ae *app.Error
				if tc.field != "" && strings.Contains(want, "out of range") && (!errors.As(err, &ae) || ae.Field != tc.field) {
					t.Errorf("%s: error %v does not name the field %q", kind, err, tc.field)
				}
			}
			_, err := decodeBody[app.RunRequest](strings.NewReader(tc.body))
			check("run", err, tc.run)
			_, err = decodeBody[app.EvaluateRequest](strings.NewReader(tc.body))
			check("evaluate", err, tc.eval)
			_, err = decodeBody[app.OptimizeRequest](strings.NewReader(tc.body))
			check("optimize", err, tc.opt)
		})
	}
}

// FuzzDecodeRequest decodes any body as the requests the API takes: no
// panic; a body that decodes has every number in range and reads back the
// same after encoding; a body that does not gets an error with a message.
func FuzzDecodeRequest(f *testing.F) {
	for _, tc := range decodeCases {
		if len(tc.body) < 1<<10 {
			f.Add([]byte(tc.body))
		}
	}
	f.Add([]byte(`{"name":"qa","modules":[{"name":"m","type":"predict","signature":"q -> a"}]}`))
	f.Add([]byte(`{"dataset":"d","split":"train","data":{"q":1},"bogus":null}`))
	f.Add([]byte(`{"program":"p","usd":-3}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzDecode[app.RunRequest](t, body)
		fuzzDecode[app.EvaluateRequest](t, body)
		fuzzDecode[app.OptimizeRequest](t, body)
		fuzzDecode[app.BatchRequest](t, body)
		fuzzDecode[app.RenderRequest](t, body)
		fuzzDecode[model.Program](t, body)
		fuzzDecode[model.Example](t, body)
		fuzzDecode[budgetBody](t, body)
	})
}

func fuzzDecode[T any](t *testing.T, body []byte) {
	v, err := decodeBody[T](bytes.NewReader(body))
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%T: an error without a message", v)
		}
		return
	}
	if err := checkRanges(v); err != nil {
		t.Fatalf("%T decoded with a number out of range: %v", v, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		return // a value JSON cannot write back (a NaN cannot be decoded, so this is a map key or such)
	}
	w, err := decodeBody[T](bytes.NewReader(again))
	if err != nil {
		t.Fatalf("%T: %s decoded, but its encoding %s does not: %v", v, body, again, err)
	}
	if a, b := mustJSON(t, v), mustJSON(t, w); !reflect.DeepEqual(a, b) {
		t.Fatalf("%T: round trip changed the value\n%s\n%s", v, a, b)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
