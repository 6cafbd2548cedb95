package optimize

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Optimizers are the optimizer names of the worker contract.
var Optimizers = []string{"labeled_fewshot", "bootstrap_fewshot", "bootstrap_random_search", "mipro_v2", "copro", "simba", "gepa"}

// aliases are the short names the CLI accepts.
var aliases = map[string]string{
	"labeled": "labeled_fewshot", "labeledfewshot": "labeled_fewshot",
	"bootstrap": "bootstrap_fewshot", "bootstrapfewshot": "bootstrap_fewshot",
	"random_search": "bootstrap_random_search", "bootstrapfewshotwithrandomsearch": "bootstrap_random_search",
	"mipro": "mipro_v2", "miprov2": "mipro_v2",
}

// ParseOptimizer turns a user's optimizer name into the contract's.
func ParseOptimizer(s string) (string, error) {
	k := strings.ToLower(strings.ReplaceAll(s, "-", "_"))
	if slices.Contains(Optimizers, k) {
		return k, nil
	}
	if a, ok := aliases[strings.ReplaceAll(k, "_", "")]; ok {
		return a, nil
	}
	if a, ok := aliases[k]; ok {
		return a, nil
	}
	return "", fmt.Errorf("unknown optimizer %q (want mipro, bootstrap, labeled, random_search, copro, simba or gepa)", s)
}

// BuiltinMetrics are the metric names the worker computes itself.
var BuiltinMetrics = []string{"exact_match", "answer_exact_match", "f1", "passage_match", "semantic_f1"}

// ParseMetric reads a metric as the CLI takes it: a built-in name,
// path/to/file.py:function (custom), or judge:SIGNATURE (an LM judge).
func ParseMetric(s, lm string) (model.Metric, error) {
	switch {
	case slices.Contains(BuiltinMetrics, s):
		return model.Metric{Name: s, Kind: model.MetricBuiltin, LM: lm}, nil
	case strings.HasPrefix(s, "judge:"):
		sig := strings.TrimSpace(strings.TrimPrefix(s, "judge:"))
		if _, err := model.ParseSignature(sig); err != nil {
			return model.Metric{}, fmt.Errorf("metric %q: judge signature: %w", s, err)
		}
		return model.Metric{Name: "judge", Kind: model.MetricJudge, Signature: sig, LM: lm}, nil
	}
	file, fn, ok := strings.Cut(s, ":")
	if ok && strings.HasSuffix(file, ".py") && fn != "" {
		return model.Metric{Name: fn, Kind: model.MetricCustom, Source: s, LM: lm}, nil
	}
	return model.Metric{}, fmt.Errorf("unknown metric %q (want %s, path/to/file.py:function or judge:SIGNATURE)", s, strings.Join(BuiltinMetrics, ", "))
}

// CheckMetric checks a metric as the worker will build it; evaluations
// take the same metrics as optimizations.
func CheckMetric(m model.Metric) error {
	switch m.Kind {
	case model.MetricBuiltin:
		if !slices.Contains(BuiltinMetrics, m.Name) {
			return fmt.Errorf("metric: unknown built-in %q (want one of %s)", m.Name, strings.Join(BuiltinMetrics, ", "))
		}
	case model.MetricCustom:
		if !strings.Contains(m.Source, ".py:") {
			return fmt.Errorf("metric %q: a custom metric needs source path/to/file.py:function", m.Name)
		}
	case model.MetricJudge:
		if _, err := model.ParseSignature(m.Signature); err != nil {
			return fmt.Errorf("metric %q: judge signature: %w", m.Name, err)
		}
	default:
		return fmt.Errorf("metric %q: unknown kind %q (want builtin, custom or judge)", m.Name, m.Kind)
	}
	return nil
}

// ParseDataRef reads DATASET or DATASET:SPLIT.
func ParseDataRef(s string) (model.DataRef, error) {
	name, split, ok := strings.Cut(s, ":")
	ref := model.DataRef{Dataset: name}
	if err := model.ValidName("dataset", name); err != nil {
		return ref, err
	}
	if ok {
		sp, err := model.ParseSplit(split)
		if err != nil {
			return ref, fmt.Errorf("%s: %w", s, err)
		}
		ref.Split = sp
	}
	return ref, nil
}

// refSize is the number of examples a reference selects.
func refSize(ctx context.Context, st *store.Store, r model.DataRef) (int, error) {
	if r.Dataset == "" {
		return 0, nil
	}
	d, err := st.GetDataset(ctx, r.Dataset)
	if err != nil {
		return 0, fmt.Errorf("dataset %s: %w", r.Dataset, err)
	}
	if r.Split == "" {
		return d.Size(), nil
	}
	return d.Counts[r.Split], nil
}

// checkLabels refuses explicit labels that are not columns of a dataset
// the run reads, before the run starts.
func checkLabels(ctx context.Context, st *store.Store, r model.DataRef, p *model.Program, explicit []string) error {
	if r.Dataset == "" || len(explicit) == 0 {
		return nil
	}
	d, err := st.GetDataset(ctx, r.Dataset)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", r.Dataset, err)
	}
	_, err = model.Labels(p.Name, p.StaticFlow(), d, explicit)
	return err
}

// loadExamples reads the examples a reference selects in the contract's
// shape: the program's inputs, and the labels model.Labels picks (explicit
// ones, else the program's outputs the dataset has); other columns (ids,
// metadata) are left out.
func loadExamples(ctx context.Context, st *store.Store, r model.DataRef, program string, flow model.Flow, explicit []string) ([]bridge.Example, error) {
	if r.Dataset == "" {
		return nil, nil
	}
	d, err := st.GetDataset(ctx, r.Dataset)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", r.Dataset, err)
	}
	lab, err := model.Labels(program, flow, d, explicit)
	if err != nil {
		return nil, err
	}
	var out []bridge.Example
	cursor := ""
	for {
		page, next, err := st.ListExamples(ctx, store.ExampleQuery{Dataset: r.Dataset, Split: r.Split, Cursor: cursor, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			in, labels := lab.Split(e.Data)
			for _, k := range lab.Inputs {
				if _, ok := in[k]; !ok {
					return nil, &model.FieldError{Field: fmt.Sprintf("dataset %s: example %s", r.String(), e.ID),
						Msg: fmt.Sprintf("no field %q, an input of the program", k)}
				}
			}
			out = append(out, bridge.Example{ID: e.ID.String(), Inputs: in, Outputs: labels})
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}
