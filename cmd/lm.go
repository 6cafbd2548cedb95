package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
)

// lmResolver turns profile names into the LM specs workers need, starting
// the local model server the first time a profile asks for it.
type lmResolver struct {
	cfg    *config.Config
	python string // interpreter with llama-cpp-python, for the local server
	log    io.Writer

	mu    sync.Mutex // the engine resolves from several goroutines
	local *bridge.LocalLM
}

// check says whether a profile exists and has its key, starting nothing.
func (r *lmResolver) check(name string) error {
	p, err := r.cfg.Profile(name)
	if err != nil {
		return err
	}
	if p.APIKeyEnv != "" && os.Getenv(p.APIKeyEnv) == "" {
		return &keyError{name, p.APIKeyEnv}
	}
	return nil
}

// keyError is a profile whose key variable is not set.
type keyError struct{ profile, env string }

func (e *keyError) Error() string {
	return fmt.Sprintf("LM profile %q needs an API key in the environment variable %s, which is not set (export %s=...)", e.profile, e.env, e.env)
}

// Spec resolves a profile. The key itself never leaves the environment: only
// the variable's name is sent, after checking that it is set so a missing
// key fails here, naming the variable.
func (r *lmResolver) Spec(ctx context.Context, name string) (bridge.LMSpec, error) {
	if err := r.check(name); err != nil {
		return bridge.LMSpec{}, err
	}
	p, _ := r.cfg.Profile(name)
	spec := bridge.LMSpec{
		Model:       p.Model,
		APIBase:     p.APIBase,
		APIKeyEnv:   p.APIKeyEnv,
		Temperature: p.Temperature,
		MaxTokens:   p.MaxTokens,
		Cache:       p.Cache == nil || *p.Cache,
		Adapter:     p.Adapter,
		PriceIn:     p.PriceIn,
		PriceOut:    p.PriceOut,
		Kwargs:      p.Kwargs,
	}
	if p.IsLocal() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.local == nil {
			var err error
			r.local, err = bridge.StartLocalLM(ctx, bridge.LocalLMConfig{Python: r.python, Model: p.GGUF, Log: r.log})
			if err != nil {
				return bridge.LMSpec{}, fmt.Errorf("starting the local LM: %w", err)
			}
		}
		// The same OpenAI-compatible path a user's Ollama or vLLM takes.
		spec.Model = "openai/" + r.local.ModelName()
		spec.APIBase = r.local.BaseURL()
		spec.Free = true
	}
	return spec, nil
}

// close stops the local server if this process started it.
func (r *lmResolver) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.local != nil {
		r.local.Close(context.Background())
	}
}

func (a *cli) lmCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "lm",
		Short: "List and test LM profiles",
	}
	c.AddCommand(a.lmList(), a.lmTest())
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
				rows = append(rows, profileRow{n, n == cfg.DefaultLM(), p.Model, p.APIBase, p.APIKeyEnv,
					p.APIKeyEnv != "" && os.Getenv(p.APIKeyEnv) != "", p.Adapter, p.PriceIn, p.PriceOut})
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
				t.row(name, r.Model, orDash(r.APIBase), key, orDash(r.Adapter), price(r.PriceIn), price(r.PriceOut))
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
func probeLM(ctx context.Context, pool *bridge.Pool, r *lmResolver, name string) (*lmTestResult, error) {
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
			env, err := newEnv(pf, dir)
			if err != nil {
				return err
			}
			defer env.close()
			// A missing key fails before any worker starts.
			if err := env.lms.check(args[0]); err != nil {
				return err
			}
			if err := env.startPool(ctx, pf); err != nil {
				return err
			}
			r, err := probeLM(ctx, env.pool, env.lms, args[0])
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
