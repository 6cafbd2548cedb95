package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

// MaxExecutionBatch is the most executions CreateExecutions writes in one
// transaction; Badger refuses much bigger ones.
const MaxExecutionBatch = 2000

// CreateExecutions writes new executions, their index keys and their cost
// rollups in one transaction: all of them or none. Zero IDs are assigned; an
// ID that is already stored is ErrExists. Everything is encoded before the
// transaction starts and each rollup is read and written once, so the
// transaction is short and rarely loses a race on a rollup key to the
// executions that finish meanwhile.
func (s *Store) CreateExecutions(ctx context.Context, es []*model.Execution) error {
	if len(es) == 0 {
		return nil
	}
	if len(es) > MaxExecutionBatch {
		return fmt.Errorf("create executions: %d in one batch, at most %d", len(es), MaxExecutionBatch)
	}
	recs := make([][]byte, len(es))
	var deltas rollupDeltas
	for i, e := range es {
		if e == nil {
			return fmt.Errorf("create executions: #%d is nil", i)
		}
		if err := s.prepareExecution(e); err != nil {
			return fmt.Errorf("create executions: #%d (%s): %w", i, e.Program, err)
		}
		b, err := e.AppendJSON(make([]byte, 0, recordSize))
		if err != nil {
			return fmt.Errorf("create executions: execution %s: %w", e.ID, err)
		}
		recs[i] = b
		deltas.add(rollupKey(e.Program, monthOf(e.CreatedAt)),
			rollupRecord{Executions: 1, CostNanos: costNanos(e.Cost), Usage: e.TotalUsage(), Cache: e.EmbedCache})
	}
	err := s.updateRollups(ctx, func(txn *badger.Txn) error {
		for i, e := range es {
			switch _, err := txn.Get(execKey(e.ID)); {
			case err == nil:
				return fmt.Errorf("execution %s: %w", e.ID, ErrExists)
			case !errors.Is(err, badger.ErrKeyNotFound):
				return fmt.Errorf("execution %s: %w", e.ID, err)
			}
			if err := txn.Set(execKey(e.ID), recs[i]); err != nil {
				return fmt.Errorf("execution %s: %w", e.ID, err)
			}
			for _, k := range execIndexKeys(e) {
				if err := txn.Set(k, nil); err != nil {
					return fmt.Errorf("execution %s: %w", e.ID, err)
				}
			}
		}
		return s.writeRollups(txn, &deltas)
	})
	if err != nil {
		return fmt.Errorf("create %d executions: %w", len(es), err)
	}
	return nil
}
