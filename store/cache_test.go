package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func TestCacheEntryExpires(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	key := bytes.Repeat([]byte{7}, 32)
	if _, ok, err := s.GetCacheEntry(ctx, key); err != nil || ok {
		t.Fatalf("empty cache: ok %v err %v", ok, err)
	}
	id := model.NewID()
	if err := s.PutCacheEntry(ctx, key, id, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	now = now.Add(299 * time.Millisecond)
	got, ok, err := s.GetCacheEntry(ctx, key)
	if err != nil || !ok || got != id {
		t.Fatalf("within ttl: %v %v %v, want %v", got, ok, err, id)
	}
	if _, ok, _ := s.GetCacheEntry(ctx, []byte("other")); ok {
		t.Fatal("another key hit")
	}
	now = now.Add(time.Millisecond)
	if _, ok, err := s.GetCacheEntry(ctx, key); err != nil || ok {
		t.Fatalf("at expiry: ok %v err %v", ok, err)
	}
	// A new entry for the same key replaces the expired one.
	id2 := model.NewID()
	if err := s.PutCacheEntry(ctx, key, id2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.GetCacheEntry(ctx, key); !ok || got != id2 {
		t.Fatalf("replaced: %v %v", got, ok)
	}
}

func TestCacheEntryUsesBadgerTTL(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	key := []byte("k")
	if err := s.PutCacheEntry(ctx, key, model.NewID(), 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, []byte{cacheTable}); n != 1 {
		t.Fatalf("%d cache keys, want 1", n)
	}
	// Badger's clock has whole seconds: the key is gone within ttl + 2s.
	deadline := time.Now().Add(3 * time.Second)
	for countKeys(t, s, []byte{cacheTable}) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Badger kept the cache entry after its TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCacheEntryChecksArguments(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	for _, tc := range []struct {
		name string
		key  []byte
		id   model.ID
		ttl  time.Duration
	}{
		{"empty key", nil, model.NewID(), time.Second},
		{"long key", make([]byte, maxCacheKey+1), model.NewID(), time.Second},
		{"zero ttl", []byte("k"), model.NewID(), 0},
		{"no id", []byte("k"), model.ID{}, time.Second},
	} {
		if err := s.PutCacheEntry(ctx, tc.key, tc.id, tc.ttl); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestNewTablesDoNotCollide(t *testing.T) {
	seen := map[byte]bool{}
	for _, tb := range []byte{keys.Meta, keys.ProgramHead, keys.ProgramVersion, keys.Dataset, keys.Example, keys.StagedPart,
		keys.Execution, keys.ExecByProgram, keys.ExecByState, keys.ExecByProgState, keys.Rollup, keys.Span,
		keys.Optimization, keys.OptByProgram, keys.Trial, keys.Evaluation, keys.EvalByProgram, keys.EvalResult, keys.Index,
		keys.User, keys.Token, keys.TokenByHash, keys.Audit, keys.Traffic} {
		if tb == cacheTable || tb == budgetTable || seen[tb] {
			t.Fatalf("table %q is used twice", tb)
		}
		seen[tb] = true
	}
}
