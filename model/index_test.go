package model

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidateRetriever(t *testing.T) {
	prog := func(m Module) *Program {
		return &Program{Name: "rag", Status: Draft, Modules: []Module{m,
			{Name: "answer", Type: Predict, Signature: "question, passages: list[str] -> answer"}}}
	}
	search := func(r *Retriever) Module {
		return Module{Name: "search", Type: Retrieve, Signature: "question -> passages: list[str]", Retriever: r}
	}
	if err := prog(search(&Retriever{Index: "corpus", K: 3, Search: "hybrid"})).Validate(); err != nil {
		t.Fatalf("a sound retriever: %v", err)
	}
	if err := prog(search(&Retriever{Index: "corpus"})).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	withSource := search(&Retriever{Index: "corpus"})
	withSource.Source = "r.py:f"
	onPredict := Module{Name: "search", Type: Predict, Signature: "question -> passages", Retriever: &Retriever{Index: "corpus"}}
	for _, tc := range []struct {
		name  string
		m     Module
		field string
		msg   string
	}{
		{"neither", search(nil), "modules[0] (search).retriever", "needs retriever: {index: NAME}"},
		{"both", withSource, "modules[0] (search).retriever", "not both"},
		{"not retrieve", onPredict, "modules[0] (search).retriever", "only a retrieve module"},
		{"no index", search(&Retriever{}), "modules[0] (search).retriever.index", "index"},
		{"k too big", search(&Retriever{Index: "corpus", K: 1001}), "modules[0] (search).retriever.k", "1001 is out of range (1 to 1000)"},
		{"k negative", search(&Retriever{Index: "corpus", K: -1}), "modules[0] (search).retriever.k", "out of range"},
		{"search", search(&Retriever{Index: "corpus", Search: "dense"}), "modules[0] (search).retriever.search", `unknown retriever "dense"`},
	} {
		err := prog(tc.m).Validate()
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%s: %v, want %s: ...%s", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestProgramIndexes(t *testing.T) {
	p := &Program{Modules: []Module{
		{Name: "a", Type: Retrieve, Retriever: &Retriever{Index: "wiki"}},
		{Name: "b", Type: Retrieve, Source: "r.py:f"},
		{Name: "c", Type: Retrieve, Retriever: &Retriever{Index: "faq"}},
		{Name: "d", Type: Retrieve, Retriever: &Retriever{Index: "wiki"}},
	}}
	if got := p.Indexes(); !reflect.DeepEqual(got, []string{"wiki", "faq"}) {
		t.Errorf("Indexes() = %v", got)
	}
}
