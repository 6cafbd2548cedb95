// Package choices are the values the workbench's forms offer to cycle
// through, spelled as the CLI takes them (`signet opt run`, `signet eval`).
package choices

var (
	// Optimizers are the optimizers of `signet opt run --optimizer`.
	Optimizers = []string{"bootstrap", "labeled", "random_search", "mipro", "copro", "simba", "gepa"}
	// AutoLevels are MIPROv2's `--auto` levels.
	AutoLevels = []string{"light", "medium", "heavy"}
	// Metrics are the built-in metrics of `--metric`; a form also takes
	// file.py:function (and judge:SIGNATURE for an evaluation).
	Metrics = []string{"exact_match", "answer_exact_match", "f1", "passage_match", "semantic_f1"}
)
