// Package examples holds the example programs and datasets that `signet demo`
// loads and that the README's first steps use.
package examples

import "embed"

// FS holds the example program definitions (*.yaml) and datasets.
//
//go:embed *.yaml *.jsonl *.csv
var FS embed.FS

// Demo lists what `signet demo` loads: each program with the dataset it is
// evaluated on and that dataset's input fields.
var Demo = []struct {
	Program, Dataset, DatasetFile, Inputs string
}{
	{"qa.yaml", "qa", "qa.jsonl", "question"},
	{"sentiment.yaml", "sentiment", "sentiment.csv", "review"},
	{"facts.yaml", "qa", "qa.jsonl", "question"},
}
