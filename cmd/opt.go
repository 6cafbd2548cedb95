package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
)

// optStopWait bounds how long a cancelled run is waited for on the command
// line: it stops at its next hook, after the LM call in flight.
const optStopWait = 90 * time.Second

func (a *cli) optCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "opt",
		Aliases: []string{"optimize", "optimization", "optimizations"},
		Short:   "Optimize programs with DSPy's optimizers; list, inspect, cancel and compare runs",
	}
	c.AddCommand(a.optRun(), a.optList(), a.optShow(), a.optCancel(), a.optCompare(), a.optPromote())
	return c
}

// requestError makes the service's refusal of a field the user gave
// (--metric, --optimizer, --auto, --labels, the data) a usage error.
func requestError(err error) error {
	f := appField(err)
	if app.CodeOf(err) == app.CodeInvalid && (f == "metric" || f == "optimizer" || f == "settings.auto" || f == "train" ||
		f == "val" || f == "test" || f == "data" || strings.HasPrefix(f, "labels")) {
		return usageError{err}
	}
	return err
}

func (a *cli) optRun() *cobra.Command {
	var optimizer, auto, train, val, test, metric, metricLM, lmName, reflection, labels string
	var sets []string
	var budget float64
	var version, threads, seed int
	var asJSON, detach, estimateOnly bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "run PROGRAM --optimizer NAME --train DATASET[:SPLIT] --metric METRIC",
		Short: "Optimize a program with a DSPy optimizer; the best program becomes a new version",
		Long: "Compile a program with a DSPy optimizer (mipro, bootstrap, labeled, random_search, copro, simba,\n" +
			"gepa) on a training set, scoring candidates with a metric on the validation set. Before it starts the\n" +
			"run's LM calls and cost are estimated and checked against the monthly budgets; --budget is the run's\n" +
			"own hard stop. The best program is saved as a new version compiled from the run. ctrl-c (or\n" +
			"`signet opt cancel ID`) stops the run and keeps the best program found so far.\n\n" +
			"Metrics: exact_match, answer_exact_match, f1, passage_match, semantic_f1 (an LM judge: --metric-lm),\n" +
			"path/to/file.py:function (fn(example, prediction, trace=None) -> float|bool), or judge:SIGNATURE\n" +
			"(an LM judge, e.g. judge:\"question, answer, prediction -> correct: bool\").",
		Args: exactArgs("PROGRAM"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			settings, err := model.ParseSettings(sets)
			if err != nil {
				return usagef("--set: %v", err)
			}
			if auto != "" {
				settings["auto"] = auto
			}
			// The optimizer, the metric, its file (relative to here) and the
			// profiles are checked by the service, as for the workbench.
			req := app.OptimizeRequest{Program: args[0], Version: version, Optimizer: optimizer, Settings: settings,
				LM: lmName, ReflectionLM: reflection, Budget: budget, Threads: threads, Seed: seed, Labels: model.ParseLabels(labels),
				Metric: model.Metric{Name: metric, Kind: app.MetricSpelled, LM: metricLM}, BaseDir: a.cwd}
			if req.Train, err = model.ParseDataRef(train); err != nil {
				return usagef("--train: %v", err)
			}
			if val != "" {
				if req.Val, err = model.ParseDataRef(val); err != nil {
					return usagef("--val: %v", err)
				}
			}
			if test != "" {
				if req.Test, err = model.ParseDataRef(test); err != nil {
					return usagef("--test: %v", err)
				}
			}
			if budget < 0 || math.IsNaN(budget) {
				return usagef("--budget %v: want a USD amount ≥ 0", budget)
			}
			if estimateOnly {
				est, err := a.svc.EstimateOptimization(ctx, req)
				if err != nil {
					return requestError(err)
				}
				if asJSON {
					return writeJSON(a.stdout, est.Estimate)
				}
				printEstimate(a.stdout, est)
				return nil
			}
			o, err := a.svc.Optimize(ctx, req)
			if err != nil {
				return requestError(err)
			}
			if !asJSON {
				fmt.Fprintf(a.stderr, "optimization %s: %s on %s v%d\n", o.ID, o.Optimizer, o.Program, o.BaseVersion)
				printEstimate(a.stderr, o)
			}
			if detach {
				if asJSON {
					return writeJSON(a.stdout, o)
				}
				fmt.Fprintf(a.stdout, "%s\n", o.ID)
				return nil
			}
			final, err := a.followOptimization(ctx, o)
			if err != nil {
				return err
			}
			// A failed run fails the command, with --json too (exit 1).
			var failed error
			if final.State == model.Failed {
				failed = fmt.Errorf("optimization %s failed: %s: %s", final.ID, final.ErrorCode, final.Error)
			}
			if asJSON {
				if err := writeJSON(a.stdout, final); err != nil {
					return err
				}
				return failed
			}
			printOptimization(a.stdout, final)
			return failed
		},
	}
	f := c.Flags()
	f.StringVar(&optimizer, "optimizer", "", "mipro, bootstrap, labeled, random_search, copro, simba or gepa (required)")
	f.StringVar(&auto, "auto", "", "MIPROv2's and GEPA's preset: light (default), medium or heavy")
	f.StringVar(&train, "train", "", "training set: DATASET or DATASET:SPLIT (required)")
	f.StringVar(&val, "val", "", "validation set: DATASET or DATASET:SPLIT (default: the optimizer's, from train)")
	f.StringVar(&test, "test", "", "held-out set, scored before and after: DATASET or DATASET:SPLIT")
	f.StringVar(&metric, "metric", "exact_match", "metric: a built-in name, file.py:function or judge:SIGNATURE")
	f.StringVar(&labels, "labels", "", "the fields the metric compares, a,b (default: the program's outputs the dataset has; ids and other columns are ignored)")
	f.StringVar(&metricLM, "metric-lm", "", "LM profile of an LM-judge metric (semantic_f1, judge:...)")
	f.StringArrayVar(&sets, "set", nil, "an optimizer setting, key=value (max_bootstrapped_demos=2, num_trials=10, ...)")
	f.Float64Var(&budget, "budget", 0, "the run's own hard stop in USD (0 = none; a monthly cap still applies)")
	f.StringVar(&lmName, "lm", "", "LM profile of the program (default: the program's, else the config's default)")
	f.StringVar(&reflection, "reflection-lm", "", "GEPA's reflection LM profile")
	f.IntVar(&version, "version", 0, "optimize a specific version (default: latest)")
	f.IntVar(&threads, "threads", 0, "evaluation threads (default 16)")
	f.IntVar(&seed, "seed", 0, "the optimizer's random seed")
	f.BoolVar(&detach, "detach", false, "print the run's id and return; the run goes on in the owner")
	f.BoolVar(&estimateOnly, "estimate", false, "print the estimate of LM calls and cost, and do not run")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = c.MarkFlagRequired("optimizer")
	_ = c.MarkFlagRequired("train")
	pf.register(c)
	return c
}

