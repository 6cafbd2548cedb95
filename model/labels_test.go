package model

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLabels(t *testing.T) {
	qa := &Program{Name: "qa", Modules: []Module{{Name: "answer", Type: Predict, Signature: "question -> answer"}}}
	two := &Program{Name: "two", Modules: []Module{
		{Name: "draft", Type: Predict, Signature: "question -> draft"},
		{Name: "final", Type: ChainOfThought, Signature: "question, draft -> answer, confidence: float"},
	}}
	custom := &Program{Name: "c", Modules: []Module{{Name: "mine", Type: Custom, Source: "m.py:M"}}}
	tests := []struct {
		name     string
		p        *Program
		flow     *Flow // what a worker says; nil: the program's static flow
		d        Dataset
		explicit []string
		want     Labeling
		err      string // a substring of the error; "" = none
	}{
		{name: "id column ignored", p: qa, d: Dataset{Name: "d", Fields: []string{"id", "question", "answer"}},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}},
		{name: "metadata and unused outputs", p: two, d: Dataset{Name: "d", Fields: []string{"question", "answer", "source", "id"}},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"source", "id"}}},
		{name: "every output present", p: two, d: Dataset{Name: "d", Fields: []string{"answer", "question", "draft"}},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"draft", "answer"}}},
		{name: "no output in the dataset", p: qa, d: Dataset{Name: "d", Fields: []string{"question", "id"}},
			want: Labeling{Inputs: []string{"question"}, Ignored: []string{"id"}}},
		{name: "explicit labels", p: qa, d: Dataset{Name: "d", Fields: []string{"id", "question", "answer", "gold"}}, explicit: []string{"gold"},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"gold"}, Ignored: []string{"id", "answer"}}},
		{name: "explicit label not in the dataset", p: qa, d: Dataset{Name: "d", Fields: []string{"question", "answer"}}, explicit: []string{"gold"},
			err: `labels.gold: "gold" is not a field of dataset d (its fields: question, answer)`},
		{name: "explicit label that is an input", p: qa, d: Dataset{Name: "d", Fields: []string{"question", "answer"}}, explicit: []string{"question"},
			err: "is an input of program qa"},
		{name: "explicit label twice", p: qa, d: Dataset{Name: "d", Fields: []string{"question", "answer"}}, explicit: []string{"answer", "answer"},
			err: "given twice"},
		{name: "custom without signature: every non-input column", p: custom,
			d:    Dataset{Name: "d", Fields: []string{"id", "question", "answer"}, InputKeys: []string{"question"}},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"id", "answer"}, Guessed: true}},
		{name: "custom without signature, its flow known from a worker", p: custom, flow: &Flow{Inputs: []string{"question"}, Outputs: []string{"reasoning", "query", "answer"}},
			d:    Dataset{Name: "d", Fields: []string{"id", "question", "answer"}, InputKeys: []string{"question"}},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}},
		{name: "custom without signature, explicit labels", p: custom, explicit: []string{"answer"},
			d:    Dataset{Name: "d", Fields: []string{"id", "question", "answer"}, InputKeys: []string{"question"}},
			want: Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flow := tt.p.StaticFlow()
			if tt.flow != nil {
				flow = *tt.flow
			}
			got, err := Labels(tt.p.Name, flow, &tt.d, tt.explicit)
			if tt.err != "" {
				var fe *FieldError
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a *FieldError containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Guessed != (got.Note != "") {
				t.Errorf("Guessed %v with note %q", got.Guessed, got.Note)
			}
			got.Note = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Labels = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLabelingSplit(t *testing.T) {
	l := Labeling{Inputs: []string{"question"}, Labels: []string{"answer"}, Ignored: []string{"id"}}
	in, lab := l.Split(map[string]any{"id": 7, "question": "q", "answer": "a"})
	if !reflect.DeepEqual(in, map[string]any{"question": "q"}) || !reflect.DeepEqual(lab, map[string]any{"answer": "a"}) {
		t.Errorf("Split = %v, %v", in, lab)
	}
	if got := ParseLabels(" a, b,,c "); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("ParseLabels = %q", got)
	}
	if got := ParseLabels(""); got != nil {
		t.Errorf("ParseLabels(\"\") = %q", got)
	}
}
