package store

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/signet-dspy/signet/model"
)

func qa(name string) *model.Program {
	return &model.Program{
		Name:    name,
		LM:      "local",
		Modules: []model.Module{{Name: "answer", Type: model.ChainOfThought, Signature: "question -> answer"}},
	}
}

func TestPrograms(t *testing.T) {
	ctx := context.Background()
	type step struct {
		name    string
		do      func(s *Store) (*model.Program, error)
		wantErr error // nil: success
		wantVer int
		wantSt  model.ProgramStatus
	}
	tests := []struct {
		name  string
		steps []step
		// after the steps
		head     int
		versions []int
		statuses []model.ProgramStatus
	}{
		{
			name: "create is version 1, draft",
			steps: []step{
				{name: "create", do: func(s *Store) (*model.Program, error) { return s.CreateProgram(ctx, qa("qa")) }, wantVer: 1, wantSt: model.Draft},
			},
			head: 1, versions: []int{1}, statuses: []model.ProgramStatus{model.Draft},
		},
		{
			name: "duplicate create is ErrExists and writes nothing",
			steps: []step{
				{name: "create", do: func(s *Store) (*model.Program, error) { return s.CreateProgram(ctx, qa("qa")) }, wantVer: 1, wantSt: model.Draft},
				{name: "create again", do: func(s *Store) (*model.Program, error) { return s.CreateProgram(ctx, qa("qa")) }, wantErr: ErrExists},
			},
			head: 1, versions: []int{1}, statuses: []model.ProgramStatus{model.Draft},
		},
		{
			name: "saves add versions, ignore Version and Status",
			steps: []step{
				{name: "create", do: func(s *Store) (*model.Program, error) {
					p := qa("qa")
					p.Status = model.Testing
					return s.CreateProgram(ctx, p)
				}, wantVer: 1, wantSt: model.Testing},
				{name: "save", do: func(s *Store) (*model.Program, error) {
					p := qa("qa")
					p.Version, p.Status, p.Description = 99, model.Production, "v2"
					return s.SaveProgram(ctx, p)
				}, wantVer: 2, wantSt: model.Testing},
				{name: "save", do: func(s *Store) (*model.Program, error) { return s.SaveProgram(ctx, qa("qa")) }, wantVer: 3, wantSt: model.Testing},
			},
			head: 3, versions: []int{1, 2, 3}, statuses: []model.ProgramStatus{model.Testing, model.Testing, model.Testing},
		},
		{
			name: "save of a missing program is ErrNotFound",
			steps: []step{
				{name: "save", do: func(s *Store) (*model.Program, error) { return s.SaveProgram(ctx, qa("qa")) }, wantErr: ErrNotFound},
			},
		},
		{
			name: "status changes are versions; same status writes nothing",
			steps: []step{
				{name: "create", do: func(s *Store) (*model.Program, error) { return s.CreateProgram(ctx, qa("qa")) }, wantVer: 1, wantSt: model.Draft},
				{name: "to testing", do: func(s *Store) (*model.Program, error) { return s.SetProgramStatus(ctx, "qa", model.Testing, "try it") }, wantVer: 2, wantSt: model.Testing},
				{name: "to testing again", do: func(s *Store) (*model.Program, error) { return s.SetProgramStatus(ctx, "qa", model.Testing, "") }, wantVer: 2, wantSt: model.Testing},
				{name: "to production", do: func(s *Store) (*model.Program, error) { return s.SetProgramStatus(ctx, "qa", model.Production, "ship") }, wantVer: 3, wantSt: model.Production},
				{name: "bad status", do: func(s *Store) (*model.Program, error) { return s.SetProgramStatus(ctx, "qa", "live", "") }, wantErr: errAny},
				{name: "missing program", do: func(s *Store) (*model.Program, error) { return s.SetProgramStatus(ctx, "nope", model.Testing, "") }, wantErr: ErrNotFound},
			},
			head: 3, versions: []int{1, 2, 3}, statuses: []model.ProgramStatus{model.Draft, model.Testing, model.Production},
		},
		{
			name: "invalid program writes nothing",
			steps: []step{
				{name: "create without modules", do: func(s *Store) (*model.Program, error) {
					return s.CreateProgram(ctx, &model.Program{Name: "qa"})
				}, wantErr: errAny},
				{name: "create with a bad name", do: func(s *Store) (*model.Program, error) { return s.CreateProgram(ctx, qa("no spaces")) }, wantErr: errAny},
				{name: "create", do: func(s *Store) (*model.Program, error) { return s.CreateProgram(ctx, qa("qa")) }, wantVer: 1, wantSt: model.Draft},
				{name: "save with a bad module type", do: func(s *Store) (*model.Program, error) {
					p := qa("qa")
					p.Modules[0].Type = "magic"
					return s.SaveProgram(ctx, p)
				}, wantErr: errAny},
			},
			head: 1, versions: []int{1}, statuses: []model.ProgramStatus{model.Draft},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore(t)
			for _, st := range tt.steps {
				p, err := st.do(s)
				switch {
				case st.wantErr == errAny:
					if err == nil {
						t.Fatalf("%s: no error", st.name)
					}
					continue
				case st.wantErr != nil:
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
					}
					continue
				case err != nil:
					t.Fatalf("%s: %v", st.name, err)
				}
				if p.Version != st.wantVer || p.Status != st.wantSt {
					t.Fatalf("%s: got version %d status %s, want %d %s", st.name, p.Version, p.Status, st.wantVer, st.wantSt)
				}
				if p.CreatedAt.IsZero() {
					t.Fatalf("%s: no CreatedAt", st.name)
				}
			}
			if tt.head == 0 {
				if _, err := s.GetProgram(ctx, "qa"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("GetProgram: err = %v, want ErrNotFound", err)
				}
				if n := countKeys(t, s, []byte{'p'}) + countKeys(t, s, []byte{'P'}); n != 0 {
					t.Fatalf("%d program keys written", n)
				}
				return
			}
			head, err := s.GetProgram(ctx, "qa")
			if err != nil {
				t.Fatal(err)
			}
			if head.Version != tt.head {
				t.Fatalf("head = %d, want %d", head.Version, tt.head)
			}
			vs, err := s.ProgramVersions(ctx, "qa")
			if err != nil {
				t.Fatal(err)
			}
			var gotV []int
			var gotS []model.ProgramStatus
			for _, v := range vs {
				gotV = append(gotV, v.Version)
				gotS = append(gotS, v.Status)
			}
			if !reflect.DeepEqual(gotV, tt.versions) || !reflect.DeepEqual(gotS, tt.statuses) {
				t.Fatalf("versions = %v %v, want %v %v", gotV, gotS, tt.versions, tt.statuses)
			}
			last, err := s.GetProgramVersion(ctx, "qa", tt.head)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(last, head) {
				t.Fatalf("GetProgramVersion(head) = %+v, GetProgram = %+v", last, head)
			}
		})
	}
}

