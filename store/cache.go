package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

// cacheTable holds the execution cache: k bytes(key) → id(exec) u64(expiry
// in Unix nanoseconds). It belongs in keys' table list; it is kept here
// until that list is edited.
const cacheTable byte = 'k'

// maxCacheKey bounds a cache key: callers pass a digest, not the inputs.
const maxCacheKey = 256

func cacheKey(key []byte) []byte { return append(keys.New(cacheTable).Bytes(), key...) }

// PutCacheEntry points key at a completed execution for ttl. Badger drops the
// entry once its TTL is over (its clock has whole seconds, so the entry lives
// up to a second longer there); the exact expiry is kept in the value and
// GetCacheEntry honours it.
func (s *Store) PutCacheEntry(ctx context.Context, key []byte, exec model.ID, ttl time.Duration) error {
	if len(key) == 0 || len(key) > maxCacheKey {
		return fmt.Errorf("cache entry of execution %s: key of %d bytes (want 1 to %d)", exec, len(key), maxCacheKey)
	}
	if ttl <= 0 {
		return fmt.Errorf("cache entry of execution %s: ttl %s is not positive", exec, ttl)
	}
	if exec.IsZero() {
		return errors.New("cache entry: no execution id")
	}
	val := make([]byte, 0, keys.IDLen+8)
	val = append(val, exec[:]...)
	val = binary.BigEndian.AppendUint64(val, uint64(s.now().Add(ttl).UnixNano()))
	ent := badger.NewEntry(cacheKey(key), val).WithTTL(ttl + time.Second)
	err := s.update(ctx, func(txn *badger.Txn) error { return txn.SetEntry(ent) })
	if err != nil {
		return fmt.Errorf("cache entry of execution %s: %w", exec, err)
	}
	return nil
}

// GetCacheEntry returns the execution key points at, if the entry has not
// expired.
func (s *Store) GetCacheEntry(ctx context.Context, key []byte) (model.ID, bool, error) {
	var id model.ID
	found := false
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(cacheKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return value(item, func(v []byte) error {
			if len(v) != keys.IDLen+8 {
				return fmt.Errorf("cache entry has %d bytes, want %d", len(v), keys.IDLen+8)
			}
			if s.now().UnixNano() >= int64(binary.BigEndian.Uint64(v[keys.IDLen:])) {
				return nil
			}
			copy(id[:], v)
			found = true
			return nil
		})
	})
	if err != nil {
		return model.ID{}, false, fmt.Errorf("cache lookup: %w", err)
	}
	return id, found, nil
}
