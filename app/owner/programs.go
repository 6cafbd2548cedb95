package owner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

func (o *Owner) ListPrograms(ctx context.Context) ([]*model.Program, error) {
	if err := o.mayRead(ctx, "programs", "*"); err != nil {
		return nil, err
	}
	ps, err := o.st.ListPrograms(ctx)
	return ps, fail(err)
}

// ProgramSummaries reads this month's cost of every program and each
// named program's newest execution.
func (o *Owner) ProgramSummaries(ctx context.Context, names []string) (map[string]app.ProgramSummary, error) {
	if err := o.mayReadOwn(ctx, "cost", "programs", ""); err != nil {
		return nil, err
	}
	month := o.now().Format("2006-01")
	rows, err := o.st.CostRollups(ctx, "", month)
	if err != nil {
		return nil, fail(err)
	}
	out := make(map[string]app.ProgramSummary, len(names))
	for _, row := range rows {
		s := out[row.Program]
		s.MonthRuns += row.Executions
		s.MonthCost += row.Cost
		out[row.Program] = s
	}
	for _, name := range names {
		page, _, err := o.st.ListExecutions(ctx, store.ExecQuery{Program: name, Limit: 1})
		if err != nil {
			return nil, fail(err)
		}
		if len(page) > 0 {
			s := out[name]
			s.LastRun, s.LastState = page[0].CreatedAt, page[0].State
			out[name] = s
		}
	}
	return out, nil
}

func (o *Owner) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	if err := o.mayRead(ctx, "program", name); err != nil {
		return nil, err
	}
	p, err := o.program(ctx, name, version)
	return p, fail(err)
}

// program is a version (0: the newest).
func (o *Owner) program(ctx context.Context, name string, version int) (*model.Program, error) {
	if version < 0 {
		return nil, app.Errorf(app.CodeInvalid, "program %s: version %d: want a version number", name, version)
	}
	if version > 0 {
		return o.st.GetProgramVersion(ctx, name, version)
	}
	return o.st.GetProgram(ctx, name)
}

func (o *Owner) ProgramVersions(ctx context.Context, name string) ([]*model.Program, error) {
	if err := o.mayRead(ctx, "program", name); err != nil {
		return nil, err
	}
	ps, err := o.st.ProgramVersions(ctx, name)
	return ps, fail(err)
}

func (o *Owner) CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	if p == nil {
		return nil, invalid("program", "no program given")
	}
	if _, err := o.mayWrite(ctx, "program", p.Name); err != nil {
		return nil, err
	}
	saved, err := o.st.CreateProgram(ctx, p)
	if err == nil {
		o.programChanged(saved.Name)
	}
	return saved, fail(err)
}

func (o *Owner) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	if p == nil {
		return nil, invalid("program", "no program given")
	}
	if _, err := o.mayWrite(ctx, "program", p.Name); err != nil {
		return nil, err
	}
	saved, err := o.st.SaveProgram(ctx, p)
	if err == nil {
		o.programChanged(saved.Name)
	}
	return saved, fail(err)
}

func (o *Owner) SetProgramStatus(ctx context.Context, name string, status model.ProgramStatus, note string) (*model.Program, error) {
	if _, err := o.mayWrite(ctx, "program", name); err != nil {
		return nil, err
	}
	if _, err := model.ParseProgramStatus(string(status)); err != nil {
		return nil, app.Wrap(app.CodeInvalid, err)
	}
	p, err := o.st.SetProgramStatus(ctx, name, status, note)
	if err == nil {
		o.programChanged(name)
	}
	return p, fail(err)
}

func (o *Owner) DeleteProgram(ctx context.Context, name string) error {
	if _, err := o.mayWrite(ctx, "program", name); err != nil {
		return err
	}
	if err := o.st.DeleteProgram(ctx, name); err != nil {
		return fail(err)
	}
	o.programChanged(name)
	return nil
}

func (o *Owner) Flow(ctx context.Context, name string, version int) (model.Flow, error) {
	if err := o.mayRead(ctx, "program", name); err != nil {
		return model.Flow{}, err
	}
	p, err := o.program(ctx, name, version)
	if err != nil {
		return model.Flow{}, fail(err)
	}
	f, err := o.flow(ctx, p)
	return f, fail(err)
}

// Render renders a version, or the variant, through the adapter of the LM
// profile the run would use, in a worker of the pool.
func (o *Owner) Render(ctx context.Context, req app.RenderRequest) (*app.RenderResult, error) {
	if err := o.mayRead(ctx, "program", req.Program); err != nil {
		return nil, err
	}
	if req.Variant != nil {
		if err := o.mayRunCode(ctx, "variant of "+req.Program); err != nil {
			return nil, err
		}
	}
	prog := req.Variant
	if prog == nil {
		var err error
		if prog, err = o.program(ctx, req.Program, req.Version); err != nil {
			return nil, fail(err)
		}
	} else if err := prog.Validate(); err != nil {
		return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "variant", Msg: err.Error(), Err: err})
	}
	pool, err := o.workers(ctx)
	if err != nil {
		return nil, err
	}
	lms, err := o.LMs()
	if err != nil {
		return nil, err
	}
	spec, mods, err := lms.Specs(ctx, prog, req.LM)
	if err != nil {
		return nil, fail(err)
	}
	indexes, err := o.indexSpecs(ctx, prog)
	if err != nil {
		return nil, err
	}
	res, err := pool.Render(ctx, bridge.RenderRequest{Program: prog, Inputs: req.Inputs, LM: spec, ModuleLMs: mods, Module: req.Module, Indexes: indexes})
	if err != nil {
		return nil, fail(err)
	}
	out := &app.RenderResult{Modules: make([]app.RenderedPrompt, len(res.Modules))}
	for i, m := range res.Modules {
		out.Modules[i] = app.RenderedPrompt{Module: m.Module, Predictor: m.Predictor, Path: m.Path, Messages: m.Messages,
			Placeholders: m.Placeholders, Note: m.Note}
	}
	return out, nil
}

