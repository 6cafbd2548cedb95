package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func indexKey(name string) []byte { return keys.New(keys.Index).Str(name).Bytes() }

// checkIndex refuses a record that could not be found again or used.
func checkIndex(ix *model.Index) error {
	if err := model.ValidName("index", ix.Name); err != nil {
		return err
	}
	if ix.Key == "" {
		return fmt.Errorf("index %q has no key", ix.Name)
	}
	return model.ValidRetriever(ix.Retriever)
}

// PutIndex writes (or replaces) the record of an index.
func (s *Store) PutIndex(ctx context.Context, ix *model.Index) error {
	if err := checkIndex(ix); err != nil {
		return fmt.Errorf("put index: %w", err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error { return setJSON(txn, indexKey(ix.Name), ix) })
	if err != nil {
		return fmt.Errorf("put index %q: %w", ix.Name, err)
	}
	return nil
}

// GetIndex returns the record of an index, or ErrNotFound.
func (s *Store) GetIndex(ctx context.Context, name string) (*model.Index, error) {
	if err := existingName("index", name); err != nil {
		return nil, fmt.Errorf("index %q: %w", name, err)
	}
	var ix model.Index
	err := s.view(ctx, func(txn *badger.Txn) error { return notFound(getJSON(txn, indexKey(name), &ix)) })
	if err != nil {
		return nil, fmt.Errorf("index %q: %w", name, err)
	}
	return &ix, nil
}

// ListIndexes returns every index, by name.
func (s *Store) ListIndexes(ctx context.Context) ([]*model.Index, error) {
	var out []*model.Index
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(withValues([]byte{keys.Index}, 0))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ix := &model.Index{}
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, ix) }); err != nil {
				return fmt.Errorf("index at key %x: %w", it.Item().Key(), err)
			}
			out = append(out, ix)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteIndex removes the record of an index and returns it (its files are
// the caller's); ErrNotFound when there is none.
func (s *Store) DeleteIndex(ctx context.Context, name string) (*model.Index, error) {
	if err := existingName("index", name); err != nil {
		return nil, fmt.Errorf("delete index %q: %w", name, err)
	}
	var ix model.Index
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, indexKey(name), &ix); err != nil {
			return notFound(err)
		}
		return txn.Delete(indexKey(name))
	})
	if err != nil {
		return nil, fmt.Errorf("delete index %q: %w", name, err)
	}
	return &ix, nil
}

// verifyIndex checks one index record as Verify reads it: it decodes, and
// names the index its key names.
func verifyIndex(name string, raw []byte) error {
	var ix model.Index
	if err := json.Unmarshal(raw, &ix); err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if ix.Name != name {
		return fmt.Errorf("names index %q under the key of %q", ix.Name, name)
	}
	return checkIndex(&ix)
}
