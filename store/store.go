// Package store is Signet's repository on Badger v4: programs and their
// immutable versions, datasets and paged examples, executions with their
// indexes, trace spans and cost rollups, optimizations and trials, backup
// and restore. Key layout lives in store/keys.
package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

// SchemaVersion is the layout this code reads and writes. Open refuses a
// database written by a newer Signet rather than misreading it.
const SchemaVersion = 1

// Sentinel errors; callers test them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrNewerSchema   = errors.New("store was written by a newer version of Signet")
	ErrInvalidCursor = keys.ErrBadCursor
	// ErrLocked is the database held by another process (Badger's lock).
	ErrLocked = errors.New("another process holds the store")
)

// Options configure Open.
type Options struct {
	Dir        string        // database directory; ignored when InMemory
	InMemory   bool          // tests
	Log        io.Writer     // Badger's logger and ours go here, never the terminal; nil = discard
	GCInterval time.Duration // value-log GC ticker; 0 = 5 min; <0 = off
	MinFree    int64         // bytes kept free on the disk: writes fail with ErrDiskFull below; 0 = 128 MiB; <0 = off
}

// Store is the repository. It is safe for concurrent use.
type Store struct {
	db   *badger.DB
	log  *logger
	opts Options
	now  func() time.Time

	// lastID is the last ID the store gave an execution it dated itself.
	idMu   sync.Mutex
	lastID model.ID

	stop   context.CancelFunc
	bg     context.Context
	wg     sync.WaitGroup // background goroutines: part sweep, GC ticker
	swept  chan struct{}  // closed when the sweep of parts left by a crash is done
	closed sync.Once

	// programs counts the committed writes of programs (ProgramsChanged).
	programs atomic.Uint64
	// rollups serialises the transactions that read-modify-write a cost
	// rollup (updateRollups); conflicts counts the transactions update re-ran.
	rollups   sync.Mutex
	conflicts atomic.Int64
	// rollupVals holds the rollups as committed, by key, and rollupPend
	// what the running transaction moves them to (addRollup), both under
	// rollups: every write of a rollup goes through updateRollups, so each
	// is decoded once per process rather than once per transaction.
	rollupVals, rollupPend map[string]rollupRecord
	// group queues the execution writes committed together (group.go).
	group committer
	// budgets caches Budgets: the budget gate asks for every execution, and
	// only this process writes them (SetBudget, ClearBudget).
	budgets budgetCache
	// space is the last reading of the disk's free space (space.go).
	space spaceCache
}

const (
	defaultGCInterval = 5 * time.Minute
	// conflictRetries bounds how often a transaction that lost a race on a
	// shared key (program head, dataset record, cost rollup) is re-run.
	conflictRetries = 32
)

var schemaKey = keys.New(keys.Meta).Str("schema").Bytes()

// badgerOptions are the Badger settings shared by Open and Restore.
func badgerOptions(o Options, l *logger) badger.Options {
	var bo badger.Options
	if o.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true)
	} else {
		bo = badger.DefaultOptions(o.Dir)
	}
	return bo.
		WithLogger(l).
		// expvar metrics are process-global and unused here.
		WithMetricsEnabled(false).
		// Values above 1 KiB (span prompts and completions, big records) go to
		// the value log, so the LSM tree stays small: fewer compactions while
		// writing traces, a faster open, and value-log GC has something to do.
		WithValueThreshold(1 << 10).
		// Checksums on: a value read from the value log and a table block
		// read are verified (tables as a whole by preflight at open).
		// Badger's Item still hands a failed value log read back as an
		// empty value without an error: decode turns that into
		// ErrCorrupt.
		WithVerifyValueChecksum(true).
		WithChecksumVerificationMode(options.OnBlockRead)
}

// Open opens (or creates) the database. It reads only the schema key and
// the short list of staged parts, never the data, so it stays fast on big
// stores; parts left by an interrupted import or delete are removed in the
// background.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !o.InMemory && o.Dir == "" {
		return nil, errors.New("store: no directory given")
	}
	if !o.InMemory {
		if err := checkDir(o.Dir); err != nil {
			return nil, err
		}
	}
	l := newLogger(o.Log)
	db, err := badger.Open(badgerOptions(o, l))
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			err = fmt.Errorf("%w (%v)", ErrLocked, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", where(o), err)
	}
	s := &Store{db: db, log: l, opts: o, now: time.Now, swept: make(chan struct{})}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	staged, err := s.stagedParts()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.bg, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.swept)
		s.sweepParts(s.bg, staged)
	}()
	gc := o.GCInterval
	if gc == 0 {
		gc = defaultGCInterval
	}
	if gc > 0 && !o.InMemory {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.gcLoop(s.bg, gc)
		}()
	}
	return s, nil
}

// checkDir runs preflight on an existing database directory under
// Badger's lock, released before Badger takes it.
func checkDir(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", dir, err)
	}
	defer unlock()
	return preflight(dir)
}

