package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
func ParseMetric(s, lm string) (Metric, error) {
	switch {
	case builtinMetric(s):
		return Metric{Name: s, Kind: MetricBuiltin, LM: lm}, nil
	case strings.HasPrefix(s, "judge:"):
		sig := strings.TrimSpace(strings.TrimPrefix(s, "judge:"))
		if _, err := ParseSignature(sig); err != nil {
			return Metric{}, fmt.Errorf("metric %q: judge signature: %w", s, err)
		}
		return Metric{Name: "judge", Kind: MetricJudge, Signature: sig, LM: lm}, nil
	}
	file, fn, ok := strings.Cut(s, ":")
	if ok && strings.HasSuffix(file, ".py") && fn != "" {
		return Metric{Name: fn, Kind: MetricCustom, Source: s, LM: lm}, nil
	}
	return Metric{}, fmt.Errorf("unknown metric %q (want %s, recall@K, path/to/file.py:function or judge:SIGNATURE)", s, strings.Join(BuiltinMetrics, ", "))
}

// RecallMetric is the prefix of the built-in recall@K metrics: the share
// of an example's gold passages among the first K retrieved.
const RecallMetric = "recall@"

// builtinMetric says whether name is a built-in metric: one of
// BuiltinMetrics or recall@K with K a positive integer.
func builtinMetric(name string) bool {
	if k, ok := strings.CutPrefix(name, RecallMetric); ok {
		n, err := strconv.Atoi(k)
		return err == nil && n > 0 && strconv.Itoa(n) == k
	}
	return slices.Contains(BuiltinMetrics, name)
}

// CheckMetric checks a metric as the worker will build it; evaluations
// take the same metrics as optimizations.
func CheckMetric(m Metric) error {
	switch m.Kind {
	case MetricBuiltin:
		if !builtinMetric(m.Name) {
			return fmt.Errorf("metric: unknown built-in %q (want one of %s, recall@K)", m.Name, strings.Join(BuiltinMetrics, ", "))
		}
	case MetricCustom:
		if !strings.Contains(m.Source, ".py:") {
			return fmt.Errorf("metric %q: a custom metric needs source path/to/file.py:function", m.Name)
		}
	case MetricJudge:
		if _, err := ParseSignature(m.Signature); err != nil {
			return fmt.Errorf("metric %q: judge signature: %w", m.Name, err)
		}
	default:
		return fmt.Errorf("metric %q: unknown kind %q (want builtin, custom or judge)", m.Name, m.Kind)
	}
	return nil
}

// ParseDataRef reads DATASET or DATASET:SPLIT.
func ParseDataRef(s string) (DataRef, error) {
	name, split, ok := strings.Cut(s, ":")
	ref := DataRef{Dataset: name}
	if err := ValidName("dataset", name); err != nil {
		return ref, err
	}
	if ok {
		sp, err := ParseSplit(split)
		if err != nil {
			return ref, fmt.Errorf("%s: %w", s, err)
		}
		ref.Split = sp
	}
	return ref, nil
}

// ParseProgramRef reads NAME or NAME@VERSION ("qa@3", "qa@v3").
func ParseProgramRef(s string) (string, int, error) {
	name, v, ok := strings.Cut(s, "@")
	if !ok {
		return name, 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || n <= 0 {
		return "", 0, fmt.Errorf("%q: want NAME or NAME@VERSION (a version number)", s)
	}
	return name, n, nil
}
