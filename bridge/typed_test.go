package bridge

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// TestTypedInputsAndOutputsRoundTrip sends a History as the JSON list of
// turns a CLI or an API client sends; the worker must hand DSPy a
// dspy.History (the test LM answers from the turn whose question equals
// the current one, so the answer can only come from the history rendered
// as a conversation), and DSPy's parsed pydantic output must come back as
// a JSON object, field for field.
func TestTypedInputsAndOutputsRoundTrip(t *testing.T) {
	// The user's module as DSPy users write it: a dspy.History input and a
	// pydantic model output, declared in a class signature.
	dir, err := filepath.Abs(filepath.Join("..", "examples", "typed"))
	if err != nil {
		t.Fatal(err)
	}
	prog := &model.Program{Name: "places", Modules: []model.Module{
		{Name: "describe", Type: model.Custom, Source: "places.py:Describe"},
		{Name: "count", Type: model.Predict, Signature: "question, year: int -> counts: dict[str, int]"},
	}}
	p, _ := startPool(t, realConfig(t, 1))
	ctx := context.Background()

	paris := map[string]any{"city": "Paris", "population": 2100000.0, "tags": []any{"capital", "river"}}
	var history any
	if err := json.Unmarshal([]byte(`[{"question": "Tell me about Paris.", "place": {"city": "Paris", "population": 2100000, "tags": ["capital", "river"]}}]`), &history); err != nil {
		t.Fatal(err)
	}
	res, err := p.Execute(ctx, ExecuteRequest{Program: prog, BaseDir: dir, LM: testLM(nil),
		Inputs: map[string]any{"question": "Tell me about Paris.", "history": history, "year": "1889"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Outputs["place"], paris) {
		t.Errorf("place = %#v, want the history's %#v", res.Outputs["place"], paris)
	}
	// "1889" (a string, as --input gives it) is a fine int; dict[str, int] comes back as an object.
	if want := map[string]any{"about": 1889.0}; !reflect.DeepEqual(res.Outputs["counts"], want) {
		t.Errorf("counts = %#v, want %#v", res.Outputs["counts"], want)
	}

	// A history that is not a list of turns is bad input naming field and module.
	_, err = p.Execute(ctx, ExecuteRequest{Program: prog, BaseDir: dir, LM: testLM(nil),
		Inputs: map[string]any{"question": "Tell me about Paris.", "history": []any{"hello"}, "year": 1889}}, nil)
	if e := asError(t, err); e.Code != "bad_input" || e.Detail["field"] != "history" || e.Detail["module"] != "describe" ||
		e.Detail["expected"] != "History" {
		t.Fatalf("bad history: %#v", e)
	}
	_, err = p.Execute(ctx, ExecuteRequest{Program: prog, BaseDir: dir, LM: testLM(nil),
		Inputs: map[string]any{"question": "Tell me about Paris.", "history": history, "year": "soon"}}, nil)
	if e := asError(t, err); e.Code != "bad_input" || e.Detail["field"] != "year" || e.Detail["module"] != "count" ||
		e.Detail["expected"] != "int" {
		t.Fatalf("bad year: %#v", e)
	}
}