func printEstimate(w io.Writer, o *model.Optimization) {
	e := o.Estimate
	if e == nil {
		return
	}
	cost := "cost unknown (the LM profile has no prices)"
	if e.Cost != nil {
		cost = fmt.Sprintf("about $%.4f", *e.Cost)
	}
	fmt.Fprintf(w, "estimate: at most %d LM calls (%d train, %d val, %d test examples), %s", e.LMCalls, e.Train, e.Val, e.Test, cost)
	if e.Note != "" {
		fmt.Fprintf(w, "; %s", e.Note)
	}
	if o.Budget > 0 {
		fmt.Fprintf(w, "; hard stop at $%.4f", o.Budget)
	}
	fmt.Fprintln(w)
}

// followOptimization draws the run's progress until it ends. ctrl-c
// cancels it, and waits for it to stop with its best program so far.
func (a *cli) followOptimization(ctx context.Context, o *model.Optimization) (*model.Optimization, error) {
	// The bar redraws itself with \r and \x1b[K: raw; p.Phase is the
	// worker's own word, escaped below.
	bar := &optBar{w: raw(a.stderr), tty: isTTY(a.stderr), start: time.Now()}
	defer bar.clear()
	final, _, err := followJob(a, ctx, job[model.Optimization]{
		id: o.ID,
		of: func(ev app.Event) *model.Optimization {
			if ev.Kind == app.EventOptimization && ev.Optimization != nil && ev.Optimization.ID == o.ID {
				return ev.Optimization
			}
			return nil
		},
		ended:    func(x *model.Optimization) bool { return x.State.Terminal() },
		get:      func(ctx context.Context) (*model.Optimization, error) { return a.svc.Optimization(ctx, o.ID) },
		cancel:   func(ctx context.Context) error { _, err := a.svc.CancelOptimization(ctx, o.ID); return err },
		stopWait: optStopWait,
		step: func(ev app.Event, x *model.Optimization) {
			if ev.Progress != nil {
				bar.draw(ev.Progress, x.Trials)
			}
		},
		stopping: func() {
			bar.clear()
			fmt.Fprintf(a.stderr, "interrupted: stopping optimization %s; it keeps the best program found so far\n", o.ID)
		},
	})
	return final, err
}

