package owner

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// IndexesDir holds the index files of a workspace, one directory per
// content key (docs/protocol.md, "index").
const IndexesDir = "indexes"

// indexFormat versions the content key: a change to what the worker writes
// or to the passages the owner derives makes every index stale.
const indexFormat = "signet-index/1"

// indexComplete is the file a worker writes last: a key's directory with it
// is complete and never changes.
const indexComplete = "index.json"

func (o *Owner) indexesDir() string { return filepath.Join(o.dir, IndexesDir) }

func (o *Owner) indexDir(key string) string { return filepath.Join(o.indexesDir(), key) }

// indexChanged tells subscribers that an index progressed, was built or
// was deleted (ix nil).
func (o *Owner) indexChanged(name string, p *app.IndexProgress, ix *model.Index) {
	o.changes.publish(app.Event{Kind: app.EventIndex, IndexName: name, IndexProgress: p, Index: ix})
}

// BuildIndex builds the index req names unless its record already has the
// content key of the dataset as it is now (and its files are complete).
// Builds are one at a time: they share the indexes directory.
func (o *Owner) BuildIndex(ctx context.Context, req app.IndexRequest) (*app.IndexResult, error) {
	if _, err := o.mayWrite(ctx, "index", cmp.Or(req.Name, req.Dataset)); err != nil {
		return nil, err
	}
	req, err := o.indexRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	lms, err := o.LMs()
	if err != nil {
		return nil, err
	}
	var emb *bridge.Embedder
	if req.Retriever != model.RetrieverBM25 {
		if emb, err = lms.Embedder(ctx, req.Embedder); err != nil {
			return nil, invalid("embedder", "%v", err)
		}
	}
	o.indexMu.Lock()
	defer o.indexMu.Unlock()
	if err := o.sweepIndexTemps(); err != nil {
		return nil, err
	}

	// One pass over the dataset: the passages file and the content key.
	pf, err := os.CreateTemp(o.indexesDir(), ".passages-*.tmp-")
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", req.Name, err)
	}
	defer os.Remove(pf.Name())
	key, n, err := o.writePassages(ctx, req, pf)
	if cerr := pf.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing passages: %w", cerr)
	}
	if err != nil {
		return nil, fail(fmt.Errorf("index %s: %w", req.Name, err))
	}
	if n == 0 {
		return nil, invalid("dataset", "dataset %s has no examples to index", req.Dataset)
	}
	prev, err := o.st.GetIndex(ctx, req.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fail(err)
	}
	if prev != nil && prev.Key == key && prev.Dataset == req.Dataset && !req.Force && complete(o.indexDir(key)) {
		return &app.IndexResult{Index: prev}, nil
	}

	ix := &model.Index{Name: req.Name, Dataset: req.Dataset, Field: req.Field, IDField: req.IDField,
		Retriever: req.Retriever, Embedder: req.Embedder, Key: key}
	if req.Force || !complete(o.indexDir(key)) {
		if err := o.runIndexBuild(ctx, ix, pf.Name(), emb, n); err != nil {
			return nil, err
		}
	} else if err := o.reuseIndexDir(ix); err != nil { // another index name holds the same content
		return nil, err
	}
	if ix.Bytes, err = dirSize(o.indexDir(key)); err != nil {
		return nil, fmt.Errorf("index %s: %w", req.Name, err)
	}
	ix.BuiltAt = o.now()
	if err := o.st.PutIndex(ctx, ix); err != nil {
		return nil, fail(err)
	}
	if prev != nil && prev.Key != key {
		o.dropIndexDir(ctx, prev.Key)
	}
	o.indexChanged(ix.Name, nil, ix)
	return &app.IndexResult{Index: ix, Rebuilt: true}, nil
}

// indexRequest checks a request and fills its defaults.
func (o *Owner) indexRequest(ctx context.Context, req app.IndexRequest) (app.IndexRequest, error) {
	if req.Name == "" {
		req.Name = req.Dataset
	}
	if req.Retriever == "" {
		req.Retriever = model.RetrieverBM25
	}
	if err := model.ValidRetriever(req.Retriever); err != nil {
		return req, invalid("retriever", "%v", err)
	}
	switch {
	case req.Retriever == model.RetrieverBM25 && req.Embedder != "":
		return req, invalid("embedder", "a bm25 index has no embedder (--retriever embeddings or hybrid uses one)")
	case req.Retriever != model.RetrieverBM25 && req.Embedder == "":
		req.Embedder = model.DefaultEmbedder
	}
	if err := model.ValidName("index", req.Name); err != nil {
		return req, invalid("name", "%v", err)
	}
	d, err := o.st.GetDataset(ctx, req.Dataset)
	if err != nil {
		return req, fail(err)
	}
	for _, f := range []struct{ flag, name string }{{"field", req.Field}, {"id_field", req.IDField}} {
		if f.name == "" && f.flag == "id_field" {
			continue
		}
		if f.name == "" {
			return req, invalid("field", "which field of dataset %s to index? (--field; it has %s)", d.Name, strings.Join(d.Fields, ", "))
		}
		if !slices.Contains(d.Fields, f.name) {
			return req, invalid(f.flag, "dataset %s has no field %q (it has %s)", d.Name, f.name, strings.Join(d.Fields, ", "))
		}
	}
	return req, nil
}

