package store

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

// Group commit of execution records. Every execution of a batch writes its
// record twice (running, then ended with its last spans), and every such
// write moves its program's cost rollup for the month: one transaction each
// meant one commit (a hand-off to Badger's writer and back), one
// read-modify-write of the same rollup key, one free-space check, all under
// the rollup lock, one execution at a time. Writes that arrive together now
// share one transaction: the first caller commits for everyone waiting, and
// each caller still returns only once its own record is committed, with its
// own error.

// putReq is one PutExecutionWithSpans waiting for its group's commit.
type putReq struct {
	e     *model.Execution
	old   *model.Execution // the record e replaces, when the caller knows it
	rec   []byte
	spans []model.Span
	sv    [][]byte
	size  int
	done  chan putDone
}

// putDone is what a waiting caller is told: its outcome, or that it leads
// the next group (its request is still queued).
type putDone struct {
	err  error
	lead bool
}

// groupMaxBytes bounds the values one group commits, well inside Badger's
// bound on a transaction; a request alone is always admitted (it fitted
// alone before groups existed: spanBytesWithRecord).
const (
	groupMaxBytes = 4 << 20
	groupMaxReqs  = 256
)

// committer queues the requests waiting for a commit.
type committer struct {
	mu   sync.Mutex
	q    []*putReq
	busy bool // a caller is committing a group
	// groups counts the transactions committed for groups; queued, when
	// set (tests), is told the queue's length as each request joins it and
	// as a leader takes its group.
	groups atomic.Int64
	queued func(n int)
}

// commitPut commits r, alone or with the requests queued beside it.
func (s *Store) commitPut(ctx context.Context, r *putReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.done = make(chan putDone, 1)
	g := &s.group
	g.mu.Lock()
	g.q = append(g.q, r)
	if g.queued != nil {
		g.queued(len(g.q))
	}
	if g.busy {
		g.mu.Unlock()
		if d := <-r.done; !d.lead {
			return d.err
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	// This caller leads: it commits one group (which holds its own
	// request), then hands the lead to the first request still queued.
	g.mu.Lock()
	batch := take(&g.q)
	if g.queued != nil {
		g.queued(len(g.q))
	}
	g.mu.Unlock()
	errs := s.commitGroup(context.WithoutCancel(ctx), batch)
	var own error
	for i, b := range batch {
		if b == r {
			own = errs[i]
			continue
		}
		b.done <- putDone{err: errs[i]}
	}
	g.mu.Lock()
	if len(g.q) > 0 {
		g.q[0].done <- putDone{lead: true}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return own
}

// take removes the longest prefix of q within the group's bounds (at least
// one request) and returns it.
func take(q *[]*putReq) []*putReq {
	n, size := 0, 0
	for n < len(*q) && n < groupMaxReqs && (n == 0 || size+(*q)[n].size <= groupMaxBytes) {
		size += (*q)[n].size
		n++
	}
	batch := (*q)[:n:n]
	*q = (*q)[n:]
	return batch
}

// commitGroup writes the requests in one transaction and returns each one's
// outcome. Should the group fail as a whole (a record that does not decode,
// a transaction too big), each request is committed alone, so that one
// request's error is its own and the others are written.
func (s *Store) commitGroup(ctx context.Context, batch []*putReq) []error {
	errs := make([]error, len(batch))
	err := s.updateRollups(ctx, func(txn *badger.Txn) error { return s.putGroup(txn, batch) })
	if err == nil {
		s.group.groups.Add(1)
	}
	if err == nil || len(batch) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, r := range batch {
		errs[i] = s.updateRollups(ctx, func(txn *badger.Txn) error { return s.putGroup(txn, []*putReq{r}) })
	}
	return errs
}

// putGroup writes the records and spans of batch, and the rollups they
// move once per key.
func (s *Store) putGroup(txn *badger.Txn, batch []*putReq) error {
	var d rollupDeltas
	now := s.now().UTC()
	for _, r := range batch {
		// Errors name no execution: a group that fails is committed
		// again one request at a time, and each caller names its own.
		if err := putExecution(txn, r.e, r.old, r.rec, &d, now); err != nil {
			return err
		}
		for i := range r.spans {
			if err := txn.Set(spanKey(r.e.ID, r.spans[i].Seq), r.sv[i]); err != nil {
				return err
			}
		}
	}
	return s.writeRollups(txn, &d)
}

// rollupDeltas sums the changes of the rollups a transaction moves, by key,
// so that each key is read and written once.
type rollupDeltas struct {
	order []string // keys in first-use order, so a retry writes the same way
	by    map[string]rollupRecord
}

func (d *rollupDeltas) add(key []byte, r rollupRecord) {
	if d.by == nil {
		d.by = map[string]rollupRecord{}
	}
	k := string(key)
	cur, seen := d.by[k]
	if !seen {
		d.order = append(d.order, k)
	}
	d.by[k] = rollupRecord{Executions: cur.Executions + r.Executions, CostNanos: cur.CostNanos + r.CostNanos,
		Usage: cur.Usage.Add(r.Usage), Cache: cur.Cache.Add(r.Cache)}
}

// writeRollups applies the summed changes of d; a change that sums to
// nothing leaves its key alone.
func (s *Store) writeRollups(txn *badger.Txn, d *rollupDeltas) error {
	for _, k := range d.order {
		if r := d.by[k]; r != (rollupRecord{}) {
			if err := s.addRollup(txn, []byte(k), r); err != nil {
				return err
			}
		}
	}
	return nil
}
