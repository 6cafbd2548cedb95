package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

// signet runs the command line in-process against workspace ws.
func signet(t *testing.T, ws string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	all := append([]string{"--workspace", ws}, args...)
	code = Execute(context.Background(), all, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func mustSignet(t *testing.T, ws string, args ...string) string {
	t.Helper()
	out, errOut, code := signet(t, ws, args...)
	if code != 0 {
		t.Fatalf("signet %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

func examplePath(name string) string { return filepath.Join("..", "examples", name) }

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFirstSteps(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	out := mustSignet(t, ws, "dataset", "import", examplePath("qa.jsonl"), "--split", "train", "--inputs", "question")
	if !strings.Contains(out, "dataset qa (train: 32; total 32)") {
		t.Errorf("import output: %q", out)
	}
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))

	var progs []programRow
	if err := json.Unmarshal([]byte(mustSignet(t, ws, "program", "list", "--json")), &progs); err != nil {
		t.Fatal(err)
	}
	if len(progs) != 1 || progs[0].Name != "qa" || progs[0].Version != 1 || progs[0].Status != "draft" || progs[0].Modules != 1 {
		t.Errorf("program list: %+v", progs)
	}
	var ds []datasetRow
	if err := json.Unmarshal([]byte(mustSignet(t, ws, "dataset", "list", "--json")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Train != 32 || strings.Join(ds[0].InputKeys, ",") != "question" || strings.Join(ds[0].Fields, ",") != "question,answer" {
		t.Errorf("dataset list: %+v", ds)
	}

	// show --format yaml is a valid input of create: programs can live in git.
	yamlOut := mustSignet(t, ws, "program", "show", "qa", "--format", "yaml")
	renamed := strings.Replace(yamlOut, "name: qa\n", "name: qa_copy\n", 1)
	mustSignet(t, ws, "program", "create", "-f", writeFile(t, t.TempDir(), "copy.yaml", renamed))
	if got := mustSignet(t, ws, "program", "show", "qa_copy", "--json"); !strings.Contains(got, `"instructions": "Answer the question`) {
		t.Errorf("copied program lost its instructions: %s", got)
	}
}

// state captures everything a command could have written, to show that a
// failed command wrote nothing.
func state(t *testing.T, ws string) string {
	t.Helper()
	return mustSignet(t, ws, "program", "list", "--json") + mustSignet(t, ws, "dataset", "list", "--json")
}

func TestBadInputChangesNothing(t *testing.T) {
	files := t.TempDir()
	var big strings.Builder
	for i := 1; i <= 10000; i++ {
		if i == 4812 {
			big.WriteString(`{"question": "broken", "answer": }` + "\n")
			continue
		}
		fmt.Fprintf(&big, "{\"question\": \"q%d\", \"answer\": \"a%d\"}\n", i, i)
	}
	badJSONL := writeFile(t, files, "big.jsonl", big.String())
	badCSV := writeFile(t, files, "rows.csv", "question,answer\nq1,a1\n\"q2, with comma\",a2\nq3,a3,extra\n")
	badType := writeFile(t, files, "badtype.yaml", "name: typed\nmodules:\n  - name: answer\n    type: predict\n    signature: \"question: strang -> answer\"\n")
	badSig := writeFile(t, files, "badsig.yaml", "name: broken\nmodules:\n  - name: answer\n    type: predict\n    signature: \"question answer\"\n")
	unknownKey := writeFile(t, files, "unknown.yaml", "name: extra\nmodles: []\n")
	badModType := writeFile(t, files, "modtype.yaml", "name: modtype\nmodules:\n  - name: answer\n    type: predikt\n    signature: \"question -> answer\"\n")
	missingInput := writeFile(t, files, "missing.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n{\"answer\": \"c\"}\n")

	tests := []struct {
		name     string
		args     []string
		code     int
		wantErrs []string
	}{
		{"malformed JSONL line", []string{"dataset", "import", badJSONL}, 1, []string{"big.jsonl:4812:", "nothing was imported"}},
		{"CSV row with wrong column count", []string{"dataset", "import", badCSV}, 1, []string{"rows.csv:4:", "3 columns"}},
		{"unknown field type", []string{"program", "create", "-f", badType}, 1, []string{"badtype.yaml:5:", "modules[0] (answer).signature", "strang"}},
		{"signature that does not parse", []string{"program", "create", "-f", badSig}, 1, []string{"badsig.yaml:5:", "column"}},
		{"unknown key in program file", []string{"program", "create", "-f", unknownKey}, 1, []string{"unknown.yaml", "line 2", "modles"}},
		{"unknown module type", []string{"program", "create", "-f", badModType}, 1, []string{"modtype.yaml:4:", "predikt"}},
		{"duplicate program name", []string{"program", "create", "-f", examplePath("qa.yaml")}, 1, []string{`"qa"`, "exists"}},
		{"input field missing in a row", []string{"dataset", "import", missingInput, "--inputs", "question"}, 1, []string{"missing.jsonl:2:", `"question"`}},
		{"unknown split", []string{"dataset", "import", examplePath("qa.jsonl"), "--split", "holdout"}, 2, []string{"holdout"}},
		{"unknown program", []string{"program", "show", "nope"}, 1, []string{`"nope"`, "not found"}},
	}
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))
	mustSignet(t, ws, "dataset", "import", examplePath("sentiment.csv"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { failsCleanly(t, ws, tt.args, tt.code, tt.wantErrs) })
	}
}

// failsCleanly runs a command that must exit with code, say every one of
// wants on stderr, and change nothing in the store.
func failsCleanly(t *testing.T, ws string, args []string, code int, wants []string) {
	t.Helper()
	before := state(t, ws)
	_, stderr, got := signet(t, ws, args...)
	if got != code {
		t.Errorf("exit code %d, want %d (stderr %q)", got, code, stderr)
	}
	for _, want := range wants {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not mention %q", stderr, want)
		}
	}
	if after := state(t, ws); after != before {
		t.Errorf("store changed by a failed command:\nbefore %s\nafter  %s", before, after)
	}
}

func TestMissingWorkspace(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "nowhere")
	_, stderr, code := signet(t, ws, "program", "list")
	if code != 1 || !strings.Contains(stderr, "does not exist") || !strings.Contains(stderr, "signet init") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Errorf("a failed command created the workspace: %v", err)
	}
}

