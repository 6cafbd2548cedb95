package datafile

import (
	"fmt"
	"strings"
)

// InputKeys parses the value of an --inputs flag, such as
// "question,context", into the input keys of a dataset (what DSPy's
// Example.with_inputs takes). Spaces around keys are ignored. It is an error
// if the spec names no key, names a key twice, or names keys that are not
// among fields; that error lists every unknown key, the fields, and a close
// match where there is one.
func InputKeys(spec string, fields []string) ([]string, error) {
	var keys []string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		k := strings.TrimSpace(part)
		if k == "" {
			if strings.TrimSpace(spec) == "" {
				return nil, fmt.Errorf("no input keys given (want field names separated by commas, from: %s)", strings.Join(fields, ", "))
			}
			return nil, fmt.Errorf("input keys %q: empty name between commas", spec)
		}
		if seen[k] {
			return nil, fmt.Errorf("input key %q is given twice", k)
		}
		seen[k] = true
		keys = append(keys, k)
	}
	have := map[string]bool{}
	for _, f := range fields {
		have[f] = true
	}
	var unknown []string
	var hints []string
	for _, k := range keys {
		if have[k] {
			continue
		}
		unknown = append(unknown, fmt.Sprintf("%q", k))
		if m := closest(k, fields); m != "" {
			hints = append(hints, fmt.Sprintf("%q for %q", m, k))
		}
	}
	if len(unknown) == 0 {
		return keys, nil
	}
	what := "input key " + unknown[0] + " is not a field"
	if len(unknown) > 1 {
		what = "input keys " + strings.Join(unknown, ", ") + " are not fields"
	}
	msg := fmt.Sprintf("%s of the dataset (fields: %s)", what, strings.Join(fields, ", "))
	if len(hints) > 0 {
		msg += "; did you mean " + strings.Join(hints, ", ") + "?"
	}
	return nil, fmt.Errorf("%s", msg)
}

// closest returns the field nearest to k when it is near enough to be a
// likely typo (or differs only in case), else "".
func closest(k string, fields []string) string {
	best, bestD := "", -1
	for _, f := range fields {
		if strings.EqualFold(f, k) {
			return f
		}
		d := editDistance(k, f)
		if d <= max(1, len([]rune(k))/3) && (bestD < 0 || d < bestD) {
			best, bestD = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
