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

// An evaluation's cost is its executions' cost, which their own records
// already put in the program's month rollup: evaluation records never
// touch the rollups.

func evalKey(id model.ID) []byte { return keys.New(keys.Evaluation).ID(id).Bytes() }

func evalByProgramKey(program string, id model.ID) []byte {
	return keys.New(keys.EvalByProgram).Str(program).ID(id).Bytes()
}

func evalResultPrefix(eval model.ID) []byte { return keys.New(keys.EvalResult).ID(eval).Bytes() }

func evalResultKey(eval model.ID, index int) []byte {
	return keys.New(keys.EvalResult).ID(eval).U32(uint32(index)).Bytes()
}

// prepareEvaluation checks v and fills what a new record needs.
func (s *Store) prepareEvaluation(v *model.Evaluation) ([]byte, error) {
	if v == nil {
		return nil, errors.New("put evaluation: nil evaluation")
	}
	if err := model.ValidName("program", v.Program); err != nil {
		return nil, fmt.Errorf("evaluation of %q: %w", v.Program, err)
	}
	if !v.State.Valid() {
		return nil, fmt.Errorf("evaluation of %q: unknown state %q", v.Program, v.State)
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.now().UTC()
	}
	if v.ID.IsZero() {
		v.ID = model.NewIDAt(v.CreatedAt)
	}
	rec, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("evaluation %s: %w", v.ID, err)
	}
	return rec, nil
}

func putEvaluation(txn *badger.Txn, v *model.Evaluation, rec []byte) error {
	var old model.Evaluation
	switch err := getJSON(txn, evalKey(v.ID), &old); {
	case err == nil:
		if old.Program != v.Program {
			if err := txn.Delete(evalByProgramKey(old.Program, v.ID)); err != nil {
				return err
			}
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return fmt.Errorf("old record: %w", err)
	}
	if err := txn.Set(evalKey(v.ID), rec); err != nil {
		return err
	}
	return txn.Set(evalByProgramKey(v.Program, v.ID), nil)
}

// PutEvaluation creates or updates an evaluation and its program index
// entry in one transaction. A zero ID is assigned (and set on v).
func (s *Store) PutEvaluation(ctx context.Context, v *model.Evaluation) error {
	rec, err := s.prepareEvaluation(v)
	if err != nil {
		return err
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return putEvaluation(txn, v, rec) }); err != nil {
		return fmt.Errorf("put evaluation %s: %w", v.ID, err)
	}
	return nil
}

// RecordEvalResult writes one example's result and the evaluation that
// counts it in one transaction, so the aggregate never disagrees with the
// results stored.
func (s *Store) RecordEvalResult(ctx context.Context, v *model.Evaluation, r *model.EvalResult) error {
	rec, err := s.prepareEvaluation(v)
	if err != nil {
		return err
	}
	res, err := encodeEvalResult(v.ID, r)
	if err != nil {
		return err
	}
	err = s.update(ctx, func(txn *badger.Txn) error {
		if err := txn.Set(evalResultKey(v.ID, r.Index), res); err != nil {
			return err
		}
		return putEvaluation(txn, v, rec)
	})
	if err != nil {
		return fmt.Errorf("evaluation %s: example %d: %w", v.ID, r.Index, err)
	}
	return nil
}

func encodeEvalResult(eval model.ID, r *model.EvalResult) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("evaluation %s: nil result", eval)
	}
	if r.Index < 0 || r.Index > math.MaxUint32 {
		return nil, fmt.Errorf("evaluation %s: example index %d out of range", eval, r.Index)
	}
	r.Evaluation = eval
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("evaluation %s: example %d: %w", eval, r.Index, err)
	}
	return b, nil
}

// GetEvaluation returns one evaluation.
func (s *Store) GetEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	var out model.Evaluation
	err := s.view(ctx, func(txn *badger.Txn) error {
		return notFound(getJSON(txn, evalKey(id), &out))
	})
	if err != nil {
		return nil, fmt.Errorf("evaluation %s: %w", id, err)
	}
	return &out, nil
}

// ListEvaluations returns a page of the evaluations of one program ("" =
// all), newest first, and the cursor of the next page ("" after the last).
func (s *Store) ListEvaluations(ctx context.Context, program, cursor string, limit int) ([]*model.Evaluation, string, error) {
	return listNewest[model.Evaluation](ctx, s, "evaluation", keys.Evaluation, keys.EvalByProgram, evalKey, program, cursor, limit)
}

// listNewest pages the records of a table whose keys are time-ordered
// IDs, newest first: every one, or a program's through its index table
// (byProgram str(program) id → nil). key is a record's key from its ID;
// kind names the records in errors.
func listNewest[T any](ctx context.Context, s *Store, kind string, table, byProgram byte, key func(model.ID) []byte,
	program, cursor string, limit int) ([]*T, string, error) {
	prefix := []byte{table}
	if program != "" {
		if err := model.ValidName("program", program); err != nil {
			return nil, "", fmt.Errorf("list %ss: %w", kind, err)
		}
		prefix = keys.New(byProgram).Str(program).Bytes()
	}
	var out []*T
	var next string
	err := s.view(ctx, func(txn *badger.Txn) error {
		ids, cur, err := newestIDs(txn, prefix, cursor, pageLimit(limit))
		if err != nil {
			return err
		}
		next = cur
		for _, id := range ids {
			var v T
			if err := getJSON(txn, key(id), &v); err != nil {
				return fmt.Errorf("%s %s (indexed): %w", kind, id, notFound(err))
			}
			out = append(out, &v)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list %ss of %q: %w", kind, program, err)
	}
	return out, next, nil
}

// EvalResults returns up to limit results of an evaluation from index
// from on, by index (limit ≤ 0: every one). An evaluation whose examples
// have not ended has fewer results than examples.
func (s *Store) EvalResults(ctx context.Context, eval model.ID, from, limit int) ([]*model.EvalResult, error) {
	if from < 0 || from > math.MaxUint32 {
		return nil, fmt.Errorf("evaluation %s: results from %d: out of range", eval, from)
	}
	var out []*model.EvalResult
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(evalKey(eval)); err != nil {
			return notFound(err)
		}
		prefix := evalResultPrefix(eval)
		it := txn.NewIterator(withValues(prefix, limit))
		defer it.Close()
		for it.Seek(evalResultKey(eval, from)); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
			if len(out)%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var r model.EvalResult
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &r) }); err != nil {
				return fmt.Errorf("result at key %x: %w", it.Item().Key(), err)
			}
			out = append(out, &r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evaluation %s: results: %w", eval, err)
	}
	return out, nil
}
