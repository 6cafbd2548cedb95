package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBinaryRetrieval is retrieval end to end with the real binary and real
// workers: a 20-passage dataset indexed with BM25, a program file whose
// retrieve module names the index, runs that return its passages, an index
// rebuilt only when its dataset changes, a missing index refused, and the
// exported program run by plain Python with the same passages.
func TestBinaryRetrieval(t *testing.T) {
	dir := t.TempDir()
	env := append(pythonEnv(t), "SIGNET_HOME="+filepath.Join(dir, "ws"), "SIGNET_CONFIG="+filepath.Join(dir, "none.yaml"))
	mustRun := func(args ...string) string {
		t.Helper()
		return mustRun(t, env, args...)
	}
	var corpus strings.Builder
	for i := range 20 {
		fmt.Fprintf(&corpus, `{"doc": "p%d", "text": "passage %d is about topic%d near the harbour"}`+"\n", i, i, i)
	}
	data := filepath.Join(dir, "corpus.jsonl")
	prog := filepath.Join(dir, "search.yaml")
	writeFiles(t, map[string]string{data: corpus.String(), prog: `name: search
modules:
  - name: search
    type: retrieve
    signature: "question -> passages: list[str]"
    retriever: {index: corpus, k: 2}
`})
	mustRun("init")
	mustRun("dataset", "import", data, "--name", "corpus")
	mustRun("program", "create", "-f", prog)

	// No index yet: refused before any worker call, saying how to build it.
	out, errOut, code := run(t, env, "run", "search", "--lm", "test", "--input", "question=topic7")
	if code == 0 || !strings.Contains(errOut, `module search: no index "corpus": build it with signet index DATASET --name corpus`) {
		t.Fatalf("run without the index: exit %d\n%s\n%s", code, out, errOut)
	}

	built := mustRun("index", "corpus", "--field", "text", "--id-field", "doc")
	if !strings.Contains(built, "index corpus: 20 passages of corpus.text (bm25)") || !strings.Contains(built, "passages/s") {
		t.Fatalf("index: %s", built)
	}
	if again := mustRun("index", "corpus", "--field", "text", "--id-field", "doc"); !strings.Contains(again, "index corpus is up to date: 20 passages") {
		t.Fatalf("a second index: %s", again)
	}
	var list []struct {
		Name, Retriever string
		Passages        int
		Key             string
	}
	if err := json.Unmarshal([]byte(mustRun("indexes", "--json")), &list); err != nil || len(list) != 1 || list[0].Passages != 20 {
		t.Fatalf("indexes --json: %+v %v", list, err)
	}

	// passages runs the program; the retrieval span's first passage is
	// first ("" = any).
	passages := func(first string) []string {
		t.Helper()
		var res struct {
			State   string
			Outputs struct{ Passages []string }
			Spans   []struct {
				Kind      string
				Retrieval *struct {
					Index    string
					Passages []struct{ ID string }
				}
			}
		}
		out := mustRun("run", "search", "--lm", "test", "--json", "--input", "question=what is near topic7")
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != "completed" {
			t.Fatalf("run --json: %v\n%s", err, out)
		}
		var ids []string
		for _, s := range res.Spans {
			if s.Kind == "retrieval" && s.Retrieval != nil {
				for _, p := range s.Retrieval.Passages {
					ids = append(ids, p.ID)
				}
			}
		}
		if len(ids) != 2 || first != "" && ids[0] != first {
			t.Errorf("the retrieval span's passages: %v", ids)
		}
		return res.Outputs.Passages
	}
	got := passages("p7")
	if len(got) != 2 || got[0] != "passage 7 is about topic7 near the harbour" {
		t.Fatalf("passages: %q", got)
	}

	// The exported program runs in plain Python over the same index files.
	py := strings.TrimPrefix(env[0], "SIGNET_PYTHON=")
	pyFile := filepath.Join(dir, "search.py")
	mustRun("program", "export", "search", "--python", "-o", pyFile)
	cmd := exec.Command(py, "-c", `import json, runpy, sys
p = runpy.run_path(sys.argv[1])["program"]
print(json.dumps(list(p(question="what is near topic7").passages)))`, pyFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	b, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var plain []string
	if err != nil || json.Unmarshal([]byte(lines[len(lines)-1]), &plain) != nil || !reflect.DeepEqual(plain, got) {
		t.Fatalf("plain Python: %v, %q\n%s", err, plain, b)
	}

	// A program whose flow a worker must read (a custom module without a
	// signature) reads it with the index: a batch over a dataset.
	writeFiles(t, map[string]string{
		filepath.Join(dir, "first.py"): "import dspy\n\nclass First(dspy.Module):\n    def forward(self, question, passages):\n        return dspy.Prediction(answer=passages[0])\n",
		filepath.Join(dir, "mixed.yaml"): `name: mixed
modules:
  - name: search
    type: retrieve
    signature: "question -> passages: list[str]"
    retriever: {index: corpus, k: 2}
  - name: first
    type: custom
    source: first.py:First
`,
		filepath.Join(dir, "q.jsonl"): `{"question": "topic4"}` + "\n",
	})
	mustRun("program", "create", "-f", filepath.Join(dir, "mixed.yaml"))
	mustRun("dataset", "import", filepath.Join(dir, "q.jsonl"), "--name", "q", "--inputs", "question")
	if batch := mustRun("run", "mixed", "--lm", "test", "--dataset", "q"); !strings.Contains(batch, "completed  1") {
		t.Errorf("batch of a program with a custom module and an index:\n%s", batch)
	}

	// An evaluation with two metrics: the answer's (the score) and the
	// retrieval's recall@2 against the gold passage id, reported beside it.
	writeFiles(t, map[string]string{
		filepath.Join(dir, "rag.yaml"): `name: rag
modules:
  - name: search
    type: retrieve
    signature: "question -> passages: list[str]"
    retriever: {index: corpus, k: 2}
  - name: answer
    type: predict
    signature: "question, passages: list[str] -> answer"
`,
		filepath.Join(dir, "qs.jsonl"): `{"question": "Which passage is about topic3, Paris?", "answer": "Paris", "gold": "p3"}
{"question": "What is near topic11, Lima?", "answer": "Lima", "gold": "p11"}
{"question": "Tell me of the harbour, Rome?", "answer": "Rome", "gold": "p19"}
{"question": "Who wrote about topic5, Oslo?", "answer": "Bergen", "gold": "p5"}
`})
	mustRun("program", "create", "-f", filepath.Join(dir, "rag.yaml"))
	mustRun("dataset", "import", filepath.Join(dir, "qs.jsonl"), "--name", "qs", "--inputs", "question")
	var ev struct {
		Score  float64
		Extra  []struct{ Name string }
		Scores map[string]float64
	}
	out = mustRun("eval", "rag", "--dataset", "qs", "--lm", "test", "--labels", "answer,gold",
		"--metric", "answer_exact_match", "--metric", "recall@2", "--json")
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	// The test LM answers the question's last capitalised word: 3 of 4;
	// BM25 finds the topic's passage in 3 of 4 (the harbour is in every one).
	if ev.Score != 0.75 || len(ev.Extra) != 1 || ev.Scores["recall@2"] != 0.75 {
		t.Errorf("eval: %s", out)
	}
	text := mustRun("eval", "rag", "--dataset", "qs", "--lm", "test", "--labels", "answer,gold",
		"--metric", "answer_exact_match", "--metric", "recall@2")
	for _, want := range []string{"score       0.7500 (75.00%)", "recall@2    0.7500 (75.00%)"} {
		if !strings.Contains(text, want) {
			t.Errorf("eval lacks %q:\n%s", want, text)
		}
	}
	var evID struct{ ID string }
	if err := json.Unmarshal([]byte(out), &evID); err != nil {
		t.Fatal(err)
	}
	show := mustRun("eval", "show", evID.ID)
	if !strings.Contains(show, "RECALL@2") || !strings.Contains(show, "recall@2    0.7500") {
		t.Errorf("eval show lacks the recall@2 column or mean:\n%s", show)
	}

	// Editing one example (the dataset imported again with it changed)
	// makes the next index a rebuild, searched at once.
	mustRun("dataset", "delete", "corpus", "--yes")
	writeFiles(t, map[string]string{data: strings.Replace(corpus.String(), "passage 7 is about topic7", "a lighthouse on the cliff", 1)})
	mustRun("dataset", "import", data, "--name", "corpus")
	rebuilt := mustRun("index", "corpus", "--field", "text", "--id-field", "doc")
	if !strings.Contains(rebuilt, "index corpus: 20 passages") {
		t.Fatalf("after an edit: %s", rebuilt)
	}
	if now := passages(""); now[0] == got[0] {
		t.Errorf("the edited passage is still found: %q", now)
	}
}

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
