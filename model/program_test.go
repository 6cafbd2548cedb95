package model

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func validProgram() *Program {
	return &Program{
		Name:   "qa",
		Status: Draft,
		Modules: []Module{
			{Name: "retrieve", Type: Retrieve, Signature: "question -> passages: list[str]", Source: "retriever.py:search"},
			{Name: "answer", Type: ChainOfThought, Signature: "question, passages: list[str] -> answer",
				Fields: map[string]string{"question": "the question", "answer": "a few words"}},
		},
	}
}

func TestProgramValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(p *Program)
		field string // FieldError.Field; "" means valid
		msg   string // a part of FieldError.Msg
	}{
		{"valid", func(p *Program) {}, "", ""},
		{"every module type", func(p *Program) {
			p.Modules = append(p.Modules,
				Module{Name: "p", Type: Predict, Signature: "answer -> verdict: bool"},
				Module{Name: "r", Type: ReAct, Signature: "question -> result", Source: "tools.py:tools"},
				Module{Name: "c", Type: Custom, Source: "mine.py:Mine", Signature: "result -> final"},
				Module{Name: "c2", Type: Custom, Source: "mine.py:make"},
			)
		}, "", ""},
		{"statuses", func(p *Program) { p.Status = Production }, "", ""},
		{"no status", func(p *Program) { p.Status = "" }, "", ""},
		{"empty name", func(p *Program) { p.Name = "" }, "program.name", "not a valid name"},
		{"name with a space", func(p *Program) { p.Name = "my program" }, "program.name", `"my program" is not a valid name`},
		{"name starting with a dot", func(p *Program) { p.Name = ".qa" }, "program.name", "not a valid name"},
		{"name too long", func(p *Program) { p.Name = strings.Repeat("a", 129) }, "program.name", "up to 128"},
		{"bad status", func(p *Program) { p.Status = "live" }, "status", `unknown status "live"`},
		{"no modules", func(p *Program) { p.Modules = nil }, "modules", "at least one module"},
		{"timeout", func(p *Program) { p.Timeout = "90s" }, "", ""},
		{"timeout not a duration", func(p *Program) { p.Timeout = "soon" }, "timeout", `"soon" is not a positive duration`},
		{"timeout zero", func(p *Program) { p.Timeout = "0s" }, "timeout", "positive duration"},
		{"timeout negative", func(p *Program) { p.Timeout = "-5s" }, "timeout", "positive duration"},
		{"timeout too long", func(p *Program) { p.Timeout = "25h" }, "timeout", "at most 24h"},
		{"module name not an identifier", func(p *Program) { p.Modules[1].Name = "the-answer" }, "modules[1] (the-answer).name", "not a Python identifier"},
		{"module name a keyword", func(p *Program) { p.Modules[0].Name = "class" }, "modules[0] (class).name", "not a Python identifier"},
		{"module without a name", func(p *Program) { p.Modules[0].Name = "" }, "modules[0].name", `"" is not a Python identifier`},
		{"duplicate module", func(p *Program) { p.Modules[1].Name = "retrieve" }, "modules[1] (retrieve).name", `duplicate module name "retrieve"`},
		{"unknown module type", func(p *Program) { p.Modules[1].Type = "predikt" }, "modules[1] (answer).type", `unknown module type "predikt"`},
		{"missing module type", func(p *Program) { p.Modules[0].Type = "" }, "modules[0] (retrieve).type", `unknown module type ""`},
		{"bad signature names module and column", func(p *Program) { p.Modules[1].Signature = "question, 1x -> answer" },
			"modules[1] (answer).signature", `column 11: expected a field name (a Python identifier), found "1x"`},
		{"unknown field type", func(p *Program) { p.Modules[1].Signature = "question: strang -> answer" },
			"modules[1] (answer).signature", `column 11: unknown type "strang"`},
		{"signature with no outputs", func(p *Program) { p.Modules[1].Signature = "question -> " },
			"modules[1] (answer).signature", "at least one output"},
		{"missing signature", func(p *Program) { p.Modules[0].Signature = "" },
			"modules[0] (retrieve).signature", `column 1: expected "->"`},
		{"description of an unknown field", func(p *Program) { p.Modules[1].Fields["context"] = "x" },
			"modules[1] (answer).fields.context", `no field "context" in signature`},
		{"stored predictor state", func(p *Program) {
			p.Modules[1].Predictors = []Predictor{{Name: "predict", Fields: []PredictorField{{Name: "answer", Prefix: "A:"}}}}
			p.Modules = append(p.Modules, Module{Name: "c", Type: Custom, Source: "m.py:M",
				Predictors: []Predictor{{Name: "first_hop.predict"}, {Name: "self"}}})
		}, "", ""},
		{"a predictor the module type lacks", func(p *Program) { p.Modules[1].Predictors = []Predictor{{Name: "self"}} },
			"modules[1] (answer).predictors[0].name", `a chain_of_thought module has no predictor "self" (it has predict)`},
		{"a predictor listed twice", func(p *Program) { p.Modules[1].Predictors = []Predictor{{Name: "predict"}, {Name: "predict"}} },
			"modules[1] (answer).predictors[1].name", "listed twice"},
		{"a predictor path that is not one", func(p *Program) {
			p.Modules = append(p.Modules, Module{Name: "c", Type: Custom, Source: "m.py:M", Predictors: []Predictor{{Name: "a..b"}}})
		}, "modules[2] (c).predictors[0].name", "not a predictor path"},
		{"a retrieve module's predictor", func(p *Program) { p.Modules[0].Predictors = []Predictor{{Name: "self"}} },
			"modules[0] (retrieve).predictors[0].name", "no predictors"},
		{"a predictor field listed twice", func(p *Program) {
			p.Modules[1].Predictors = []Predictor{{Name: "predict", Fields: []PredictorField{{Name: "answer"}, {Name: "answer"}}}}
		}, "modules[1] (answer).predictors[0].fields[1].name", "listed twice"},
		{"custom without source", func(p *Program) {
			p.Modules = append(p.Modules, Module{Name: "mine", Type: Custom, Signature: "answer -> final"})
		}, "modules[2] (mine).source", "a custom module needs source"},
		{"custom with a bad signature", func(p *Program) {
			p.Modules = append(p.Modules, Module{Name: "mine", Type: Custom, Source: "m.py:M", Signature: "answer"})
		}, "modules[2] (mine).signature", "column 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validProgram()
			tc.edit(p)
			err := p.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v (%T), want a *FieldError", err, err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("Validate() = %q, want field %q and message containing %q", err, tc.field, tc.msg)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	cases := map[string]bool{
		"qa": true, "QA-2.v1_final": true, "0day": true, strings.Repeat("x", 128): true,
		"": false, "-qa": false, "_qa": false, "q a": false, "q/a": false, "ü": false, strings.Repeat("x", 129): false,
	}
	for name, ok := range cases {
		err := ValidName("dataset", name)
		if (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", name, err, ok)
		}
		var fe *FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "dataset.name") {
			t.Errorf("ValidName(%q) = %#v, want a FieldError on dataset.name", name, err)
		}
	}
}