// errAny marks a step that must fail, with any error.
var errAny = errors.New("any error")

func TestProgramListAndDelete(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	for _, n := range []string{"zeta", "b", "alpha", "aa"} {
		if _, err := s.CreateProgram(ctx, qa(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SaveProgram(ctx, qa("b")); err != nil {
		t.Fatal(err)
	}
	ps, err := s.ListPrograms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		if p.Name == "b" && p.Version != 2 {
			t.Errorf("ListPrograms gives b version %d, want the latest, 2", p.Version)
		}
	}
	if want := []string{"aa", "alpha", "b", "zeta"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("ListPrograms = %v, want %v", names, want)
	}

	if err := s.DeleteProgram(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProgram(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetProgramVersion(ctx, "b", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("version of a deleted program: err = %v", err)
	}
	if _, err := s.ProgramVersions(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("versions of a deleted program: err = %v", err)
	}
	if n := countKeys(t, s, programVersionPrefix("b")); n != 0 {
		t.Fatalf("%d version keys left after delete", n)
	}
	// The name is free again and starts over at version 1.
	p, err := s.CreateProgram(ctx, qa("b"))
	if err != nil || p.Version != 1 {
		t.Fatalf("re-create after delete: %v, %+v", err, p)
	}
	if _, err := s.GetProgram(ctx, "not a name"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetProgram of an invalid name: err = %v, want ErrNotFound", err)
	}
}

// ProgramsChanged moves with every write of a program and never with a
// read, so a reader can keep decoded versions while it holds.
func TestProgramsChangedCountsWrites(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	changed := func(what string, want bool, do func() error) {
		t.Helper()
		before := s.ProgramsChanged()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := s.ProgramsChanged() != before; got != want {
			t.Fatalf("%s: ProgramsChanged moved %v, want %v", what, got, want)
		}
	}
	changed("create", true, func() error { _, err := s.CreateProgram(ctx, qa("p")); return err })
	changed("read a version", false, func() error { _, err := s.GetProgramVersion(ctx, "p", 1); return err })
	changed("list", false, func() error { _, err := s.ListPrograms(ctx); return err })
	changed("save", true, func() error { _, err := s.SaveProgram(ctx, qa("p")); return err })
	changed("set status", true, func() error { _, err := s.SetProgramStatus(ctx, "p", model.Production, "ship"); return err })
	changed("delete", true, func() error { return s.DeleteProgram(ctx, "p") })
	changed("create again", true, func() error { _, err := s.CreateProgram(ctx, qa("p")); return err })
}
