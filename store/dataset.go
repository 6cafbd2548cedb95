package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

// datasetRecord is the stored dataset: the model's fields plus the parts
// whose examples are visible. An import writes its examples under a new part
// and lists the part only in its last transaction, which makes an import of
// any size all or nothing.
type datasetRecord struct {
	model.Dataset
	Parts []model.ID `json:"parts,omitempty"`
}

// splitCode is the key byte of a split; the order is the listing order.
func splitCode(sp model.Split) (uint8, error) {
	switch sp {
	case model.Train:
		return 1, nil
	case model.Validation:
		return 2, nil
	case model.Test:
		return 3, nil
	}
	return 0, fmt.Errorf("unknown split %q (want train, validation or test)", sp)
}

func splitOf(code uint8) model.Split {
	switch code {
	case 1:
		return model.Train
	case 2:
		return model.Validation
	case 3:
		return model.Test
	}
	return model.Split(fmt.Sprintf("split#%d", code))
}

// exampleTail is the size of an example key after the dataset: part, split, id.
const exampleTail = keys.IDLen + 1 + keys.IDLen

func datasetKey(name string) []byte { return keys.New(keys.Dataset).Str(name).Bytes() }

func examplesPrefix(ds string) []byte { return keys.New(keys.Example).Str(ds).Bytes() }

func partPrefix(ds string, part model.ID) []byte {
	return keys.New(keys.Example).Str(ds).ID(part).Bytes()
}

func partSplitPrefix(ds string, part model.ID, code uint8) []byte {
	return keys.New(keys.Example).Str(ds).ID(part).U8(code).Bytes()
}

func exampleKey(ds string, part model.ID, code uint8, id model.ID) []byte {
	return keys.New(keys.Example).Str(ds).ID(part).U8(code).ID(id).Bytes()
}

func stagedKey(part model.ID, ds string) []byte {
	return keys.New(keys.StagedPart).ID(part).Str(ds).Bytes()
}

func decodeExampleKey(k []byte) (ds string, part model.ID, code uint8, id model.ID, err error) {
	r := keys.Read(k, keys.Example)
	ds = r.Str()
	part = r.ID()
	code = r.U8()
	id = r.ID()
	return ds, part, code, id, r.Done()
}

func readDataset(txn *badger.Txn, name string) (*datasetRecord, error) {
	if err := existingName("dataset", name); err != nil {
		return nil, err
	}
	var d datasetRecord
	if err := getJSON(txn, datasetKey(name), &d); err != nil {
		return nil, notFound(err)
	}
	return &d, nil
}

// public returns the model view of a record, detached from it.
func (d *datasetRecord) public() *model.Dataset {
	out := d.Dataset
	out.Fields = slices.Clone(d.Fields)
	out.InputKeys = slices.Clone(d.InputKeys)
	out.Counts = make(map[model.Split]int, len(d.Counts))
	for k, v := range d.Counts {
		out.Counts[k] = v
	}
	return &out
}

func (d *datasetRecord) count(sp model.Split, delta int) {
	if d.Counts == nil {
		d.Counts = map[model.Split]int{}
	}
	d.Counts[sp] += delta
	if d.Counts[sp] <= 0 {
		delete(d.Counts, sp)
	}
}

// addFields appends the names not yet in d.Fields, in the order given.
func (d *datasetRecord) addFields(names []string) {
	for _, n := range names {
		if !slices.Contains(d.Fields, n) {
			d.Fields = append(d.Fields, n)
		}
	}
}

func sortedDataKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// prepareExample checks an example and fills its defaults (split train).
func prepareExample(e *model.Example) (uint8, error) {
	if e.Split == "" {
		e.Split = model.Train
	}
	code, err := splitCode(e.Split)
	if err != nil {
		return 0, err
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	return code, nil
}

// ImportExamples adds the examples that next yields to dataset d, creating
// it if needed. Every example gets a new time-ordered ID. next returns io.EOF
// at the end; any other error (or a cancelled ctx) aborts the import, and
// then nothing of it is visible and its staged examples are deleted.
// d.Fields, read when the import commits (after next's io.EOF), orders the
// fields; names only seen in the data follow in sorted order.
func (s *Store) ImportExamples(ctx context.Context, d *model.Dataset, next func() (*model.Example, error)) (*model.Dataset, error) {
	if d == nil {
		return nil, errors.New("import examples: nil dataset")
	}
	if err := model.ValidName("dataset", d.Name); err != nil {
		return nil, fmt.Errorf("dataset %q: %w", d.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := d.Name
	part := model.NewID()
	// The marker says "this part is not (yet) listed"; if we crash, the next
	// Open finds it and deletes the part.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(stagedKey(part, name), nil) }); err != nil {
		return nil, fmt.Errorf("import into dataset %q: stage: %w", name, err)
	}
	counts, fields, err := s.stageExamples(ctx, name, part, next)
	if err == nil {
		var out *model.Dataset
		if out, err = s.commitImport(ctx, d, part, counts, fields); err == nil {
			return out, nil
		}
	}
	// Clean up even if ctx was cancelled: the staged part is ours to remove.
	if cerr := s.dropPart(context.WithoutCancel(ctx), name, part); cerr != nil {
		s.log.Errorf("store: dataset %q: removing staged part %s: %v (the next open retries)", name, part, cerr)
	}
	return nil, fmt.Errorf("import into dataset %q: %w", name, err)
}

// stageExamples writes the examples under part with a WriteBatch, which
// splits them over as many transactions as needed.
func (s *Store) stageExamples(ctx context.Context, name string, part model.ID, next func() (*model.Example, error)) (map[model.Split]int, []string, error) {
	wb := s.db.NewWriteBatch()
	defer func() { wb.Cancel() }()
	counts := map[model.Split]int{}
	seen := map[string]bool{}
	var fields []string
	// Badger sizes a batch's transactions by their keys and value pointers,
	// not by what they write to the value log: one transaction could hold a
	// whole big import. So the batch is flushed every few MiB of values, and
	// the free space looked at before the next.
	var unflushed int
	for n := 1; ; n++ {
		if n%1024 == 0 || unflushed > 4<<20 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if err := wb.Flush(); err != nil {
				return nil, nil, err
			}
			if err := s.roomToWrite(int64(unflushed)); err != nil {
				return nil, nil, err
			}
			wb, unflushed = s.db.NewWriteBatch(), 0
		}
		e, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err // next's errors name their own place (file:line)
		}
		if e == nil {
			return nil, nil, fmt.Errorf("example %d: nil example", n)
		}
		code, err := prepareExample(e)
		if err != nil {
			return nil, nil, fmt.Errorf("example %d: %w", n, err)
		}
		e.ID = model.NewID()
		e.Dataset = name
		b, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("example %d: %w", n, err)
		}
		if err := wb.Set(exampleKey(name, part, code, e.ID), b); err != nil {
			return nil, nil, fmt.Errorf("example %d: %w", n, err)
		}
		unflushed += len(b)
		counts[e.Split]++
		for _, k := range sortedDataKeys(e.Data) {
			if !seen[k] {
				seen[k] = true
				fields = append(fields, k)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := wb.Flush(); err != nil {
		return nil, nil, err
	}
	return counts, fields, nil
}

// commitImport lists the staged part in the dataset record and drops its
// marker, in one transaction: the moment every example becomes visible.
func (s *Store) commitImport(ctx context.Context, d *model.Dataset, part model.ID, counts map[model.Split]int, fields []string) (*model.Dataset, error) {
	var out *model.Dataset
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, d.Name)
		if errors.Is(err, ErrNotFound) {
			rec = &datasetRecord{Dataset: model.Dataset{Name: d.Name, CreatedAt: s.now().UTC()}}
		} else if err != nil {
			return err
		}
		if d.Description != "" {
			rec.Description = d.Description
		}
		rec.addFields(d.Fields)
		rec.addFields(fields)
		if len(d.InputKeys) > 0 {
			rec.InputKeys = slices.Clone(d.InputKeys)
		}
		for sp, n := range counts {
			rec.count(sp, n)
		}
		if len(counts) > 0 {
			// Listings walk parts in key order; a slower import that began
			// first may commit last, so keep the list sorted.
			rec.Parts = append(rec.Parts, part)
			slices.SortFunc(rec.Parts, func(a, b model.ID) int { return bytes.Compare(a[:], b[:]) })
		}
		rec.UpdatedAt = s.now().UTC()
		if err := setJSON(txn, datasetKey(d.Name), rec); err != nil {
			return err
		}
		if err := txn.Delete(stagedKey(part, d.Name)); err != nil {
			return err
		}
		out = rec.public()
		return nil
	})
	return out, err
}

