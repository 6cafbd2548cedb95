package cmd

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
)

func (a *cli) programTraffic() *cobra.Command {
	var clear, report, asJSON bool
	var since time.Duration
	c := &cobra.Command{
		Use:   "traffic NAME [vN=PERCENT ...] [--clear | --report [--since DUR]]",
		Short: "Split a program's runs between its versions (A/B), show the split, or compare the arms",
		Long: "With arms (v3=90 v4=10: percentages summing to 100, at most 10 versions), split the runs of\n" +
			"NAME that name no version between those versions; a run's --key (the API's \"key\") keeps a\n" +
			"caller on one version while the split stays the same, else runs land at random. Each run records\n" +
			"the version that served it. Without arms, show the split; --clear removes it. --report compares\n" +
			"the arms on the runs the split routed (since it was set, or the last --since): score from\n" +
			"feedback (`signet exec feedback`) with a 95% interval, latency, cost and error rate, and each\n" +
			"arm against the first by Welch's t-test.",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s wants the program's NAME; usage: %s", c.CommandPath(), c.UseLine())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			name, arms := args[0], args[1:]
			switch {
			case clear && (report || len(arms) > 0):
				return usagef("program traffic: --clear takes no arms and no --report")
			case report && len(arms) > 0:
				return usagef("program traffic: --report takes no arms")
			case c.Flags().Changed("since") && !report:
				return usagef("program traffic: --since goes with --report")
			case clear:
				if err := a.svc.ClearTrafficSplit(c.Context(), name); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: traffic split cleared: runs without a version run the newest\n", name)
				return nil
			case report:
				r, err := a.svc.TrafficReport(c.Context(), app.TrafficQuery{Program: name, Since: since})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, r)
				}
				return a.printTrafficReport(r)
			case len(arms) > 0:
				sp := model.TrafficSplit{Program: name}
				for _, s := range arms {
					arm, err := model.ParseArm(s)
					if err != nil {
						return usageError{err}
					}
					sp.Arms = append(sp.Arms, arm)
				}
				out, err := a.svc.SetTrafficSplit(c.Context(), sp)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, out)
				}
				fmt.Fprintf(a.stdout, "%s: runs without a version now split %s\n", name, out)
				return nil
			}
			sp, err := a.svc.TrafficSplit(c.Context(), name)
			if errors.Is(err, app.ErrNotFound) {
				if _, perr := a.svc.Program(c.Context(), name, 0); perr != nil {
					return perr
				}
				if asJSON {
					return writeJSON(a.stdout, nil)
				}
				fmt.Fprintf(a.stdout, "%s has no traffic split: runs without a version run the newest\n", name)
				return nil
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, sp)
			}
			fmt.Fprintf(a.stdout, "%s: %s (set %s by %s)\n", name, sp, ago(sp.SetAt), orDash(sp.SetBy))
			return nil
		},
	}
	c.Flags().BoolVar(&clear, "clear", false, "remove the split")
	c.Flags().BoolVar(&report, "report", false, "compare the arms on the runs the split routed")
	c.Flags().DurationVar(&since, "since", 0, "with --report: the runs of the last DUR (24h, 90m; default: since the split was set)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *cli) printTrafficReport(r *model.TrafficReport) error {
	w := a.stdout
	split := "no traffic split now"
	if r.Split != nil {
		split = "split " + r.Split.String()
	}
	from := "all routed runs"
	if !r.Since.IsZero() {
		from = "routed runs since " + r.Since.Local().Format("2006-01-02 15:04")
	}
	fmt.Fprintf(w, "%s: %s; %s\n\n", r.Program, split, from)
	if len(r.Arms) == 0 {
		fmt.Fprintln(w, "no arms")
		return nil
	}
	t := newTable(w, "arm", "share", "runs", "errors", "score (95% ci)", "scored", "latency", "p50", "p95", "cost/run", "cost")
	for _, arm := range r.Arms {
		share := "-"
		if arm.Percent > 0 {
			share = strconv.FormatFloat(arm.Percent, 'f', -1, 64) + "%"
		}
		t.row(fmt.Sprintf("v%d", arm.Version), share, arm.N, fmt.Sprintf("%.1f%%", 100*arm.ErrorRate), arm.Score, arm.Score.N,
			seconds(arm.Latency.Mean, arm.Latency.N), seconds(arm.LatencyP50, arm.Latency.N), seconds(arm.LatencyP95, arm.Latency.N),
			format.USD(arm.MeanCost), format.USD(arm.TotalCost))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(r.Tests) > 0 {
		fmt.Fprintln(w)
	}
	for _, test := range r.Tests {
		fmt.Fprintln(w, test)
	}
	return nil
}

func seconds(s float64, n int) string {
	if n == 0 {
		return "-"
	}
	return format.Seconds(s)
}

func (a *cli) execFeedback() *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   "feedback ID SCORE",
		Short: "Score an ended execution (0..1 is usual); the traffic report compares the arms on it",
		Long: "Give an ended execution a score, and a --note. An execution has one feedback: a second\n" +
			"replaces the first (the audit trail keeps both).",
		Args: exactArgs("ID", "SCORE"),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := model.ParseID(args[0])
			if err != nil {
				return usageError{fmt.Errorf("execution id: %w", err)}
			}
			score, err := strconv.ParseFloat(args[1], 64)
			if err != nil {
				return usagef("score %q: want a number, such as 1 or 0.5", args[1])
			}
			x, err := a.svc.Feedback(c.Context(), id, app.FeedbackRequest{Score: &score, Note: note})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "execution %s (%s v%d): feedback %g\n", x.ID, x.Program, x.Version, x.Feedback.Score)
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "a note with the score")
	return c
}
