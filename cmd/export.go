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
func (a *app) mainPool(ctx context.Context, pf poolFlags) (*bridge.Pool, error) {
	if _, _, err := a.startOwner(ctx, pf, 0, nil); err != nil {
		return nil, err
	}
	p := a.shared.pool.Load()
	if p == nil {
		return nil, errors.New("internal error: the engine runs without a worker pool")
	}
	return p, nil
}

func (a *app) programExport() *cobra.Command {
	var out string
	var pf poolFlags
	c := &cobra.Command{
		Use:   "export NAME[@VERSION] [-o FILE.json]",
		Short: "Export a program as DSPy JSON, which plain DSPy loads with program.load(path)",
		Long: "Write what DSPy's program.save(path) writes for the program as Signet builds it: per predictor its\n" +
			"instructions, fields and demos. Build the same modules in plain DSPy and call program.load(FILE).",
		Args: exactArgs("NAME[@VERSION]"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			name, version, err := parseProgramRef(args[0])
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			var p *model.Program
			if version > 0 {
				p, err = st.GetProgramVersion(ctx, name, version)
			} else {
				p, err = st.GetProgram(ctx, name)
			}
			if err != nil {
				return err
			}
			pool, err := a.mainPool(ctx, pf)
			if err != nil {
				return err
			}
			state, err := pool.Export(ctx, p, "")
			if err != nil {
				return fmt.Errorf("exporting %s v%d: %w", p.Name, p.Version, err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, state, "", "  "); err != nil {
				return fmt.Errorf("exporting %s v%d: the worker's state is not JSON: %w", p.Name, p.Version, err)
			}
			buf.WriteByte('\n')
			if out == "" || out == "-" {
				_, err := a.stdout.Write(buf.Bytes())
				return err
			}
			if err := os.WriteFile(a.abs(out), buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(a.stderr, "exported %s v%d to %s\n", p.Name, p.Version, out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file (default: stdout)")
	pf.register(c)
	return c
}

func (a *app) programImport() *cobra.Command {
	var note string
	var pf poolFlags
	c := &cobra.Command{
		Use:   "import NAME FILE.json",
		Short: "Import a DSPy JSON state (program.save) into a program as a new version",
		Long: "Load a state that DSPy's program.save(path) wrote into the program's latest version, as DSPy's\n" +
			"load_state does, and save the instructions and demos it sets as a new version. A state that does\n" +
			"not fit the program's predictors imports nothing.",
		Args: exactArgs("NAME", "FILE.json"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			raw, err := os.ReadFile(a.abs(args[1]))
			if err != nil {
				return fmt.Errorf("reading %s: %w", args[1], err)
			}
			if !json.Valid(raw) {
				return fmt.Errorf("%s is not JSON", args[1])
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			p, err := st.GetProgram(ctx, args[0])
			if err != nil {
				return err
			}
			pool, err := a.mainPool(ctx, pf)
			if err != nil {
				return err
			}
			mods, err := pool.ImportState(ctx, p, raw, "")
			if err != nil {
				return fmt.Errorf("importing %s into %s v%d: %w", args[1], p.Name, p.Version, err)
			}
			next := *p
			next.Modules = append([]model.Module(nil), p.Modules...)
			for i := range next.Modules {
				if m, ok := mods[next.Modules[i].Name]; ok {
					next.Modules[i].Instructions = m.Instructions
					next.Modules[i].Demos = m.Demos
				}
			}
			next.CompiledFrom = ""
			next.Note = note
			if next.Note == "" {
				next.Note = "imported from " + filepath.Base(args[1])
			}
			saved, err := st.SaveProgram(ctx, &next)
			if err != nil {
				return err
			}
			changes := model.DiffPrograms(p, saved)
			fmt.Fprintf(a.stdout, "imported %s as %s v%d (%d change(s) from v%d)\n", args[1], saved.Name, saved.Version, len(changes), p.Version)
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "the new version's note")
	pf.register(c)
	return c
}