// simpleName is the name pattern written out: it agrees with the pattern
// on every name of up to 3 bytes over a mixed alphabet, and on long ones.
func TestSimpleNameIsThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	alphabet := []string{"a", "Z", "0", "9", "_", ".", "-", " ", "/", "ü", "\x00", "\n", "@", "[", "`", "{", ":"}
	names := []string{"", strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), "a" + strings.Repeat("-", 127)}
	for _, a := range alphabet {
		names = append(names, a)
		for _, b := range alphabet {
			names = append(names, a+b)
			for _, c := range alphabet {
				names = append(names, a+b+c)
			}
		}
	}
	for _, n := range names {
		if got, want := simpleName(n), pattern.MatchString(n); got != want {
			t.Errorf("simpleName(%q) = %v, the pattern says %v", n, got, want)
		}
	}
}

func TestProgramInputs(t *testing.T) {
	cases := []struct {
		name    string
		modules []Module
		want    []Field
	}{
		{"one module", []Module{{Signature: "question, context: list[str] -> answer"}},
			[]Field{{Name: "question"}, {Name: "context", Type: "list[str]"}}},
		{"outputs of earlier modules are not inputs", []Module{
			{Signature: "question -> passages: list[str]"},
			{Signature: "question, passages: list[str] -> answer"},
		}, []Field{{Name: "question"}}},
		{"first use order, no repeats", []Module{
			{Signature: "b -> x"},
			{Signature: "a, b, x -> y"},
			{Signature: "c, a -> z"},
		}, []Field{{Name: "b"}, {Name: "a"}, {Name: "c"}}},
		{"a later output does not cover an earlier input", []Module{
			{Signature: "draft -> answer"},
			{Signature: "answer -> draft"},
		}, []Field{{Name: "draft"}}},
		{"first use decides the type", []Module{
			{Signature: "n: int -> a"},
			{Signature: "n: float -> b"},
		}, []Field{{Name: "n", Type: "int"}}},
		{"modules without a parsable signature are skipped", []Module{
			{Type: Custom, Source: "m.py:M"},
			{Signature: "broken"},
			{Signature: "-> generated"},
			{Signature: "generated, topic -> post"},
		}, []Field{{Name: "topic"}}},
		{"no modules", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &Program{Name: "p", Modules: tc.modules}
			if got := p.Inputs(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Inputs() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidateExposesSignatureColumn(t *testing.T) {
	p := &Program{Name: "p", Modules: []Module{{Name: "m", Type: Predict, Signature: "question -> 1x"}}}
	var se *SignatureError
	if err := p.Validate(); !errors.As(err, &se) || se.Col != 13 {
		t.Fatalf("Validate() = %v; want a *SignatureError at column 13", err)
	}
}

func TestSetInstructionsForgetsDerivedPredictorInstructions(t *testing.T) {
	m := Module{Name: "agent", Type: ReAct, Signature: "question -> answer", Instructions: "Be kind.",
		Predictors: []Predictor{
			{Name: "react", Instructions: "Be kind.\n\nYou are an Agent. ...", Demos: []map[string]any{{"question": "q"}}},
			{Name: "extract.predict", Instructions: "Be kind."},
		}}
	m.SetInstructions("Be brief.")
	if m.Instructions != "Be brief." || m.Predictors[0].Instructions != "" || m.Predictors[1].Instructions != "" {
		t.Fatalf("after SetInstructions: %+v", m)
	}
	if len(m.Predictors[0].Demos) != 1 {
		t.Fatalf("demos lost: %+v", m.Predictors[0])
	}
	m.SetPredictorInstructions("extract.predict", "Extract it.")
	m.SetPredictorDemos("react", nil)
	if m.Predictor("extract.predict").Instructions != "Extract it." || m.Predictor("react").Demos != nil {
		t.Fatalf("per-predictor edits: %+v", m.Predictors)
	}
	c := Module{Name: "c", Type: Custom, Source: "m.py:M"}
	c.SetPredictorDemos("second.predict", []map[string]any{{"a": 1}})
	if len(c.Predictors) != 1 || c.Predictors[0].Name != "second.predict" || c.DemoCount() != 1 {
		t.Fatalf("a predictor state added: %+v", c.Predictors)
	}
}

func TestLMProfile(t *testing.T) {
	withLM := &Program{LM: "prog"}
	cases := []struct {
		p          *Program
		asked, def string
		want       string
	}{
		{withLM, "asked", "def", "asked"},
		{withLM, "", "def", "prog"},
		{&Program{}, "", "def", "def"},
		{nil, "", "def", "def"},
		{nil, "asked", "def", "asked"},
	}
	for _, c := range cases {
		if got := c.p.LMProfile(c.asked, c.def); got != c.want {
			t.Errorf("LMProfile(%q, %q) on %+v = %q, want %q", c.asked, c.def, c.p, got, c.want)
		}
	}
}