// stagedBatch is how many keys of a part dropPart deletes per pass; it
// checks its context between passes.
const stagedBatch = 10_000

// dropPart deletes the examples of one part, then its marker. The part is
// not listed by any record, so readers never see the half-deleted state.
func (s *Store) dropPart(ctx context.Context, ds string, part model.ID) error {
	prefix := partPrefix(ds, part)
	for {
		// Collect a bounded batch per read transaction, so a huge part does
		// not pin one snapshot for the whole delete.
		var batch [][]byte
		err := s.view(ctx, func(txn *badger.Txn) error {
			it := txn.NewIterator(keyOnly(prefix, false))
			defer it.Close()
			for it.Rewind(); it.Valid() && len(batch) < stagedBatch; it.Next() {
				batch = append(batch, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		wb := s.db.NewWriteBatch()
		for _, k := range batch {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(stagedKey(part, ds)) })
}

type stagedPart struct {
	dataset string
	part    model.ID
}

// stagedParts lists the markers of parts not listed by their record: imports
// and deletes that did not finish. The list is short (usually empty), so
// reading it keeps Open fast.
func (s *Store) stagedParts() ([]stagedPart, error) {
	var out []stagedPart
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(keyOnly([]byte{keys.StagedPart}, false))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			r := keys.Read(it.Item().Key(), keys.StagedPart)
			p := stagedPart{part: r.ID()}
			p.dataset = r.Str()
			if err := r.Done(); err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read staged parts: %w", err)
	}
	return out, nil
}

// sweepParts removes the parts an interrupted import or delete left behind.
// It runs in the background after Open on the list read at Open, so it never
// touches an import started by this process.
func (s *Store) sweepParts(ctx context.Context, parts []stagedPart) {
	for _, p := range parts {
		listed := false
		_ = s.view(ctx, func(txn *badger.Txn) error {
			rec, err := readDataset(txn, p.dataset)
			if err == nil {
				listed = slices.Contains(rec.Parts, p.part)
			}
			return nil
		})
		var err error
		if listed {
			// Cannot happen with the writes above; keep the examples.
			err = s.db.Update(func(txn *badger.Txn) error { return txn.Delete(stagedKey(p.part, p.dataset)) })
		} else {
			err = s.dropPart(ctx, p.dataset, p.part)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Errorf("store: dataset %q: removing unlisted part %s: %v", p.dataset, p.part, err)
			}
			return
		}
		s.log.Infof("store: dataset %q: removed unlisted part %s", p.dataset, p.part)
	}
}

// GetDataset returns a dataset's description and counts.
func (s *Store) GetDataset(ctx context.Context, name string) (*model.Dataset, error) {
	var out *model.Dataset
	err := s.view(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, name)
		if err != nil {
			return err
		}
		out = rec.public()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	return out, nil
}

// ListDatasets returns every dataset, by name.
func (s *Store) ListDatasets(ctx context.Context) ([]*model.Dataset, error) {
	var out []*model.Dataset
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(withValues([]byte{keys.Dataset}, 0))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec datasetRecord
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &rec) }); err != nil {
				return fmt.Errorf("dataset at key %x: %w", it.Item().Key(), err)
			}
			out = append(out, rec.public())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteDataset removes the record first, in one transaction that also marks
// every part for deletion, so the dataset disappears atomically; the examples
// are then deleted in batches (and by the next Open, if this is interrupted).
func (s *Store) DeleteDataset(ctx context.Context, name string) error {
	var parts []model.ID
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, name)
		if err != nil {
			return err
		}
		if err := txn.Delete(datasetKey(name)); err != nil {
			return err
		}
		for _, p := range rec.Parts {
			if err := txn.Set(stagedKey(p, name), nil); err != nil {
				return err
			}
		}
		parts = rec.Parts
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete dataset %q: %w", name, err)
	}
	for _, p := range parts {
		if err := s.dropPart(ctx, name, p); err != nil {
			return fmt.Errorf("delete dataset %q: examples of part %s (the next open finishes the job): %w", name, p, err)
		}
	}
	return nil
}