// workers is the running pool, started (with the job kernel) if it is not.
func (o *Owner) workers(ctx context.Context) (*bridge.Pool, error) {
	if _, err := o.kernel(ctx); err != nil {
		return nil, err
	}
	pool := o.pool.Load()
	if pool == nil {
		if o.opts.Workers < 0 {
			return nil, app.Errorf(app.CodeUnavailable, "this owner runs no workers of its own (serve --workers 0): rendering, exports and index builds need one")
		}
		return nil, app.Errorf(app.CodeUnavailable, "the worker pool is not running")
	}
	return pool, nil
}

// ExportProgram is what DSPy's save() writes for a version, built by a
// worker, or the standalone Python file.
func (o *Owner) ExportProgram(ctx context.Context, req app.ExportRequest) (*app.ExportResult, error) {
	if _, err := o.mayWrite(ctx, "program", req.Program); err != nil {
		return nil, err
	}
	p, err := o.program(ctx, req.Program, req.Version)
	if err != nil {
		return nil, fail(err)
	}
	indexes, err := o.indexSpecs(ctx, p)
	if err != nil {
		return nil, err
	}
	pool, err := o.workers(ctx)
	if err != nil {
		return nil, err
	}
	res, err := pool.Export(ctx, bridge.ExportRequest{Program: p, Python: req.Python, Indexes: indexes})
	if err != nil {
		return nil, fail(fmt.Errorf("exporting %s v%d: %w", p.Name, p.Version, err))
	}
	out := &app.ExportResult{Program: p.Name, Version: p.Version, Python: res.Python}
	if !req.Python {
		var buf bytes.Buffer
		if err := json.Indent(&buf, res.State, "", "  "); err != nil {
			return nil, fmt.Errorf("exporting %s v%d: the worker's state is not JSON: %w", p.Name, p.Version, err)
		}
		buf.WriteByte('\n')
		out.State = buf.String()
	}
	return out, nil
}

// ImportProgram reads what DSPy's save() wrote into a new version of the
// program, or a new program, through a worker (it builds the program and
// checks the round trip).
func (o *Owner) ImportProgram(ctx context.Context, req app.ImportProgramRequest) (*app.ImportProgramResult, error) {
	if _, err := o.mayWrite(ctx, "program", req.Name); err != nil {
		return nil, err
	}
	breq := bridge.ImportRequest{State: json.RawMessage(req.State), BaseDir: req.BaseDir}
	if req.Pickle != "" {
		breq.Pickle = absIn(req.BaseDir, req.Pickle)
	}
	base, err := o.st.GetProgram(ctx, req.Name)
	switch {
	case err == nil:
		if req.Signature != "" || req.Type != "" || req.Source != "" {
			return nil, app.Errorf(app.CodeInvalid, "--signature, --type and --source describe a new program; %s exists (its modules say it)", req.Name)
		}
		breq.Program, breq.BaseDir = base, ""
	case errors.Is(err, store.ErrNotFound):
		if err := model.ValidName("program", req.Name); err != nil {
			return nil, app.Wrap(app.CodeInvalid, err)
		}
		breq.Name, breq.Type, breq.Signature, breq.Source = req.Name, req.Type, req.Signature, req.Source
	default:
		return nil, fail(err)
	}
	pool, err := o.workers(ctx)
	if err != nil {
		return nil, err
	}
	res, err := pool.ImportState(ctx, breq)
	if err != nil {
		return nil, fail(fmt.Errorf("importing %s: %w", req.File, err))
	}
	next := res.Program
	next.Name, next.CompiledFrom, next.Note = req.Name, "", req.Note
	if next.Note == "" {
		next.Note = "imported from " + filepath.Base(req.File)
	}
	out := &app.ImportProgramResult{Warnings: res.Warnings}
	if base != nil {
		out.Program, err = o.st.SaveProgram(ctx, next)
		if err == nil {
			out.Changes = len(model.DiffPrograms(base, out.Program))
		}
	} else {
		next.Version, next.Status, next.BaseDir = 0, model.Draft, req.BaseDir
		out.Program, err = o.st.CreateProgram(ctx, next)
		out.Created = true
	}
	if err != nil {
		return nil, fail(fmt.Errorf("importing %s: %w", req.File, err))
	}
	o.programChanged(out.Program.Name)
	return out, nil
}

// absIn is p made absolute against dir when it is relative.
func absIn(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
