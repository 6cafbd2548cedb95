package store

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// ErrDamaged is a database whose files are not what Badger wrote: opening
// it would lose data (Badger starts an empty database when MANIFEST is
// gone, and cuts a log at its first bad entry), so Open refuses it first.
var ErrDamaged = errors.New("the store is damaged")

// Badger's on-disk names (badger's manifest.go, memtable.go, table.go).
const (
	manifestName  = "MANIFEST"
	logHeaderSize = 20 // key id and IV at the start of every .vlog and .mem file
)

// damaged is the error for one damaged file of the database in dir.
func damaged(dir, format string, args ...any) error {
	return fmt.Errorf("store: %s: %s: %w; nothing was changed: restore a backup (`signet restore FILE --workspace NEW_DIR`) or move the directory away", dir, fmt.Sprintf(format, args...), ErrDamaged)
}

// preflight checks a database directory before Badger opens it for
// writing, reading only: MANIFEST present when tables or logs are, every
// table it lists present with valid checksums, and the logs Badger replays
// at open (every memtable .mem file, the newest .vlog) intact up to their
// written end. A directory absent or empty is a new database.
func preflight(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", dir, err)
	}
	var data, mems []string
	var vlogs []string
	hasManifest := false
	for _, e := range entries {
		switch name := e.Name(); {
		case name == manifestName:
			hasManifest = true
		case strings.HasSuffix(name, ".sst"):
			data = append(data, name)
		case strings.HasSuffix(name, ".vlog"):
			data = append(data, name)
			vlogs = append(vlogs, name)
		case strings.HasSuffix(name, ".mem"):
			data = append(data, name)
			mems = append(mems, name)
		}
	}
	if !hasManifest {
		if len(data) > 0 {
			return damaged(dir, "MANIFEST is missing while %d table and log files (%s) are present", len(data), strings.Join(first(data, 3), ", "))
		}
		return nil
	}
	verified, err := checkTables(dir)
	if err != nil {
		return err
	}
	for _, m := range mems {
		if err := checkLog(filepath.Join(dir, m)); err != nil {
			return damaged(dir, "%v", err)
		}
	}
	// Badger cuts only the newest value log at open; older ones are
	// verified record by record when read (VerifyValueChecksum).
	if len(vlogs) > 0 {
		sort.Slice(vlogs, func(i, j int) bool { return logID(vlogs[i]) < logID(vlogs[j]) })
		if err := checkLog(filepath.Join(dir, vlogs[len(vlogs)-1])); err != nil {
			return damaged(dir, "%v", err)
		}
	}
	writeVerified(dir, verified) // only once nothing is refused: a refused open changes nothing
	return nil
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func logID(name string) uint64 {
	var id uint64
	fmt.Sscanf(name, "%d", &id)
	return id
}

// checkTables replays MANIFEST and verifies the checksums of every table
// it lists (every block of a table not verified at an earlier open, the
// index of the others), returning what it verified, as Badger does with OnTableRead, without Badger's side effects
// (it would truncate MANIFEST, create a memtable and delete tables first).
func checkTables(dir string) (map[uint64]int64, error) {
	f, err := os.Open(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", dir, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", dir, err)
	}
	m, good, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return nil, damaged(dir, "MANIFEST is unreadable (%v)", err)
	}
	if good < st.Size() {
		return nil, damaged(dir, "MANIFEST has %d unreadable bytes at offset %d", st.Size()-good, good)
	}
	ids := make([]uint64, 0, len(m.Tables))
	for id := range m.Tables {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	before := readVerified(dir)
	now := map[uint64]int64{}
	for _, id := range ids {
		path := table.NewFilename(id, dir)
		size := fileSize(path)
		// A table is immutable: one whose every block was verified at an
		// earlier open has its index checked (its own checksum) and its
		// blocks checked as they are read (OnBlockRead); doctor verifies all.
		full := before[id] == 0 || before[id] != size
		if err := checkTable(path, m.Tables[id].Compression, full); err != nil {
			return nil, damaged(dir, "%v", err)
		}
		now[id] = size
	}
	return now, nil
}

// verifiedName records the tables whose every block a preflight verified
// (table id → size), so that an open verifies only the tables written since.
const verifiedName = "SIGNET-VERIFIED"

