package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
)

func (a *cli) lmCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "lm",
		Short: "List and test LM profiles",
	}
	c.AddCommand(a.lmList(), a.lmTest(), a.lmStatus())
	return c
}

type profileRow struct {
	Name      string  `json:"name"`
	Default   bool    `json:"default"`
	Model     string  `json:"model"`
	APIBase   string  `json:"api_base,omitempty"`
	APIKeyEnv string  `json:"api_key_env,omitempty"`
	KeySet    bool    `json:"key_set"`
	Adapter   string  `json:"adapter,omitempty"`
	PriceIn   float64 `json:"price_in,omitempty"`
	PriceOut  float64 `json:"price_out,omitempty"`
	// Endpoints, for a profile that lists several servers (`lm status` shows their state).
	Endpoints []bridge.LMEndpoint `json:"endpoints,omitempty"`
}

func (a *cli) lmList() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List LM profiles (built-in and from the config file)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := config.Load("")
			if err != nil {
				return err
			}
			var rows []profileRow
			for _, n := range cfg.ProfileNames() {
				p, _ := cfg.Profile(n)
				row := profileRow{n, n == cfg.DefaultLM(), p.Model, p.APIBase, p.APIKeyEnv,
					p.APIKeyEnv != "" && os.Getenv(p.APIKeyEnv) != "", p.Adapter, p.PriceIn, p.PriceOut, nil}
				for _, e := range p.Endpoints {
					row.Endpoints = append(row.Endpoints, bridge.LMEndpoint(e))
				}
				rows = append(rows, row)
			}
			if asJSON {
				return writeJSON(a.stdout, rows)
			}
			t := newTable(a.stdout, "name", "model", "api base", "key", "adapter", "$/1M in", "$/1M out")
			for _, r := range rows {
				name := r.Name
				if r.Default {
					name += " *"
				}
				key := "-"
				if r.APIKeyEnv != "" {
					key = r.APIKeyEnv + " (unset)"
					if r.KeySet {
						key = r.APIKeyEnv + " (set)"
					}
				}
				base := orDash(r.APIBase)
				if len(r.Endpoints) > 0 {
					base = fmt.Sprintf("%d endpoints (lm status)", len(r.Endpoints))
				}
				t.row(name, r.Model, base, key, orDash(r.Adapter), price(r.PriceIn), price(r.PriceOut))
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n* default. Profiles live in %s\n", cfg.Path())
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func price(p float64) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprintf("%g", p)
}

// lmProbe is the one tiny request `lm test` and `doctor` send.
var lmProbe = &model.Program{Name: "lm_test", Modules: []model.Module{{
	Name: "reply", Type: model.Predict, Signature: "question -> answer",
	Instructions: "Answer the question in one or two words.",
}}}

type lmTestResult struct {
	Profile  string        `json:"profile"`
	Model    string        `json:"model"`
	Answer   string        `json:"answer"`
	Latency  time.Duration `json:"latency_ns"`
	Usage    model.Usage   `json:"usage"`
	Cost     float64       `json:"cost"`
	CostNote string        `json:"cost_note,omitempty"`
}

// probeLM sends lmProbe through a pool and reports what came back.
func probeLM(ctx context.Context, pool *bridge.Pool, r *owner.LMs, name string) (*lmTestResult, error) {
	spec, err := r.Spec(ctx, name)
	if err != nil {
		return nil, err
	}
	spec.Cache = false // a test must reach the LM, not DSPy's cache
	t0 := time.Now()
	res, err := pool.Execute(ctx, bridge.ExecuteRequest{Program: lmProbe, Inputs: map[string]any{"question": "What is the capital of France?"}, LM: spec}, nil)
	if err != nil {
		return nil, fmt.Errorf("LM profile %q (%s): %w", name, spec.Model, err)
	}
	out := &lmTestResult{Profile: name, Model: spec.Model, Answer: cellText(res.Outputs["answer"]), Latency: time.Since(t0), Cost: res.Cost}
	for _, u := range res.Usage {
		out.Usage = out.Usage.Add(u)
	}
	if res.CostUnknown {
		out.CostNote = "unknown: the provider reported none and the profile has no prices"
	}
	return out, nil
}

func (a *cli) lmTest() *cobra.Command {
	var pf poolFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "test NAME",
		Short: "Send one tiny request through a profile: latency, tokens, cost",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			dir, err := a.logDir()
			if err != nil {
				return err
			}
			env, err := owner.NewEnv(pf.python, dir)
			if err != nil {
				return err
			}
			defer env.Close()
			// A missing key fails before any worker starts.
			if err := env.LMs.Check(args[0]); err != nil {
				return err
			}
			if err := env.StartPool(ctx, pf.workers, 1); err != nil {
				return err
			}
			r, err := probeLM(ctx, env.Pool, env.LMs, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, r)
			}
			cost := fmt.Sprintf("$%.6f", r.Cost)
			if r.CostNote != "" {
				cost = "cost " + r.CostNote
			}
			fmt.Fprintf(a.stdout, "%s (%s): %q in %s, %d tokens in, %d out, %s\n", r.Profile, r.Model,
				strings.TrimSpace(r.Answer), r.Latency.Round(time.Millisecond), r.Usage.PromptTokens, r.Usage.CompletionTokens, cost)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	pf.register(c)
	return c
}
