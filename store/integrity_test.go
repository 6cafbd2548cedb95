package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

// snapshot is every file of dir with its bytes, to prove a refused open
// changed nothing. Badger's LOCK pid file is left out: it is the lock, not
// data.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// filled is a closed on-disk store holding executions whose spans carry
// big completions (so they live in the value log), each with a marker
// that can be found in the files.
func filled(t *testing.T, n int) (dir string, ids []model.ID) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir, nil)
	base := time.Now()
	for i := range n {
		e := newExec("qa", model.Completed, base.Add(time.Duration(i)*time.Second))
		sp := model.Span{Seq: 1, Name: "predict", Completion: marker(i) + strings.Repeat("x", 4<<10)}
		if err := s.PutExecutionWithSpans(context.Background(), e, []model.Span{sp}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

func marker(i int) string { return "MARKER-" + string(rune('A'+i)) + "-" }

func files(t *testing.T, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

// flip changes one byte of path where needle first occurs (or at off when
// needle is empty), as a bad disk would.
func flip(t *testing.T, path, needle string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if needle != "" {
		off = bytes.Index(b, []byte(needle))
		if off < 0 {
			t.Fatalf("%q not in %s", needle, path)
		}
		off += 2
	}
	b[off] ^= 0x20
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func openRefused(t *testing.T, dir string, want ...string) {
	t.Helper()
	before := snapshot(t, dir)
	s, err := Open(context.Background(), Options{Dir: dir, GCInterval: -1})
	if err == nil {
		s.Close()
		t.Fatal("a damaged store opened")
	}
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("error is not ErrDamaged: %v", err)
	}
	for _, w := range append(want, dir, "restore a backup") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused open changed the directory: %d files before, %d after", len(before), len(after))
	}
}

func TestOpenRefusesMissingManifest(t *testing.T) {
	dir, _ := filled(t, 3)
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	openRefused(t, dir, "MANIFEST is missing")
}

func TestOpenRefusesCorruptTable(t *testing.T) {
	dir, _ := filled(t, 3)
	ssts := files(t, dir, ".sst")
	if len(ssts) == 0 {
		t.Fatal("no table written")
	}
	flip(t, ssts[0], "qa", 0)
	openRefused(t, dir, filepath.Base(ssts[0]), "checksum")
}

func TestOpenRefusesMissingTable(t *testing.T) {
	dir, _ := filled(t, 3)
	ssts := files(t, dir, ".sst")
	if err := os.Remove(ssts[0]); err != nil {
		t.Fatal(err)
	}
	openRefused(t, dir, filepath.Base(ssts[0]), "listed in MANIFEST")
}

// Badger cuts the newest value log at its first bad entry when it opens
// it, losing every value after; Open refuses instead.
func TestOpenRefusesCorruptNewestValueLog(t *testing.T) {
	dir, _ := filled(t, 3)
	vlogs := files(t, dir, ".vlog")
	flip(t, vlogs[len(vlogs)-1], marker(0), 0)
	openRefused(t, dir, filepath.Base(vlogs[len(vlogs)-1]), "bad entry")
}

// A crash leaves the rest of a preallocated log file as zeros: that is the
// normal end of what was written, and opens.
func TestOpenAcceptsZeroTail(t *testing.T) {
	dir, ids := filled(t, 3)
	vlogs := files(t, dir, ".vlog")
	f, err := os.OpenFile(vlogs[len(vlogs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 64<<10))
	f.Close()
	s := openDir(t, dir, nil)
	defer s.Close()
	if sp, err := s.Spans(context.Background(), ids[2], 0, 10); err != nil || len(sp) != 1 {
		t.Fatalf("spans after a zero tail: %v, %v", sp, err)
	}
}

// A flipped byte in an older value log is caught by Badger's value
// checksum on read; Badger hands back an empty value without an error,
// which the store reports as ErrCorrupt naming the record. The other
// records stay readable.
func TestCorruptValueIsReportedWithItsKey(t *testing.T) {
	dir, ids := filled(t, 3)
	// One more open and close starts a newer value log, so the damaged one
	// is not the newest (which Open would refuse).
	openDir(t, dir, nil).Close()
	vlogs := files(t, dir, ".vlog")
	if len(vlogs) < 2 {
		t.Fatalf("value logs: %v", vlogs)
	}
	flip(t, vlogs[0], marker(1), 0)

	log := &syncBuffer{}
	s := openDir(t, dir, log)
	defer s.Close()
	ctx := context.Background()
	_, err := s.Spans(ctx, ids[1], 0, 10)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading the damaged span: %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), "span 1 of execution "+ids[1].String()) {
		t.Errorf("error does not name the record: %v", err)
	}
	for _, i := range []int{0, 2} {
		sp, err := s.Spans(ctx, ids[i], 0, 10)
		if err != nil || len(sp) != 1 || !strings.HasPrefix(sp[0].Completion, marker(i)) {
			t.Errorf("span of execution %d: %v, %v", i, len(sp), err)
		}
	}
	rep, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Key, ids[1].String()) {
		t.Fatalf("verify: %+v", rep.Problems)
	}
}

