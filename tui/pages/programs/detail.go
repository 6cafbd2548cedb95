package programs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/layout"
)

// detailBodyHeight is the number of content lines the detail pane shows
// (the page minus its title line and border).
func (p *Page) detailBodyHeight() int { return max(p.height-3, 1) }

// detailLines lays out the open program for a page width.
func (p *Page) detailLines(width int) []string {
	lines, _ := p.detailLayout(width)
	return lines
}

// detailLayout lays out the open program: its description, the module
// pipeline, then each module (signature, instructions, field descriptions,
// demos). starts[i] is the line of module i's heading.
func (p *Page) detailLayout(width int) (lines []string, starts []int) {
	s := p.styles
	pr := p.detail
	inner := max(width-4, 10) // border and one space of padding each side
	add := func(str string) { lines = append(lines, strings.Split(str, "\n")...) }
	const labelW = 17
	// labelled writes text under a label column, wrapped, the label on the
	// first line only.
	labelled := func(label, text string, style func(...string) string) {
		for j, l := range strings.Split(ansi.Wrap(text, max(inner-labelW-3, 4), " ,-"), "\n") {
			lab := label
			if j > 0 {
				lab = ""
			}
			if style != nil {
				l = style(l)
			}
			add(s.Muted.Render(fmt.Sprintf("   %-*s", labelW-3, lab)) + l)
		}
	}
	if pr.Description != "" {
		add(ansi.Wrap(format.Line(strings.Join(strings.Fields(pr.Description), " ")), inner, " -"))
	}
	if len(pr.Modules) == 0 {
		add(s.Muted.Render("This program has no modules."))
		return lines, nil
	}
	// The pipeline: each module with its type, in order.
	steps := make([]string, len(pr.Modules))
	for i, m := range pr.Modules {
		steps[i] = s.Subtitle.Render(m.Name) + s.Muted.Render(" ("+string(m.Type)+")")
	}
	add(progWrapJoin(s.Muted.Render("pipeline  "), steps, s.Accent.Render(" → "), inner))
	var ins, outs []string
	for _, f := range pr.Inputs() {
		ins = append(ins, f.Name)
	}
	for _, m := range pr.Modules {
		if sig, err := model.ParseSignature(m.Signature); err == nil {
			for _, f := range sig.Outputs {
				outs = append(outs, f.Name)
			}
		}
	}
	add(s.Muted.Render("inputs    ") + format.Dash(strings.Join(ins, ", ")) + s.Muted.Render("   produces  ") + format.Dash(strings.Join(outs, ", ")))
	for i, mod := range pr.Modules {
		add("")
		starts = append(starts, len(lines))
		head := fmt.Sprintf("%d. %s", i+1, mod.Name)
		if i == p.module {
			head = s.Accent.Render("▸ ") + s.Accent.Bold(true).Render(head)
		} else {
			head = "  " + s.Subtitle.Render(head)
		}
		add(head + "  " + s.Muted.Render(string(mod.Type)))
		labelled("signature", format.Text(progNone(mod.Signature)), nil)
		instructions := func(label, text string) {
			if text = strings.TrimSpace(text); text == "" {
				labelled(label, "(none)", s.Muted.Render)
				return
			}
			for j, para := range strings.Split(text, "\n") {
				if j > 0 {
					label = ""
				}
				labelled(label, format.Text(para), nil)
			}
		}
		demos := func(label string, ds []map[string]any) {
			const shown = 5
			for j, d := range ds {
				if j == shown {
					labelled("", fmt.Sprintf("… %d more", len(ds)-shown), s.Muted.Render)
					break
				}
				lab := ""
				if j == 0 {
					lab = fmt.Sprintf("%s (%d)", label, len(ds))
				}
				add(s.Muted.Render(fmt.Sprintf("   %-*s", labelW-3, lab)) + ansi.Truncate(format.Line(progDemoText(d)), max(inner-labelW, 4), "…"))
			}
		}
		instructions("instructions", mod.Instructions)
		p.detailFields(mod, labelled)
		if len(mod.Demos) > 0 {
			demos("demos", mod.Demos)
		}
		// What an optimizer or an import stored, per predictor, as DSPy holds it.
		for _, pr := range mod.Predictors {
			labelled("predictor", format.Line(pr.Name), s.Accent.Render)
			if pr.Instructions != "" {
				instructions(" instructions", pr.Instructions)
			}
			for _, f := range pr.Fields {
				if f.Description != "" && f.Description != "${"+f.Name+"}" {
					labelled(" "+format.Line(f.Name), format.Text(strings.TrimSpace(f.Prefix+" "+f.Description)), nil)
				}
			}
			if len(pr.Demos) > 0 {
				demos(" demos", pr.Demos)
			} else {
				labelled(" demos", "(none)", s.Muted.Render)
			}
		}
		if mod.LM != "" {
			labelled("lm", format.Line(mod.LM), nil)
		}
		if mod.Source != "" {
			labelled("source", format.Line(mod.Source), nil)
		}
	}
	return lines, starts
}

