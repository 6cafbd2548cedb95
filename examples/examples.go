// Package examples holds the example programs and datasets that `signet demo`
// loads and that the README's first steps use.
package examples

import "embed"

// FS holds the example program definitions (*.yaml), datasets and the
// licences of the datasets that are not ours (they ship with the binary).
//
//go:embed *.yaml *.jsonl *.csv LICENSE-*.txt
var FS embed.FS

// Demo lists what `signet demo` loads: each dataset with its input fields
// and the program evaluated on it ("" for a dataset no program is
// evaluated on, such as a retrieval corpus). Whole keeps a dataset in one
// split (train) instead of two thirds train and the rest validation: a
// corpus is searched whole.
var Demo = []struct {
	Program, Dataset, DatasetFile, Inputs string
	Whole                                 bool
}{
	{Program: "qa.yaml", Dataset: "qa", DatasetFile: "qa.jsonl", Inputs: "question"},
	{Program: "sentiment.yaml", Dataset: "sentiment", DatasetFile: "sentiment.csv", Inputs: "review"},
	{Program: "facts.yaml", Dataset: "qa", DatasetFile: "qa.jsonl", Inputs: "question"},
	// The RAG demo: passages of CPython's language reference (gen_corpus.py
	// makes them; LICENSE-Python.txt) and questions on them, each with the
	// id of the passage that answers it (gold_id) and whether it is worded
	// like that passage or paraphrased (kind).
	{Dataset: "corpus", DatasetFile: "corpus.jsonl", Inputs: "text", Whole: true},
	{Program: "rag.yaml", Dataset: "rag-questions", DatasetFile: "rag-questions.jsonl", Inputs: "question"},
}
