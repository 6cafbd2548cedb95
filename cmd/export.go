package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// parseProgramRef reads NAME or NAME@VERSION.
func parseProgramRef(s string) (string, int, error) {
	name, v, ok := strings.Cut(s, "@")
	if !ok {
		return name, 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || n <= 0 {
		return "", 0, usagef("%q: want NAME or NAME@VERSION (a version number)", s)
	}
	return name, n, nil
}

// mainPool starts the engine's pool (export and import are quick: they
// share it with executions).
func (a *cli) mainPool(ctx context.Context, pf poolFlags) (*bridge.Pool, error) {
	if _, _, err := a.startOwner(ctx, pf, 0, nil); err != nil {
		return nil, err
	}
	p := a.shared.pool.Load()
	if p == nil {
		return nil, errors.New("internal error: the engine runs without a worker pool")
	}
	return p, nil
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
			ctx := c.Context()
			p, err := a.programRef(ctx, args[0])
			if err != nil {
				return err
			}
			pool, err := a.mainPool(ctx, pf)
			if err != nil {
				return err
			}
			res, err := pool.Export(ctx, bridge.ExportRequest{Program: p, Python: python})
			if err != nil {
				return fmt.Errorf("exporting %s v%d: %w", p.Name, p.Version, err)
			}
			var body []byte
			if python {
				body = []byte(res.Python)
			} else {
				var buf bytes.Buffer
				if err := json.Indent(&buf, res.State, "", "  "); err != nil {
					return fmt.Errorf("exporting %s v%d: the worker's state is not JSON: %w", p.Name, p.Version, err)
				}
				buf.WriteByte('\n')
				body = buf.Bytes()
			}
			if out == "" || out == "-" {
				_, err := a.stdout.Write(body)
				return err
			}
			if err := os.WriteFile(a.abs(out), body, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(a.stderr, "exported %s v%d to %s\n", p.Name, p.Version, out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file (default: stdout)")
	c.Flags().BoolVar(&python, "python", false, "write a standalone Python file that rebuilds the program in plain DSPy")
	pf.registerWorkers(c) // the interpreter comes from the config or SIGNET_PYTHON here
	return c
}

// programRef reads NAME or NAME@VERSION from the store.
func (a *cli) programRef(ctx context.Context, ref string) (*model.Program, error) {
	name, version, err := parseProgramRef(ref)
	if err != nil {
		return nil, err
	}
	st, err := a.store()
	if err != nil {
		return nil, err
	}
	if version > 0 {
		return st.GetProgramVersion(ctx, name, version)
	}
	return st.GetProgram(ctx, name)
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
			ctx := c.Context()
			name, file := args[0], a.abs(args[1])
			var req bridge.ImportRequest
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
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("reading %s: %w", args[1], err)
				}
				if err := checkJSONObject(raw); err != nil {
					return fmt.Errorf("%s: %w", args[1], err)
				}
				req.State = raw
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			base, err := st.GetProgram(ctx, name)
			switch {
			case err == nil:
				if signature != "" || kind != "" || source != "" {
					return usagef("--signature, --type and --source describe a new program; %s exists (its modules say it)", name)
				}
				req.Program = base
			case errors.Is(err, store.ErrNotFound):
				if err := model.ValidName("program", name); err != nil {
					return usagef("%v", err)
				}
				// --source is relative to where the command runs, as a program file's paths are to the file.
				req.Name, req.Signature, req.Source, req.BaseDir = name, signature, source, a.cwd
				req.Type = model.ModuleType(kind)
			default:
				return err
			}
			pool, err := a.mainPool(ctx, pf)
			if err != nil {
				return err
			}
			res, err := pool.ImportState(ctx, req)
			if err != nil {
				return fmt.Errorf("importing %s: %w", args[1], err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			next := res.Program
			next.Name, next.CompiledFrom, next.Note = name, "", note
			if next.Note == "" {
				next.Note = "imported from " + filepath.Base(args[1])
			}
			var saved *model.Program
			if base != nil {
				saved, err = st.SaveProgram(ctx, next)
			} else {
				next.Version, next.Status, next.BaseDir = 0, model.Draft, a.cwd
				saved, err = st.CreateProgram(ctx, next)
			}
			if err != nil {
				return fmt.Errorf("importing %s: %w", args[1], err)
			}
			what := "a new program"
			if base != nil {
				what = fmt.Sprintf("%d change(s) from v%d", len(model.DiffPrograms(base, saved)), base.Version)
			}
			fmt.Fprintf(a.stdout, "imported %s as %s v%d (%s): %s\n", args[1], saved.Name, saved.Version, what, predictorSummary(saved))
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
	var parts []string
	for _, m := range p.Modules {
		for _, pr := range m.Predictors {
			parts = append(parts, fmt.Sprintf("%s %d demo(s)", model.PredictorPath(m.Name, pr.Name), len(pr.Demos)))
		}
	}
	if len(parts) == 0 {
		return "no predictor state"
	}
	return strings.Join(parts, ", ")
}
