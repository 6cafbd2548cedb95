package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

// ErrCorrupt is a stored record whose bytes fail their checksum or do not
// decode. The error names the record; the rest of the store stays readable.
var ErrCorrupt = errors.New("corrupt record")

// errUnreadable is Badger's answer to a value-log read that failed (its
// checksum, most often): it logs the error and hands back an empty value.
var errUnreadable = errors.New("its value could not be read from the value log (checksum mismatch)")

// value is item.Value that never passes a damaged record silently: an
// empty value where Badger holds a pointer to one, and a value fn cannot
// decode, are ErrCorrupt naming the record.
func value(item *badger.Item, fn func([]byte) error) error {
	bad, err := checkedValue(item, fn)
	switch {
	case err == nil:
		return nil
	case bad:
		return fmt.Errorf("store: %s: %w: %v", describeKey(item.Key()), ErrCorrupt, err)
	default:
		return fmt.Errorf("store: reading %s: %w", describeKey(item.Key()), err)
	}
}

// checkedValue passes the item's value to fn; bad says the error is the
// record's bytes (unreadable, or fn could not decode them).
func checkedValue(item *badger.Item, fn func([]byte) error) (bad bool, err error) {
	err = item.Value(func(b []byte) error {
		bad = true
		if len(b) == 0 && item.ValueSize() > 0 {
			return errUnreadable
		}
		return fn(b)
	})
	return bad && err != nil, err
}

// describeKey names the record a key belongs to, for errors and doctor.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "empty key"
	}
	r := keys.Read(k, k[0])
	id := func() string { v := r.ID(); return model.ID(v).String() }
	var s string
	switch k[0] {
	case keys.Meta:
		s = "meta " + r.Str()
	case keys.ProgramHead:
		s = "head of program " + r.Str()
	case keys.ProgramVersion:
		name := r.Str()
		s = fmt.Sprintf("program %s version %d", name, r.U32())
	case keys.Dataset:
		s = "dataset " + r.Str()
	case keys.Index:
		s = "index " + r.Str()
	case keys.Example:
		ds := r.Str()
		r.ID()
		r.U8()
		s = fmt.Sprintf("example %s of dataset %s", id(), ds)
	case keys.StagedPart:
		s = "staged part " + id()
	case keys.Execution:
		s = "execution " + id()
	case keys.Span:
		e := id()
		s = fmt.Sprintf("span %d of execution %s", r.U64(), e)
	case keys.Rollup:
		p := r.Str()
		s = fmt.Sprintf("cost rollup of program %s for %s", p, r.Str())
	case keys.Optimization:
		s = "optimization " + id()
	case keys.Trial:
		o := id()
		s = fmt.Sprintf("trial %d of optimization %s", r.U32(), o)
	case keys.Evaluation:
		s = "evaluation " + id()
	case keys.EvalResult:
		e := id()
		s = fmt.Sprintf("result %d of evaluation %s", r.U32(), e)
	case keys.User:
		s = "user " + r.Str()
	case keys.Token:
		s = "token " + id()
	case keys.TokenByHash:
		s = "token index entry"
	case keys.Audit:
		s = "audit record " + id()
	case keys.Traffic:
		s = "traffic split of program " + r.Str()
	case budgetTable:
		s = "budget " + r.Str()
	case keys.ExecByProgram, keys.ExecByState, keys.ExecByProgState:
		s = "execution index entry"
	case keys.OptByProgram:
		s = "optimization index entry"
	case keys.EvalByProgram:
		s = "evaluation index entry"
	case cacheTable:
		s = "cache entry"
	}
	if s == "" || r.Err() != nil {
		s = "record"
	}
	return fmt.Sprintf("%s (key %s)", s, hex.EncodeToString(k))
}

// Problem is one thing Verify found wrong, with the record it concerns.
type Problem struct {
	Key     string // describeKey of the record
	Problem string
}

// Report is what Verify found.
type Report struct {
	Records  int
	Problems []Problem
}

// maxProblems bounds a report: past it, a store is damaged enough.
const maxProblems = 1000