// ExampleQuery selects a page of a dataset's examples.
type ExampleQuery struct {
	Dataset string
	Split   model.Split // "" = all
	Cursor  string
	Limit   int // default 50
}

const (
	defaultLimit = 50
	maxLimit     = 10_000
)

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// ListExamples returns a page of examples in key order (import part, split,
// ID) and the cursor of the next page, "" after the last.
func (s *Store) ListExamples(ctx context.Context, q ExampleQuery) ([]*model.Example, string, error) {
	limit := pageLimit(q.Limit)
	var code uint8
	if q.Split != "" {
		var err error
		if code, err = splitCode(q.Split); err != nil {
			return nil, "", fmt.Errorf("dataset %q: %w", q.Dataset, err)
		}
	}
	var out []*model.Example
	var next string
	err := s.view(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, q.Dataset)
		if err != nil {
			return err
		}
		var cursor []byte
		if q.Cursor != "" {
			if cursor, err = keys.ParseCursor(q.Cursor, examplesPrefix(q.Dataset), exampleTail); err != nil {
				return err
			}
		}
		it := txn.NewIterator(withValues(examplesPrefix(q.Dataset), limit))
		defer it.Close()
		var last []byte
		for _, part := range rec.Parts {
			pfx := partPrefix(q.Dataset, part)
			if q.Split != "" {
				pfx = partSplitPrefix(q.Dataset, part, code)
			}
			start := pfx
			if cursor != nil {
				if bytes.Compare(keys.SeekLast(pfx), cursor) < 0 {
					continue // the whole part is before the cursor
				}
				if bytes.Compare(cursor, start) > 0 {
					start = cursor
				}
			}
			for it.Seek(start); it.ValidForPrefix(pfx); it.Next() {
				item := it.Item()
				if cursor != nil && bytes.Equal(item.Key(), cursor) {
					continue
				}
				if len(out) == limit {
					next = keys.Cursor(last)
					return nil
				}
				e, err := decodeExample(item)
				if err != nil {
					return err
				}
				out = append(out, e)
				last = item.KeyCopy(last[:0])
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("dataset %q: examples: %w", q.Dataset, err)
	}
	return out, next, nil
}

func decodeExample(item *badger.Item) (*model.Example, error) {
	ds, _, code, id, err := decodeExampleKey(item.Key())
	if err != nil {
		return nil, err
	}
	var e model.Example
	if err := value(item, func(b []byte) error { return json.Unmarshal(b, &e) }); err != nil {
		return nil, fmt.Errorf("example %s: %w", model.ID(id), err)
	}
	// The key is the truth for where the example lives.
	e.Dataset, e.ID, e.Split = ds, id, splitOf(code)
	return &e, nil
}

// findExample locates an example among the visible parts.
func findExample(txn *badger.Txn, rec *datasetRecord, id model.ID) (*badger.Item, error) {
	for _, part := range rec.Parts {
		for _, sp := range model.Splits {
			code, _ := splitCode(sp)
			item, err := txn.Get(exampleKey(rec.Name, part, code, id))
			if err == nil {
				return item, nil
			}
			if !errors.Is(err, badger.ErrKeyNotFound) {
				return nil, err
			}
		}
	}
	return nil, ErrNotFound
}

// GetExample returns one example.
func (s *Store) GetExample(ctx context.Context, dataset string, id model.ID) (*model.Example, error) {
	var out *model.Example
	err := s.view(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, dataset)
		if err != nil {
			return err
		}
		item, err := findExample(txn, rec, id)
		if err != nil {
			return err
		}
		out, err = decodeExample(item)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dataset %q: example %s: %w", dataset, id, err)
	}
	return out, nil
}

