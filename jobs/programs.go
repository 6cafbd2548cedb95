package jobs

import (
	"context"
	"sync"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// programCache keeps the program versions executions run, decoded, so that
// a batch reads and decodes its program once, not once per execution.
// Entries hold while the store's count of program writes is the one noted
// before they were read (store.ProgramsChanged); any write empties the
// cache. The programs it returns are shared: the kernel only reads them.
// Each is kept with its encoding for the workers, made once per version
// rather than once per execution.
type programCache struct {
	mu   sync.Mutex
	gen  uint64
	byNV map[programKey]cachedProgram
}

type cachedProgram struct {
	prog *model.Program
	enc  *bridge.EncodedProgram // nil if it did not encode: Execute says why
}

type programKey struct {
	name    string
	version int
}

// programCacheMax bounds the versions kept; past it the cache starts over.
const programCacheMax = 64

func (c *programCache) get(ctx context.Context, st *store.Store, name string, version int) (cachedProgram, error) {
	gen := st.ProgramsChanged() // before the read: a write after it discards what the read returns
	key := programKey{name, version}
	c.mu.Lock()
	if c.gen == gen && c.byNV != nil {
		if p, ok := c.byNV[key]; ok {
			c.mu.Unlock()
			return p, nil
		}
	}
	c.mu.Unlock()
	p, err := st.GetProgramVersion(ctx, name, version)
	if err != nil {
		return cachedProgram{}, err
	}
	cp := cachedProgram{prog: p}
	cp.enc, _ = bridge.EncodeProgram(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.byNV == nil || len(c.byNV) >= programCacheMax {
		c.gen, c.byNV = gen, map[programKey]cachedProgram{}
	}
	c.byNV[key] = cp
	return cp, nil
}