func TestEditSavesNewVersionAndDiff(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))

	// The "editor" is a script that rewrites the instruction, as a user would.
	editor := writeFile(t, t.TempDir(), "ed.sh", "#!/bin/sh\nsed -i 's/a few words at most/one word only/' \"$1\"\n")
	os.Chmod(editor, 0o755)
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", editor)
	if out := mustSignet(t, ws, "program", "edit", "qa"); !strings.Contains(out, "saved qa version 2") {
		t.Fatalf("edit output %q", out)
	}
	diff := mustSignet(t, ws, "program", "diff", "qa")
	for _, want := range []string{"version 1 → 2", "modules.answer.instructions", "a few words at most", "one word only"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}

	// An edit that breaks the program saves nothing and keeps the text.
	breaker := writeFile(t, t.TempDir(), "break.sh", "#!/bin/sh\nsed -i 's/question -> answer/question -> /' \"$1\"\n")
	os.Chmod(breaker, 0o755)
	t.Setenv("EDITOR", breaker)
	_, stderr, code := signet(t, ws, "program", "edit", "qa")
	if code != 1 || !strings.Contains(stderr, "your edit is kept in") {
		t.Fatalf("broken edit: exit %d, stderr %q", code, stderr)
	}
	kept := strings.TrimSpace(stderr[strings.Index(stderr, "kept in ")+len("kept in "):])
	kept = strings.Fields(kept)[0]
	kept = strings.TrimSuffix(kept, ";")
	if b, err := os.ReadFile(kept); err != nil || !strings.Contains(string(b), "question -> ") {
		t.Errorf("edited text not kept at %q: %v", kept, err)
	}
	os.Remove(kept)

	var versions []versionRow
	json.Unmarshal([]byte(mustSignet(t, ws, "program", "versions", "qa", "--json")), &versions)
	if len(versions) != 2 {
		t.Errorf("versions after a failed edit: %+v", versions)
	}

	out := mustSignet(t, ws, "program", "status", "qa", "production", "--note", "ship it")
	if !strings.Contains(out, "qa is now production (version 3)") {
		t.Errorf("status output %q", out)
	}
	json.Unmarshal([]byte(mustSignet(t, ws, "program", "versions", "qa", "--json")), &versions)
	if len(versions) != 3 || versions[2].Status != "production" || versions[2].Note != "ship it" || versions[0].Status != "draft" {
		t.Errorf("history %+v", versions)
	}
}