// writePassages writes the dataset's passages to w as JSON lines, in
// dataset order, and returns their content key and count. Every example
// must have a text in the field (and an id in the id field, when set).
func (o *Owner) writePassages(ctx context.Context, req app.IndexRequest, w *os.File) (string, int, error) {
	h := sha256.New()
	for _, s := range []string{indexFormat, req.Field, req.IDField, req.Retriever, req.Embedder} {
		writeKeyPart(h, s)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := o.eachExample(ctx, req.Dataset, "", func(e *model.Example) error {
		text, err := passageText(e, req.Field, "field")
		if err != nil {
			return err
		}
		id := e.ID.String()
		if req.IDField != "" {
			if id, err = passageText(e, req.IDField, "id_field"); err != nil {
				return err
			}
		}
		writeKeyPart(h, id)
		writeKeyPart(h, text)
		n++
		return enc.Encode(struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		}{id, text})
	})
	if err != nil {
		return "", 0, err
	}
	if err := bw.Flush(); err != nil {
		return "", 0, fmt.Errorf("writing passages: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeKeyPart adds a length-prefixed string, so that no two sequences of
// parts digest alike.
func writeKeyPart(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// passageText is an example's field as a passage's text or id: a string,
// or a number written as JSON writes it. flag names the request's field
// (field, id_field) in the error.
func passageText(e *model.Example, field, flag string) (string, error) {
	v, ok := e.Data[field]
	switch v := v.(type) {
	case string:
		if strings.TrimSpace(v) != "" {
			return v, nil
		}
	case float64, int, int64, json.Number:
		return fmt.Sprint(v), nil
	case nil:
	default:
		return "", &model.FieldError{Field: flag, Msg: fmt.Sprintf("example %s (%s split): %s is a %T, not text", e.ID, e.Split, field, v)}
	}
	what := "empty"
	if !ok || v == nil {
		what = "missing"
	}
	return "", &model.FieldError{Field: flag, Msg: fmt.Sprintf("example %s (%s split): %s is %s", e.ID, e.Split, field, what)}
}

// runIndexBuild has a worker build ix into a fresh directory, publishing
// its progress, and moves the directory to its key once complete.
func (o *Owner) runIndexBuild(ctx context.Context, ix *model.Index, passages string, emb *bridge.Embedder, n int) error {
	pool, err := o.workers(ctx)
	if err != nil {
		return err
	}
	tmp := filepath.Join(o.indexesDir(), ix.Key+".tmp-"+rand.Text()[:8])
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("index %s: %w", ix.Name, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed; else the build's leftovers
	file := filepath.Join(tmp, "passages.jsonl")
	if err := os.Rename(passages, file); err != nil {
		return fmt.Errorf("index %s: %w", ix.Name, err)
	}
	o.indexChanged(ix.Name, &app.IndexProgress{Total: n}, nil)
	start := time.Now()
	res, err := pool.Index(ctx, bridge.IndexRequest{Dir: tmp, Passages: file, Retriever: ix.Retriever, Embedder: emb},
		func(done, total int) { o.indexChanged(ix.Name, &app.IndexProgress{Done: done, Total: total}, nil) })
	if err != nil {
		return fail(fmt.Errorf("building index %s: %w", ix.Name, err))
	}
	if !complete(tmp) {
		return fail(fmt.Errorf("building index %s: the worker wrote no %s", ix.Name, indexComplete))
	}
	ix.Passages, ix.Cost = res.Passages, res.Cost
	if res.Dim != nil {
		ix.Dim = *res.Dim
	}
	ix.BuildSeconds = res.Seconds
	if ix.BuildSeconds <= 0 {
		ix.BuildSeconds = time.Since(start).Seconds()
	}
	if ix.BuildSeconds > 0 {
		ix.PerSecond = float64(ix.Passages) / ix.BuildSeconds
	}
	dir := o.indexDir(ix.Key)
	if err := os.RemoveAll(dir); err != nil { // a forced rebuild replaces it
		return fmt.Errorf("index %s: %w", ix.Name, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("index %s: %w", ix.Name, err)
	}
	return nil
}

// reuseIndexDir fills ix from the complete directory of its key that
// another index name built.
func (o *Owner) reuseIndexDir(ix *model.Index) error {
	b, err := os.ReadFile(filepath.Join(o.indexDir(ix.Key), indexComplete))
	if err != nil {
		return fmt.Errorf("index %s: %w", ix.Name, err)
	}
	var meta struct {
		Passages int  `json:"passages"`
		Dim      *int `json:"dim"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("index %s: %s of %s: %w", ix.Name, indexComplete, ix.Key, err)
	}
	ix.Passages = meta.Passages
	if meta.Dim != nil {
		ix.Dim = *meta.Dim
	}
	return nil
}

// dropIndexDir removes a key's directory unless another index still uses
// it; a failure is logged: the files are only space.
func (o *Owner) dropIndexDir(ctx context.Context, key string) {
	all, err := o.st.ListIndexes(ctx)
	if err != nil {
		o.logf("indexes: keeping %s: %v", key, err)
		return
	}
	for _, ix := range all {
		if ix.Key == key {
			return
		}
	}
	if err := os.RemoveAll(o.indexDir(key)); err != nil {
		o.logf("indexes: removing %s: %v", key, err)
	}
}

// sweepIndexTemps removes what interrupted builds left (called under
// indexMu, so no build of this owner is writing one).
func (o *Owner) sweepIndexTemps() error {
	if err := os.MkdirAll(o.indexesDir(), 0o700); err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	ents, err := os.ReadDir(o.indexesDir())
	if err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			os.RemoveAll(filepath.Join(o.indexesDir(), e.Name()))
		}
	}
	return nil
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, indexComplete))
	return err == nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

func (o *Owner) ListIndexes(ctx context.Context) ([]*model.Index, error) {
	if err := o.mayRead(ctx, "indexes", "*"); err != nil {
		return nil, err
	}
	list, err := o.st.ListIndexes(ctx)
	if list == nil && err == nil {
		list = []*model.Index{} // an empty list, not null, on the wire
	}
	return list, fail(err)
}

func (o *Owner) Index(ctx context.Context, name string) (*model.Index, error) {
	if err := o.mayRead(ctx, "index", name); err != nil {
		return nil, err
	}
	ix, err := o.st.GetIndex(ctx, name)
	return ix, fail(err)
}

// DeleteIndex removes an index's record, then its files.
func (o *Owner) DeleteIndex(ctx context.Context, name string) error {
	if _, err := o.mayWrite(ctx, "index", name); err != nil {
		return err
	}
	o.indexMu.Lock()
	defer o.indexMu.Unlock()
	ix, err := o.st.DeleteIndex(ctx, name)
	if err != nil {
		return fail(err)
	}
	o.dropIndexDir(ctx, ix.Key)
	o.indexChanged(name, nil, nil)
	return nil
}

// indexSpecs resolves the indexes p's retrieve modules search into what a
// worker loads, from their current records: a name with no index, or an
// index whose files are gone, is the request's error, before any worker
// call.
func (o *Owner) indexSpecs(ctx context.Context, p *model.Program) (map[string]bridge.IndexSpec, error) {
	names := p.Indexes()
	if len(names) == 0 {
		return nil, nil
	}
	var lms *LMs
	out := make(map[string]bridge.IndexSpec, len(names))
	for _, m := range p.Modules {
		if m.Retriever == nil {
			continue
		}
		name := m.Retriever.Index
		if _, done := out[name]; done {
			continue
		}
		ix, err := o.st.GetIndex(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalid("retriever", "module %s: no index %q: build it with signet index DATASET --name %s", m.Name, name, name)
		}
		if err != nil {
			return nil, fail(err)
		}
		dir := o.indexDir(ix.Key)
		if !complete(dir) {
			return nil, invalid("retriever", "module %s: the files of index %q are gone from %s: rebuild it with signet index %s --field %s --name %s --force",
				m.Name, name, dir, ix.Dataset, ix.Field, name)
		}
		spec := bridge.IndexSpec{Dir: dir, Retriever: ix.Retriever, Passages: ix.Passages}
		if ix.Embedder != "" {
			if lms == nil {
				if lms, err = o.LMs(); err != nil {
					return nil, err
				}
			}
			if spec.Embedder, err = lms.Embedder(ctx, ix.Embedder); err != nil {
				return nil, invalid("retriever", "module %s: index %s: %v", m.Name, name, err)
			}
		}
		out[name] = spec
	}
	return out, nil
}
