package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Markdown is the comparison as a Markdown document, with points (every
// finished run of the compared programs) as its score-versus-cost table:
// what the workbench's comparison exports (`e`) and `signet opt compare
// --markdown` prints. Instruction changes show removed words struck
// through and added ones in bold.
func (c *Comparison) Markdown(points []ScorePoint) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	label := func(i int) string { return string(rune('A' + i%26)) }

	p("# Comparison of optimization runs\n\n")
	head := []string{""}
	for i, r := range c.Runs {
		head = append(head, label(i)+" `"+r.ID.String()+"`")
	}
	mdRow(&b, head...)
	mdRow(&b, slices.Repeat([]string{"---"}, len(head))...)
	row := func(name string, f func(r RunSummary) string) {
		cells := []string{name}
		for _, r := range c.Runs {
			cells = append(cells, f(r))
		}
		mdRow(&b, cells...)
	}
	row("program", func(r RunSummary) string { return fmt.Sprintf("%s v%d", r.Program, r.BaseVersion) })
	row("optimizer", func(r RunSummary) string { return r.Optimizer })
	row("settings", func(r RunSummary) string {
		if len(r.Settings) == 0 {
			return "defaults"
		}
		j, err := json.Marshal(r.Settings)
		if err != nil {
			return "?"
		}
		return "`" + string(j) + "`"
	})
	row("metric", func(r RunSummary) string { return r.Metric })
	row("state", func(r RunSummary) string { return r.StateText() })
	row("validation score", func(r RunSummary) string { return fmt.Sprintf("%.3f → %.3f", r.Before, r.After) })
	row("held-out score", func(r RunSummary) string { return r.HeldOutText() })
	row("result", func(r RunSummary) string { return r.ResultText() })
	row("cost", func(r RunSummary) string { return mdUSD(r.Cost, r.CostUnknown) })
	row("LM calls", func(r RunSummary) string { return strconv.Itoa(r.LMCalls) })
	row("duration", func(r RunSummary) string { return r.Duration.Round(time.Millisecond).String() })
	row("trials", func(r RunSummary) string { return strconv.Itoa(r.Trials) })

	strike := func(s string) string { return "~~" + s + "~~" }
	bold := func(s string) string { return "**" + s + "**" }
	for _, pc := range c.Predictors {
		p("\n## Predictor `%s`\n", pc.Name)
		for i, ch := range pc.Runs {
			if i >= len(c.Runs) {
				break
			}
			p("\n### %s %s\n\n", label(i), c.Runs[i].Optimizer)
			if !ch.InstructionsChanged {
				p("Instructions unchanged: %s\n", mdText(mdEscape(ch.NewInstructions)))
			} else {
				p("Instructions: %s\n", mdText(WordDiffMarked(mdEscape(ch.OldInstructions), mdEscape(ch.NewInstructions), strike, bold)))
			}
			p("\nDemos %d → %d.\n", ch.DemosBefore, ch.DemosAfter)
			for _, d := range ch.DemosRemoved {
				p("- removed: `%s`\n", strings.ReplaceAll(d, "`", "'"))
			}
			for _, d := range ch.DemosAdded {
				p("- added: `%s`\n", strings.ReplaceAll(d, "`", "'"))
			}
		}
	}

	p("\n## Validation examples\n\n%d flip between runs (pass in one, fail in another); each run's best trial.\n\n", c.Flips)
	if len(c.Examples) == 0 {
		p("No per-example results recorded.\n")
	} else {
		head := []string{"example"}
		for i := range c.Runs {
			head = append(head, label(i))
		}
		head = append(head, "flip")
		mdRow(&b, head...)
		mdRow(&b, slices.Repeat([]string{"---"}, len(head))...)
		for _, ex := range c.Examples {
			cells := []string{"`" + ex.Example.String() + "`"}
			for _, pass := range ex.Pass {
				cells = append(cells, passText(pass))
			}
			flip := ""
			if ex.Flip {
				flip = "flip"
			}
			mdRow(&b, append(cells, flip)...)
		}
	}

	if len(points) > 0 {
		p("\n## Score versus cost\n\nEvery finished run of the compared programs, cheapest first.\n\n")
		mdRow(&b, "run", "optimizer", "score", "cost", "compared")
		mdRow(&b, "---", "---", "---", "---", "---")
		for _, pt := range points {
			compared := ""
			if i := slices.IndexFunc(c.Runs, func(r RunSummary) bool { return r.ID == pt.ID }); i >= 0 {
				compared = label(i)
			}
			mdRow(&b, "`"+pt.ID.String()+"`", pt.Optimizer, fmt.Sprintf("%.3f", pt.Score), mdUSD(pt.Cost, false), compared)
		}
	}
	return b.String()
}

// passText is one outcome of a flip matrix.
func passText(pass *bool) string {
	switch {
	case pass == nil:
		return "·"
	case *pass:
		return "pass"
	}
	return "fail"
}

func mdRow(b *strings.Builder, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// mdEscape keeps a text's own Markdown characters from being read as
// markup.
func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "#", `\#`, "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

// mdText is a text on one line ("(empty)" for none).
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(empty)"
	}
	return s
}

func mdUSD(c float64, unknown bool) string {
	s := fmt.Sprintf("$%.4f", c)
	if unknown {
		s += " (unknown prices)"
	}
	return s
}
