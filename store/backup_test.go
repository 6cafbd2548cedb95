package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
)

// dump reads every key and value of a store, raw.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().KeyCopy(nil))] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newMemStore(t)
	if _, err := src.CreateProgram(ctx, qa("qa")); err != nil {
		t.Fatal(err)
	}
	if _, err := src.SaveProgram(ctx, qa("qa")); err != nil {
		t.Fatal(err)
	}
	if _, err := src.ImportExamples(ctx, &model.Dataset{Name: "ds"}, examples(2000, allTrain, 0)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		e := newExec("qa", model.Completed, time.Now().Add(time.Duration(i)*time.Second))
		e.Cost = 0.01
		if err := src.PutExecutionWithSpans(ctx, e, []model.Span{{Seq: 1, Name: "x"}, {Seq: 2, Name: "y"}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := src.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := Restore(ctx, Options{Dir: dir}, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	dst := openDir(t, dir, nil)
	defer dst.Close()
	if a, b := dump(t, src), dump(t, dst); !reflect.DeepEqual(a, b) {
		t.Fatalf("restored store differs: %d keys vs %d", len(a), len(b))
	}
	// And through the API.
	want, _, _ := src.ListExecutions(ctx, ExecQuery{Program: "qa"})
	got, _, err := dst.ListExecutions(ctx, ExecQuery{Program: "qa"})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("executions differ after restore: %v", err)
	}
	rs, _ := dst.CostRollups(ctx, "qa", "")
	if len(rs) == 0 || rs[0].Executions != 50 {
		t.Fatalf("rollups after restore: %+v", rs)
	}

	// A non-empty directory is refused and left alone.
	if err := Restore(ctx, Options{Dir: dir}, bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrExists) {
		t.Fatalf("restore into a non-empty dir: %v", err)
	}
	// Garbage is refused, and the directory is left empty.
	empty := t.TempDir()
	if err := Restore(ctx, Options{Dir: empty}, bytes.NewReader([]byte("not a backup at all"))); err == nil {
		t.Fatal("garbage restored")
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("failed restore left %d files", len(entries))
	}
	// A cancelled backup stops.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := src.Backup(cctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup: %v", err)
	}
}

func TestRestoreRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	src := newMemStore(t)
	err := src.db.Update(func(txn *badger.Txn) error {
		return txn.Set(schemaKey, binary.BigEndian.AppendUint32(nil, SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "db")
	if err := Restore(ctx, Options{Dir: dir}, &buf); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("restore of a newer backup: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused restore left %s behind: %v", dir, err)
	}
}

// chunkReader returns at most n bytes per Read, to split headers across reads.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

// FuzzFrameGuard: whatever the input and however it is split into reads,
// the bytes the guard lets through never contain a frame header above
// maxFrame, so Badger's Load never sees one.
func FuzzFrameGuard(f *testing.F) {
	var ok bytes.Buffer
	ok.Write(binary.LittleEndian.AppendUint64(nil, 3))
	ok.WriteString("abc")
	f.Add(ok.Bytes(), uint8(1))
	f.Add([]byte("not a backup at all"), uint8(7))
	f.Add(binary.LittleEndian.AppendUint64(nil, maxFrame+1), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		g := &frameGuard{r: &chunkReader{b: in, n: int(chunk%16) + 1}}
		out, err := io.ReadAll(g)
		if err == nil && !bytes.Equal(out, in) {
			t.Fatalf("guard changed a valid stream")
		}
		for len(out) >= 8 {
			sz := binary.LittleEndian.Uint64(out[:8])
			if sz > maxFrame {
				t.Fatalf("header of %d bytes let through", sz)
			}
			if uint64(len(out)-8) < sz {
				break
			}
			out = out[8+sz:]
		}
	})
}