func TestDatasetExportImportRoundTrip(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "dataset", "import", examplePath("sentiment.csv"), "--inputs", "review")
	for _, format := range []string{"jsonl", "json", "csv"} {
		out := filepath.Join(t.TempDir(), "export."+format)
		mustSignet(t, ws, "dataset", "export", "sentiment", "-o", out)
		name := "back_" + format
		mustSignet(t, ws, "dataset", "import", out, "--name", name, "--split", "test")
		a := mustSignet(t, ws, "dataset", "export", "sentiment", "--format", "jsonl")
		b := mustSignet(t, ws, "dataset", "export", name, "--format", "jsonl")
		if a != b {
			t.Errorf("%s round trip differs:\n%s\nvs\n%s", format, a, b)
		}
	}
	var st datasetStats
	if err := json.Unmarshal([]byte(mustSignet(t, ws, "dataset", "stats", "sentiment", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Examples != 30 || st.Splits["train"] != 30 || len(st.Fields) != 2 || st.Fields[0].FillRate != 1 || !st.Fields[0].Input {
		t.Errorf("stats %+v", st)
	}
}

func TestDemoIsIdempotent(t *testing.T) {
	ws := t.TempDir()
	first := mustSignet(t, ws, "demo")
	for _, want := range []string{"program qa", "dataset sentiment", "dataset corpus", "dataset rag-questions", "program rag"} {
		if !strings.Contains(first, want) {
			t.Errorf("demo output %q lacks %q", first, want)
		}
	}
	before := state(t, ws)
	if second := mustSignet(t, ws, "demo"); !strings.Contains(second, "nothing new") {
		t.Errorf("second demo output %q", second)
	}
	if state(t, ws) != before {
		t.Error("second demo changed the workspace")
	}
	var ds []datasetRow
	json.Unmarshal([]byte(mustSignet(t, ws, "dataset", "list", "--json")), &ds)
	for _, d := range ds {
		if d.Name == "corpus" {
			// A retrieval corpus is searched whole: one split.
			if d.Train != d.Examples || d.Examples < 200 {
				t.Errorf("demo corpus: %+v, want a few hundred passages, all in train", d)
			}
			continue
		}
		if d.Train == 0 || d.Val == 0 {
			t.Errorf("demo dataset %s has no train/validation split: %+v", d.Name, d)
		}
	}
}

// TestDemoProgramsValidate: every program the demo ships parses strictly
// and validates, and the rag program reads the corpus's index.
func TestDemoProgramsValidate(t *testing.T) {
	ps, err := demoPrograms()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*model.Program{}
	for _, p := range ps {
		names[p.Name] = p
	}
	rag := names["rag"]
	if len(ps) != 4 || rag == nil {
		t.Fatalf("demo programs %v", names)
	}
	if r := rag.Modules[0].Retriever; r == nil || r.Index != "corpus" || r.K != 3 {
		t.Errorf("rag's retrieve module: %+v", rag.Modules[0])
	}
}

// TestDemoProgramsRenderInDSPy: DSPy itself builds every demo program a
// worker can build without an index (rag's searches one that `signet
// index` makes), with its demos in the messages it would send.
func TestDemoProgramsRenderInDSPy(t *testing.T) {
	testenv.Python(t)
	ws := t.TempDir()
	mustSignet(t, ws, "demo")
	ps, err := demoPrograms()
	if err != nil {
		t.Fatal(err)
	}
	rendered := 0
	for _, p := range ps {
		if p.Modules[0].Retriever != nil {
			continue
		}
		args := []string{"render", p.Name, "--lm", "test", "--json"}
		for _, f := range p.Inputs() {
			args = append(args, "--input", f.Name+"=It arrived on Tuesday.")
		}
		out := mustSignet(t, ws, args...)
		demos := 0
		for _, m := range p.Modules {
			demos += len(m.Demos)
		}
		if n := strings.Count(out, `"role": "assistant"`) + strings.Count(out, `"role":"assistant"`); n != demos {
			t.Errorf("%s renders %d demo answers, want its %d demos:\n%s", p.Name, n, demos, out)
		}
		rendered++
	}
	if rendered != 3 {
		t.Errorf("rendered %d demo programs, want qa, sentiment and facts", rendered)
	}
}

func TestMissingKeyNamesTheVariable(t *testing.T) {
	cfgPath := writeFile(t, t.TempDir(), "config.yaml", "profiles:\n  openai:\n    model: openai/gpt-4o-mini\n    api_key_env: SIGNET_TEST_MISSING_KEY\n")
	t.Setenv("SIGNET_CONFIG", cfgPath)
	t.Setenv("SIGNET_TEST_MISSING_KEY", "")
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))
	_, stderr, code := signet(t, ws, "run", "qa", "--lm", "openai", "--input", "question=hi")
	if code != 1 || !strings.Contains(stderr, "SIGNET_TEST_MISSING_KEY") || !strings.Contains(stderr, "not set") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestDatasetImportTypes: CSV cells parsed by the types of a program's
// signatures or of --types, errors naming file:line:column and the field,
// and a .json file of JSON lines imported as JSONL.
func TestDatasetImportTypes(t *testing.T) {
	ws, files := t.TempDir(), t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "program", "create", "-f", writeFile(t, files, "rate.yaml",
		"name: rate\nmodules:\n  - name: rate\n    type: predict\n"+
			"    signature: \"review, stars: int, tags: list[str] -> verdict: Literal['good', 'bad'], score: float\"\n"))
	good := writeFile(t, files, "reviews.csv", "review,stars,tags,verdict,score,id\n"+
		"Great,5,\"[\"\"food\"\"]\",good,0.9,007\n"+
		"Awful,,[],bad,1,008\n")
	mustSignet(t, ws, "dataset", "import", good, "--program", "rate@1", "--inputs", "review,stars,tags")
	var shown struct {
		Examples []struct{ Data map[string]any }
	}
	if err := json.Unmarshal([]byte(mustSignet(t, ws, "dataset", "show", "reviews", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	byReview := map[string]map[string]any{}
	for _, e := range shown.Examples {
		byReview[e.Data["review"].(string)] = e.Data
	}
	want := map[string]map[string]any{
		"Great": {"review": "Great", "stars": 5.0, "tags": []any{"food"}, "verdict": "good", "score": 0.9, "id": "007"},
		"Awful": {"review": "Awful", "stars": nil, "tags": []any{}, "verdict": "bad", "score": 1.0, "id": "008"},
	}
	if !reflect.DeepEqual(byReview, want) {
		t.Errorf("typed examples:\n got %#v\nwant %#v", byReview, want)
	}

	badCell := writeFile(t, files, "bad.csv", "review,stars,verdict\nOk,4,good\n\"Meh\",3,so-so\n")
	lines := writeFile(t, files, "lines.json", "{\"q\": \"a\", \"n\": \"1\"}\n{\"q\": \"b\", \"n\": 2}\n")
	oneObject := writeFile(t, files, "one.json", "{\n  \"q\": \"a\"\n}\n")
	arrayInJSONL := writeFile(t, files, "array.jsonl", "[{\"q\": \"a\"}]\n")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"a cell that does not fit the program's type", []string{"dataset", "import", badCell, "--program", "rate"}, 1,
			[]string{"bad.csv:3:9:", `field "verdict"`, "type Literal['good', 'bad']", `found "so-so"`, "nothing was imported"}},
		{"a cell that does not fit --types", []string{"dataset", "import", badCell, "--types", "stars=list[int]"}, 1,
			[]string{"bad.csv:2:4:", `field "stars"`, "type list[int]", "want an array, found a number"}},
		{"--types over --program", []string{"dataset", "import", badCell, "--program", "rate", "--types", "verdict=str,stars=bool"}, 1,
			[]string{"bad.csv:2:4:", `field "stars"`, "want a boolean"}},
		{"a type that does not parse", []string{"dataset", "import", badCell, "--types", "stars=lst[int]"}, 2,
			[]string{`--types: field "stars": type "lst[int]": column 1: unknown type "lst"`}},
		{"--types naming no field", []string{"dataset", "import", badCell, "--types", "stras=int"}, 2,
			[]string{`--types names "stras", which is not a field of the file (fields: review, stars, verdict)`}},
		{"an unknown program", []string{"dataset", "import", badCell, "--program", "nope"}, 1, []string{"--program nope", `"nope"`}},
		{"one object in a .json file", []string{"dataset", "import", oneObject}, 1, []string{"one.json:1:1:", "found one object"}},
		{"a JSON array in a .jsonl file", []string{"dataset", "import", arrayInJSONL}, 1, []string{"array.jsonl:1:1:", "the content is a JSON array, not jsonl"}},
	} {
		t.Run(tt.name, func(t *testing.T) { failsCleanly(t, ws, tt.args, tt.code, tt.want) })
	}

	out := mustSignet(t, ws, "dataset", "import", lines, "--types", "n=int")
	if !strings.Contains(out, "dataset lines (train: 2; total 2)") {
		t.Errorf("JSON lines in a .json file: %q", out)
	}
	if got := mustSignet(t, ws, "dataset", "show", "lines", "--json"); !strings.Contains(got, `"n": 1`) || strings.Contains(got, `"n": "1"`) {
		t.Errorf("n not typed: %s", got)
	}
}

// A program file names its user code relative to itself: the paths are
// stored as written, and written out relative to the file written (or the
// current directory), never with the workspace's base directory.
func TestProgramFilesKeepUserCodeRelative(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	root := t.TempDir()
	proj := filepath.Join(root, "proj")
	if err := os.MkdirAll(filepath.Join(root, "out", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, proj, "prog.yaml", `name: mine
modules:
  - name: first
    type: custom
    source: mod.py:Mine
    signature: "question -> answer"
  - name: agent
    type: react
    signature: "question -> result"
    config:
      tools: ["tools.py:search"]
`)
	mustSignet(t, ws, "program", "create", "-f", file)
	shown := func(args ...string) string {
		t.Helper()
		return mustSignet(t, ws, append([]string{"program", "show", "mine"}, args...)...)
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Beside the original: as the user wrote it.
	shown("-o", filepath.Join(proj, "again.yaml"))
	if got := read(filepath.Join(proj, "again.yaml")); !strings.Contains(got, "source: mod.py:Mine") || !strings.Contains(got, "- tools.py:search") {
		t.Errorf("written beside the original:\n%s", got)
	}
	// Elsewhere: relative to where it is written.
	shown("-o", filepath.Join(root, "out", "sub", "p.yaml"))
	if got := read(filepath.Join(root, "out", "sub", "p.yaml")); !strings.Contains(got, "source: ../../proj/mod.py:Mine") ||
		!strings.Contains(got, "- ../../proj/tools.py:search") || strings.Contains(got, "base_dir") || strings.Contains(got, root) {
		t.Errorf("written elsewhere:\n%s", got)
	}
	// JSON, to stdout: relative to the current directory, no base_dir.
	var p struct {
		BaseDir *string `json:"base_dir"`
		Modules []struct{ Source string }
	}
	if err := json.Unmarshal([]byte(shown("--json")), &p); err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	want, _ := filepath.Rel(cwd, filepath.Join(proj, "mod.py"))
	if p.BaseDir != nil || p.Modules[0].Source != filepath.ToSlash(want)+":Mine" {
		t.Errorf("show --json: base_dir %v, source %q (want %q)", p.BaseDir, p.Modules[0].Source, want+":Mine")
	}
}

// followExecutions counts executions, not ids: one read from two lists
// (pending, then running, while it moved) is waited for once.
func TestFollowExecutionsDedupes(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	o := own(t, ws)
	x := &model.Execution{ID: model.NewID(), Program: "qa", Version: 1, State: model.Completed, CreatedAt: time.Now()}
	if err := o.Store().PutExecution(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	a := &cli{stdout: io.Discard, stderr: io.Discard, svc: o}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := a.followExecutions(ctx, []model.ID{x.ID, x.ID}, nil)
	if err != nil || len(final) != 1 {
		t.Fatalf("followed %d, %v", len(final), err)
	}
}

// A positional argument a command does not take is named, with the usage
// that says where it goes.
func TestExtraArgumentNamesUsage(t *testing.T) {
	_, errOut, code := signet(t, t.TempDir(), "program", "create", "rag.yaml")
	if code == 0 || !strings.Contains(errOut, `takes no arguments, got ["rag.yaml"]`) || !strings.Contains(errOut, "-f FILE") {
		t.Fatalf("exit %d, stderr %q: want the argument named and the usage", code, errOut)
	}
}
