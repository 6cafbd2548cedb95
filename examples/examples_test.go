package examples

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

type passage struct{ ID, Title, Text string }

type question struct {
	Question, Answer string
	GoldID           string `json:"gold_id"`
	Kind             string
}

// readJSONL decodes each line of an embedded file strictly (unknown fields
// are errors), naming the line that fails.
func readJSONL[T any](t *testing.T, file string) []T {
	t.Helper()
	data, err := FS.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRAGCorpusAndQuestions: the corpus has a few hundred passages with
// unique, readable ids; every question names a passage that exists and
// holds its answer word for word; word-matching and paraphrased questions
// come in about equal numbers, alternating so that the demo's two-thirds
// split puts both kinds in each split.
func TestRAGCorpusAndQuestions(t *testing.T) {
	corpus := readJSONL[passage](t, "corpus.jsonl")
	if len(corpus) < 200 || len(corpus) > 1000 {
		t.Errorf("%d passages, want a few hundred", len(corpus))
	}
	byID := map[string]passage{}
	for i, p := range corpus {
		if p.ID == "" || p.Title == "" || len(strings.Fields(p.Text)) < 10 {
			t.Errorf("corpus.jsonl:%d: incomplete passage %+v", i+1, p)
		}
		if _, dup := byID[p.ID]; dup {
			t.Errorf("corpus.jsonl:%d: duplicate id %q", i+1, p.ID)
		}
		byID[p.ID] = p
	}
	qs := readJSONL[question](t, "rag-questions.jsonl")
	if len(qs) < 30 || len(qs) > 40 {
		t.Errorf("%d questions, want 30-40", len(qs))
	}
	kinds := map[string]int{}
	for i, q := range qs {
		line := i + 1
		p, ok := byID[q.GoldID]
		if !ok {
			t.Errorf("rag-questions.jsonl:%d: gold_id %q is not a passage of corpus.jsonl", line, q.GoldID)
			continue
		}
		if q.Question == "" || q.Answer == "" || !strings.Contains(strings.ToLower(p.Text), strings.ToLower(q.Answer)) {
			t.Errorf("rag-questions.jsonl:%d: answer %q is not in passage %s", line, q.Answer, q.GoldID)
		}
		kinds[q.Kind]++
		if want := []string{"word", "paraphrase"}[i%2]; q.Kind != want {
			t.Errorf("rag-questions.jsonl:%d: kind %q, want %q (the kinds alternate)", line, q.Kind, want)
		}
	}
	if len(kinds) != 2 || kinds["word"] != kinds["paraphrase"] {
		t.Errorf("kinds %v, want as many word as paraphrase questions", kinds)
	}
}

// TestDemoFilesEmbedded: every file the demo loads is embedded.
func TestDemoFilesEmbedded(t *testing.T) {
	for _, d := range Demo {
		for _, f := range []string{d.Program, d.DatasetFile} {
			if f == "" {
				continue
			}
			if _, err := FS.ReadFile(f); err != nil {
				t.Errorf("demo %s: %v", d.Dataset, err)
			}
		}
	}
}
