package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
)

// parseExampleRef reads DATASET:N (N counts from 0 within the split).
func parseExampleRef(s string) (string, int, error) {
	name, num, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || name == "" {
		return "", 0, usagef("--example %q: want DATASET:N, such as qa:3", s)
	}
	return name, n, nil
}

func (a *cli) execCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "exec",
		Aliases: []string{"execution", "executions"},
		Short:   "List, inspect, cancel and resume executions",
	}
	c.AddCommand(a.execList(), a.execShow(), a.execCancel(), a.execResume(), a.execFeedback())
	return c
}

type execRow struct {
	ID       string         `json:"id"`
	Program  string         `json:"program"`
	Version  int            `json:"version"`
	State    model.RunState `json:"state"`
	Attempts int            `json:"attempts"`
	Tokens   int            `json:"tokens"`
	Cost     float64        `json:"cost"`
	Duration string         `json:"duration"`
	CacheHit bool           `json:"cache_hit,omitempty"`
	Worker   string         `json:"worker,omitempty"` // pool/worker that ran it
	Error    string         `json:"error,omitempty"`
	Created  time.Time      `json:"created_at"`
}

func execRowOf(e *model.Execution) execRow {
	msg := e.Error
	if e.ErrorCode != "" {
		msg = e.ErrorCode + ": " + e.Error
	}
	return execRow{e.ID.String(), e.Program, e.Version, e.State, e.Attempts, e.TotalUsage().Total(), e.Cost,
		e.Duration.Round(time.Millisecond).String(), e.CacheHit, e.Worker, msg, e.CreatedAt}
}

func (a *cli) execList() *cobra.Command {
	var program, state, cursor string
	var limit int
	var asJSON, all bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "Executions, newest first",
		Args:    exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			q := app.ExecutionQuery{Program: program, Cursor: cursor, Limit: limit}
			if state != "" {
				s, err := model.ParseRunState(state)
				if err != nil {
					return usageError{err}
				}
				q.State = s
			}
			var rows []execRow
			next := ""
			for {
				page, err := a.svc.ListExecutions(c.Context(), q)
				if err != nil {
					return err
				}
				for _, e := range page.Executions {
					rows = append(rows, execRowOf(e))
				}
				next = page.Next
				if !all || next == "" {
					break
				}
				q.Cursor = next
			}
			if asJSON {
				if rows == nil {
					rows = []execRow{}
				}
				return writeJSON(a.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "no executions")
				return nil
			}
			t := newTable(a.stdout, "id", "program", "v", "state", "try", "tokens", "cost", "duration", "worker", "created", "error")
			for _, r := range rows {
				state := string(r.State)
				if r.CacheHit {
					state += " (cache)"
				}
				t.row(r.ID, r.Program, r.Version, state, r.Attempts, r.Tokens, fmt.Sprintf("$%.6f", r.Cost), r.Duration, r.Worker, ago(r.Created), clip(r.Error, 40))
			}
			return a.flushPage(t, next, "signet exec list (or --all)")
		},
	}
	c.Flags().StringVar(&program, "program", "", "only this program")
	c.Flags().StringVar(&state, "state", "", "only this state (pending, running, completed, failed, cancelled)")
	c.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page")
	c.Flags().IntVar(&limit, "limit", 50, "executions per page")
	c.Flags().BoolVar(&all, "all", false, "every page")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) getExecution(ctx context.Context, arg string) (*model.Execution, error) {
	id, err := model.ParseID(arg)
	if err != nil {
		return nil, usageError{fmt.Errorf("execution id: %w", err)}
	}
	return a.svc.Execution(ctx, id)
}