func readVerified(dir string) map[uint64]int64 {
	m := map[uint64]int64{}
	b, err := os.ReadFile(filepath.Join(dir, verifiedName))
	if err != nil {
		return m
	}
	if json.Unmarshal(b, &m) != nil {
		return map[uint64]int64{} // unreadable: verify everything again
	}
	return m
}

// writeVerified replaces the record; failing to write it only means the
// next open verifies more.
func writeVerified(dir string, m map[uint64]int64) {
	b, _ := json.Marshal(m)
	tmp := filepath.Join(dir, "."+verifiedName)
	if os.WriteFile(tmp, b, 0o600) == nil && os.Rename(tmp, filepath.Join(dir, verifiedName)) != nil {
		os.Remove(tmp)
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

// checkTable opens one table read-only, its index verified and, when full,
// every block. The table is never released through its reference count,
// which would delete the file: only its mapping is closed.
func checkTable(path string, c options.CompressionType, full bool) (err error) {
	name := filepath.Base(path)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("table %s listed in MANIFEST: %w", name, err)
	}
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("table %s: %w", name, err)
	}
	defer func() {
		// A garbled index can make the flatbuffer reader panic.
		if p := recover(); p != nil {
			err = fmt.Errorf("table %s is unreadable (%v)", name, p)
		}
		mf.Close(-1)
	}()
	mode := options.NoVerification
	if full {
		mode = options.OnTableRead
	}
	if _, err := table.OpenTable(mf, table.Options{ChkMode: mode, Compression: c, BlockSize: 4 << 10}); err != nil {
		return fmt.Errorf("table %s fails its checksum (%v)", name, err)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkLog reads a .vlog or .mem file entry by entry as Badger's replay
// does (header of varints, key, value, CRC32-C), and refuses one whose
// written part does not end where its good entries end: Badger would cut
// the file there and lose everything after. A crash leaves the unwritten
// rest of a preallocated file as zeros (or a hole), which is fine.
func checkLog(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	name := filepath.Base(path)
	end, err := goodEnd(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	at, err := nonZeroFrom(f, end)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if at >= 0 {
		return fmt.Errorf("%s has a bad entry at offset %d (data follows it at offset %d)", name, end, at)
	}
	return nil
}

// goodEnd is the offset after the last entry whose checksum holds, before
// the first zero or bad entry.
func goodEnd(br *bufio.Reader) (int64, error) {
	if _, err := br.Discard(logHeaderSize); err != nil {
		return 0, nil // shorter than its header: nothing written (zeros are checked after)
	}
	r := &entryReader{r: br, n: logHeaderSize, h: crc32.New(castagnoli)}
	for {
		end := r.n
		r.h.Reset()
		var flags [2]byte // meta, user meta
		if _, err := io.ReadFull(r, flags[:]); err != nil {
			return end, nil
		}
		klen, err1 := binary.ReadUvarint(r)
		vlen, err2 := binary.ReadUvarint(r)
		_, err3 := binary.ReadUvarint(r) // expiry
		if errors.Join(err1, err2, err3) != nil || klen == 0 || klen > 1<<16 {
			return end, nil // a zero entry (the end of what was written) or a bad one
		}
		if _, err := io.CopyN(io.Discard, r, int64(klen+vlen)); err != nil {
			return end, nil
		}
		sum := r.h.Sum32()
		var crc [4]byte
		if _, err := io.ReadFull(br, crc[:]); err != nil || binary.BigEndian.Uint32(crc[:]) != sum {
			return end, nil
		}
		r.n += int64(len(crc))
	}
}

// entryReader counts and hashes what it reads.
type entryReader struct {
	r *bufio.Reader
	n int64
	h hash.Hash32
}

func (e *entryReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	e.h.Write(p[:n])
	return n, err
}

func (e *entryReader) ReadByte() (byte, error) {
	b, err := e.r.ReadByte()
	if err == nil {
		e.n++
		e.h.Write([]byte{b})
	}
	return b, err
}

// nonZeroFrom is the offset of the first byte at or after off that is not
// zero, or -1. Holes of a sparse file are skipped without reading them.
func nonZeroFrom(f *os.File, off int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 1<<20)
	for off < size {
		start, stop := dataRange(f, off, size)
		for start < stop {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), stop-start)], start)
			for i, b := range buf[:n] {
				if b != 0 {
					return start + int64(i), nil
				}
			}
			start += int64(n)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return -1, nil
				}
				return 0, err
			}
		}
		off = stop
	}
	return -1, nil
}
