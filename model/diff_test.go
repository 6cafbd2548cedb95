package model

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func qaProgram() *Program {
	return &Program{
		Name:        "qa",
		Description: "answers questions",
		Status:      Draft,
		Version:     1,
		LM:          "default",
		Modules: []Module{
			{
				Name:         "retrieve",
				Type:         Retrieve,
				Signature:    "question -> passages: list[str]",
				Config:       map[string]any{"k": 3},
				Instructions: "",
			},
			{
				Name:         "answer",
				Type:         ChainOfThought,
				Signature:    "question, passages: list[str] -> answer",
				Instructions: "Answer in a few words at most.",
				Fields:       map[string]string{"question": "the user's question", "answer": "short"},
				Demos: []map[string]any{
					{"question": "2+2?", "answer": "4"},
					{"question": "capital of France?", "answer": "Paris"},
				},
			},
		},
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// edit returns a deep copy of qaProgram changed by fn.
func edit(fn func(p *Program)) *Program {
	p := qaProgram()
	fn(p)
	return p
}

func TestDiffPrograms(t *testing.T) {
	cases := []struct {
		name string
		a, b *Program
		want []Change
	}{
		{"identical", qaProgram(), qaProgram(), nil},
		{"version, time and note are not compared", qaProgram(), edit(func(p *Program) {
			p.Version, p.Note, p.CreatedAt = 2, "tweak", time.Now()
		}), nil},
		{"program fields", qaProgram(), edit(func(p *Program) {
			p.Description = "answers questions briefly"
			p.Status = Production
			p.LM = "gpt"
			p.CompiledFrom = "0190b6c8-0000-7000-8000-000000000001"
		}), []Change{
			{"description", "answers questions", "answers questions briefly"},
			{"status", "draft", "production"},
			{"lm", "default", "gpt"},
			{"compiled_from", "", "0190b6c8-0000-7000-8000-000000000001"},
		}},
		{"renamed program", qaProgram(), edit(func(p *Program) { p.Name = "qa2" }), []Change{{"name", "qa", "qa2"}}},
		{"instructions", qaProgram(), edit(func(p *Program) { p.Modules[1].Instructions = "One word only." }), []Change{
			{"modules.answer.instructions", "Answer in a few words at most.", "One word only."},
		}},
		{"module type, lm, source", qaProgram(), edit(func(p *Program) {
			p.Modules[1].Type = Custom
			p.Modules[1].LM = "big"
			p.Modules[1].Source = "qa.py:Answer"
		}), []Change{
			{"modules.answer.type", "chain_of_thought", "custom"},
			{"modules.answer.lm", "", "big"},
			{"modules.answer.source", "", "qa.py:Answer"},
		}},
		{"signature", qaProgram(), edit(func(p *Program) { p.Modules[1].Signature = "question, passages: list[str] -> answer: int" }), []Change{
			{"modules.answer.signature", "question, passages: list[str] -> answer", "question, passages: list[str] -> answer: int"},
		}},
		{"signature spacing is not a change", qaProgram(), edit(func(p *Program) { p.Modules[1].Signature = "question,passages:list[ str ]->answer," }), nil},
		{"unparsable signature compares as text", edit(func(p *Program) { p.Modules[0].Signature = "question passages" }),
			edit(func(p *Program) { p.Modules[0].Signature = "question  passages" }), []Change{
				{"modules.retrieve.signature", "question passages", "question  passages"},
			}},
		{"field descriptions", qaProgram(), edit(func(p *Program) {
			p.Modules[1].Fields = map[string]string{"question": "the question", "passages": "context"}
		}), []Change{
			{"modules.answer.fields.answer", "short", ""},
			{"modules.answer.fields.passages", "", "context"},
			{"modules.answer.fields.question", "the user's question", "the question"},
		}},
		{"nil and empty maps are equal", edit(func(p *Program) { p.Modules[0].Fields = map[string]string{}; p.Modules[1].Demos = nil }),
			edit(func(p *Program) { p.Modules[1].Demos = []map[string]any{} }), nil},
		{"demo added", qaProgram(), edit(func(p *Program) {
			p.Modules[1].Demos = append(p.Modules[1].Demos, map[string]any{"question": "a<b?", "answer": "yes & no"})
		}), []Change{
			{"modules.answer.demos", "2 demos", "3 demos"},
			{"modules.answer.demos[2]", "", `{"answer":"yes & no","question":"a<b?"}`},
		}},
		{"demo changed", qaProgram(), edit(func(p *Program) {
			p.Modules[1].Demos[0] = map[string]any{"question": "2+2?", "answer": "four"}
		}), []Change{
			{"modules.answer.demos[0]", `{"answer":"4","question":"2+2?"}`, `{"answer":"four","question":"2+2?"}`},
		}},
		{"demos removed", qaProgram(), edit(func(p *Program) { p.Modules[1].Demos = p.Modules[1].Demos[1:] }), []Change{
			{"modules.answer.demos", "2 demos", "1 demo"},
			{"modules.answer.demos[0]", `{"answer":"4","question":"2+2?"}`, `{"answer":"Paris","question":"capital of France?"}`},
			{"modules.answer.demos[1]", `{"answer":"Paris","question":"capital of France?"}`, ""},
		}},
		{"predictor state added by an optimizer", qaProgram(), edit(func(p *Program) {
			p.Modules[1].Predictors = []Predictor{{Name: "predict", Instructions: "Answer tersely.",
				Fields: []PredictorField{{Name: "answer", Prefix: "Answer:", Description: "${answer}"}},
				Demos:  []map[string]any{{"question": "q", "answer": "a", "augmented": true}}}}
		}), []Change{
			{"modules.answer.predictors.predict.instructions", "(as constructed)", "Answer tersely."},
			{"modules.answer.predictors.predict.fields.answer.prefix", "(as constructed)", "Answer:"},
			{"modules.answer.predictors.predict.fields.answer.description", "(as constructed)", "${answer}"},
			{"modules.answer.predictors.predict.demos", "0 demos", "1 demo"},
			{"modules.answer.predictors.predict.demos[0]", "", `{"answer":"a","augmented":true,"question":"q"}`},
		}},
		{"one predictor of two changed", edit(func(p *Program) {
			p.Modules[1].Type, p.Modules[1].Source = Custom, "hop.py:Hop"
			p.Modules[1].Predictors = []Predictor{{Name: "first.predict", Instructions: "A."}, {Name: "second.predict", Instructions: "B."}}
		}), edit(func(p *Program) {
			p.Modules[1].Type, p.Modules[1].Source = Custom, "hop.py:Hop"
			p.Modules[1].Predictors = []Predictor{{Name: "first.predict", Instructions: "A."}, {Name: "second.predict", Instructions: "B2.",
				Fields: []PredictorField{{Name: "answer", Prefix: "Final:"}}}}
		}), []Change{
			{"modules.answer.predictors.second.predict.instructions", "B.", "B2."},
			{"modules.answer.predictors.second.predict.fields.answer.prefix", "(as constructed)", "Final:"},
		}},
		{"config keys", qaProgram(), edit(func(p *Program) {
			p.Modules[0].Config = map[string]any{"k": 5, "filter": map[string]any{"lang": "en", "year": 2024}}
		}), []Change{
			{"modules.retrieve.config.filter", "", `{"lang":"en","year":2024}`},
			{"modules.retrieve.config.k", "3", "5"},
		}},
		{"config numbers compare by value", qaProgram(), edit(func(p *Program) { p.Modules[0].Config["k"] = float64(3) }), nil},
		{"config key removed", qaProgram(), edit(func(p *Program) { p.Modules[0].Config = nil }), []Change{
			{"modules.retrieve.config.k", "3", ""},
		}},
		{"module added", qaProgram(), edit(func(p *Program) {
			p.Modules = append(p.Modules, Module{Name: "judge", Type: Predict, Signature: "answer -> ok: bool"})
		}), []Change{{"modules.judge", "", "predict: answer -> ok: bool"}}},
		{"module removed", qaProgram(), edit(func(p *Program) { p.Modules = p.Modules[1:] }), []Change{
			{"modules.retrieve", "retrieve: question -> passages: list[str]", ""},
		}},
		{"custom module without signature added", qaProgram(), edit(func(p *Program) {
			p.Modules = append(p.Modules, Module{Name: "mine", Type: Custom, Source: "m.py:M"})
		}), []Change{{"modules.mine", "", "custom"}}},
		{"modules reordered", qaProgram(), edit(func(p *Program) { p.Modules[0], p.Modules[1] = p.Modules[1], p.Modules[0] }), []Change{
			{"modules", "retrieve, answer", "answer, retrieve"},
		}},
		{"one removed, one added: no reorder", qaProgram(), edit(func(p *Program) {
			p.Modules[0] = Module{Name: "search", Type: Retrieve, Signature: "question -> passages: list[str]"}
		}), []Change{
			{"modules.retrieve", "retrieve: question -> passages: list[str]", ""},
			{"modules.search", "", "retrieve: question -> passages: list[str]"},
		}},
		{"order: program, modules in a's order, then added", qaProgram(), edit(func(p *Program) {
			p.LM = "gpt"
			p.Modules[1].Instructions = "x"
			p.Modules[0].Config["k"] = 4
			p.Modules = append([]Module{{Name: "rewrite", Type: Predict, Signature: "q -> question"}}, p.Modules...)
		}), []Change{
			{"lm", "default", "gpt"},
			{"modules.retrieve.config.k", "3", "4"},
			{"modules.answer.instructions", "Answer in a few words at most.", "x"},
			{"modules.rewrite", "", "predict: q -> question"},
		}},
		{"duplicate module names are kept apart", edit(func(p *Program) { p.Modules[1].Name = "retrieve" }),
			edit(func(p *Program) { p.Modules[1].Name = "retrieve"; p.Modules[1].LM = "x" }), []Change{
				{"modules.retrieve#2.lm", "", "x"},
			}},
		{"from nothing", nil, &Program{Name: "p", Modules: []Module{{Name: "m", Type: Predict, Signature: "a -> b"}}}, []Change{
			{"name", "", "p"},
			{"modules.m", "", "predict: a -> b"},
		}},
		{"both nil", nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DiffPrograms(tc.a, tc.b)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DiffPrograms =\n%s\nwant\n%s", changesJSON(got), changesJSON(tc.want))
			}
			// Deterministic: the same inputs give the same list every time
			// (maps are iterated in random order).
			for range 20 {
				if again := DiffPrograms(tc.a, tc.b); !reflect.DeepEqual(again, got) {
					t.Fatalf("second run differs:\n%s\nthen\n%s", changesJSON(got), changesJSON(again))
				}
			}
		})
	}
}

func TestDiffProgramsSymmetry(t *testing.T) {
	a := qaProgram()
	b := edit(func(p *Program) {
		p.Status = Testing
		p.Modules[1].Fields["answer"] = "one word"
		p.Modules[1].Demos = nil
		p.Modules[0].Config["k"] = 10
	})
	fwd, back := DiffPrograms(a, b), DiffPrograms(b, a)
	if len(fwd) != len(back) {
		t.Fatalf("forward %d changes, backward %d", len(fwd), len(back))
	}
	for i := range fwd {
		if fwd[i].Path != back[i].Path || fwd[i].Old != back[i].New || fwd[i].New != back[i].Old {
			t.Errorf("change %d: forward %+v, backward %+v", i, fwd[i], back[i])
		}
	}
}

func TestChangeJSON(t *testing.T) {
	b, err := json.Marshal(Change{Path: "lm", Old: "", New: "gpt"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"path":"lm","old":"","new":"gpt"}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}

func changesJSON(cs []Change) string {
	b, _ := json.MarshalIndent(cs, "", "  ")
	return string(b)
}