func (a *cli) execShow() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ID",
		Short: "One execution: inputs, outputs, usage, cost, error",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			e, err := a.getExecution(c.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, e)
			}
			printExecution(a.stdout, e)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printExecution(w io.Writer, e *model.Execution) {
	fmt.Fprintf(w, "execution %s\nprogram   %s v%d (lm %s)\nstate     %s after %d attempt(s)", e.ID, e.Program, e.Version, orDash(e.LM), e.State, e.Attempts)
	if e.CacheHit {
		fmt.Fprintf(w, ", from the cache (execution %s)", e.CacheOf)
	}
	if e.Routed {
		fmt.Fprint(w, "\nrouted    by the program's traffic split")
	}
	fmt.Fprintf(w, "\ncreated   %s\n", e.CreatedAt.UTC().Format(time.RFC3339))
	if e.Duration > 0 {
		fmt.Fprintf(w, "duration  %s\n", e.Duration.Round(time.Millisecond))
	}
	if e.Worker != "" {
		fmt.Fprintf(w, "worker    %s\n", e.Worker)
	}
	if e.ErrorCode != "" || e.Error != "" {
		fmt.Fprintf(w, "error     %s: %s\n", e.ErrorCode, e.Error)
	}
	if f := e.Feedback; f != nil {
		by := f.By
		if by == "" {
			by = model.LocalUser
		}
		fmt.Fprintf(w, "feedback  %g by %s at %s", f.Score, by, f.At.UTC().Format(time.RFC3339))
		if f.Note != "" {
			fmt.Fprintf(w, ": %s", format.Line(f.Note))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\ninputs:")
	for _, k := range sortedKeys(e.Inputs) {
		fmt.Fprintf(w, "  %s: %s\n", k, indentCont(cellText(e.Inputs[k])))
	}
	if len(e.Outputs) > 0 {
		fmt.Fprintln(w, "outputs:")
		for _, k := range sortedKeys(e.Outputs) {
			fmt.Fprintf(w, "  %s: %s\n", k, indentCont(cellText(e.Outputs[k])))
		}
	}
	models := make([]string, 0, len(e.Usage))
	for m := range e.Usage {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		u := e.Usage[m]
		fmt.Fprintf(w, "usage     %s: %d calls, %d tokens in, %d out\n", m, u.Calls, u.PromptTokens, u.CompletionTokens)
	}
	fmt.Fprintf(w, "cost      %s\n", costText(e.Cost, e.CostUnknown))
	if e.CostUnknown {
		fmt.Fprintln(w, "          (some LM call's cost is unknown: no price from the provider or the profile, or a call cut short)")
	}
}

func (a *cli) execCancel() *cobra.Command {
	var pf poolFlags
	c := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a pending or running execution",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := model.ParseID(args[0])
			if err != nil {
				return usageError{fmt.Errorf("execution id: %w", err)}
			}
			if _, err := a.svc.CancelExecution(c.Context(), id); err != nil {
				if errors.Is(err, app.ErrFinished) {
					return fmt.Errorf("execution %s had already finished: %w", id, err)
				}
				return err
			}
			fmt.Fprintf(a.stdout, "cancelled %s\n", id)
			return nil
		},
	}
	pf.register(c)
	return c
}

func (a *cli) execResume() *cobra.Command {
	var pf poolFlags
	c := &cobra.Command{
		Use:   "resume",
		Short: "Recover executions an interrupted Signet left behind and run every pending one to the end",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			rec, err := a.svc.ResumeExecutions(ctx)
			if err != nil {
				return err
			}
			var open []model.ID
			for _, st := range []model.RunState{model.Pending, model.Running} {
				for cursor := ""; ; {
					page, err := a.svc.ListExecutions(ctx, app.ExecutionQuery{State: st, Cursor: cursor, Limit: 1000})
					if err != nil {
						return err
					}
					for _, x := range page.Executions {
						open = append(open, x.ID)
					}
					if cursor = page.Next; cursor == "" {
						break
					}
				}
			}
			if _, err := a.followExecutions(ctx, open, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "resumed: %d requeued, %d retried, %d failed out of attempts; %d pending ran to the end\n", rec.Requeued, rec.Retried, rec.Failed, len(open))
			return nil
		},
	}
	c.Flags().Int("concurrency", 0, "executions at once, when this process starts the queue (default: config, else 8)")
	pf.register(c)
	return c
}

