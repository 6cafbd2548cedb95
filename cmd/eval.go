package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// evalStopWait bounds how long an interrupted evaluation is waited for:
// its running examples are cancelled, which takes the LM call in flight.
const evalStopWait = 60 * time.Second

func (a *cli) evalCommand() *cobra.Command {
	var dataset, metricLM, labels, lmName string
	var metrics []string
	var version, threads int
	var asJSON bool
	var pf poolFlags
	c := &cobra.Command{
		Use:     "eval PROGRAM[@VERSION] --dataset DATASET[:SPLIT] --metric METRIC",
		Aliases: []string{"evaluate", "evaluation", "evaluations"},
		Short:   "Evaluate a program on a dataset with a metric, as dspy.Evaluate does; list and show evaluations",
		Long: "Run the program on every example of a dataset (or one split) and score each prediction with a\n" +
			"metric, with dspy.Evaluate's semantics: an example whose run fails scores 0 and counts, and the\n" +
			"score is the mean. Each example is an execution (traced, costed, retried, on the Executions page)\n" +
			"whose worker request also computes the metric. The metrics are the optimizers' (see `signet opt\n" +
			"run --help`). Labels are the program's output fields the dataset has, unless --labels names\n" +
			"them; other columns (ids, metadata) are ignored. ctrl-c cancels and keeps what ended.",
		Args: exactArgs("PROGRAM[@VERSION]"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			name, at, err := parseProgramRef(args[0])
			if err != nil {
				return err
			}
			if at > 0 && version > 0 && at != version {
				return usagef("%s and --version %d name different versions", args[0], version)
			}
			req := app.EvaluateRequest{Program: name, Version: cmp.Or(at, version), LM: lmName, Threads: threads, Labels: model.ParseLabels(labels)}
			if req.Data, err = model.ParseDataRef(dataset); err != nil {
				return usagef("--dataset: %v", err)
			}
			// The first metric is the score; the others are reported beside it.
			req.Metric, req.BaseDir = model.Metric{Name: metrics[0], Kind: app.MetricSpelled, LM: metricLM}, a.cwd
			for _, m := range metrics[1:] {
				req.Extra = append(req.Extra, model.Metric{Name: m, Kind: app.MetricSpelled})
			}
			if threads < 0 {
				return usagef("--threads %d: want a number ≥ 0", threads)
			}
			v, err := a.svc.Evaluate(ctx, req)
			if err != nil {
				return requestError(err)
			}
			if !asJSON {
				fmt.Fprintf(a.stderr, "evaluation %s: %s v%d on %s (%d examples), metric %s\n", v.ID, v.Program, v.Version, v.Data, v.Total, v.Metric.Spelling())
			}
			final, interrupted, err := a.followEvaluation(ctx, v)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(a.stdout, final); err != nil {
					return err
				}
			} else {
				printEvaluation(a.stdout, final)
			}
			switch {
			case interrupted:
				return fmt.Errorf("interrupted: evaluation %s cancelled; the %d examples that ended are kept (signet eval show %s)", final.ID, final.N, final.ID)
			case final.State == model.Failed:
				return fmt.Errorf("evaluation %s failed: %s: %s", final.ID, final.ErrorCode, final.Error)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dataset, "dataset", "", "the examples: DATASET or DATASET:SPLIT (required)")
	f.StringArrayVar(&metrics, "metric", nil, "a built-in name (exact_match, answer_exact_match, f1, passage_match, recall@K, semantic_f1), file.py:function or judge:SIGNATURE (required); repeat it to report more metrics beside the first, which is the score")
	f.StringVar(&metricLM, "metric-lm", "", "LM profile of the first metric when it is an LM judge (semantic_f1, judge:...)")
	f.StringVar(&labels, "labels", "", "the fields the metric compares, a,b (default: the program's outputs the dataset has)")
	f.IntVar(&version, "version", 0, "evaluate a specific version (default: latest; also PROGRAM@VERSION)")
	f.StringVar(&lmName, "lm", "", "LM profile (default: the program's, else the config's default)")
	f.IntVar(&threads, "threads", 0, "examples in flight at once (default: as many as the engine runs)")
	f.Int("concurrency", 0, "executions at once, when this process starts the queue (default: config, else 8)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = c.MarkFlagRequired("dataset")
	_ = c.MarkFlagRequired("metric")
	pf.register(c)
	c.AddCommand(a.evalList(), a.evalShow())
	return c
}

// followEvaluation draws the evaluation's progress until it ends. ctrl-c
// cancels it and waits for it to stop with the examples that ended.
func (a *cli) followEvaluation(ctx context.Context, v *model.Evaluation) (*model.Evaluation, bool, error) {
	bar := newProgress(a.stderr, isTTY(a.stderr), v.Total)
	last := v
	final, interrupted, err := followJob(a, ctx, job[model.Evaluation]{
		id: v.ID,
		of: func(ev app.Event) *model.Evaluation {
			if ev.Kind == app.EventEvaluation && ev.Evaluation != nil && ev.Evaluation.ID == v.ID {
				return ev.Evaluation
			}
			return nil
		},
		ended: func(x *model.Evaluation) bool { return x.State.Terminal() },
		get: func(ctx context.Context) (*model.Evaluation, error) {
			d, err := a.svc.Evaluation(ctx, v.ID)
			return evalOf(d), err
		},
		cancel:   func(ctx context.Context) error { _, err := a.svc.CancelEvaluation(ctx, v.ID); return err },
		stopWait: evalStopWait,
		step: func(_ app.Event, x *model.Evaluation) {
			last = x
			bar.updateNote(x.N, x.Failures, x.Cost, runningScore(x), x.State.Terminal())
		},
		stopping: func() {
			bar.updateNote(last.N, last.Failures, last.Cost, runningScore(last), true)
			fmt.Fprintf(a.stderr, "interrupted: cancelling evaluation %s; the examples that ended are kept\n", v.ID)
		},
	})
	return final, interrupted, err
}

func evalOf(d *app.EvaluationDetail) *model.Evaluation {
	if d == nil {
		return nil
	}
	return d.Evaluation
}

// appField is the request field a service error names.
func appField(err error) string {
	var ae *app.Error
	if errors.As(err, &ae) {
		return ae.Field
	}
	return ""
}

func runningScore(v *model.Evaluation) string {
	if v.N == 0 {
		return "score -"
	}
	return fmt.Sprintf("score %.1f%%", 100*v.Score)
}

// dspyAverage is the line dspy.Evaluate logs: "Average Metric: 3 / 5 (60.0%)".
func dspyAverage(v *model.Evaluation) string {
	pct := 0.0
	if v.N > 0 {
		pct = 100 * v.Sum / float64(v.N)
	}
	return fmt.Sprintf("Average Metric: %s / %d (%.1f%%)", strconv.FormatFloat(v.Sum, 'f', -1, 64), v.N, pct)
}

func printEvaluation(w io.Writer, v *model.Evaluation) {
	fmt.Fprintln(w, dspyAverage(v))
	fmt.Fprintf(w, "evaluation  %s\nprogram     %s v%d\ndata        %s\nmetric      %s\nstate       %s\n", v.ID, v.Program, v.Version, v.Data, v.Metric.Spelling(), v.State)
	fmt.Fprintf(w, "score       %.4f (%.2f%%) over %d of %d examples, %d failed (scored 0)\n", v.Score, 100*v.Score, v.N, v.Total, v.Failures)
	for _, m := range v.Extra {
		s := v.Scores[m.Name]
		fmt.Fprintf(w, "%-11s %.4f (%.2f%%), the mean over the same examples\n", m.Spelling(), s, 100*s)
	}
	printLabeling(w, v.Labels, "%-12s")
	u := v.TotalUsage()
	fmt.Fprintf(w, "tokens      %d in, %d out (%d LM calls)\ncost        %s\n", u.PromptTokens, u.CompletionTokens, u.Calls, costText(v.Cost, v.CostUnknown))
	if v.Error != "" {
		fmt.Fprintf(w, "error       %s: %s\n", v.ErrorCode, v.Error)
	}
}

// costText is what LM calls cost (every attempt's included); "or more"
// when some call had no price or was cut short.
func costText(c float64, unknown bool) string {
	s := fmt.Sprintf("$%.6f", c)
	if unknown {
		s += " or more"
	}
	return s
}

func (a *cli) evalList() *cobra.Command {
	var asJSON bool
	var cursor string
	var limit int
	c := &cobra.Command{
		Use:     "list [PROGRAM]",
		Aliases: []string{"ls"},
		Short:   "Evaluations, newest first",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			program := ""
			if len(args) == 1 {
				program = args[0]
			}
			page, err := a.svc.ListEvaluations(c.Context(), app.JobQuery{Program: program, Cursor: cursor, Limit: limit})
			if err != nil {
				return err
			}
			rows, next := page.Evaluations, page.Next
			if asJSON {
				if rows == nil {
					rows = []*model.Evaluation{}
				}
				return writeJSON(a.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "no evaluations")
				return nil
			}
			t := newTable(a.stdout, "id", "program", "data", "metric", "state", "score", "examples", "failed", "cost", "created")
			for _, v := range rows {
				t.row(v.ID, fmt.Sprintf("%s v%d", v.Program, v.Version), v.Data, clip(v.Metric.Spelling(), 30), v.State,
					fmt.Sprintf("%.1f%%", 100*v.Score), fmt.Sprintf("%d/%d", v.N, v.Total), v.Failures, costText(v.Cost, v.CostUnknown), ago(v.CreatedAt))
			}
			return a.flushPage(t, next, "signet eval list")
		},
	}
	c.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page")
	c.Flags().IntVar(&limit, "limit", 50, "evaluations per page")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) evalShow() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ID",
		Short: "One evaluation and its examples: score, cost and execution (its trace) of each; failures with their error",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := model.ParseID(args[0])
			if err != nil {
				return usagef("evaluation id %q: %v", args[0], err)
			}
			d, err := a.svc.Evaluation(c.Context(), id)
			if err != nil {
				return err
			}
			v, results := d.Evaluation, d.Results
			if asJSON {
				if d.Results == nil {
					d.Results = []*model.EvalResult{}
				}
				return writeJSON(a.stdout, d)
			}
			printEvaluation(a.stdout, v)
			fmt.Fprintln(a.stdout)
			// Each extra metric has its column after the score.
			cols := []string{"example", "score"}
			for _, m := range v.Extra {
				cols = append(cols, m.Spelling())
			}
			t := newTable(a.stdout, append(cols, "state", "cost", "execution", "output")...)
			for _, r := range results {
				cells := []any{fmt.Sprintf("%d %s", r.Index, shortID(r.Example)), fmt.Sprintf("%.3f", r.Score)}
				for _, m := range v.Extra {
					cells = append(cells, fmt.Sprintf("%.3f", r.Scores[m.Name]))
				}
				t.row(append(cells, r.State, costText(r.Cost, r.CostUnknown), r.Execution, clip(outputText(r), 40))...)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(results) < v.Total {
				fmt.Fprintf(a.stdout, "(%d of %d examples have ended)\n", len(results), v.Total)
			}
			for _, r := range results {
				if r.State != model.Completed {
					fmt.Fprintf(a.stdout, "\nexample %d failed (execution %s): %s: %s", r.Index, r.Execution, r.ErrorCode, clip(r.Error, 200))
				}
			}
			if v.Failures > 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "\ntrace of an example: signet trace EXECUTION\n")
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// outputText is an example's outputs against what was expected, for a
// table cell: "France (want Paris)".
func outputText(r *model.EvalResult) string {
	var parts []string
	for _, k := range sortedKeys(r.Expected) {
		got := "-"
		if v, ok := r.Outputs[k]; ok {
			got = cellText(v)
		}
		parts = append(parts, fmt.Sprintf("%s (want %s)", got, cellText(r.Expected[k])))
	}
	return strings.Join(parts, "; ")
}

func shortID(id model.ID) string {
	s := id.String()
	return s[max(len(s)-8, 0):]
}
