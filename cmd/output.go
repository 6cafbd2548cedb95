package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns; the header is upper-cased like kubectl's.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		// Escaped here, before the table measures it (the output's own
		// escaping would come after, and shift the columns).
		parts[i] = format.Line(fmt.Sprint(c))
	}
	fmt.Fprintln(t.tw, strings.Join(parts, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// ago renders a time relative to now, as lists show it.
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Format("2006-01-02")
}

// clip shortens s to n runes for table cells.
func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// isTTY says whether w is a terminal (progress bars are drawn only there).
func isTTY(w io.Writer) bool {
	f, ok := raw(w).(*os.File)
	return ok && isTerminal(f)
}

// safeWriter escapes the control characters of everything a command prints
// (format.Text), so that data (an output, a dataset value, an error quoting
// a file) cannot drive the terminal: set its title, clear it, move the
// cursor. The only raw writers are the workbench, the progress bars and a
// file's bytes written to anything but a terminal (see raw, dataOut).
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, format.Text(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// raw is the writer under a safeWriter.
func raw(w io.Writer) io.Writer {
	if s, ok := w.(safeWriter); ok {
		return s.w
	}
	return w
}

// dataOut is where a file's bytes go when written to stdout: unchanged
// into a pipe or a file, escaped on a terminal.
func (a *cli) dataOut() io.Writer {
	if isTTY(a.stdout) {
		return a.stdout
	}
	return raw(a.stdout)
}

// splitFlag reads --split: "" is every split.
func splitFlag(s string) (model.Split, error) {
	if s == "" {
		return "", nil
	}
	sp, err := model.ParseSplit(s)
	if err != nil {
		return "", usageError{err}
	}
	return sp, nil
}

// flushPage writes a listing's table, then how to get the next page when
// there is one (more is the command line without its cursor).
func (a *cli) flushPage(t *table, next, more string) error {
	if err := t.flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(a.stdout, "\nmore: %s --cursor %s\n", more, next)
	}
	return nil
}
