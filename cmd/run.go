package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
)

// poolFlags are the flags of every command that starts Python workers.
type poolFlags struct {
	python  string
	workers int
}

func (f *poolFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.python, "python", "", "Python interpreter for the workers (default: config, SIGNET_PYTHON, VIRTUAL_ENV, then the managed venv)")
	c.Flags().IntVar(&f.workers, "workers", 0, "worker processes (default: config, else 1 for a single run)")
}

// startPool starts the worker pool with the resolved interpreter, logging
// into the workspace log file.
func startPool(ctx context.Context, f poolFlags, cfg *config.Config, workspace string, log io.Writer, workers int) (*bridge.Pool, error) {
	py, err := resolvePython(f.python, cfg)
	if err != nil {
		return nil, err
	}
	if f.workers > 0 {
		workers = f.workers
	} else if cfg.Workers > 0 {
		workers = cfg.Workers
	}
	pool, err := bridge.Start(ctx, bridge.Config{
		Python:    py.Path,
		Workers:   workers,
		Threads:   cfg.Threads,
		Workspace: workspace,
		Log:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("starting Python workers with %s (from %s): %w", py.Path, py.Source, err)
	}
	return pool, nil
}

func (a *app) runCommand() *cobra.Command {
	var inputs []string
	var lmName string
	var version int
	var asJSON bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "run PROGRAM --input field=value ...",
		Short: "Run a program on one input through DSPy and print its outputs and trace",
		Args:  exactArgs("PROGRAM"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			in, err := parseInputs(inputs)
			if err != nil {
				return err
			}
			cfg, err := config.Load("")
			if err != nil {
				return err
			}
			st, done, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer done()
			var p *model.Program
			if version > 0 {
				p, err = st.GetProgramVersion(ctx, args[0], version)
			} else {
				p, err = st.GetProgram(ctx, args[0])
			}
			if err != nil {
				return err
			}
			for _, f := range p.Inputs() {
				if _, ok := in[f.Name]; !ok {
					return usagef("program %s needs input %q: pass --input %s=...", p.Name, f.Name, f.Name)
				}
			}
			if lmName == "" {
				lmName = p.LM
			}
			if lmName == "" {
				lmName = cfg.DefaultLM()
			}
			lm, err := lmSpec(cfg, lmName)
			if err != nil {
				return err
			}
			moduleLMs := map[string]bridge.LMSpec{}
			for _, m := range p.Modules {
				if m.LM != "" {
					if moduleLMs[m.Name], err = lmSpec(cfg, m.LM); err != nil {
						return fmt.Errorf("module %s: %w", m.Name, err)
					}
				}
			}
			ws, _ := a.workspaceDir()
			logf, err := os.OpenFile(filepath.Join(ws, logFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("opening log file: %w", err)
			}
			defer logf.Close()
			pool, err := startPool(ctx, pf, cfg, ws, logf, 1)
			if err != nil {
				return err
			}
			defer pool.Close(context.Background())

			tr := newTraceTree()
			res, err := pool.Execute(ctx, bridge.ExecuteRequest{Program: p, Inputs: in, LM: lm, ModuleLMs: moduleLMs, Trace: true}, tr.add)
			if err != nil {
				return fmt.Errorf("running %s v%d: %w", p.Name, p.Version, err)
			}
			if asJSON {
				return writeJSON(a.stdout, struct {
					Program string                `json:"program"`
					Version int                   `json:"version"`
					LM      string                `json:"lm"`
					Result  *bridge.ExecuteResult `json:"result"`
					Spans   []model.Span          `json:"spans"`
				}{p.Name, p.Version, lmName, res, tr.ordered()})
			}
			fmt.Fprintf(a.stdout, "%s v%d on %s (%s) in %s\n\n", p.Name, p.Version, lmName, lm.Model, res.Duration.Round(time.Millisecond))
			for _, k := range sortedKeys(res.Outputs) {
				fmt.Fprintf(a.stdout, "%s: %s\n", k, indentCont(cellText(res.Outputs[k])))
			}
			fmt.Fprintln(a.stdout)
			tr.print(a.stdout)
			u := model.Usage{}
			for _, mu := range res.Usage {
				u = u.Add(mu)
			}
			cost := fmt.Sprintf("$%.6f", res.Cost)
			if res.CostUnknown {
				cost = "cost unknown"
			}
			fmt.Fprintf(a.stdout, "\n%d LM calls, %d tokens in, %d out, %s\n", u.Calls, u.PromptTokens, u.CompletionTokens, cost)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&inputs, "input", "i", nil, "an input field, field=value (JSON values for lists: facts='[\"a\"]')")
	c.Flags().StringVar(&lmName, "lm", "", "LM profile (default: the program's, else the config's default)")
	c.Flags().IntVar(&version, "version", 0, "run a specific version (default: latest)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	pf.register(c)
	return c
}

// parseInputs reads field=value pairs; a value that is a JSON list or object
// is decoded, anything else is a string.
func parseInputs(pairs []string) (map[string]any, error) {
	in := map[string]any{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--input %q: want field=value", kv)
		}
		if t := strings.TrimSpace(v); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			var decoded any
			if err := json.Unmarshal([]byte(t), &decoded); err != nil {
				return nil, usagef("--input %s: value looks like JSON but is not: %v", k, err)
			}
			in[k] = decoded
			continue
		}
		in[k] = v
	}
	return in, nil
}

// traceTree collects streamed spans (each arrives at start and again at end)
// and prints them as an indented tree.
type traceTree struct {
	mu    sync.Mutex
	spans map[string]*model.Span
	order []string
}

func newTraceTree() *traceTree { return &traceTree{spans: map[string]*model.Span{}} }

func (t *traceTree) add(s model.Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.spans[s.ID]; !ok {
		t.order = append(t.order, s.ID)
	}
	cp := s
	t.spans[s.ID] = &cp
}

func (t *traceTree) ordered() []model.Span {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]model.Span, 0, len(t.order))
	for i, id := range t.order {
		s := *t.spans[id]
		s.Seq = uint64(i + 1)
		out = append(out, s)
	}
	return out
}