func (a *cli) traceCommand() *cobra.Command {
	var asJSON bool
	var ex traceExport
	c := &cobra.Command{
		Use:   "trace ID",
		Short: "The span tree of an execution: every module, adapter and LM call with tokens, cost and latency",
		Long: "The span tree of an execution. --format otlp-json writes it as OpenTelemetry spans (OTLP/JSON, the\n" +
			"GenAI conventions) for Jaeger, Tempo or a collector; `signet trace import` reads such files back.",
		Args: exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			e, tr, err := a.traceOf(c.Context(), args[0])
			if err != nil {
				return err
			}
			switch ex.format {
			case "otlp-json":
				return a.writeOTLP(e, tr.ordered(), ex)
			case "", "text":
				if ex.out != "" || ex.content {
					return usagef("-o and --content are for --format otlp-json")
				}
			default:
				return usagef("--format %q: want text or otlp-json", ex.format)
			}
			if asJSON {
				return writeJSON(a.stdout, tr.ordered())
			}
			fmt.Fprintf(a.stdout, "execution %s: %s v%d, %s", e.ID, e.Program, e.Version, e.State)
			if e.CacheHit {
				fmt.Fprintf(a.stdout, " from the cache: the trace is execution %s's", e.CacheOf)
			}
			fmt.Fprintln(a.stdout)
			fmt.Fprintln(a.stdout)
			tr.print(a.stdout)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	ex.register(c, "text")
	c.AddCommand(a.traceExport(), a.traceImport())
	return c
}

type costRow struct {
	Program    string  `json:"program"`
	Month      string  `json:"month"`
	Executions int     `json:"executions"`
	Tokens     int     `json:"tokens"`
	Cost       float64 `json:"cost"`
	Budget     float64 `json:"budget,omitempty"`
	// The embedding cache's answers to the month's retrievals.
	CacheHits   int `json:"embed_cache_hits"`
	CacheMisses int `json:"embed_cache_misses"`
}

func (a *cli) costCommand() *cobra.Command {
	var program, month string
	var asJSON bool
	var setBudget float64
	c := &cobra.Command{
		Use:   "cost",
		Short: "Cost per program per month, against the monthly budgets",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("set-budget") {
				if setBudget < 0 {
					return usagef("--set-budget %v: want a USD amount ≥ 0 (0 removes the cap)", setBudget)
				}
				if err := a.svc.SetBudget(c.Context(), program, setBudget); err != nil {
					return err
				}
				scope := "the workspace"
				if program != "" {
					scope = "program " + program
				}
				fmt.Fprintf(a.stdout, "monthly budget of %s: $%.2f\n", scope, setBudget)
				return nil
			}
			switch {
			case month == "":
				month = time.Now().UTC().Format("2006-01")
			case month == "all":
				month = ""
			default:
				if _, err := time.Parse("2006-01", month); err != nil {
					return usagef("--month %q: want YYYY-MM (or all)", month)
				}
			}
			rep, err := a.svc.Cost(c.Context(), app.CostQuery{Program: program, Month: month})
			if err != nil {
				return err
			}
			budgets := rep.Budgets
			rows := []costRow{}
			var total costRow
			for _, r := range rep.Programs {
				rows = append(rows, costRow{r.Program, r.Month, r.Executions, r.Usage.Total(), r.Cost, budgets[r.Program],
					r.EmbedCache.Hits, r.EmbedCache.Misses})
				total.Executions += r.Executions
				total.Tokens += r.Usage.Total()
				total.Cost += r.Cost
				total.CacheHits += r.EmbedCache.Hits
				total.CacheMisses += r.EmbedCache.Misses
			}
			if asJSON {
				return writeJSON(a.stdout, struct {
					Month           string             `json:"month"`
					Rows            []costRow          `json:"programs"`
					Total           float64            `json:"total"`
					WorkspaceBudget float64            `json:"workspace_budget,omitempty"`
					Budgets         map[string]float64 `json:"budgets,omitempty"`
					CacheHits       int                `json:"embed_cache_hits"`
					CacheMisses     int                `json:"embed_cache_misses"`
				}{month, rows, total.Cost, budgets[""], budgets, total.CacheHits, total.CacheMisses})
			}
			// The embedding cache's column appears once a retrieval used it.
			cache := total.CacheHits+total.CacheMisses > 0
			cols := []string{"program", "month", "executions", "tokens", "cost", "budget"}
			if cache {
				cols = append(cols, "embed cache")
			}
			t := newTable(a.stdout, cols...)
			row := func(name, month string, r costRow, budget float64) {
				cells := []any{name, month, r.Executions, r.Tokens, fmt.Sprintf("$%.6f", r.Cost), budgetCell(r.Cost, budget)}
				if cache {
					cells = append(cells, fmt.Sprintf("%d hits, %d misses", r.CacheHits, r.CacheMisses))
				}
				t.row(cells...)
			}
			for _, r := range rows {
				row(r.Program, r.Month, r, r.Budget)
			}
			if program == "" {
				row("(workspace)", orDash(month), total, budgets[""])
			}
			return t.flush()
		},
	}
	c.Flags().StringVar(&program, "program", "", "only this program (with --set-budget: its cap)")
	c.Flags().StringVar(&month, "month", "", "YYYY-MM (default: this month, UTC)")
	c.Flags().Float64Var(&setBudget, "set-budget", 0, "set the monthly USD cap of the workspace, or of --program (0 removes it)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func budgetCell(spent, cap float64) string {
	if cap == 0 {
		return "-"
	}
	if over := spent - cap; over >= 0.005 {
		// The gate admits each LM call within the cap; the calls already in flight when it was reached end anyway.
		return fmt.Sprintf("$%.2f (%.0f%% used: spent $%.2f of $%.2f, $%.2f over, from calls already in flight)", cap, 100*spent/cap, spent, cap, over)
	}
	return fmt.Sprintf("$%.2f (%.0f%% used)", cap, 100*spent/cap)
}

// progress draws a one-line bar on a terminal; elsewhere it stays quiet and
// the summary says it all.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, tty bool, total int) *progress {
	// The bar redraws itself with \r: raw, and it shows numbers only.
	return &progress{w: raw(w), tty: tty, total: total, start: time.Now()}
}

func (p *progress) update(done, failed int, cost float64, final bool) {
	p.updateNote(done, failed, cost, "", final)
}

// updateNote is update with a note after the count (an evaluation's
// running score).
func (p *progress) updateNote(done, failed int, cost float64, note string, final bool) {
	if !p.tty || (!final && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	if note != "" {
		note = "  " + note
	}
	p.draw(done, fmt.Sprintf("%s  failed %d  $%.6f", note, failed, cost), final)
}

// count is the bar of work with no failures or cost (an index build).
func (p *progress) count(done, total int, final bool) {
	if !p.tty || (!final && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.total = total
	p.draw(done, "", final)
}

// draw redraws the bar: done of total, what follows the count, elapsed.
func (p *progress) draw(done int, after string, final bool) {
	p.last = time.Now()
	const width = 30
	fill := width * min(done, p.total) / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d%s  %s ", strings.Repeat("█", fill), strings.Repeat("·", width-fill),
		done, p.total, after, time.Since(p.start).Round(100*time.Millisecond))
	if final {
		fmt.Fprintln(p.w)
	}
}