// Verify reads every table's checksums and every record, and checks the
// indexes against the records (DESIGN.md section 3): each execution,
// optimization and evaluation has its index entries and each entry its
// record; each span, trial, result and example has its parent; each
// program head its version; each dataset's counts its examples; each
// index record decodes under its own name; each token has its lookup by
// hash, and its user.
func (s *Store) Verify(ctx context.Context) (*Report, error) {
	rep := &Report{}
	add := func(k []byte, format string, args ...any) {
		if len(rep.Problems) < maxProblems {
			rep.Problems = append(rep.Problems, Problem{Key: describeKey(k), Problem: fmt.Sprintf(format, args...)})
		}
	}
	if !s.opts.InMemory {
		if err := verifyTables(s.db); err != nil {
			rep.Problems = append(rep.Problems, Problem{Key: "tables", Problem: err.Error()})
		}
	}
	type job struct{ program, state string }
	execs := map[model.ID]job{}
	parents := map[byte]map[model.ID]bool{keys.Optimization: {}, keys.Evaluation: {}}
	type ref struct {
		key    []byte
		parent byte
		id     model.ID
	}
	var refs []ref       // records and index entries that need a parent
	var execIdx [][]byte // execution index keys, checked against execs
	execIdxSet := map[string]bool{}
	heads := map[string]int{}
	versions := map[string]map[int]bool{}
	datasets := map[string]*datasetRecord{}
	exampleCount := map[string]map[model.Split]int{} // visible examples by dataset
	var examples [][]byte                            // checked against their dataset's parts
	staged := map[model.ID]bool{}
	users := map[string]bool{}
	type tokenRef struct{ user, hash string }
	tokens := map[model.ID]tokenRef{}
	tokenHashes := map[string]model.ID{} // hash entries, checked against tokens

	err := s.view(ctx, func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			k := item.KeyCopy(nil)
			rep.Records++
			var raw []byte
			if _, err := checkedValue(item, func(b []byte) error {
				raw = slices.Clone(b)
				if len(b) > 0 && (b[0] == '{' || b[0] == '[') && !json.Valid(b) {
					return errors.New("its JSON does not parse")
				}
				return nil
			}); err != nil {
				add(k, "%v", err)
				continue
			}
			r := keys.Read(k, k[0])
			switch k[0] {
			case keys.Execution:
				var e struct {
					Program string `json:"program"`
					State   string `json:"state"`
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					add(k, "does not decode: %v", err)
					continue
				}
				execs[r.ID()] = job{e.Program, e.State}
			case keys.ExecByProgram, keys.ExecByState, keys.ExecByProgState:
				execIdx = append(execIdx, k)
				execIdxSet[string(k)] = true
			case keys.Span:
				refs = append(refs, ref{k, keys.Execution, r.ID()})
			case keys.Optimization, keys.Evaluation:
				parents[k[0]][r.ID()] = true
			case keys.OptByProgram, keys.EvalByProgram:
				r.Str()
				parent := byte(keys.Optimization)
				if k[0] == keys.EvalByProgram {
					parent = keys.Evaluation
				}
				refs = append(refs, ref{k, parent, r.ID()})
			case keys.Trial:
				refs = append(refs, ref{k, keys.Optimization, r.ID()})
			case keys.EvalResult:
				refs = append(refs, ref{k, keys.Evaluation, r.ID()})
			case keys.ProgramHead:
				if len(raw) != 4 {
					add(k, "has %d bytes, want 4", len(raw))
					continue
				}
				heads[r.Str()] = int(binary.BigEndian.Uint32(raw))
			case keys.ProgramVersion:
				name := r.Str()
				if versions[name] == nil {
					versions[name] = map[int]bool{}
				}
				versions[name][int(r.U32())] = true
			case keys.Dataset:
				var d datasetRecord
				if err := json.Unmarshal(raw, &d); err != nil {
					add(k, "does not decode: %v", err)
					continue
				}
				datasets[r.Str()] = &d
			case keys.Index:
				if err := verifyIndex(r.Str(), raw); err != nil {
					add(k, "%v", err)
				}
			case keys.StagedPart:
				staged[r.ID()] = true
			case keys.User:
				users[r.Str()] = true
			case keys.Token:
				var t model.Token
				if err := json.Unmarshal(raw, &t); err != nil {
					add(k, "does not decode: %v", err)
					continue
				}
				tokens[r.ID()] = tokenRef{t.User, t.Hash}
			case keys.TokenByHash:
				if len(raw) != len(model.ID{}) {
					add(k, "holds %d bytes, want a token's ID", len(raw))
					continue
				}
				tokenHashes[r.Str()] = model.ID(raw)
			case keys.Example:
				if _, _, _, _, err := decodeExampleKey(k); err != nil {
					add(k, "bad key: %v", err)
					continue
				}
				examples = append(examples, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: verify %s: %w", where(s.opts), err)
	}

	for _, k := range execIdx {
		r := keys.Read(k, k[0])
		var program, state string
		switch k[0] {
		case keys.ExecByProgram:
			program = r.Str()
		case keys.ExecByState:
			state = r.Str()
		case keys.ExecByProgState:
			program, state = r.Str(), r.Str()
		}
		id := r.ID()
		e, ok := execs[id]
		switch {
		case r.Done() != nil:
			add(k, "bad key: %v", r.Done())
		case !ok:
			add(k, "points at execution %s, which does not exist", model.ID(id))
		case program != "" && program != e.program, state != "" && state != e.state:
			add(k, "says program %q state %q; the execution has %q, %q", program, state, e.program, e.state)
		}
	}
	for id, e := range execs {
		x := &model.Execution{ID: id, Program: e.program, State: model.RunState(e.state)}
		for _, ik := range execIndexKeys(x) {
			if !execIdxSet[string(ik)] {
				add(execKey(id), "its index entry %s is missing", hex.EncodeToString(ik))
			}
		}
	}
	for _, r := range refs {
		var ok bool
		if r.parent == keys.Execution {
			_, ok = execs[r.id]
		} else {
			ok = parents[r.parent][r.id]
		}
		if !ok {
			add(r.key, "its %s %s does not exist", tableName(r.parent), model.ID(r.id))
		}
	}
	for hash, id := range tokenHashes {
		if t, ok := tokens[id]; !ok || t.hash != hash {
			add(tokenHashKey(hash), "points at token %s, which does not exist or has another hash", id)
		}
	}
	for id, t := range tokens {
		if tokenHashes[t.hash] != id {
			add(tokenKey(id), "its lookup by hash is missing")
		}
		if !users[t.user] {
			add(tokenKey(id), "its user %s does not exist", t.user)
		}
	}
	for name, head := range heads {
		if !versions[name][head] {
			add(programHeadKey(name), "points at version %d, which does not exist", head)
		}
	}
	for _, k := range examples {
		ds, part, code, _, _ := decodeExampleKey(k)
		d := datasets[ds]
		switch {
		case staged[part]: // an import or delete in progress, swept at open
		case d == nil:
			add(k, "its dataset %s does not exist", ds)
		case slices.Contains(d.Parts, part):
			if exampleCount[ds] == nil {
				exampleCount[ds] = map[model.Split]int{}
			}
			exampleCount[ds][splitOf(code)]++
		default:
			add(k, "belongs to part %s, which dataset %s does not list", part, ds)
		}
	}
	for name, d := range datasets {
		for _, sp := range []model.Split{model.Train, model.Validation, model.Test} {
			if got, want := exampleCount[name][sp], d.Counts[sp]; got != want {
				add(datasetKey(name), "counts %d %s examples; %d are stored", want, sp, got)
			}
		}
	}
	return rep, nil
}

func tableName(t byte) string {
	switch t {
	case keys.Execution:
		return "execution"
	case keys.Optimization:
		return "optimization"
	case keys.Evaluation:
		return "evaluation"
	}
	return string(t)
}

// verifyTables is Badger's VerifyChecksum, which panics on some damaged
// blocks (a nil block after a failed read) instead of returning an error.
func verifyTables(db *badger.DB) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("a table is unreadable (%v)", p)
		}
	}()
	return db.VerifyChecksum()
}
