package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// Backup writes a full backup in Badger's own stream format (what
// `badger backup` writes and DB.Load reads). It sees one consistent snapshot;
// writes may go on meanwhile.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stream := s.db.NewStream()
	stream.LogPrefix = "store.Backup"
	if _, err := stream.Backup(ctxWriter{ctx, w}, 0); err != nil {
		return fmt.Errorf("backup of %s: %w", where(s.opts), err)
	}
	return nil
}

// Restore loads a backup written by Backup into o.Dir, which must be empty
// or absent. A backup from a newer Signet is refused (ErrNewerSchema). On
// failure the directory is left as it was found: absent or empty.
func Restore(ctx context.Context, o Options, r io.Reader) (err error) {
	if o.InMemory || o.Dir == "" {
		return errors.New("restore: needs a directory")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, rerr := os.ReadDir(o.Dir)
	existed := rerr == nil
	switch {
	case errors.Is(rerr, os.ErrNotExist):
	case rerr != nil:
		return fmt.Errorf("restore into %s: %w", o.Dir, rerr)
	case len(entries) > 0:
		return fmt.Errorf("restore into %s: directory is not empty: %w", o.Dir, ErrExists)
	}
	defer func() {
		if err != nil {
			cleanDir(o.Dir, existed)
		}
	}()
	l := newLogger(o.Log)
	db, err := badger.Open(badgerOptions(o, l))
	if err != nil {
		return fmt.Errorf("restore into %s: %w", o.Dir, err)
	}
	if err := load(db, &frameGuard{r: ctxReader{ctx, r}}); err != nil {
		db.Close()
		return fmt.Errorf("restore into %s: %w", o.Dir, err)
	}
	if err := restoredSchema(db); err != nil {
		db.Close()
		return fmt.Errorf("restore into %s: %w", o.Dir, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("restore into %s: %w", o.Dir, err)
	}
	return nil
}

// load is db.Load made safe for input that is not a backup: Load trusts the
// stream and panics (or allocates whatever a header claims) on garbage.
func load(db *badger.DB, r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("not a Badger backup stream (%v)", p)
		}
	}()
	return db.Load(r, 256)
}

// maxFrame bounds one frame of a backup stream. Badger's stream writes
// batches of about 100 MB at most.
const maxFrame = 512 << 20

// frameGuard passes a backup stream through while following its framing
// (little-endian uint64 size, then that many bytes), and stops at a size no
// backup has, before Load sees it.
type frameGuard struct {
	r    io.Reader
	hdr  [8]byte
	hdrN int    // bytes of the current size header seen so far
	left uint64 // bytes of the current frame still to pass
}

func (g *frameGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	hdrStart := 0 // where the current header began in p (0 if in an earlier read)
	for i := 0; i < n; {
		if g.left > 0 {
			k := min(uint64(n-i), g.left)
			i += int(k)
			g.left -= k
			continue
		}
		if g.hdrN == 0 {
			hdrStart = i
		}
		g.hdr[g.hdrN] = p[i]
		g.hdrN++
		i++
		if g.hdrN < len(g.hdr) {
			continue
		}
		g.hdrN = 0
		g.left = binary.LittleEndian.Uint64(g.hdr[:])
		if g.left > maxFrame {
			return hdrStart, fmt.Errorf("not a Badger backup stream: frame of %d bytes", g.left)
		}
	}
	return n, err
}

// restoredSchema checks that what was loaded is a Signet store we can read.
func restoredSchema(db *badger.DB) error {
	return db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return errors.New("the backup has no schema version: not a Signet store")
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(v) != 4 {
			return fmt.Errorf("schema version has %d bytes, want 4", len(v))
		}
		if got := binary.BigEndian.Uint32(v); got > SchemaVersion {
			return fmt.Errorf("backup has schema version %d, this Signet reads up to %d: %w", got, SchemaVersion, ErrNewerSchema)
		}
		return nil
	})
}

// cleanDir undoes a failed restore: the directory was empty or absent.
func cleanDir(dir string, existed bool) {
	if !existed {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