func TestVerifyFindsBrokenIndexes(t *testing.T) {
	ctx := context.Background()
	s := newMemStore(t)
	if _, err := s.CreateProgram(ctx, qa("qa")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportExamples(ctx, &model.Dataset{Name: "ds"}, examples(20, allTrain, 0)); err != nil {
		t.Fatal(err)
	}
	var ids []model.ID
	for i := range 5 {
		e := newExec("qa", model.Completed, time.Now().Add(time.Duration(i)*time.Second))
		if err := s.PutExecutionWithSpans(ctx, e, []model.Span{{Seq: 1, Name: "x"}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	rep, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.Records == 0 {
		t.Fatalf("a sound store: %d records, problems %+v", rep.Records, rep.Problems)
	}

	// Break it below the store's methods: an index entry gone, a record
	// gone under its span, a program head past its versions, an example
	// more than the dataset counts.
	gone := newExec("qa", model.Completed, time.Now())
	gone.ID = ids[0]
	orphan := model.NewID()
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Delete(execIndexKeys(gone)[1]); err != nil {
			return err
		}
		if err := txn.Delete(execKey(ids[1])); err != nil {
			return err
		}
		if err := txn.Set(spanKey(orphan, 1), []byte(`{}`)); err != nil {
			return err
		}
		return txn.Set(programHeadKey("qa"), []byte{0, 0, 0, 9})
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"execution " + ids[0].String() + ": its index entry",
		"execution index entry: points at execution " + ids[1].String(),
		"span 1 of execution " + ids[1].String() + ": its execution",
		"span 1 of execution " + orphan.String() + ": its execution",
		"head of program qa: points at version 9",
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, strip(p.Key)+": "+p.Problem)
	}
	for _, w := range want {
		if !slices_containsPrefix(got, w) {
			t.Errorf("verify did not report %q; it reported:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// strip drops the hex key from a record's description.
func strip(desc string) string {
	if i := strings.Index(desc, " (key "); i >= 0 {
		return desc[:i]
	}
	return desc
}

func slices_containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// A table verified in full at one open is not read whole again at the
// next (its index is, and its blocks as they are read); damage that comes
// later is found by Verify (doctor), and a lost or garbled record of what
// was verified means every table is verified again.
func TestOpenVerifiesTablesOnce(t *testing.T) {
	dir, _ := filled(t, 300) // a table of several blocks: Badger reads the last at open
	ssts := files(t, dir, ".sst")
	if len(ssts) == 0 {
		t.Fatal("no table written")
	}
	s, err := Open(context.Background(), Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(readVerified(dir)) == 0 {
		t.Fatal("the open recorded no verified table")
	}
	flip(t, ssts[0], "qa", 0)
	s, err = Open(context.Background(), Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatalf("a table verified before is verified in full again: %v", err)
	}
	rep, err := s.Verify(context.Background())
	s.Close()
	if err != nil || len(rep.Problems) == 0 {
		t.Fatalf("Verify missed a damaged table: %+v %v", rep, err)
	}
	if err := os.WriteFile(filepath.Join(dir, verifiedName), []byte("{garbled"), 0o600); err != nil {
		t.Fatal(err)
	}
	openRefused(t, dir, filepath.Base(ssts[0]), "checksum")
}