// detailFields lists a module's fields in signature order with their
// descriptions.
func (p *Page) detailFields(mod model.Module, labelled func(string, string, func(...string) string)) {
	s := p.styles
	var names []string
	if sig, err := model.ParseSignature(mod.Signature); err == nil {
		for _, f := range sig.Inputs {
			names = append(names, f.Name)
		}
		for _, f := range sig.Outputs {
			names = append(names, f.Name)
		}
	} else {
		for n := range mod.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	if len(mod.Fields) == 0 {
		labelled("fields", "(no descriptions)", s.Muted.Render)
		return
	}
	w := 0
	for _, n := range names {
		w = max(w, len(n))
	}
	for j, n := range names {
		lab := ""
		if j == 0 {
			lab = "fields"
		}
		desc := format.Text(mod.Fields[n])
		if desc == "" {
			desc = s.Muted.Render("—")
		}
		labelled(lab, fmt.Sprintf("%-*s  %s", w, format.Line(n), desc), nil)
	}
}

// progDemoText renders a demo on one line: key: value, by key; a
// bootstrapped demo (DSPy's "augmented") is marked "⟳".
func progDemoText(d map[string]any) string {
	ks := make([]string, 0, len(d))
	for k := range d {
		if k != "augmented" {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		v := fmt.Sprint(d[k])
		if str, ok := d[k].(string); ok {
			v = fmt.Sprintf("%q", str)
		}
		parts[i] = k + ": " + v
	}
	if aug, _ := d["augmented"].(bool); aug {
		return "⟳ " + strings.Join(parts, "  ")
	}
	return strings.Join(parts, "  ")
}

func progNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// progWrapJoin joins items with sep after prefix, breaking lines between items
// (never inside one) to stay within width.
func progWrapJoin(prefix string, items []string, sep string, width int) string {
	indent := strings.Repeat(" ", ansi.StringWidth(prefix))
	var b strings.Builder
	b.WriteString(prefix)
	col := ansi.StringWidth(prefix)
	for i, it := range items {
		w := ansi.StringWidth(it)
		if i > 0 {
			if col+ansi.StringWidth(sep)+w > width {
				b.WriteString(sep + "\n" + indent)
				col = len(indent)
			} else {
				b.WriteString(sep)
				col += ansi.StringWidth(sep)
			}
		}
		b.WriteString(it)
		col += w
	}
	return b.String()
}

func (p *Page) renderDetail() string {
	s := p.styles
	pr := p.detail
	mods := format.Count(len(pr.Modules), "module")
	if len(pr.Modules) == 1 {
		mods = "1 module"
	}
	title := s.Title.Render(pr.Name) + s.Muted.Render(fmt.Sprintf("  v%d · %s · %s · i edit · e $EDITOR · v versions · esc back", pr.Version, progStatusText(pr.Status), mods))
	lines := p.detailLines(p.width)
	h := p.detailBodyHeight()
	off := min(p.detailOffset, max(len(lines)-h, 0))
	end := min(off+h, len(lines))
	body := strings.Join(lines[off:end], "\n")
	if len(lines) > h {
		title = s.Title.Render(pr.Name) + s.Muted.Render(fmt.Sprintf("  v%d · %s · %s · lines %d-%d of %d · i edit · v versions · esc back",
			pr.Version, progStatusText(pr.Status), mods, off+1, end, len(lines)))
	}
	pane := layout.Box(body, p.width, h+2, s)
	return layout.Fit(title, p.width, 1) + "\n" + pane
}
