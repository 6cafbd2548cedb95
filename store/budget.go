package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sync"

	"github.com/dgraph-io/badger/v4"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store/keys"
)

// budgetTable holds monthly caps: b str(program, "" = workspace) → budget
// JSON. It belongs in keys' table list; it is kept here until that list is
// edited.
const budgetTable byte = 'b'

func budgetKey(program string) []byte { return keys.New(budgetTable).Str(program).Bytes() }

type budgetRecord struct {
	MonthlyUSD float64 `json:"monthly_usd"`
}

func checkBudgetScope(program string) error {
	if program == "" {
		return nil
	}
	return model.ValidName("program", program)
}

// SetBudget sets the monthly cap in USD of a program, or of the whole
// workspace when program is "". A cap of 0 refuses every execution.
func (s *Store) SetBudget(ctx context.Context, program string, monthlyUSD float64) error {
	if err := checkBudgetScope(program); err != nil {
		return fmt.Errorf("set budget: %w", err)
	}
	if monthlyUSD < 0 || math.IsNaN(monthlyUSD) || math.IsInf(monthlyUSD, 0) {
		return fmt.Errorf("set budget of %s: %v is not a cap in USD (want 0 or more)", budgetScope(program), monthlyUSD)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return setJSON(txn, budgetKey(program), budgetRecord{MonthlyUSD: monthlyUSD})
	})
	s.budgets.changed()
	if err != nil {
		return fmt.Errorf("set budget of %s: %w", budgetScope(program), err)
	}
	return nil
}

// ClearBudget removes the cap of a program ("" = the workspace's); removing
// one that is not set is not an error.
func (s *Store) ClearBudget(ctx context.Context, program string) error {
	if err := checkBudgetScope(program); err != nil {
		return fmt.Errorf("clear budget: %w", err)
	}
	err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(budgetKey(program)) })
	s.budgets.changed()
	if err != nil {
		return fmt.Errorf("clear budget of %s: %w", budgetScope(program), err)
	}
	return nil
}

// Budgets returns every cap, by program; the workspace's is under "".
func (s *Store) Budgets(ctx context.Context) (map[string]float64, error) {
	if m, ok := s.budgets.get(); ok {
		return m, nil
	}
	gen := s.budgets.generation()
	out := map[string]float64{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(withValues([]byte{budgetTable}, 0))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			r := keys.Read(it.Item().Key(), budgetTable)
			prog := r.Str()
			if err := r.Done(); err != nil {
				return err
			}
			var rec budgetRecord
			if err := value(it.Item(), func(b []byte) error { return json.Unmarshal(b, &rec) }); err != nil {
				return fmt.Errorf("budget of %s: %w", budgetScope(prog), err)
			}
			out[prog] = rec.MonthlyUSD
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("budgets: %w", err)
	}
	s.budgets.put(gen, out)
	return maps.Clone(out), nil
}

// budgetCache holds the caps as last read, until a write changes them.
type budgetCache struct {
	mu   sync.Mutex
	gen  uint64             // writes so far
	caps map[string]float64 // nil: not read since the last write
}

// get returns a copy of the cached caps (callers may change theirs).
func (c *budgetCache) get() (map[string]float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.caps), c.caps != nil
}

func (c *budgetCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches caps read when the generation was gen, unless a write has
// committed since (then they may be stale).
func (c *budgetCache) put(gen uint64, caps map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.caps = caps
	}
}

// changed drops the cache; it runs after every budget write, committed or
// not.
func (c *budgetCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.caps = nil
}

func budgetScope(program string) string {
	if program == "" {
		return "the workspace"
	}
	return "program " + program
}
