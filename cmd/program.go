package cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/signet-dspy/signet/model"
)

func (a *cli) programCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "program",
		Aliases: []string{"programs", "prog"},
		Short:   "Create, inspect, edit and version DSPy programs",
	}
	c.AddCommand(
		a.programCreate(), a.programList(), a.programShow(), a.programEdit(),
		a.programVersions(), a.programDiff(), a.programStatus(), a.programDelete(),
		a.programExport(), a.programImport(), a.programTraffic(),
	)
	return c
}

func (a *cli) programCreate() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a program from a YAML or JSON definition ('-' reads stdin)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("program create: -f FILE is required")
			}
			var p *model.Program
			var err error
			if file == "-" {
				data, rerr := readProgramData(a.stdin, "<stdin>")
				if rerr != nil {
					return rerr
				}
				p, err = parseProgram("<stdin>", data)
				if p != nil {
					p.BaseDir = a.cwd // relative user code is named from where the command runs
				}
			} else {
				p, err = readProgramFile(file, a.abs(file))
			}
			if err != nil {
				return err
			}
			saved, err := a.svc.CreateProgram(c.Context(), p)
			if err != nil {
				return fmt.Errorf("creating program from %s: %w", file, err)
			}
			fmt.Fprintf(a.stdout, "created program %s (version %d, %d modules)\n", saved.Name, saved.Version, len(saved.Modules))
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "program definition (YAML or JSON)")
	return c
}

// programRow is the list view of a program head.
type programRow struct {
	Name        string              `json:"name"`
	Status      model.ProgramStatus `json:"status"`
	Version     int                 `json:"version"`
	Modules     int                 `json:"modules"`
	LM          string              `json:"lm,omitempty"`
	Description string              `json:"description,omitempty"`
}

func (a *cli) programList() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List programs (latest versions)",
		Args:    exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			ps, err := a.svc.ListPrograms(c.Context())
			if err != nil {
				return err
			}
			rows := make([]programRow, 0, len(ps))
			for _, p := range ps {
				rows = append(rows, programRow{p.Name, p.Status, p.Version, len(p.Modules), p.LM, p.Description})
			}
			if asJSON {
				return writeJSON(a.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "no programs yet: signet program create -f FILE")
				return nil
			}
			t := newTable(a.stdout, "name", "status", "version", "modules", "lm", "description")
			for _, r := range rows {
				t.row(r.Name, r.Status, r.Version, r.Modules, orDash(r.LM), clip(r.Description, 50))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *cli) programShow() *cobra.Command {
	var format, out string
	var version int
	var asJSON bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a program definition (YAML by default; the output is a valid input of create)",
		Long: "Print a program definition, a valid input of `program create`. Paths of user code (a custom\n" +
			"module's source, ReAct tools) are written relative to the file written (-o), else to the current\n" +
			"directory, so the definition and the code it names can move together.",
		Args: exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if asJSON {
				format = "json"
			}
			p, err := a.svc.Program(c.Context(), args[0], version)
			if err != nil {
				return err
			}
			dir := a.cwd
			if out != "" {
				dir = filepath.Dir(a.abs(out))
				if !c.Flags().Changed("format") && !asJSON && strings.EqualFold(filepath.Ext(out), ".json") {
					format = "json"
				}
			}
			text, err := encodeProgram(relativeTo(p, dir), format)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = a.stdout.Write(text)
				return err
			}
			if err := os.WriteFile(a.abs(out), text, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(a.stderr, "wrote %s v%d to %s\n", p.Name, p.Version, out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file (default: stdout)")
	c.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	c.Flags().BoolVar(&asJSON, "json", false, "same as --format json")
	c.Flags().IntVar(&version, "version", 0, "a specific version (default: latest)")
	return c
}

func (a *cli) programEdit() *cobra.Command {
	return withMode(&cobra.Command{
		Use:   "edit NAME",
		Short: "Edit a program in $EDITOR; saving creates a new version",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			cur, err := a.svc.Program(c.Context(), args[0], 0)
			if err != nil {
				return err
			}
			before, err := encodeProgram(cur, "yaml")
			if err != nil {
				return err
			}
			f, err := os.CreateTemp("", "signet-"+cur.Name+"-*.yaml")
			if err != nil {
				return fmt.Errorf("creating edit file: %w", err)
			}
			path := f.Name()
			_, werr := f.Write(before)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return fmt.Errorf("writing edit file %s: %w", path, werr)
			}
			if err := runEditor(c, path); err != nil {
				return fmt.Errorf("%w (your text is kept in %s)", err, path)
			}
			after, err := readProgramPath(path, path)
			if err != nil {
				return fmt.Errorf("%w (your text is kept in %s)", err, path)
			}
			if bytes.Equal(before, after) {
				os.Remove(path)
				fmt.Fprintf(a.stdout, "no changes: %s stays at version %d\n", cur.Name, cur.Version)
				return nil
			}
			p, err := parseProgram(path, after)
			if err != nil {
				// Nothing is lost: the edited text stays on disk for another try.
				return fmt.Errorf("%w\nyour edit is kept in %s; fix it and run: signet program create -f FILE, or edit again", err, path)
			}
			if p.Name != cur.Name {
				return fmt.Errorf("%s: the name cannot change in edit (was %q, now %q); your edit is kept there", path, cur.Name, p.Name)
			}
			p.BaseDir = cur.BaseDir // its paths are still relative to the program's file, not the edit file
			saved, err := a.svc.SaveProgram(c.Context(), p)
			if err != nil {
				return fmt.Errorf("%w (your edit is kept in %s)", err, path)
			}
			os.Remove(path)
			fmt.Fprintf(a.stdout, "saved %s version %d\n", saved.Name, saved.Version)
			return nil
		},
	}, "")
}

