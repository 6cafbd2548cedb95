package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/bridge/wire"
	"github.com/signet-dspy/signet/config"
)

// check is one line of `signet doctor`: what was checked, what was found,
// and the fix when it failed.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func (a *cli) doctorCommand() *cobra.Command {
	var pf poolFlags
	var lmName string
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the Python environment, DSPy, a worker handshake, the LM and the workspace's store, with the fix for each failure",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			checks := append(a.doctor(c.Context(), pf, lmName), a.storeCheck(c))
			failed := 0
			for _, ch := range checks {
				if !ch.OK {
					failed++
				}
			}
			if asJSON {
				if err := writeJSON(a.stdout, checks); err != nil {
					return err
				}
			} else {
				for _, ch := range checks {
					mark := "✓"
					if !ch.OK {
						mark = "✗"
					}
					fmt.Fprintf(a.stdout, "%s %-18s %s\n", mark, ch.Name, ch.Detail)
					if ch.Fix != "" {
						fmt.Fprintf(a.stdout, "  fix: %s\n", ch.Fix)
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed", failed, len(checks))
			}
			return nil
		},
	}
	c.Flags().StringVar(&lmName, "lm", "", "LM profile to check (default: the config's default)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	pf.register(c)
	return c
}

// doctor runs the checks in order; each later check needs the earlier ones,
// so the first failure ends the list.
func (a *cli) doctor(ctx context.Context, pf poolFlags, lmName string) []check {
	var out []check
	cfg, err := config.Load("")
	if err != nil {
		return append(out, check{"config", false, err.Error(), "fix the file, or move it away to use the defaults"})
	}
	out = append(out, check{"config", true, cfg.Path(), ""})

	py, err := config.Python(pf.python, cfg)
	if err != nil {
		return append(out, check{"python", false, err.Error(), "run `signet setup`"})
	}
	ver, err := exec.CommandContext(ctx, py.Path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3]); sys.exit(0 if sys.version_info >= (3, 10) else 3)").Output()
	if err != nil {
		return append(out, check{"python", false, fmt.Sprintf("%s (from %s) does not run or is older than 3.10: %v", py.Path, py.Source, err), "run `signet setup`, or point --python at Python 3.10+"})
	}
	out = append(out, check{"python", true, fmt.Sprintf("%s %s (from %s)", py.Path, strings.TrimSpace(string(ver)), py.Source), ""})

	dspyCmd := exec.CommandContext(ctx, py.Path, "-c", "import dspy; print(dspy.__version__)")
	dspyCmd.Env = append(os.Environ(), "LITELLM_LOCAL_MODEL_COST_MAP=True")
	dv, err := dspyCmd.Output()
	if err != nil {
		return append(out, check{"dspy", false, fmt.Sprintf("not importable with %s: %v", py.Path, err), "run `signet setup` (or `pip install dspy` in that environment)"})
	}
	out = append(out, check{"dspy", true, strings.TrimSpace(string(dv)), ""})

	// The worker's stderr is kept and shown only when the handshake fails.
	var wlog syncBuffer
	scratch, err := os.MkdirTemp("", "signet-doctor-")
	if err != nil {
		return append(out, check{"worker handshake", false, err.Error(), ""})
	}
	defer os.RemoveAll(scratch)
	start := time.Now()
	// The same redaction as an owner's pool: the worker leaves its frames to Go's.
	pool, err := bridge.Start(ctx, bridge.Config{Python: py.Path, Workers: 1, Workspace: scratch, Log: &wlog, Redact: owner.Secrets(cfg)})
	if err != nil {
		return append(out, check{"worker handshake", false, err.Error() + "\n" + wlog.tail(20), "`signet setup` rebuilds the managed environment"})
	}
	defer pool.Close(context.Background())
	if err := pool.Ping(ctx); err != nil {
		return append(out, check{"worker handshake", false, err.Error() + "\n" + wlog.tail(20), "`signet setup` rebuilds the managed environment"})
	}
	st := pool.Status()
	pid := 0
	if len(st) > 0 {
		pid = st[0].PID
	}
	out = append(out, check{"worker handshake", true, fmt.Sprintf("protocol %d, pid %d, ready in %s", wire.Protocol, pid, time.Since(start).Round(time.Millisecond)), ""})

	if lmName == "" {
		lmName = cfg.DefaultLM()
	}
	lms := owner.NewLMs(cfg, py.Path, &wlog)
	defer lms.Close()
	r, err := probeLM(ctx, pool, lms, lmName)
	if err != nil {
		return append(out, check{"lm " + lmName, false, err.Error() + "\n" + wlog.tail(10), "check the profile's model, api_base and key variable (`signet lm list`); for local, `signet setup`"})
	}
	return append(out, check{"lm " + lmName, true, fmt.Sprintf("%s answered %q in %s (%d tokens)", r.Model, strings.TrimSpace(r.Answer), r.Latency.Round(time.Millisecond), r.Usage.Total()), ""})
}

// storeCheck reads the whole store of the workspace through its service
// (its owner's, when one runs): every record readable, indexes consistent.
// A workspace not created yet has nothing to check.
func (a *cli) storeCheck(c *cobra.Command) check {
	const fix = "restore a backup into a new directory (`signet restore FILE --workspace NEW_DIR`)"
	dir, err := a.workspaceDir()
	if err != nil {
		return check{"store", false, err.Error(), "set --workspace or SIGNET_HOME"}
	}
	if _, err := os.Stat(filepath.Join(dir, owner.DBDir)); errors.Is(err, os.ErrNotExist) {
		return check{"store", true, fmt.Sprintf("no workspace at %s yet", dir), ""}
	}
	var rep *app.StoreCheck
	err = a.inWorkspace(c, "", func() error {
		rep, err = a.svc.CheckStore(c.Context())
		return err
	})
	if err != nil {
		return check{"store", false, err.Error(), fix}
	}
	if len(rep.Problems) == 0 {
		return check{"store", true, fmt.Sprintf("%s: %d records readable, indexes consistent", dir, rep.Records), ""}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d records damaged or inconsistent:", dir, len(rep.Problems), rep.Records)
	const shown = 20
	for _, p := range rep.Problems[:min(shown, len(rep.Problems))] {
		fmt.Fprintf(&b, "\n    %s: %s", p.Record, p.Problem)
	}
	if len(rep.Problems) > shown {
		fmt.Fprintf(&b, "\n    ... and %d more", len(rep.Problems)-shown)
	}
	return check{"store", false, b.String(), fix}
}

// syncBuffer collects worker log lines written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// tail is the last n lines written.
func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
