package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func optKey(id model.ID) []byte { return keys.New(keys.Optimization).ID(id).Bytes() }

func optByProgramKey(program string, id model.ID) []byte {
	return keys.New(keys.OptByProgram).Str(program).ID(id).Bytes()
}

func trialPrefix(opt model.ID) []byte { return keys.New(keys.Trial).ID(opt).Bytes() }

func trialKey(opt model.ID, n int) []byte { return keys.New(keys.Trial).ID(opt).U32(uint32(n)).Bytes() }

// PutOptimization creates or updates an optimization run and its program
// index entry in one transaction. A zero ID is assigned (and set on o).
func (s *Store) PutOptimization(ctx context.Context, o *model.Optimization) error {
	if o == nil {
		return errors.New("put optimization: nil optimization")
	}
	if err := model.ValidName("program", o.Program); err != nil {
		return fmt.Errorf("optimization of %q: %w", o.Program, err)
	}
	if !o.State.Valid() {
		return fmt.Errorf("optimization of %q: unknown state %q", o.Program, o.State)
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = s.now().UTC()
	}
	if o.ID.IsZero() {
		o.ID = model.NewIDAt(o.CreatedAt)
	}
	rec, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("optimization %s: %w", o.ID, err)
	}
	err = s.updateRollups(ctx, func(txn *badger.Txn) error {
		var old model.Optimization
		switch err := getJSON(txn, optKey(o.ID), &old); {
		case err == nil:
			if old.Program != o.Program {
				if err := txn.Delete(optByProgramKey(old.Program, o.ID)); err != nil {
					return err
				}
			}
			// Undo the old record's cost, so the rollup holds the final one.
			if c := costNanos(old.Cost); c != 0 {
				if err := s.addRollup(txn, rollupKey(old.Program, monthOf(old.CreatedAt)), rollupRecord{CostNanos: -c}); err != nil {
					return err
				}
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return fmt.Errorf("old record: %w", err)
		}
		// An optimization's LM calls are spend like an execution's: they
		// count in the program's month (signet cost, budgets, the status bar).
		if c := costNanos(o.Cost); c != 0 {
			if err := s.addRollup(txn, rollupKey(o.Program, monthOf(o.CreatedAt)), rollupRecord{CostNanos: c}); err != nil {
				return err
			}
		}
		if err := txn.Set(optKey(o.ID), rec); err != nil {
			return err
		}
		return txn.Set(optByProgramKey(o.Program, o.ID), nil)
	})
	if err != nil {
		return fmt.Errorf("put optimization %s: %w", o.ID, err)
	}
	return nil
}

// GetOptimization returns one optimization run.
func (s *Store) GetOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	var out model.Optimization
	err := s.view(ctx, func(txn *badger.Txn) error {
		return notFound(getJSON(txn, optKey(id), &out))
	})
	if err != nil {
		return nil, fmt.Errorf("optimization %s: %w", id, err)
	}
	return &out, nil
}

// ListOptimizations returns a page of the runs of one program ("" = all),
// newest first, and the cursor of the next page ("" after the last).
func (s *Store) ListOptimizations(ctx context.Context, program string, cursor string, limit int) ([]*model.Optimization, string, error) {
	return listNewest[model.Optimization](ctx, s, "optimization", keys.Optimization, keys.OptByProgram, optKey, program, cursor, limit)
}

// PutTrial stores trial t.N of an existing optimization run (replacing a
// trial with the same N).
func (s *Store) PutTrial(ctx context.Context, t *model.Trial) error {
	if t == nil {
		return errors.New("put trial: nil trial")
	}
	if t.N < 0 || t.N > math.MaxUint32 {
		return fmt.Errorf("optimization %s: trial %d: n out of range", t.Optimization, t.N)
	}
	if t.At.IsZero() {
		t.At = s.now().UTC()
	}
	rec, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("optimization %s: trial %d: %w", t.Optimization, t.N, err)
	}
	err = s.update(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(optKey(t.Optimization)); err != nil {
			return notFound(err)
		}
		return txn.Set(trialKey(t.Optimization, t.N), rec)
	})
	if err != nil {
		return fmt.Errorf("optimization %s: put trial %d: %w", t.Optimization, t.N, err)
	}
	return nil
}

// Trials returns every trial of an optimization run, by N.
func (s *Store) Trials(ctx context.Context, opt model.ID) ([]*model.Trial, error) {
	var out []*model.Trial
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(optKey(opt)); err != nil {
			return notFound(err)
		}
		prefix := trialPrefix(opt)
		it := txn.NewIterator(withValues(prefix, 0))
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(prefix); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var t model.Trial
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &t) }); err != nil {
				return fmt.Errorf("trial at key %x: %w", it.Item().Key(), err)
			}
			out = append(out, &t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("optimization %s: trials: %w", opt, err)
	}
	return out, nil
}
