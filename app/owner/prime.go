package owner

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// DemoProgram is what a workspace with no run on the local LM yet is
// primed with: the demo's `qa`, which `make run` and the README's first
// steps run first.
const DemoProgram = "qa"

// primeScan bounds how many of the newest executions the choice reads
// looking for one on the local LM: it runs at every server start.
const primeScan = 500

// primeTarget is the program a warm local LM server is primed with: the
// program (the version, or the variant) of the workspace's newest execution
// on a profile of the local model, else the newest version of DemoProgram;
// nil when there is neither.
func (o *Owner) primeTarget(ctx context.Context, e *Env) (*model.Program, error) {
	cursor := ""
	for seen := 0; seen < primeScan; {
		page, next, err := o.st.ListExecutions(ctx, store.ExecQuery{Cursor: cursor, Limit: 100})
		if err != nil {
			return nil, err
		}
		for _, x := range page {
			if !e.LMs.isLocal(x.LM) {
				continue
			}
			if x.Variant != nil {
				return x.Variant, nil
			}
			p, err := o.st.GetProgramVersion(ctx, x.Program, x.Version)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since
			}
			return p, err
		}
		seen += len(page)
		if cursor = next; cursor == "" {
			break
		}
	}
	p, err := o.st.GetProgram(ctx, DemoProgram)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// primer renders the first LM call of primeTarget's program through the
// worker's `render` request (DSPy's adapter, the version's state applied),
// its inputs as placeholders: the prompt up to the first input's value is
// what the next run of it sends too. It resolves profiles for their
// adapters only: it must not start (nor wait for) the local server, which
// it runs for.
func (o *Owner) primer(e *Env) bridge.Primer {
	return func(ctx context.Context) (string, []model.Message, error) {
		p, err := o.primeTarget(ctx, e)
		if err != nil || p == nil {
			return "", nil, err
		}
		label := fmt.Sprintf("%s v%d", p.Name, p.Version)
		indexes, err := o.indexSpecs(ctx, p)
		if err != nil {
			return label, nil, err
		}
		run := e.LMs.Profile("", p)
		req := bridge.RenderRequest{Program: p, LM: e.LMs.adapterSpec(run), Indexes: indexes}
		for _, m := range p.Modules {
			if m.LM != "" {
				if req.ModuleLMs == nil {
					req.ModuleLMs = map[string]bridge.LMSpec{}
				}
				req.ModuleLMs[m.Name] = e.LMs.adapterSpec(m.LM)
			}
		}
		res, err := e.Pool.Render(ctx, req)
		if err != nil {
			return label, nil, fmt.Errorf("rendering %s: %w", label, err)
		}
		for _, m := range res.Modules {
			if len(m.Messages) == 0 {
				continue // a retrieve module: no LM call
			}
			profile := run
			for _, mod := range p.Modules {
				if mod.Name == m.Module && mod.LM != "" {
					profile = mod.LM
				}
			}
			if !e.LMs.isLocal(profile) {
				return label, nil, nil // its first LM call is not the local model's
			}
			return label, m.Messages, nil
		}
		return label, nil, nil
	}
}