// optBar is the one-line progress of a run on a terminal.
type optBar struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	drawn bool
}

func (b *optBar) draw(p *model.OptProgress, trials int) {
	if !b.tty || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	const width = 24
	fill := 0
	if p.Trials > 0 {
		fill = min(width, width*p.Trial/p.Trials)
	}
	eta := ""
	if p.ETA > 0 {
		eta = fmt.Sprintf("  eta %s", (time.Duration(p.ETA * float64(time.Second))).Round(time.Second))
	}
	fmt.Fprintf(b.w, "\r\x1b[K[%s%s] %-9s trial %d/%d  score %.3f  best %.3f  %d calls  %d tok  $%.4f  %s%s",
		strings.Repeat("█", fill), strings.Repeat("·", width-fill), format.Line(p.Phase), p.Trial, p.Trials, p.Score, p.BestScore,
		p.LMCalls, p.TokensIn+p.TokensOut, p.Cost, time.Since(b.start).Round(100*time.Millisecond), eta)
	b.drawn = true
}

func (b *optBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

func scorePtr(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *p)
}

func printOptimization(w io.Writer, o *model.Optimization) {
	fmt.Fprintf(w, "optimization %s\nprogram     %s v%d", o.ID, o.Program, o.BaseVersion)
	if o.ResultVersion > 0 {
		fmt.Fprintf(w, " → v%d", o.ResultVersion)
	}
	fmt.Fprintf(w, "\noptimizer   %s", o.Optimizer)
	if len(o.Settings) > 0 {
		b, _ := json.Marshal(o.Settings)
		fmt.Fprintf(w, " %s", b)
	}
	fmt.Fprintf(w, "\nmetric      %s\ndata        train %s", metricText(o.Metric), refText(o.Train))
	if o.Val.Dataset != "" {
		fmt.Fprintf(w, ", val %s", refText(o.Val))
	}
	if o.Test.Dataset != "" {
		fmt.Fprintf(w, ", test %s", refText(o.Test))
	}
	fmt.Fprintf(w, "\nstate       %s", o.State)
	if o.Stopped != "" {
		fmt.Fprintf(w, " (stopped: %s)", o.Stopped)
	}
	fmt.Fprintln(w)
	if o.ErrorCode != "" || o.Error != "" {
		fmt.Fprintf(w, "error       %s: %s\n", o.ErrorCode, o.Error)
	}
	if o.State != model.Pending {
		fmt.Fprintf(w, "validation  %.3f → %.3f (best trial %d of %d)\n", o.BaselineScore, o.BestScore, o.BestTrial, o.Trials)
	}
	if o.TestBaseline != nil || o.TestScore != nil {
		fmt.Fprintf(w, "test        %s → %s\n", scorePtr(o.TestBaseline), scorePtr(o.TestScore))
	}
	cost := fmt.Sprintf("$%.6f", o.Cost)
	if o.CostUnknown {
		cost += " (unknown: no prices)"
	}
	fmt.Fprintf(w, "usage       %d LM calls, %s", o.LMCalls, cost)
	if o.Duration > 0 {
		fmt.Fprintf(w, ", %s", o.Duration.Round(time.Millisecond))
	}
	if o.Budget > 0 {
		fmt.Fprintf(w, " (budget $%.4f)", o.Budget)
	}
	fmt.Fprintln(w)
	if o.Regressed {
		fmt.Fprintf(w, "regressed   the result scored %.3f on validation, below the baseline's %.3f\n", o.BestScore, o.BaselineScore)
	}
	switch {
	case o.ResultVersion > 0:
		fmt.Fprintf(w, "saved as    %s v%d (compiled from this run): signet program show %s --version %d\n", o.Program, o.ResultVersion, o.Program, o.ResultVersion)
	case o.Candidate != nil:
		fmt.Fprintf(w, "not saved   kept with the run as a candidate; %s's newest version is unchanged (signet opt promote %s --force makes it the newest)\n", o.Program, o.ID)
	}
}

