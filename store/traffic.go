package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func trafficKey(program string) []byte { return keys.New(keys.Traffic).Str(program).Bytes() }

// SetTrafficSplit stores a program's traffic split, replacing any other,
// once the split is valid and every version it names exists (read in the
// same transaction, so a program deleted meanwhile cannot keep a split).
// SetAt is the store's clock.
func (s *Store) SetTrafficSplit(ctx context.Context, sp *model.TrafficSplit) (*model.TrafficSplit, error) {
	if err := sp.Validate(); err != nil {
		return nil, fmt.Errorf("traffic split of program %q: %w", sp.Program, err)
	}
	out := *sp
	out.Arms = append([]model.Arm(nil), sp.Arms...)
	out.SetAt = s.now().UTC()
	err := s.update(ctx, func(txn *badger.Txn) error {
		head, err := readHead(txn, sp.Program)
		if err != nil {
			return err
		}
		for _, a := range out.Arms {
			if a.Version > head {
				return &model.FieldError{Field: "arms", Msg: fmt.Sprintf("v%d: no such version (the newest is v%d)", a.Version, head)}
			}
		}
		return setJSON(txn, trafficKey(sp.Program), &out)
	})
	if err != nil {
		return nil, fmt.Errorf("traffic split of program %q: %w", sp.Program, err)
	}
	return &out, nil
}

// TrafficSplit is a program's split; ErrNotFound when it has none.
func (s *Store) TrafficSplit(ctx context.Context, program string) (*model.TrafficSplit, error) {
	if err := existingName("program", program); err != nil {
		return nil, fmt.Errorf("traffic split of program %q: %w", program, err)
	}
	var out model.TrafficSplit
	err := s.view(ctx, func(txn *badger.Txn) error { return notFound(getJSON(txn, trafficKey(program), &out)) })
	if err != nil {
		return nil, fmt.Errorf("traffic split of program %q: %w", program, err)
	}
	return &out, nil
}

// ClearTrafficSplit removes a program's split; ErrNotFound when it has none.
func (s *Store) ClearTrafficSplit(ctx context.Context, program string) error {
	if err := existingName("program", program); err != nil {
		return fmt.Errorf("clear traffic split of program %q: %w", program, err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(trafficKey(program)); err != nil {
			return notFound(err)
		}
		return txn.Delete(trafficKey(program))
	})
	if err != nil {
		return fmt.Errorf("clear traffic split of program %q: %w", program, err)
	}
	return nil
}

// ErrNotEnded is a feedback on an execution that has not ended: the job
// kernel still writes its record.
var ErrNotEnded = errors.New("has not ended")

// SetFeedback gives an ended execution its feedback, replacing any before
// (which it returns). Only the record changes: feedback moves no index
// key, rollup or credit.
func (s *Store) SetFeedback(ctx context.Context, id model.ID, fb model.Feedback) (x *model.Execution, prior *model.Feedback, err error) {
	if err := fb.Validate(); err != nil {
		return nil, nil, fmt.Errorf("feedback on execution %s: %w", id, err)
	}
	if fb.At.IsZero() {
		fb.At = s.now().UTC()
	}
	err = s.update(ctx, func(txn *badger.Txn) error {
		var e model.Execution
		if err := notFound(getJSON(txn, execKey(id), &e)); err != nil {
			return err
		}
		if !e.State.Terminal() {
			return fmt.Errorf("%w (%s)", ErrNotEnded, e.State)
		}
		prior, e.Feedback = e.Feedback, &fb
		rec, err := e.AppendJSON(make([]byte, 0, recordSize))
		if err != nil {
			return err
		}
		x = &e
		return txn.Set(execKey(id), rec)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("feedback on execution %s: %w", id, err)
	}
	return x, prior, nil
}
