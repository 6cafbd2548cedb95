package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/config"
)

func (a *cli) lmStatus() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "The endpoints of pooled LM profiles: state, calls, errors, tokens, latency",
		Long: "For every LM profile that lists endpoints (and every profile of the local model when it runs on several\n" +
			"servers, local: servers), each endpoint as the workspace owner's workers have used it:\n" +
			"healthy, ejected (it failed lately: left out for a cool-down) or backing_off (a 429's Retry-After),\n" +
			"and its calls, errors, tokens and mean latency summed over the workers (each balances its own share).",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := config.Load("")
			if err != nil {
				return err
			}
			dir, st, err := a.ownerStatus(c.Context())
			if err != nil {
				return err
			}
			out := lmStatusJSON{Running: st != nil, Workspace: dir, Endpoints: configuredEndpoints(cfg, st)}
			if asJSON {
				return writeJSON(a.stdout, out)
			}
			if len(out.Endpoints) == 0 {
				fmt.Fprintf(a.stdout, "no LM profile lists endpoints (profiles: in %s)\n", cfg.Path())
				return nil
			}
			t := newTable(a.stdout, "profile", "endpoint", "state", "workers", "in flight", "calls", "errors", "429s",
				"tokens in", "tokens out", "latency", "last error")
			for _, e := range out.Endpoints {
				state := e.State
				if state == "" {
					state = "unused"
				}
				t.row(e.Profile, e.APIBase, state, e.Workers, e.Inflight, e.Calls, e.Errors, e.RateLimited,
					e.PromptTokens, e.CompletionTokens, (time.Duration(e.Latency * float64(time.Second))).Round(time.Millisecond),
					orDash(clip(e.LastError, 40)))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if st == nil {
				fmt.Fprintf(a.stdout, "\nno owner running for workspace %s: nothing counted yet\n", dir)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// configuredEndpoints lists every endpoint the config's profiles name, with
// the owner's counts where its workers have used it (State "" where not),
// then any endpoint the owner reports that the config no longer names.
func configuredEndpoints(cfg *config.Config, st *app.Status) []app.LMEndpoint {
	seen := map[[2]string]app.LMEndpoint{}
	var extra []app.LMEndpoint
	if st != nil {
		for _, e := range st.LMEndpoints {
			seen[[2]string{e.Profile, e.APIBase}] = e
			extra = append(extra, e)
		}
	}
	out := []app.LMEndpoint{}
	used := map[[2]string]bool{}
	for _, n := range cfg.ProfileNames() {
		p, _ := cfg.Profile(n)
		for _, e := range p.Endpoints {
			k := [2]string{n, e.APIBase}
			row, ok := seen[k]
			if !ok {
				row = app.LMEndpoint{Profile: n, APIBase: e.APIBase}
			}
			used[k] = true
			out = append(out, row)
		}
	}
	for _, e := range extra {
		if !used[[2]string{e.Profile, e.APIBase}] {
			out = append(out, e)
		}
	}
	return out
}

// lmStatusJSON is `signet lm status --json`: every endpoint of the
// profiles that list several, with what the owner's workers saw of it.
type lmStatusJSON struct {
	Running   bool             `json:"running"` // an owner answered; without one nothing is counted
	Workspace string           `json:"workspace"`
	Endpoints []app.LMEndpoint `json:"endpoints"`
}
