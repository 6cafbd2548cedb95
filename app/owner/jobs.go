package owner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
)

// The rules evaluations and optimizations share, applied before a job is
// submitted and before any worker starts: one rule for `signet eval`,
// `signet opt run`, the workbench and the API alike.

// jobProgram is the program version a job runs, and checks every LM profile
// it uses (the run's, each module's, and extra ones: a judge's, GEPA's
// reflection LM), and every index its retrieve modules search, so that a
// missing profile, key or index fails here, naming it, without starting
// Python.
func (o *Owner) jobProgram(ctx context.Context, name string, version int, lm string, extra ...string) (*model.Program, error) {
	p, err := o.program(ctx, name, version)
	if err != nil {
		return nil, fail(err)
	}
	lms, err := o.LMs()
	if err != nil {
		return nil, err
	}
	if err := lms.CheckProgram(p, lm, extra...); err != nil {
		// An unknown profile or a missing key: the request's or the
		// config's to fix.
		return nil, app.Wrap(app.CodeInvalid, err)
	}
	if _, err := o.indexSpecs(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// metricOf is a request's metric: parsed when spelled (app.MetricSpelled),
// checked as the worker will build it, and, for a custom metric, with its
// file made absolute against baseDir (the caller's directory: the worker
// that loads it runs elsewhere) and present. Errors name the file as the
// user typed it.
func metricOf(m model.Metric, baseDir string) (model.Metric, error) {
	if m.Kind == app.MetricSpelled {
		parsed, err := model.ParseMetric(m.Name, m.LM)
		if err != nil {
			return m, invalidField("metric", err)
		}
		m = parsed
	}
	if err := model.CheckMetric(m); err != nil {
		return m, invalidField("metric", err)
	}
	if m.Kind != model.MetricCustom {
		return m, nil
	}
	typed, fn, _ := strings.Cut(m.Source, ".py:")
	typed += ".py"
	file := typed
	if !filepath.IsAbs(file) {
		if baseDir == "" {
			return m, invalidField("metric", fmt.Errorf("metric %s: %s is a relative path, and the request has no base_dir to resolve it against", m.Source, typed))
		}
		file = filepath.Join(baseDir, file)
	}
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return m, invalidField("metric", fmt.Errorf("metric %s: %s does not exist", m.Source, typed))
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return m, invalidField("metric", fmt.Errorf("metric %s: %s: %w", m.Source, typed, err))
	case fi.IsDir():
		return m, invalidField("metric", fmt.Errorf("metric %s: %s is a directory, not a Python file", m.Source, typed))
	}
	m.Source = file + ":" + fn
	return m, nil
}

// autoPresets are the values of the optimizers' auto setting.
var autoPresets = []string{"light", "medium", "heavy"}

// explicitBudgets are the settings that size a run of MIPROv2 and GEPA
// without their auto preset.
var explicitBudgets = map[string][]string{
	"mipro_v2": {"num_candidates", "num_trials"},
	"gepa":     {"max_metric_calls", "max_full_evals"},
}

// settingsOf is a run's optimizer settings (optimizer is the contract's
// name): auto is one of the presets; MIPROv2 and GEPA run with auto light
// unless the settings size the run themselves, since DSPy refuses auto
// beside an explicit budget and needs one of the two.
func settingsOf(optimizer string, in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	if v, ok := out["auto"]; ok {
		if s, isStr := v.(string); !isStr || !slices.Contains(autoPresets, s) {
			return nil, invalidField("settings.auto", fmt.Errorf("auto %q: want light, medium or heavy", fmt.Sprint(v)))
		}
		return out, nil
	}
	if explicit := explicitBudgets[optimizer]; explicit != nil &&
		!slices.ContainsFunc(explicit, func(k string) bool { _, ok := out[k]; return ok }) {
		out["auto"] = "light"
	}
	return out, nil
}

// invalidField is a request error of one field whose message is err's
// text, as the user reads it.
func invalidField(field string, err error) error {
	return &app.Error{Code: app.CodeInvalid, Message: err.Error(), Field: field}
}

// live replaces each record of a page that has not ended by its current
// one (the kernel's, with its progress, while the kernel holds it);
// errors leave the record as stored. The page is never nil.
func live[T any](ctx context.Context, rows []*T, state func(*T) (model.ID, model.RunState), current func(context.Context, model.ID) (*T, error)) []*T {
	if rows == nil {
		return []*T{}
	}
	for i, row := range rows {
		if id, st := state(row); !st.Terminal() {
			if cur, err := current(ctx, id); err == nil {
				rows[i] = cur
			}
		}
	}
	return rows
}

// cancelJob is the cancel of evaluations and optimizations (what of a job
// kind says; state reads a record's): a job that has ended is CodeFinished
// without starting the kernel; else the kernel, started if need be (one an
// earlier owner left unfinished is its to take up and cancel), cancels it,
// and the job is answered as it ended.
func cancelJob[T any](o *Owner, ctx context.Context, what string, id model.ID, current func(context.Context, model.ID) (*T, error),
	state func(*T) (model.RunState, string)) (*T, error) {
	rec, err := current(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	st, user := state(rec)
	if err := o.mayCancel(ctx, what, id.String(), user); err != nil {
		return nil, err
	}
	if st.Terminal() {
		return nil, fail(fmt.Errorf("%s %s is %s: %w", what, id, st, jobs.ErrFinished))
	}
	k, err := o.kernel(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.Cancel(ctx, id); err != nil {
		return nil, fail(err)
	}
	rec, err = current(ctx, id)
	return rec, fail(err)
}
