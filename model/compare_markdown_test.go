package model

import (
	"strings"
	"testing"
)

func TestComparisonMarkdown(t *testing.T) {
	c, ex, runA, runB := twoRuns()
	c.Predictors[0].Runs[1].OldInstructions = "Answer | briefly."
	c.Predictors[0].Runs[1].NewInstructions = "Answer | in *one* word."
	md := c.Markdown(ScoreVsCost([]*Optimization{runB, runA}))
	for _, want := range []string{
		"# Comparison of optimization runs\n",
		"|  | A `" + runA.ID.String() + "` | B `" + runB.ID.String() + "` |\n",
		"| optimizer | bootstrap_fewshot | mipro_v2 |\n",
		"| validation score | 0.250 → 0.750 | 0.250 → 0.500 |\n",
		"## Predictor `answer`\n",
		"### A bootstrap_fewshot\n\nInstructions unchanged: Answer.\n\nDemos 0 → 1.\n" +
			"- added: `{\"answer\":\"Paris\",\"question\":\"Capital of France?\"}`\n",
		// The changed words only, the text's own markup escaped.
		"Instructions: Answer | ~~briefly.~~ **in \\*one\\* word.**\n",
		"1 flip between runs",
		"| `" + ex[0].String() + "` | pass | fail | flip |\n",
		"| `" + ex[3].String() + "` | fail | fail |  |\n",
		"## Score versus cost\n",
		"| `" + runA.ID.String() + "` | bootstrap_fewshot | 0.750 | $0.5000 | A |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "`"+runA.ID.String()+"` | bootstrap") > strings.Index(md, "`"+runB.ID.String()+"` | mipro") {
		t.Error("score versus cost is not cheapest first")
	}
}
