package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func execKey(id model.ID) []byte { return keys.New(keys.Execution).ID(id).Bytes() }

func spanPrefix(exec model.ID) []byte { return keys.New(keys.Span).ID(exec).Bytes() }

func spanKey(exec model.ID, seq uint64) []byte { return keys.New(keys.Span).ID(exec).U64(seq).Bytes() }

func rollupKey(program, month string) []byte {
	return keys.New(keys.Rollup).Str(program).Str(month).Bytes()
}

// execIndexKeys are the index entries of an execution: by program, by state,
// and by both, so that every ExecQuery is one prefix scan.
func execIndexKeys(e *model.Execution) [3][]byte {
	return [3][]byte{
		keys.New(keys.ExecByProgram).Str(e.Program).ID(e.ID).Bytes(),
		keys.New(keys.ExecByState).Str(string(e.State)).ID(e.ID).Bytes(),
		keys.New(keys.ExecByProgState).Str(e.Program).Str(string(e.State)).ID(e.ID).Bytes(),
	}
}

// ExecQuery selects executions; empty fields match everything.
type ExecQuery struct {
	Program string
	State   model.RunState
	Cursor  string
	Limit   int // default 50
}

// prefix is the key range the query scans.
func (q ExecQuery) prefix() ([]byte, error) {
	if q.Program != "" {
		if err := model.ValidName("program", q.Program); err != nil {
			return nil, err
		}
	}
	if q.State != "" && !q.State.Valid() {
		return nil, fmt.Errorf("unknown state %q", q.State)
	}
	switch {
	case q.Program != "" && q.State != "":
		return keys.New(keys.ExecByProgState).Str(q.Program).Str(string(q.State)).Bytes(), nil
	case q.Program != "":
		return keys.New(keys.ExecByProgram).Str(q.Program).Bytes(), nil
	case q.State != "":
		return keys.New(keys.ExecByState).Str(string(q.State)).Bytes(), nil
	}
	return []byte{keys.Execution}, nil
}

// Rollup is the cost of one program in one month (UTC, "2026-11").
type Rollup struct {
	Program    string
	Month      string
	Executions int
	Cost       float64
	Usage      model.Usage
	EmbedCache model.EmbedCache
}

// rollupRecord is the stored rollup. Cost is kept in integer nano-units so
// that applying and reverting deltas is exact: after any number of updates
// of an execution the rollup holds its final cost, with no float drift.
type rollupRecord struct {
	Executions int              `json:"executions"`
	CostNanos  int64            `json:"cost_nanos"`
	Usage      model.Usage      `json:"usage"`
	Cache      model.EmbedCache `json:"embed_cache,omitzero"`
}

func costNanos(c float64) int64 { return int64(math.Round(c * 1e9)) }

func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// prepareExecution checks e and fills what a new record needs: an ID and a
// creation time.
func (s *Store) prepareExecution(e *model.Execution) error {
	if err := model.ValidName("program", e.Program); err != nil {
		return err
	}
	if !e.State.Valid() {
		return fmt.Errorf("unknown state %q", e.State)
	}
	switch {
	case e.ID.IsZero() && e.CreatedAt.IsZero():
		// Dated by the store's clock: IDs in the order of the puts, so
		// that newest first holds within one millisecond too.
		e.CreatedAt = s.now().UTC()
		s.idMu.Lock()
		s.lastID = model.NewIDAfter(e.CreatedAt, s.lastID)
		e.ID = s.lastID
		s.idMu.Unlock()
	case e.ID.IsZero():
		e.ID = model.NewIDAt(e.CreatedAt)
	case e.CreatedAt.IsZero():
		e.CreatedAt = e.ID.Time().UTC()
	}
	return nil
}

// PutExecution creates or updates an execution: in one transaction it reads
// the old record, deletes the index keys that no longer hold, writes the
// record and its index keys, and moves the cost rollup by the difference
// between the new and old cost and usage. A zero ID is assigned (and set on e).
func (s *Store) PutExecution(ctx context.Context, e *model.Execution) error {
	return s.PutExecutionWithSpans(ctx, e, nil)
}

// PutExecutionWithSpans is PutExecution plus spans written in the same
// transaction: one commit for a finished run and its trace.
func (s *Store) PutExecutionWithSpans(ctx context.Context, e *model.Execution, spans []model.Span) error {
	return s.ReplaceExecution(ctx, nil, e, spans)
}