// PutExample edits an example (it may change split) or adds one (zero ID
// or an ID not in the dataset), keeping the dataset's counts and fields
// right. The dataset must exist. A new example's ID is set on e.
func (s *Store) PutExample(ctx context.Context, e *model.Example) error {
	if e == nil {
		return errors.New("put example: nil example")
	}
	code, err := prepareExample(e)
	if err != nil {
		return fmt.Errorf("dataset %q: example %s: %w", e.Dataset, e.ID, err)
	}
	if e.ID.IsZero() {
		e.ID = model.NewID()
	}
	err = s.update(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, e.Dataset)
		if err != nil {
			return err
		}
		var part model.ID
		item, err := findExample(txn, rec, e.ID)
		switch {
		case err == nil:
			ds, oldPart, oldCode, _, err := decodeExampleKey(item.Key())
			if err != nil {
				return fmt.Errorf("key of dataset %q: %w", ds, err)
			}
			part = oldPart
			if oldCode != code {
				if err := txn.Delete(item.KeyCopy(nil)); err != nil {
					return err
				}
				rec.count(splitOf(oldCode), -1)
				rec.count(e.Split, +1)
			}
		case errors.Is(err, ErrNotFound):
			if len(rec.Parts) == 0 {
				// A part of one; listing it in this same transaction makes
				// it visible together with the example.
				rec.Parts = append(rec.Parts, model.NewID())
			}
			part = rec.Parts[len(rec.Parts)-1]
			rec.count(e.Split, +1)
		default:
			return err
		}
		rec.addFields(sortedDataKeys(e.Data))
		rec.UpdatedAt = s.now().UTC()
		v := *e
		v.Dataset = rec.Name
		if err := setJSON(txn, exampleKey(rec.Name, part, code, e.ID), &v); err != nil {
			return err
		}
		return setJSON(txn, datasetKey(rec.Name), rec)
	})
	if err != nil {
		return fmt.Errorf("dataset %q: put example %s: %w", e.Dataset, e.ID, err)
	}
	return nil
}

// DeleteExample removes one example and decrements its split's count.
func (s *Store) DeleteExample(ctx context.Context, dataset string, id model.ID) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, dataset)
		if err != nil {
			return err
		}
		item, err := findExample(txn, rec, id)
		if err != nil {
			return err
		}
		_, _, code, _, err := decodeExampleKey(item.Key())
		if err != nil {
			return err
		}
		if err := txn.Delete(item.KeyCopy(nil)); err != nil {
			return err
		}
		rec.count(splitOf(code), -1)
		rec.UpdatedAt = s.now().UTC()
		return setJSON(txn, datasetKey(dataset), rec)
	})
	if err != nil {
		return fmt.Errorf("dataset %q: delete example %s: %w", dataset, id, err)
	}
	return nil
}

// ExampleAt returns the n-th example (0-based) of a split ("" = all splits)
// in listing order. It walks keys only and reads one value.
func (s *Store) ExampleAt(ctx context.Context, dataset string, split model.Split, n int) (*model.Example, error) {
	var code uint8
	if split != "" {
		var err error
		if code, err = splitCode(split); err != nil {
			return nil, fmt.Errorf("dataset %q: %w", dataset, err)
		}
	}
	var out *model.Example
	err := s.view(ctx, func(txn *badger.Txn) error {
		rec, err := readDataset(txn, dataset)
		if err != nil {
			return err
		}
		total := rec.Size()
		if split != "" {
			total = rec.Counts[split]
		}
		if n < 0 || n >= total {
			return fmt.Errorf("index %d, the split has %d: %w", n, total, ErrNotFound)
		}
		it := txn.NewIterator(keyOnly(examplesPrefix(dataset), false))
		defer it.Close()
		i := 0
		for _, part := range rec.Parts {
			pfx := partPrefix(dataset, part)
			if split != "" {
				pfx = partSplitPrefix(dataset, part, code)
			}
			for it.Seek(pfx); it.ValidForPrefix(pfx); it.Next() {
				if i%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if i == n {
					out, err = decodeExample(it.Item())
					return err
				}
				i++
			}
		}
		return fmt.Errorf("index %d, found %d: %w", n, i, ErrNotFound)
	})
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %s example %d: %w", dataset, splitName(split), n, err)
	}
	return out, nil
}

func splitName(sp model.Split) string {
	if sp == "" {
		return "all"
	}
	return string(sp)
}