// runEditor opens path in $VISUAL or $EDITOR (default vi), on the terminal.
func runEditor(c *cobra.Command, path string) error {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// EDITOR may carry arguments ("code --wait"), so it goes through the shell.
	cmd := exec.CommandContext(c.Context(), "sh", "-c", editor+` "$1"`, "editor", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("editor %q failed: %w", editor, err)
	}
	return nil
}

type versionRow struct {
	Version      int                 `json:"version"`
	Status       model.ProgramStatus `json:"status"`
	CreatedAt    string              `json:"created_at"`
	CompiledFrom string              `json:"compiled_from,omitempty"`
	Note         string              `json:"note,omitempty"`
}

func (a *cli) programVersions() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "versions NAME",
		Aliases: []string{"history"},
		Short:   "List every version of a program",
		Args:    exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			vs, err := a.svc.ProgramVersions(c.Context(), args[0])
			if err != nil {
				return err
			}
			rows := make([]versionRow, len(vs))
			for i, v := range vs {
				rows[i] = versionRow{v.Version, v.Status, v.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), v.CompiledFrom, v.Note}
			}
			if asJSON {
				return writeJSON(a.stdout, rows)
			}
			t := newTable(a.stdout, "version", "status", "created", "compiled from", "note")
			for _, r := range rows {
				t.row(r.Version, r.Status, r.CreatedAt, orDash(r.CompiledFrom), clip(r.Note, 60))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) programDiff() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "diff NAME [FROM [TO]]",
		Short: "Field-by-field diff of two versions (default: previous against latest)",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 3 {
				return usagef("%s: want NAME [FROM [TO]]", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			head, err := a.svc.Program(c.Context(), args[0], 0)
			if err != nil {
				return err
			}
			from, to := head.Version-1, head.Version
			if len(args) >= 2 {
				if from, err = parseVersion(args[1]); err != nil {
					return err
				}
			}
			if len(args) == 3 {
				if to, err = parseVersion(args[2]); err != nil {
					return err
				}
			}
			if from < 1 {
				return fmt.Errorf("program %q has only version %d: nothing to diff", head.Name, head.Version)
			}
			a1, err := a.svc.Program(c.Context(), head.Name, from)
			if err != nil {
				return err
			}
			b1, err := a.svc.Program(c.Context(), head.Name, to)
			if err != nil {
				return err
			}
			changes := model.DiffPrograms(a1, b1)
			if asJSON {
				if changes == nil {
					changes = []model.Change{}
				}
				return writeJSON(a.stdout, changes)
			}
			fmt.Fprintf(a.stdout, "%s: version %d → %d\n", head.Name, from, to)
			if len(changes) == 0 {
				fmt.Fprintln(a.stdout, "  no differences")
			}
			for _, ch := range changes {
				fmt.Fprintf(a.stdout, "  %s\n    - %s\n    + %s\n", ch.Path, indentCont(ch.Old), indentCont(ch.New))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func indentCont(s string) string {
	if s == "" {
		return "(none)"
	}
	return strings.ReplaceAll(s, "\n", "\n      ")
}

func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, usagef("version %q: want a positive number such as 2 or v2", s)
	}
	return n, nil
}

func (a *cli) programStatus() *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   "status NAME draft|testing|production",
		Short: "Change a program's status (recorded as a new version)",
		Args:  exactArgs("NAME", "STATUS"),
		RunE: func(c *cobra.Command, args []string) error {
			status, err := model.ParseProgramStatus(args[1])
			if err != nil {
				return usageError{err}
			}
			p, err := a.svc.SetProgramStatus(c.Context(), args[0], status, note)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s is now %s (version %d)\n", p.Name, p.Status, p.Version)
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "why (kept in the history)")
	return c
}

func (a *cli) programDelete() *cobra.Command {
	return a.deleteCommand("program", "all its versions", func(ctx context.Context, name string) error {
		return a.svc.DeleteProgram(ctx, name)
	})
}

// deleteCommand is `program delete` and `dataset delete`: confirmation on
// this terminal (before the command may go to the owner), then del.
func (a *cli) deleteCommand(kind, what string, del func(context.Context, string) error) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "delete NAME",
		Short: fmt.Sprintf("Delete a %s and %s", kind, what),
		Args:  exactArgs("NAME"),
		PreRunE: func(c *cobra.Command, args []string) error {
			return a.confirmDelete(yes, fmt.Sprintf("delete %s %s and %s?", kind, args[0], what), args[0])
		},
		RunE: func(c *cobra.Command, args []string) error {
			if err := del(c.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "deleted %s %s\n", kind, args[0])
			return nil
		},
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

// confirmDelete asks for confirmation unless --yes was given.
func (a *cli) confirmDelete(yes bool, question, name string) error {
	if yes {
		return nil
	}
	return a.confirm(question, name)
}

// confirm asks the user to type name on a terminal; without one, --yes is needed.
func (a *cli) confirm(question, name string) error {
	f, ok := a.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return usagef("%s Not a terminal: pass --yes to confirm", question)
	}
	fmt.Fprintf(a.stderr, "%s Type %q to confirm: ", question, name)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading confirmation: %w", err)
	}
	if strings.TrimSpace(line) != name {
		return errors.New("not confirmed; nothing deleted")
	}
	return nil
}

func isTerminal(f *os.File) bool {
	// A character device is not enough: /dev/null is one too.
	return term.IsTerminal(int(f.Fd()))
}
