package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

func (a *cli) renderCommand() *cobra.Command {
	var inputs []string
	var module, lm string
	var version int
	var asJSON bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "render PROGRAM[@VERSION] --input field=value ...",
		Short: "Print the exact messages each LM call of a program would send, without calling the LM",
		Long: "Render every predictor of every module through DSPy's own adapter (the LM profile's), with its stored\n" +
			"instructions, field prefixes and descriptions and demos, as a run would send them. No LM is called and no\n" +
			"key is read. Values known only during a run (an earlier module's output, a ReAct trajectory, what a\n" +
			"custom module computes in forward()) are shown as {name}.",
		Args: exactArgs("PROGRAM[@VERSION]"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			name, v, err := parseProgramRef(args[0])
			if err != nil {
				return err
			}
			if version < 0 {
				return usagef("--version %d: want a version number", version)
			}
			if version > 0 {
				v = version
			}
			in, err := parseInputs(inputs)
			if err != nil {
				return err
			}
			res, err := a.svc.Render(ctx, app.RenderRequest{Program: name, Version: v, Inputs: in, LM: lm, Module: module})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, res)
			}
			for i, m := range res.Modules {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				head := "module " + m.Module
				if m.Predictor != "" && m.Predictor != "self" {
					head += " · predictor " + m.Predictor
				}
				fmt.Fprintf(a.stdout, "══ %s ══\n", head)
				if m.Note != "" {
					fmt.Fprintf(a.stdout, "(%s)\n", m.Note)
				}
				if len(m.Placeholders) > 0 {
					marked := make([]string, len(m.Placeholders))
					for j, p := range m.Placeholders {
						marked[j] = "{" + p + "}"
					}
					fmt.Fprintf(a.stdout, "(%s: known only during the run)\n", strings.Join(marked, ", "))
				}
				labels := model.DemoLabels(m.Messages)
				for j, msg := range m.Messages {
					fmt.Fprintf(a.stdout, "── %s%s ──\n%s\n", msg.Role, labels[j], msg.Content)
				}
			}
			return nil
		},
	}
	c.Flags().StringArrayVarP(&inputs, "input", "i", nil, "an input field=value (repeatable; JSON lists and objects are decoded)")
	c.Flags().StringVar(&module, "module", "", "render one module only")
	c.Flags().StringVar(&lm, "lm", "", "LM profile whose adapter renders (default: the program's, else the workspace's)")
	c.Flags().IntVar(&version, "version", 0, "program version (default: the newest)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the rendered messages as JSON")
	pf.register(c)
	return c
}