func metricText(m model.Metric) string {
	switch m.Kind {
	case model.MetricCustom:
		return m.Source
	case model.MetricJudge:
		return "judge: " + m.Signature
	}
	if m.LM != "" {
		return m.Name + " (lm " + m.LM + ")"
	}
	return m.Name
}

func refText(r model.DataRef) string {
	if r.Split == "" {
		return r.Dataset
	}
	return r.Dataset + ":" + string(r.Split)
}

func (a *cli) optList() *cobra.Command {
	var asJSON, all bool
	var cursor string
	var limit int
	c := &cobra.Command{
		Use:     "list [PROGRAM]",
		Aliases: []string{"ls"},
		Short:   "Optimization runs, newest first",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			program := ""
			if len(args) == 1 {
				program = args[0]
			}
			var rows []*model.Optimization
			next := ""
			for {
				page, err := a.svc.ListOptimizations(c.Context(), app.JobQuery{Program: program, Cursor: cursor, Limit: limit})
				if err != nil {
					return err
				}
				rows = append(rows, page.Optimizations...)
				next = page.Next
				if !all || next == "" {
					break
				}
				cursor = next
			}
			if asJSON {
				if rows == nil {
					rows = []*model.Optimization{}
				}
				return writeJSON(a.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.stdout, "no optimizations")
				return nil
			}
			t := newTable(a.stdout, "id", "program", "version", "optimizer", "state", "val", "test", "trials", "calls", "cost", "created")
			for _, o := range rows {
				ver := fmt.Sprintf("v%d", o.BaseVersion)
				if o.ResultVersion > 0 {
					ver += fmt.Sprintf("→v%d", o.ResultVersion)
				}
				state := string(o.State)
				if o.Stopped != "" && o.Stopped != "cancelled" {
					state += " (" + o.Stopped + ")"
				}
				if o.Regressed && o.ResultVersion == 0 {
					state += " (regressed: not saved)"
				}
				valCell, testCell := "-", "-"
				if o.State != model.Pending {
					valCell = fmt.Sprintf("%.3f→%.3f", o.BaselineScore, o.BestScore)
				}
				if o.TestScore != nil {
					testCell = scorePtr(o.TestBaseline) + "→" + scorePtr(o.TestScore)
				}
				t.row(o.ID, o.Program, ver, o.Optimizer, state, valCell, testCell, o.Trials, o.LMCalls, fmt.Sprintf("$%.4f", o.Cost), ago(o.CreatedAt))
			}
			return a.flushPage(t, next, "signet opt list (or --all)")
		},
	}
	c.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page")
	c.Flags().IntVar(&limit, "limit", 50, "runs per page")
	c.Flags().BoolVar(&all, "all", false, "every page")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func parseOptID(s string) (model.ID, error) {
	id, err := model.ParseID(s)
	if err != nil {
		return id, usageError{fmt.Errorf("optimization id: %w", err)}
	}
	return id, nil
}