func (t *traceTree) print(w io.Writer) {
	spans := t.ordered()
	children := map[string][]model.Span{}
	known := map[string]bool{}
	for _, s := range spans {
		known[s.ID] = true
	}
	var roots []model.Span
	for _, s := range spans {
		if s.Parent == "" || !known[s.Parent] {
			roots = append(roots, s)
		} else {
			children[s.Parent] = append(children[s.Parent], s)
		}
	}
	for _, kids := range children {
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].Start.Before(kids[j].Start) })
	}
	var walk func(s model.Span, depth int)
	walk = func(s model.Span, depth int) {
		fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", depth), spanLine(s))
		for _, k := range children[s.ID] {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

func spanLine(s model.Span) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s", s.Kind, s.Name)
	if s.Module != "" && s.Kind == model.SpanModule {
		fmt.Fprintf(&b, " [%s]", s.Module)
	}
	if s.Model != "" && s.Model != s.Name {
		fmt.Fprintf(&b, "  %s", s.Model)
	}
	if s.Usage.Total() > 0 {
		fmt.Fprintf(&b, "  %d→%d tok", s.Usage.PromptTokens, s.Usage.CompletionTokens)
	}
	if s.Cost > 0 {
		fmt.Fprintf(&b, "  $%.6f", s.Cost)
	}
	if s.CacheHit {
		b.WriteString("  cached")
	}
	if l := s.Latency(); l > 0 {
		fmt.Fprintf(&b, "  %s", l.Round(100*time.Microsecond))
	} else if s.End.IsZero() {
		b.WriteString("  (unfinished)")
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "  error: %s", clip(s.Error, 80))
	}
	return b.String()
}
