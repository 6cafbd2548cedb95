package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

func programHeadKey(name string) []byte {
	return keys.New(keys.ProgramHead).Str(name).Bytes()
}

func programVersionPrefix(name string) []byte {
	return keys.New(keys.ProgramVersion).Str(name).Bytes()
}

func programVersionKey(name string, version int) []byte {
	return keys.New(keys.ProgramVersion).Str(name).U32(uint32(version)).Bytes()
}

// readHead returns the latest version number of a program.
func readHead(txn *badger.Txn, name string) (int, error) {
	item, err := txn.Get(programHeadKey(name))
	if err != nil {
		return 0, notFound(err)
	}
	var v int
	err = value(item, func(b []byte) error {
		if len(b) != 4 {
			return fmt.Errorf("head record has %d bytes, want 4", len(b))
		}
		v = int(binary.BigEndian.Uint32(b))
		return nil
	})
	return v, err
}

func readProgram(txn *badger.Txn, name string, version int) (*model.Program, error) {
	var p model.Program
	if err := getJSON(txn, programVersionKey(name, version), &p); err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}

// writeVersion stores p as version p.Version and moves the head to it. It
// returns the stored form, decoded, so the caller holds no alias of p.
func writeVersion(txn *badger.Txn, p *model.Program) (*model.Program, error) {
	if p.Version <= 0 || p.Version > math.MaxUint32 {
		return nil, fmt.Errorf("version %d out of range", p.Version)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := txn.Set(programVersionKey(p.Name, p.Version), b); err != nil {
		return nil, err
	}
	if err := txn.Set(programHeadKey(p.Name), binary.BigEndian.AppendUint32(nil, uint32(p.Version))); err != nil {
		return nil, err
	}
	var out model.Program
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateProgram stores version 1 of a new program (status draft unless
// given). The name must be free.
func (s *Store) CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	if p == nil {
		return nil, errors.New("create program: nil program")
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("program %q: %w", p.Name, err)
	}
	var out *model.Program
	err := s.update(ctx, func(txn *badger.Txn) error {
		if _, err := readHead(txn, p.Name); err == nil {
			return ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		v := *p
		v.Version = 1
		if v.Status == "" {
			v.Status = model.Draft
		}
		v.CreatedAt = s.now().UTC()
		var err error
		out, err = writeVersion(txn, &v)
		return err
	})
	s.programs.Add(1)
	if err != nil {
		return nil, fmt.Errorf("create program %q: %w", p.Name, err)
	}
	return out, nil
}

// SaveProgram stores p as a new version after the head. p.Version is
// ignored, and so is p.Status: status changes only through
// SetProgramStatus, so that each one is an explicit, recorded action.
func (s *Store) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	if p == nil {
		return nil, errors.New("save program: nil program")
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("program %q: %w", p.Name, err)
	}
	var out *model.Program
	err := s.update(ctx, func(txn *badger.Txn) error {
		head, err := readHead(txn, p.Name)
		if err != nil {
			return err
		}
		cur, err := readProgram(txn, p.Name, head)
		if err != nil {
			return fmt.Errorf("version %d: %w", head, err)
		}
		v := *p
		v.Version = head + 1
		v.Status = cur.Status
		v.CreatedAt = s.now().UTC()
		out, err = writeVersion(txn, &v)
		return err
	})
	s.programs.Add(1)
	if err != nil {
		return nil, fmt.Errorf("save program %q: %w", p.Name, err)
	}
	return out, nil
}

// GetProgram returns the latest version of a program.
func (s *Store) GetProgram(ctx context.Context, name string) (*model.Program, error) {
	var out *model.Program
	err := s.view(ctx, func(txn *badger.Txn) error {
		if err := existingName("program", name); err != nil {
			return err
		}
		head, err := readHead(txn, name)
		if err != nil {
			return err
		}
		out, err = readProgram(txn, name, head)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("program %q: %w", name, err)
	}
	return out, nil
}

// ProgramsChanged counts the writes of programs this store has made (a
// version added, a program deleted), counted once each returns, whatever it
// returned. A reader that noted the count before reading a version may keep
// it for as long as the count stays the same: versions are immutable, but a
// program deleted and created again reuses its version numbers. Only this
// process writes the store (Badger's lock), so the count sees every change.
func (s *Store) ProgramsChanged() uint64 { return s.programs.Load() }

// GetProgramVersion returns one version of a program.
func (s *Store) GetProgramVersion(ctx context.Context, name string, version int) (*model.Program, error) {
	if version <= 0 || version > math.MaxUint32 {
		return nil, fmt.Errorf("program %q version %d: %w", name, version, ErrNotFound)
	}
	var out *model.Program
	err := s.view(ctx, func(txn *badger.Txn) error {
		if err := existingName("program", name); err != nil {
			return err
		}
		var err error
		out, err = readProgram(txn, name, version)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("program %q version %d: %w", name, version, err)
	}
	return out, nil
}

// ListPrograms returns the latest version of every program, by name.
func (s *Store) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	var out []*model.Program
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(withValues([]byte{keys.ProgramHead}, 0))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			r := keys.Read(it.Item().Key(), keys.ProgramHead)
			name := r.Str()
			if err := r.Done(); err != nil {
				return err
			}
			head, err := readHead(txn, name)
			if err != nil {
				return fmt.Errorf("program %q: %w", name, err)
			}
			p, err := readProgram(txn, name, head)
			if err != nil {
				return fmt.Errorf("program %q version %d: %w", name, head, err)
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list programs: %w", err)
	}
	// Keys group names by length first; users expect alphabetical order.
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ProgramVersions returns every version of a program, oldest first.
func (s *Store) ProgramVersions(ctx context.Context, name string) ([]*model.Program, error) {
	var out []*model.Program
	err := s.view(ctx, func(txn *badger.Txn) error {
		if err := existingName("program", name); err != nil {
			return err
		}
		it := txn.NewIterator(withValues(programVersionPrefix(name), 0))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var p model.Program
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &p) }); err != nil {
				return err
			}
			out = append(out, &p)
		}
		if len(out) == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("program %q versions: %w", name, err)
	}
	return out, nil
}

// SetProgramStatus records a status change as a new version that copies the
// head. Setting the status it already has writes nothing.
func (s *Store) SetProgramStatus(ctx context.Context, name string, st model.ProgramStatus, note string) (*model.Program, error) {
	if _, err := model.ParseProgramStatus(string(st)); err != nil {
		return nil, fmt.Errorf("program %q: %w", name, err)
	}
	var out *model.Program
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := existingName("program", name); err != nil {
			return err
		}
		head, err := readHead(txn, name)
		if err != nil {
			return err
		}
		cur, err := readProgram(txn, name, head)
		if err != nil {
			return fmt.Errorf("version %d: %w", head, err)
		}
		if cur.Status == st {
			out = cur
			return nil
		}
		cur.Version = head + 1
		cur.Status = st
		cur.Note = note
		cur.CreatedAt = s.now().UTC()
		out, err = writeVersion(txn, cur)
		return err
	})
	s.programs.Add(1)
	if err != nil {
		return nil, fmt.Errorf("set status of program %q: %w", name, err)
	}
	return out, nil
}

// DeleteProgram removes the head, every version and the traffic split in
// one transaction, so a program is either whole or gone. Its executions stay, as history.
func (s *Store) DeleteProgram(ctx context.Context, name string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := existingName("program", name); err != nil {
			return err
		}
		if _, err := readHead(txn, name); err != nil {
			return err
		}
		if err := txn.Delete(programHeadKey(name)); err != nil {
			return err
		}
		// A split names versions that go with the program.
		if err := txn.Delete(trafficKey(name)); err != nil {
			return err
		}
		it := txn.NewIterator(keyOnly(programVersionPrefix(name), false))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := txn.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	s.programs.Add(1)
	if err != nil {
		return fmt.Errorf("delete program %q: %w", name, err)
	}
	return nil
}
