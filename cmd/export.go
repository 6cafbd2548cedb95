package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// parseProgramRef reads NAME or NAME@VERSION; a bad one is a usage error.
func parseProgramRef(s string) (string, int, error) {
	name, v, err := model.ParseProgramRef(s)
	if err != nil {
		return "", 0, usageError{err}
	}
	return name, v, nil
}

func (a *cli) programExport() *cobra.Command {
	var out string
	var python bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "export NAME[@VERSION] [-o FILE.json] [--python -o prog.py]",
		Short: "Export a program as DSPy JSON (what save() writes), or as one standalone Python file",
		Long: "Write exactly what DSPy's save(path) writes for the program as Signet builds it: every predictor's\n" +
			"instructions, fields and demos. For a one-module program that is the module's own save, so\n" +
			"dspy.ChainOfThought(sig).load(FILE) or your own dspy.Module class's load(FILE) reads it; for several\n" +
			"modules, build a dspy.Module with one attribute per Signet module.\n\n" +
			"--python writes a Python file instead that rebuilds the program in plain DSPy (same signatures,\n" +
			"tools and classes) and loads that state: leave Signet with one file.",
		Args: exactArgs("NAME[@VERSION]"),
		RunE: func(c *cobra.Command, args []string) error {
			name, version, err := parseProgramRef(args[0])
			if err != nil {
				return err
			}
			res, err := a.svc.ExportProgram(c.Context(), app.ExportRequest{Program: name, Version: version, Python: python})
			if err != nil {
				return err
			}
			body := []byte(res.State)
			if python {
				body = []byte(res.Python)
			}
			if out == "" || out == "-" {
				_, err := a.dataOut().Write(body)
				return err
			}
			if err := os.WriteFile(a.abs(out), body, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(a.stderr, "exported %s v%d to %s\n", res.Program, res.Version, out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file (default: stdout)")
	c.Flags().BoolVar(&python, "python", false, "write a standalone Python file that rebuilds the program in plain DSPy")
	pf.registerWorkers(c) // the interpreter comes from the config or SIGNET_PYTHON here
	return c
}

// errPickle explains why a save_program=True directory is refused.
func errPickle(path string) error {
	return usagef("%s holds a cloudpickled program (DSPy's save(..., save_program=True)): unpickling it runs\n"+
		"arbitrary code. Re-save it as JSON in DSPy, program.save(\"program.json\"), and import that, or pass\n"+
		"--trust-pickle if you trust where it came from (it is then loaded inside a worker)", path)
}

func (a *cli) programImport() *cobra.Command {
	var note, signature, kind, source string
	var trustPickle bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "import NAME FILE.json",
		Short: "Import what DSPy's save() wrote, as a new program or a new version of one",
		Long: "Read what DSPy's save(path) wrote as JSON: a bare Predict, a ChainOfThought, a ReAct, your own\n" +
			"dspy.Module (--source names its class), or a whole Signet export. Into an existing program the state\n" +
			"becomes a new version (predictors matched by their names); otherwise a new program is made, its module\n" +
			"inferred from the state (--type, --signature and --source say what cannot be inferred). Every key must\n" +
			"fit a predictor, and the imported program must dump exactly the imported state, or nothing is imported.\n" +
			"A save_program=True directory (a pickled program) is refused unless --trust-pickle.",
		Args: exactArgs("NAME", "FILE.json"),
		RunE: func(c *cobra.Command, args []string) error {
			name, file := args[0], a.abs(args[1])
			req := app.ImportProgramRequest{Name: name, File: args[1], Type: model.ModuleType(kind), Signature: signature,
				Source: source, BaseDir: a.cwd, Note: note}
			info, err := os.Stat(file)
			if err != nil {
				return fmt.Errorf("reading %s: %w", args[1], err)
			}
			pickled := info.IsDir() || strings.HasSuffix(file, ".pkl")
			switch {
			case pickled && !trustPickle:
				return errPickle(args[1])
			case info.IsDir():
				if _, err := os.Stat(filepath.Join(file, "program.pkl")); err != nil {
					return usagef("%s is a directory without program.pkl: not something DSPy's save() wrote", args[1])
				}
				req.Pickle = file
			case pickled:
				req.Pickle = file
			default:
				raw, err := readProgramPath(args[1], file)
				if err != nil {
					return err
				}
				if err := checkJSONObject(raw); err != nil {
					return fmt.Errorf("%s: %w", args[1], err)
				}
				req.State = string(raw)
			}
			res, err := a.svc.ImportProgram(c.Context(), req)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			what := "a new program"
			if !res.Created {
				what = fmt.Sprintf("%d change(s) from v%d", res.Changes, res.Program.Version-1)
			}
			fmt.Fprintf(a.stdout, "imported %s as %s v%d (%s): %s\n", args[1], res.Program.Name, res.Program.Version, what, predictorSummary(res.Program))
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "the new version's note")
	c.Flags().StringVar(&signature, "signature", "", "a new program's signature (\"question -> answer\"), when the state cannot say which fields are inputs")
	c.Flags().StringVar(&kind, "type", "", "a new program's module type: predict, chain_of_thought, react or custom (default: from the state's shape)")
	c.Flags().StringVar(&source, "source", "", "a new program's custom module class or ReAct tools: path/to/file.py:Name[,Name...]")
	c.Flags().BoolVar(&trustPickle, "trust-pickle", false, "load a save_program=True directory (runs the pickled code, inside a worker)")
	pf.register(c)
	return c
}

// checkJSONObject says where a file that should hold one JSON object is
// not one.
func checkJSONObject(raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(raw, se.Offset)
			return fmt.Errorf("not JSON: line %d, column %d: %v", line, col, err)
		}
		return fmt.Errorf("not JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("not what DSPy's save() writes: a JSON object")
	}
	return nil
}

func lineCol(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for _, c := range b[:min(int(off), len(b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// predictorSummary is one line on what a program's predictors hold.
func predictorSummary(p *model.Program) string {
	np, nd := 0, 0
	for _, m := range p.Modules {
		for _, pr := range m.Predictors {
			np++
			nd += len(pr.Demos)
		}
	}
	if np == 0 {
		return "no predictor state"
	}
	return fmt.Sprintf("%d predictor(s), %d demo(s)", np, nd)
}
