package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

func testIndex(name, key string) *model.Index {
	return &model.Index{Name: name, Dataset: "docs", Field: "text", Retriever: model.RetrieverBM25,
		Key: key, Passages: 20, Bytes: 4096, BuiltAt: time.Now().UTC().Truncate(time.Second)}
}

func TestIndexRecords(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if _, err := s.GetIndex(ctx, "docs"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing index: %v", err)
	}
	for _, name := range []string{"docs", "alpha"} {
		if err := s.PutIndex(ctx, testIndex(name, "k1")); err != nil {
			t.Fatal(err)
		}
	}
	// A rebuild replaces the record.
	if err := s.PutIndex(ctx, testIndex("docs", "k2")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetIndex(ctx, "docs")
	if err != nil || got.Key != "k2" || got.Passages != 20 || got.Field != "text" {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := s.ListIndexes(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "docs" {
		t.Fatalf("list: %+v %v", list, err)
	}
	old, err := s.DeleteIndex(ctx, "docs")
	if err != nil || old.Key != "k2" {
		t.Fatalf("delete: %+v %v", old, err)
	}
	if _, err := s.DeleteIndex(ctx, "docs"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if list, _ := s.ListIndexes(ctx); len(list) != 1 {
		t.Fatalf("after delete: %+v", list)
	}
}

func TestIndexRecordRefusesBadOnes(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	for _, tc := range []struct {
		ix   *model.Index
		want string
	}{
		{testIndex("bad name!", "k"), "index"},
		{testIndex("docs", ""), "no key"},
		{&model.Index{Name: "docs", Key: "k", Retriever: "tfidf"}, "unknown retriever"},
	} {
		if err := s.PutIndex(ctx, tc.ix); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.ix, err, tc.want)
		}
	}
	if _, err := s.GetIndex(ctx, "bad name!"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a bad name reads as not found: %v", err)
	}
}

func TestVerifyChecksIndexRecords(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if err := s.PutIndex(ctx, testIndex("docs", "k1")); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("sound: %+v %v", rep, err)
	}
	// Below the store: a record under another name's key, and one that
	// does not decode.
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(indexKey("moved"), []byte(`{"name":"docs","key":"k","retriever":"bm25"}`)); err != nil {
			return err
		}
		return txn.Set(indexKey("broken"), []byte(`{"name":"broken","passages":"x"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, strip(p.Key)+": "+p.Problem)
	}
	for _, w := range []string{`index moved: names index "docs"`, "index broken: does not decode"} {
		if !slices_containsPrefix(got, w) {
			t.Errorf("verify did not report %q; it reported:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// The embedding cache's hits and misses of executions sum in their cost
// rollup, and move with an execution's updates like its cost.
func TestRollupsSumEmbedCache(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	a := newExec("rag", model.Running, at)
	a.EmbedCache = model.EmbedCache{Hits: 3, Misses: 1}
	b := newExec("rag", model.Completed, at.Add(time.Second))
	b.EmbedCache = model.EmbedCache{Hits: 1}
	for _, e := range []*model.Execution{a, b} {
		if err := s.PutExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	a.State, a.EmbedCache = model.Completed, model.EmbedCache{Hits: 5, Misses: 2}
	if err := s.PutExecution(ctx, a); err != nil {
		t.Fatal(err)
	}
	rs, err := s.CostRollups(ctx, "rag", "2026-11")
	if err != nil || len(rs) != 1 {
		t.Fatalf("rollups %+v %v", rs, err)
	}
	if got := rs[0].EmbedCache; got != (model.EmbedCache{Hits: 6, Misses: 2}) || rs[0].Executions != 2 {
		t.Errorf("rollup %+v", rs[0])
	}
}