// ReplaceExecution is PutExecutionWithSpans for the one writer of a running
// execution (the job kernel), which knows the record it replaces: old is
// that record as this store last committed it, or nil when the caller does
// not know (the store reads it). Given, it spares reading and decoding the
// stored record on every write; an old that is not what the store holds
// would leave stale index keys and skew the cost rollups.
func (s *Store) ReplaceExecution(ctx context.Context, old, e *model.Execution, spans []model.Span) error {
	if e == nil {
		return errors.New("put execution: nil execution")
	}
	if err := s.prepareExecution(e); err != nil {
		if e.ID.IsZero() {
			return fmt.Errorf("new execution of %q: %w", e.Program, err)
		}
		return fmt.Errorf("execution %s: %w", e.ID, err)
	}
	if old != nil && old.ID != e.ID {
		return fmt.Errorf("execution %s: the record it replaces is execution %s's", e.ID, old.ID)
	}
	rec, err := e.AppendJSON(make([]byte, 0, recordSize))
	if err != nil {
		return fmt.Errorf("execution %s: %w", e.ID, err)
	}
	sv, err := encodeSpans(e.ID, spans)
	if err != nil {
		return fmt.Errorf("execution %s: %w", e.ID, err)
	}
	// More spans than fit beside the record go first, in as many
	// transactions as they need: the trace is in the store before the
	// record says the run ended, as with the spans written while it ran.
	if cut := withRecordFrom(sv); cut > 0 {
		if err := s.appendEncoded(ctx, e.ID, spans[:cut], sv[:cut]); err != nil {
			return err
		}
		spans, sv = spans[cut:], sv[cut:]
	}
	size := len(rec)
	for _, v := range sv {
		size += len(v)
	}
	if err := s.commitPut(ctx, &putReq{e: e, old: old, rec: rec, spans: spans, sv: sv, size: size}); err != nil {
		return fmt.Errorf("put execution %s: %w", e.ID, err)
	}
	return nil
}

// putExecution writes e's record and index keys in txn and adds the rollup
// changes it makes to d. old is the record e replaces, when the caller
// knows it; else it is read from txn. An execution with a user debits that
// user's credits by what its cost grew, in the same transaction.
func putExecution(txn *badger.Txn, e, old *model.Execution, rec []byte, d *rollupDeltas, now time.Time) error {
	if old == nil {
		switch item, err := txn.Get(execKey(e.ID)); {
		case err == nil:
			var h execHead
			if err := value(item, func(b []byte) error { return json.Unmarshal(b, &h) }); err != nil {
				return fmt.Errorf("old record: %w", err)
			}
			old = h.execution(e.ID)
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
	}
	if err := txn.Set(execKey(e.ID), rec); err != nil {
		return err
	}
	idx := execIndexKeys(e)
	var oldIdx [3][]byte
	if old != nil {
		oldIdx = execIndexKeys(old)
	}
	for i := range idx {
		if old != nil && bytes.Equal(oldIdx[i], idx[i]) {
			continue
		}
		if old != nil {
			if err := txn.Delete(oldIdx[i]); err != nil {
				return err
			}
		}
		if err := txn.Set(idx[i], nil); err != nil {
			return err
		}
	}
	applyRollups(d, old, e)
	if e.User == "" {
		return nil
	}
	charge := costNanos(e.Cost)
	if old != nil {
		charge -= costNanos(old.Cost)
	}
	if charge == 0 {
		return nil
	}
	return debitCredits(txn, e.User, charge, e.ID, now)
}

// execHead is what putExecution needs of the record it replaces: its index
// keys and its part of the rollups. Decoding only these skips the inputs,
// outputs and program variant an execution record carries, twice per
// execution (running, then finished).
type execHead struct {
	Program    string                 `json:"program"`
	State      model.RunState         `json:"state"`
	Usage      map[string]model.Usage `json:"usage"`
	Cost       float64                `json:"cost"`
	EmbedCache model.EmbedCache       `json:"embed_cache"`
	CreatedAt  time.Time              `json:"created_at"`
}

func (h *execHead) execution(id model.ID) *model.Execution {
	return &model.Execution{ID: id, Program: h.Program, State: h.State, Usage: h.Usage, Cost: h.Cost,
		EmbedCache: h.EmbedCache, CreatedAt: h.CreatedAt}
}

// applyRollups moves the rollups from old's contribution to e's.
func applyRollups(d *rollupDeltas, old, e *model.Execution) {
	newKey := rollupKey(e.Program, monthOf(e.CreatedAt))
	d.add(newKey, rollupRecord{Executions: 1, CostNanos: costNanos(e.Cost), Usage: e.TotalUsage(), Cache: e.EmbedCache})
	if old != nil {
		d.add(rollupKey(old.Program, monthOf(old.CreatedAt)), rollupRecord{Executions: -1, CostNanos: -costNanos(old.Cost),
			Usage: negate(old.TotalUsage()), Cache: model.EmbedCache{Hits: -old.EmbedCache.Hits, Misses: -old.EmbedCache.Misses}})
	}
}

func negate(u model.Usage) model.Usage {
	return model.Usage{Calls: -u.Calls, PromptTokens: -u.PromptTokens, CompletionTokens: -u.CompletionTokens}
}

// addRollup moves the rollup at key by d in txn. It runs inside
// updateRollups only, which keeps the rollups it has seen committed.
func (s *Store) addRollup(txn *badger.Txn, key []byte, d rollupRecord) error {
	r, ok := s.rollupPend[string(key)]
	if !ok {
		r, ok = s.rollupVals[string(key)]
	}
	if !ok {
		if err := getJSON(txn, key, &r); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("rollup: %w", err)
		}
	}
	r.Executions += d.Executions
	r.CostNanos += d.CostNanos
	r.Usage = r.Usage.Add(d.Usage)
	r.Cache = r.Cache.Add(d.Cache)
	s.rollupPend[string(key)] = r
	if r == (rollupRecord{}) {
		return txn.Delete(key)
	}
	return setJSON(txn, key, r)
}