func (a *cli) optShow() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ID",
		Short: "One optimization run and its trials",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := parseOptID(args[0])
			if err != nil {
				return err
			}

			o, err := a.svc.Optimization(c.Context(), id)
			if err != nil {
				return err
			}
			trials, err := a.svc.Trials(c.Context(), id)
			if err != nil {
				return err
			}
			if asJSON {
				if trials == nil {
					trials = []*model.Trial{}
				}
				return writeJSON(a.stdout, struct {
					*model.Optimization
					TrialList []*model.Trial `json:"trial_list"`
				}{o, trials})
			}
			printOptimization(a.stdout, o)
			if p := o.Progress; p != nil && !o.State.Terminal() {
				fmt.Fprintf(a.stdout, "progress    %s, trial %d/%d, best %.3f, %.0fs elapsed\n", p.Phase, p.Trial, p.Trials, p.BestScore, p.Elapsed)
			}
			if len(trials) == 0 {
				fmt.Fprintln(a.stdout, "\nno trials yet")
				return nil
			}
			fmt.Fprintln(a.stdout)
			t := newTable(a.stdout, "trial", "score", "passed", "demos", "instructions")
			for _, tr := range trials {
				passed := "-"
				if len(tr.Results) > 0 {
					n := 0
					for _, r := range tr.Results {
						if r.Pass {
							n++
						}
					}
					passed = fmt.Sprintf("%d/%d", n, len(tr.Results))
				}
				demos := 0
				for _, d := range tr.Demos {
					demos += len(d)
				}
				var ins []string
				for _, name := range sortedKeys(toAnyMapS(tr.Instructions)) {
					ins = append(ins, name+": "+tr.Instructions[name])
				}
				n := fmt.Sprint(tr.N)
				switch {
				case tr.N == 0:
					n += " (base)"
				case tr.N == o.BestTrial:
					n += " (best)"
				}
				t.row(n, fmt.Sprintf("%.3f", tr.Score), passed, demos, clip(strings.Join(ins, " | "), 70))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func toAnyMapS(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (a *cli) optCancel() *cobra.Command {
	var pf poolFlags
	var noWait bool
	c := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop an optimization run; it keeps the best program found so far",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := parseOptID(args[0])
			if err != nil {
				return err
			}
			o, err := a.svc.CancelOptimization(c.Context(), id)
			if err != nil {
				return err
			}
			if noWait {
				fmt.Fprintf(a.stdout, "stopping %s\n", id)
				return nil
			}
			if !o.State.Terminal() {
				wctx, cancel := context.WithTimeout(c.Context(), optStopWait)
				defer cancel()
				if o, err = a.followOptimization(wctx, o); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.stdout, "%s %s", id, o.State)
			if o.ResultVersion > 0 {
				fmt.Fprintf(a.stdout, "; best so far (%.3f) saved as %s v%d", o.BestScore, o.Program, o.ResultVersion)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	c.Flags().BoolVar(&noWait, "no-wait", false, "return once the run is asked to stop")
	pf.register(c)
	return c
}

// optPromote makes a run's result the program's newest version again:
// every run saves its result as the newest version, so after several runs
// the better one may be behind a later, worse one.
func (a *cli) optPromote() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "promote ID",
		Short: "Save a run's result as the program's newest version (after comparing runs)",
		Long: "Save a run's result as the program's newest version. A result that scored below its run's\n" +
			"baseline on validation never became a version (it is kept with the run as a candidate); --force\n" +
			"promotes it anyway.",
		Args: exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := parseOptID(args[0])
			if err != nil {
				return err
			}
			pr, err := a.svc.PromoteOptimization(c.Context(), id, force)
			if err != nil {
				return err
			}
			saved, o := pr.Program, pr.Optimization
			fmt.Fprintf(a.stdout, "%s v%d is now the result of %s run %s (validation %.3f → %.3f)\n",
				saved.Name, saved.Version, o.Optimizer, o.ID, o.BaselineScore, o.BestScore)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "promote a result that scored below its baseline")
	return c
}

func (a *cli) optCompare() *cobra.Command {
	var asJSON, asMarkdown bool
	c := &cobra.Command{
		Use:   "compare A B [C...]",
		Short: "Compare optimization runs: scores, cost, what each changed, and the examples that flip",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("%s: want at least two run ids", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			var ids []model.ID
			for _, s := range args {
				id, err := parseOptID(s)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}

			cmpn, err := a.svc.CompareOptimizations(c.Context(), ids)
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				return writeJSON(a.stdout, cmpn)
			case asMarkdown:
				_, err := io.WriteString(a.stdout, cmpn.Markdown(cmpn.Points))
				return err
			}
			printComparison(a.stdout, cmpn)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&asMarkdown, "markdown", false, "print the comparison as Markdown (as the workbench's e exports it)")
	c.MarkFlagsMutuallyExclusive("json", "markdown")
	return c
}

func printComparison(w io.Writer, c *app.Comparison) {
	label := func(i int) string { return string(rune('A' + i%26)) }
	t := newTable(w, "run", "id", "program", "optimizer", "settings", "state", "val before→after", "test before→after", "calls", "cost", "duration", "result")
	for i, r := range c.Runs {
		set := "-"
		if len(r.Settings) > 0 {
			b, _ := json.Marshal(r.Settings)
			set = clip(string(b), 40)
		}
		res := "-"
		switch {
		case r.ResultVersion > 0:
			res = fmt.Sprintf("v%d", r.ResultVersion)
		case r.Regressed:
			res = "candidate (regressed)"
		}
		t.row(label(i), r.ID, fmt.Sprintf("%s v%d", r.Program, r.BaseVersion), r.Optimizer, set, r.State,
			fmt.Sprintf("%.3f→%.3f", r.Before, r.After), scorePtr(r.TestBefore)+"→"+scorePtr(r.TestAfter),
			r.LMCalls, fmt.Sprintf("$%.4f", r.Cost), r.Duration.Round(time.Millisecond), res)
	}
	t.flush()

	for _, p := range c.Predictors {
		fmt.Fprintf(w, "\npredictor %s\n", p.Name)
		for i, ch := range p.Runs {
			if !ch.InstructionsChanged {
				fmt.Fprintf(w, "  %s instructions: unchanged\n", label(i))
			} else {
				fmt.Fprintf(w, "  %s instructions: %s\n", label(i), model.WordDiffMarked(ch.OldInstructions, ch.NewInstructions, cliDel, cliAdd))
			}
			fmt.Fprintf(w, "  %s demos: %d → %d (+%d -%d)\n", label(i), ch.DemosBefore, ch.DemosAfter, len(ch.DemosAdded), len(ch.DemosRemoved))
			for _, d := range ch.DemosAdded {
				fmt.Fprintf(w, "      + %s\n", clip(d, 100))
			}
			for _, d := range ch.DemosRemoved {
				fmt.Fprintf(w, "      - %s\n", clip(d, 100))
			}
		}
	}

	if len(c.Examples) > 0 {
		fmt.Fprintf(w, "\nvalidation examples (best trial of each run; ✓ pass, ✗ fail, · no result; ! flips): %d flip(s)\n", c.Flips)
		header := []string{"", "example"}
		for i := range c.Runs {
			header = append(header, label(i))
		}
		t := newTable(w, header...)
		for _, row := range c.Examples {
			cells := []any{" ", row.Example}
			if row.Flip {
				cells[0] = "!"
			}
			for _, p := range row.Pass {
				switch {
				case p == nil:
					cells = append(cells, "·")
				case *p:
					cells = append(cells, "✓")
				default:
					cells = append(cells, "✗")
				}
			}
			t.row(cells...)
		}
		t.flush()
	}

	if len(c.Points) > 0 {
		fmt.Fprintln(w, "\nscore vs cost, every finished run of the program(s), cheapest first (* compared):")
		t := newTable(w, "", "id", "optimizer", "score", "cost", "")
		for _, p := range c.Points {
			mark := " "
			if slices.ContainsFunc(c.Runs, func(r model.RunSummary) bool { return r.ID == p.ID }) {
				mark = "*"
			}
			const width = 20
			bar := strings.Repeat("█", int(math.Round(max(0, min(1, p.Score))*width)))
			t.row(mark, p.ID, p.Optimizer, fmt.Sprintf("%.3f", p.Score), fmt.Sprintf("$%.4f", p.Cost), bar)
		}
		t.flush()
	}
}

// cliDel and cliAdd mark a word diff's removed and added words in plain text.
func cliDel(s string) string { return "[-" + s + "-]" }
func cliAdd(s string) string { return "{+" + s + "+}" }