func where(o Options) string {
	if o.InMemory {
		return "(in memory)"
	}
	return o.Dir
}

// checkSchema writes the schema version on a new database and refuses a newer one.
func (s *Store) checkSchema() error {
	return s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return txn.Set(schemaKey, binary.BigEndian.AppendUint32(nil, SchemaVersion))
		}
		if err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		if len(v) != 4 {
			return fmt.Errorf("store: schema version has %d bytes, want 4", len(v))
		}
		if got := binary.BigEndian.Uint32(v); got > SchemaVersion {
			return fmt.Errorf("store: schema version %d, this Signet reads up to %d: %w", got, SchemaVersion, ErrNewerSchema)
		}
		return nil
	})
}

// Close stops the background work and closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		s.stop()
		s.wg.Wait()
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("store: close %s: %w", where(s.opts), cerr)
		}
	})
	return err
}

// RunGC runs value-log GC until Badger has nothing left to rewrite.
func (s *Store) RunGC(ctx context.Context) {
	if s.opts.InMemory {
		return
	}
	for ctx.Err() == nil {
		err := s.db.RunValueLogGC(0.5)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			s.log.Errorf("store: value-log GC: %v", err)
		}
		return
	}
}

func (s *Store) gcLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.RunGC(ctx)
		}
	}
}

// update runs fn in a read-write transaction and re-runs it when it lost a
// race: read-modify-write of a shared key (head, dataset record, rollup) by
// two writers makes the later commit fail with ErrConflict, and the retry
// sees the winner's data. fn must not have side effects outside txn.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.roomToWrite(0); err != nil {
			return err
		}
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || attempt == conflictRetries {
			return err
		}
		s.conflicts.Add(1)
		// Back off a random little while so that the writers that collided
		// do not collide again in lockstep.
		time.Sleep(time.Duration(rand.Int64N(int64(attempt+1) * int64(100*time.Microsecond))))
	}
}

// updateRollups is update for a transaction that moves a cost rollup. Every
// execution that ends moves its program's rollup for the month, so the
// kernel's concurrent finishes all read-modify-write one key: run at once,
// a quarter of them lost the race and ran again (decoding, encoding and a
// back-off each time). One at a time, none does; Badger commits one
// transaction at a time anyway.
func (s *Store) updateRollups(ctx context.Context, fn func(txn *badger.Txn) error) error {
	s.rollups.Lock()
	defer s.rollups.Unlock()
	if s.rollupVals == nil {
		s.rollupVals, s.rollupPend = map[string]rollupRecord{}, map[string]rollupRecord{}
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		clear(s.rollupPend) // a transaction re-run starts over
		return fn(txn)
	})
	if err != nil {
		// Whether a failed commit left anything is not the store's to
		// guess: the next transaction reads the rollups again.
		clear(s.rollupVals)
	} else {
		maps.Copy(s.rollupVals, s.rollupPend)
	}
	clear(s.rollupPend)
	return err
}

func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// getJSON decodes the value at key into v; a missing key is
// badger.ErrKeyNotFound so callers can name the record in their error.
func getJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if err != nil {
		return err
	}
	return value(item, func(b []byte) error { return json.Unmarshal(b, v) })
}

func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// notFound turns Badger's missing key into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}

// keyOnly are iterator options for index scans: keys only, values stay on disk.
func keyOnly(prefix []byte, reverse bool) badger.IteratorOptions {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Prefix = prefix
	o.Reverse = reverse
	return o
}

func withValues(prefix []byte, prefetch int) badger.IteratorOptions {
	o := badger.DefaultIteratorOptions
	o.Prefix = prefix
	if prefetch > 0 {
		o.PrefetchSize = min(prefetch, 100)
	}
	return o
}

// logger routes Badger's log lines and ours to Options.Log.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func newLogger(w io.Writer) *logger { return &logger{w: w} }

func (l *logger) printf(level, format string, args ...any) {
	if l.w == nil {
		return
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s %s\n", time.Now().Format("2006-01-02T15:04:05.000Z07:00"), level, msg)
}

func (l *logger) Errorf(f string, a ...any)   { l.printf("ERROR", f, a...) }
func (l *logger) Warningf(f string, a ...any) { l.printf("WARN", f, a...) }
func (l *logger) Infof(f string, a ...any)    { l.printf("INFO", f, a...) }

// Debugf drops Badger's debug chatter; a custom logger gets every level.
func (l *logger) Debugf(string, ...any) {}

// ctxWriter and ctxReader make Badger's backup and load, which take no
// context, stop when ctx is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// existingName reports whether name could be the name of a stored program
// or dataset; a name that is not valid cannot be stored, so looking it up is
// "not found", and it never reaches a key.
func existingName(kind, name string) error {
	if model.ValidName(kind, name) != nil {
		return ErrNotFound
	}
	return nil
}