// recordSize is room for an execution's record, most of them, in one
// allocation.
const recordSize = 1 << 10

// encodeSpans encodes spans as json.Marshal does (model/json.go), into one
// buffer that the values share.
func encodeSpans(exec model.ID, spans []model.Span) ([][]byte, error) {
	out := make([][]byte, len(spans))
	ends := make([]int, len(spans))
	buf := make([]byte, 0, model.SpansSize(spans))
	for i := range spans {
		sp := &spans[i]
		if sp.Seq == 0 {
			return nil, fmt.Errorf("span %d (%s): seq must be at least 1", i, sp.Name)
		}
		sp.Execution = exec
		var err error
		if buf, err = sp.AppendJSON(buf); err != nil {
			return nil, fmt.Errorf("span %d (%s): %w", sp.Seq, sp.Name, err)
		}
		ends[i] = len(buf)
	}
	// Sliced once buf no longer grows; full slice expressions, so that no
	// value can be appended to over the next.
	start := 0
	for i, end := range ends {
		out[i] = buf[start:end:end]
		start = end
	}
	return out, nil
}

// GetExecution returns one execution.
func (s *Store) GetExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	var out model.Execution
	err := s.view(ctx, func(txn *badger.Txn) error {
		return notFound(getJSON(txn, execKey(id), &out))
	})
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", id, err)
	}
	return &out, nil
}

