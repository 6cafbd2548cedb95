package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseProgram: any program file text gives a valid program or an
// error naming the file; never a panic. Seeded with the example programs.
func FuzzParseProgram(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\nmodules:\n  - {name: a, type: predict, signature: q -> a, bogus: 1}\n"))
	f.Add([]byte("{\"name\": \"x\", \"modules\": [{\"name\": \"a\", \"type\": \"predict\", \"signature\": \"q -> a\"}]}"))
	f.Add([]byte("name: &a [*a]\n"))
	f.Add([]byte("name: rag\nmodules:\n  - name: search\n    type: retrieve\n    signature: \"question -> passages: list[str]\"\n    retriever: {index: corpus, k: 3, search: hybrid}\n"))
	f.Add([]byte("name: rag\nmodules:\n  - name: search\n    type: retrieve\n    retriever:\n      index: corpus\n      k: 0\n      depth: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseProgram("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if verr := p.Validate(); verr != nil {
			t.Fatalf("parsed a program that does not validate: %v", verr)
		}
	})
}
