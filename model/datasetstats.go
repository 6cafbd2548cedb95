package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// FieldStats describes one field of a dataset over its examples.
type FieldStats struct {
	Field    string  `json:"field"`
	Input    bool    `json:"input"`
	FillRate float64 `json:"fill_rate"` // share of examples where it is non-empty, 0..1
	AvgChars float64 `json:"avg_chars"` // mean length in characters where it is non-empty
}

// DatasetStats are a dataset's statistics: what `signet dataset stats` and
// the TUI's statistics view show.
type DatasetStats struct {
	Name     string        `json:"name"`
	Examples int           `json:"examples"`
	Splits   map[Split]int `json:"splits"`
	Fields   []FieldStats  `json:"fields"`
}

// StatsCounter accumulates DatasetStats over a stream of examples, a page
// at a time, so that a dataset of any size is never held whole.
type StatsCounter struct {
	n      int
	splits map[Split]int
	filled map[string]int
	chars  map[string]int
}

// Add counts one example.
func (c *StatsCounter) Add(e *Example) {
	if c.filled == nil {
		c.splits, c.filled, c.chars = map[Split]int{}, map[string]int{}, map[string]int{}
	}
	c.n++
	c.splits[e.Split]++
	for k, v := range e.Data {
		if s := ValueText(v); s != "" {
			c.filled[k]++
			c.chars[k] += utf8.RuneCountInString(s)
		}
	}
}

// Count is the number of examples added so far.
func (c *StatsCounter) Count() int { return c.n }

// Stats are the statistics of the examples added, for dataset d: d's fields
// in d's order (then any field only seen in the examples, sorted), its input
// keys marked, and the size of every split.
func (c *StatsCounter) Stats(d *Dataset) *DatasetStats {
	out := &DatasetStats{Name: d.Name, Examples: c.n, Splits: map[Split]int{}}
	for _, s := range Splits {
		out.Splits[s] = c.splits[s]
	}
	fields := slices.Clone(d.Fields)
	var extra []string
	for k := range c.filled {
		if !slices.Contains(fields, k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	fields = append(fields, extra...)
	for _, f := range fields {
		fs := FieldStats{Field: f, Input: slices.Contains(d.InputKeys, f)}
		if c.n > 0 {
			fs.FillRate = float64(c.filled[f]) / float64(c.n)
		}
		if c.filled[f] > 0 {
			fs.AvgChars = float64(c.chars[f]) / float64(c.filled[f])
		}
		out.Fields = append(out.Fields, fs)
	}
	return out
}

// ValueText is a field value as text: a string as it is, nil as "", any
// other value as JSON (a list, an object from a pydantic output, a number
// as written), so what is shown can be pasted back as an input.
// Statistics measure lengths on it.
func ValueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