// ListExecutions returns a page of executions, newest first, and the cursor
// of the next page ("" after the last).
func (s *Store) ListExecutions(ctx context.Context, q ExecQuery) ([]*model.Execution, string, error) {
	prefix, err := q.prefix()
	if err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	var out []*model.Execution
	var next string
	err = s.view(ctx, func(txn *badger.Txn) error {
		ids, cur, err := newestIDs(txn, prefix, q.Cursor, pageLimit(q.Limit))
		if err != nil {
			return err
		}
		next = cur
		out = make([]*model.Execution, 0, len(ids))
		for _, id := range ids {
			var e model.Execution
			if err := getJSON(txn, execKey(id), &e); err != nil {
				return fmt.Errorf("execution %s (indexed): %w", id, notFound(err))
			}
			out = append(out, &e)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	return out, next, nil
}

// newestIDs walks prefix backwards over keys only (keys end with a
// time-ordered ID, so this is newest first) and returns up to limit IDs after
// the cursor, plus the next cursor.
func newestIDs(txn *badger.Txn, prefix []byte, cursor string, limit int) ([]model.ID, string, error) {
	start := keys.SeekLast(prefix)
	var after []byte
	if cursor != "" {
		k, err := keys.ParseCursor(cursor, prefix, keys.IDLen)
		if err != nil {
			return nil, "", err
		}
		start, after = k, k
	}
	it := txn.NewIterator(keyOnly(prefix, true))
	defer it.Close()
	var ids []model.ID
	var last []byte
	for it.Seek(start); it.Valid(); it.Next() {
		k := it.Item().Key()
		if after != nil && bytes.Equal(k, after) {
			continue // the cursor's own key, still there
		}
		if len(ids) == limit {
			return ids, keys.Cursor(last), nil
		}
		id, err := keys.LastID(k)
		if err != nil {
			return nil, "", err
		}
		ids = append(ids, id)
		last = it.Item().KeyCopy(last[:0])
	}
	return ids, "", nil
}

// CountExecutions counts the executions a query matches, over keys only.
func (s *Store) CountExecutions(ctx context.Context, q ExecQuery) (int, error) {
	prefix, err := q.prefix()
	if err != nil {
		return 0, fmt.Errorf("count executions: %w", err)
	}
	n := 0
	err = s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(keyOnly(prefix, false))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if n%8192 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count executions: %w", err)
	}
	return n, nil
}

// AppendSpans stores spans of an execution under span|<exec>|<seq>. Seq is
// the caller's (from 1); writing a seq again replaces that span. A batch too
// big for one transaction is committed in several: spans are a stream, and a
// reader paging by seq sees a prefix of it either way.
func (s *Store) AppendSpans(ctx context.Context, exec model.ID, spans []model.Span) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	vals, err := encodeSpans(exec, spans)
	if err != nil {
		return fmt.Errorf("execution %s: %w", exec, err)
	}
	return s.appendEncoded(ctx, exec, spans, vals)
}

// At most spansWithRecord spans of a finished run, of at most
// spanBytesWithRecord in all, go in the transaction of its record (Badger
// bounds a transaction's entries and bytes); the others are written before.
const (
	spansWithRecord     = 1024
	spanBytesWithRecord = 1 << 20
)

// withRecordFrom is the index of the first span value that goes with the
// record: the longest tail within both bounds.
func withRecordFrom(vals [][]byte) int {
	i, size := len(vals), 0
	for i > 0 && len(vals)-i < spansWithRecord && size+len(vals[i-1]) <= spanBytesWithRecord {
		i--
		size += len(vals[i])
	}
	return i
}

// appendEncoded is AppendSpans with the spans' values already encoded.
func (s *Store) appendEncoded(ctx context.Context, exec model.ID, spans []model.Span, vals [][]byte) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for i := range spans {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := spanKey(exec, spans[i].Seq)
		err := txn.Set(k, vals[i])
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err = txn.Commit(); err != nil {
				return fmt.Errorf("execution %s: spans up to %d: %w", exec, spans[i].Seq, err)
			}
			txn = s.db.NewTransaction(true)
			err = txn.Set(k, vals[i])
		}
		if err != nil {
			return fmt.Errorf("execution %s: span %d: %w", exec, spans[i].Seq, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("execution %s: spans: %w", exec, err)
	}
	return nil
}

// defaultSpanLimit is a page of spans when the caller gives no limit.
const defaultSpanLimit = 1000

// Spans returns up to limit spans of an execution with seq > afterSeq, in seq
// order. An empty page means there are no more (yet).
func (s *Store) Spans(ctx context.Context, exec model.ID, afterSeq uint64, limit int) ([]model.Span, error) {
	if limit <= 0 {
		limit = defaultSpanLimit
	}
	if afterSeq == math.MaxUint64 {
		return nil, nil
	}
	var out []model.Span
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(withValues(spanPrefix(exec), limit))
		defer it.Close()
		for it.Seek(spanKey(exec, afterSeq+1)); it.Valid() && len(out) < limit; it.Next() {
			var sp model.Span
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &sp) }); err != nil {
				return fmt.Errorf("span at key %x: %w", it.Item().Key(), err)
			}
			out = append(out, sp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("execution %s: spans after %d: %w", exec, afterSeq, err)
	}
	return out, nil
}

// CostRollups returns the rollups of one program ("" = all) in one month
// ("2026-11", "" = all), by program then month.
func (s *Store) CostRollups(ctx context.Context, program string, month string) ([]Rollup, error) {
	if month != "" {
		if _, err := time.Parse("2006-01", month); err != nil {
			return nil, fmt.Errorf("cost rollups: month %q: want YYYY-MM", month)
		}
	}
	prefix := []byte{keys.Rollup}
	if program != "" {
		if existingName("program", program) != nil {
			return nil, nil
		}
		prefix = keys.New(keys.Rollup).Str(program).Bytes()
	}
	var out []Rollup
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(withValues(prefix, 0))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			r := keys.Read(it.Item().Key(), keys.Rollup)
			prog, mon := r.Str(), r.Str()
			if err := r.Done(); err != nil {
				return err
			}
			if month != "" && mon != month {
				continue
			}
			var rec rollupRecord
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &rec) }); err != nil {
				return fmt.Errorf("rollup %s %s: %w", prog, mon, err)
			}
			out = append(out, Rollup{Program: prog, Month: mon, Executions: rec.Executions, Cost: float64(rec.CostNanos) / 1e9, Usage: rec.Usage,
				EmbedCache: rec.Cache})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cost rollups: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Program != out[j].Program {
			return out[i].Program < out[j].Program
		}
		return out[i].Month < out[j].Month
	})
	return out, nil
}
