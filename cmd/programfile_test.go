package cmd

import (
	"strings"
	"testing"
)

// A program file's retriever: is read, and a bad one is named by the line
// of the very key at fault.
func TestProgramFileRetriever(t *testing.T) {
	const file = `name: rag
modules:
  - name: search
    type: retrieve
    signature: "question -> passages: list[str]"
    retriever:
      index: corpus
      k: %s
      search: hybrid
`
	p, err := parseProgram("rag.yaml", []byte(strings.Replace(file, "%s", "3", 1)))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Modules[0].Retriever
	if r == nil || r.Index != "corpus" || r.K != 3 || r.Search != "hybrid" {
		t.Fatalf("retriever %+v", r)
	}
	_, err = parseProgram("rag.yaml", []byte(strings.Replace(file, "%s", "5000", 1)))
	if err == nil || !strings.HasPrefix(err.Error(), "rag.yaml:8: modules[0] (search).retriever.k: k: 5000 is out of range") {
		t.Fatalf("k out of range: %v", err)
	}
	_, err = parseProgram("rag.yaml", []byte(strings.Replace(file, "      k: %s\n", "      k: 2\n      top: 1\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "top") {
		t.Fatalf("an unknown key: %v", err)
	}
	_, err = parseProgram("rag.yaml", []byte("name: rag\nmodules:\n  - name: search\n    type: retrieve\n    signature: q -> p\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "rag.yaml:3: modules[0] (search).retriever: a retrieve module needs retriever:") {
		t.Fatalf("neither source nor retriever: %v", err)
	}
}
