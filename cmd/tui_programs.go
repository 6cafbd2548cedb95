package cmd

import (
	"context"
	"sync"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/examples"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/pages/programs"
)

// tuiPrograms is the workbench's program repository: the owner's API, also
// when this process is the owner (it serves the same socket).
type tuiPrograms struct{ cl *api.Client }

var _ programs.Programs = tuiPrograms{}

func (r tuiPrograms) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	var ps []*model.Program
	if err := r.cl.Get(ctx, "/v1/programs", &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// summaryWorkers bounds the concurrent last-run queries.
const summaryWorkers = 4

// ProgramSummaries reads this month's cost of every program in one request
// and each program's newest execution (one small request each, a few at a
// time).
func (r tuiPrograms) ProgramSummaries(ctx context.Context, names []string) (map[string]programs.Summary, error) {
	var cost api.Cost
	if err := r.cl.Get(ctx, "/v1/cost", &cost); err != nil {
		return nil, err
	}
	out := make(map[string]programs.Summary, len(names))
	for _, row := range cost.Programs {
		s := out[row.Program]
		s.MonthRuns += row.Executions
		s.MonthCost += row.Cost
		out[row.Program] = s
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan string)
	)
	for range min(summaryWorkers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range next {
				page, err := r.cl.Executions(ctx, name, "", "", 1)
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
				case err == nil && len(page.Executions) > 0:
					x := page.Executions[0]
					s := out[name]
					s.LastRun, s.LastState = x.CreatedAt, x.State
					out[name] = s
				}
				mu.Unlock()
			}
		}()
	}
	for _, n := range names {
		select {
		case next <- n:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, ctx.Err()
}

func (r tuiPrograms) ProgramVersions(ctx context.Context, name string) ([]*model.Program, error) {
	return r.cl.ProgramVersions(ctx, name)
}

func (r tuiPrograms) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return r.cl.SaveProgram(ctx, p)
}

func (r tuiPrograms) CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	return r.cl.CreateProgram(ctx, p)
}

func (r tuiPrograms) SetProgramStatus(ctx context.Context, name string, st model.ProgramStatus, note string) (*model.Program, error) {
	return r.cl.SetProgramStatus(ctx, name, st, note)
}

func (r tuiPrograms) DeleteProgram(ctx context.Context, name string) error {
	return r.cl.DeleteProgram(ctx, name)
}

// ProgramTemplates are the example programs `signet demo` loads.
func (r tuiPrograms) ProgramTemplates(context.Context) ([]*model.Program, error) {
	var out []*model.Program
	for _, d := range examples.Demo {
		data, err := examples.FS.ReadFile(d.Program)
		if err != nil {
			return nil, err
		}
		p, err := parseProgram("examples/"+d.Program, data)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
