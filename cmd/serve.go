package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/config"
)

func (a *cli) serveCommand() *cobra.Command {
	var pf poolFlags
	var concurrency int
	var otlpURL string
	var bg background
	var hf httpFlags
	var nf natsFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Own the workspace with no TUI: run its workers and queue, serve its API to other Signet processes",
		Long: "Own the workspace until SIGINT or SIGTERM (`signet stop`): start the workers and the execution\n" +
			"engine (which first recovers what an earlier owner left), and serve the local API on the workspace's\n" +
			"socket (docs/api.md). Every other Signet command on the workspace then runs through this process.\n" +
			"On SIGINT/SIGTERM, running executions go back to pending for the next owner.\n\n" +
			"With --http ADDR it also serves the same API over HTTP (HTTPS with --tls-cert and --tls-key), each\n" +
			"request with a bearer token (`signet token create`), on loopback unless ADDR names a host.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			natsOpts, err := nf.options()
			if err != nil {
				return err
			}
			workers := pf.workers
			if c.Flags().Changed("workers") && workers == 0 {
				if natsOpts == nil {
					return usagef("serve: --workers 0 runs no workers: only pools that join a NATS queue would serve it; give --nats-listen HOST:PORT or --nats URL")
				}
				workers = -1
			}
			if bg.on {
				if hf.addr != "" || otlpURL != "" || natsOpts != nil {
					return usagef("serve: --http, --otlp and the NATS queue are for `signet serve`, not a background owner")
				}
				return a.serveBackground(c.Context(), pf, concurrency, bg)
			}
			if _, err := hf.config(nil); err != nil {
				return err
			}
			ctx := c.Context()
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			s, err := owner.Acquire(ctx, owner.Options{Dir: dir, Command: "serve", Version: Version, Python: pf.python, WarmLocal: true,
				Workers: workers, DefaultWorkers: serveWorkers(), Concurrency: concurrency, Notify: a.stderr, NATS: natsOpts})
			if err != nil {
				return err
			}
			if s.Owner == nil {
				st, err := s.Status(ctx)
				if err != nil {
					return err
				}
				return fmt.Errorf("workspace %s already has an owner: pid %d (signet %s), up %s; `signet status` shows it",
					dir, st.PID, st.Command, (time.Duration(st.Uptime) * time.Second).Round(time.Second))
			}
			if _, err := s.StartPool(ctx); err != nil {
				s.Close(ctx, true)
				return err
			}
			fmt.Fprintf(a.stdout, "serving workspace %s on %s (pid %d, API %s); ctrl-c stops\n", dir, s.Owner.Info().Socket, os.Getpid(), api.Version)
			if q := s.Owner.DescribeQueue(); q != "" {
				fmt.Fprintf(a.stdout, "job queue: %s\n", q)
			}
			stopOTLP, err := a.exportTraces(ctx, otlpURL, s.Owner)
			if err != nil {
				s.Close(ctx, true)
				return err
			}
			stopHTTP := func() {}
			if hf.addr != "" {
				cfg, _ := hf.config(s.Owner)
				if stopHTTP, err = a.serveHTTP(ctx, cfg, s.Owner); err != nil {
					stopOTLP()
					s.Close(ctx, true)
					return err
				}
			}
			<-ctx.Done()
			stopHTTP()
			stopOTLP()
			s.Close(ctx, true)
			fmt.Fprintf(a.stdout, "stopped; %d executions pending for the next owner\n", s.Owner.LeftPending())
			return nil
		},
	}
	c.Flags().IntVar(&concurrency, "concurrency", 0, "executions at once (default: config, else 8)")
	pf.register(c)
	c.Flags().Lookup("workers").Usage = "worker processes (default: config, else the number of cores, at least 2)"
	bg.register(c)
	hf.register(c)
	nf.register(c)
	c.Flags().StringVar(&otlpURL, "otlp", "", "export every ended execution's trace to this OTLP/HTTP `URL` (http://HOST:4318: Jaeger, Tempo, a collector; default: the config's otlp: endpoint)")
	return c
}

// exportTraces starts the export of ended executions' traces to the OTLP
// endpoint of --otlp, else of the config's otlp:, and says so; without
// either it does nothing. The stop it returns flushes what is queued.
func (a *cli) exportTraces(ctx context.Context, flag string, o *owner.Owner) (func(), error) {
	endpoint, content := flag, false
	if cfg, err := config.Load(""); err == nil {
		endpoint, content = cmp.Or(flag, cfg.OTLP.Endpoint), cfg.OTLP.Content
	}
	if endpoint == "" {
		return func() {}, nil
	}
	stop, err := o.ExportTraces(ctx, endpoint, content)
	if err != nil {
		return nil, usageError{err}
	}
	what := "no content"
	if content {
		what = "with prompts and completions"
	}
	fmt.Fprintf(a.stdout, "exporting every ended execution's trace to %s (OTLP/HTTP, %s)\n", endpoint, what)
	return stop, nil
}

// background are serve's hidden flags for the owner a command starts in
// the background (daemon.go).
type background struct {
	on       bool
	idleExit time.Duration
	readyFD  int
}

func (b *background) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&b.on, "background", false, "serve as a background owner: exit after the idle time")
	f.DurationVar(&b.idleExit, "idle-exit", 0, "the background owner's idle time (default: config owner: idle_exit, else 10m)")
	f.IntVar(&b.readyFD, "ready-fd", 0, "a pipe to close once serving, after writing \"ready\"")
	for _, n := range []string{"background", "idle-exit", "ready-fd"} {
		f.MarkHidden(n)
	}
}

// serveBackground is `serve --background`: the owner a command started.
// Its stdout and stderr are its log (redacted like the workspace's); it
// says "ready" on the ready pipe once it serves, and leaves quietly when
// another process owns the workspace already. The pool starts with the
// first request that needs it, with the workers the starting command would
// have had (1 unless --workers or the config say otherwise).
func (a *cli) serveBackground(ctx context.Context, pf poolFlags, concurrency int, bg background) error {
	cfg, err := config.Load("")
	if err != nil {
		cfg = nil // the first request reports it; keys are redacted by shape meanwhile
	}
	a.stdout, a.stderr = owner.Secrets(cfg).Writer(a.stdout), owner.Secrets(cfg).Writer(a.stderr)
	idle := bg.idleExit
	if idle != 0 && (idle < config.MinIdleExit || idle > config.MaxIdleExit) {
		return usagef("serve: --idle-exit %s is out of range (%s to %s)", idle, config.MinIdleExit, config.MaxIdleExit)
	}
	if idle == 0 {
		idle = config.DefaultIdleExit
		if cfg != nil {
			idle = cfg.IdleExitOr()
		}
	}
	var ready *os.File
	if bg.readyFD > 0 {
		ready = os.NewFile(uintptr(bg.readyFD), "ready")
		defer ready.Close()
	}
	dir, err := a.workspaceDir()
	if err != nil {
		return err
	}
	stamp := func(format string, args ...any) {
		fmt.Fprintf(a.stdout, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
	s, err := owner.Acquire(ctx, owner.Options{Dir: dir, Command: "serve", Version: Version, Python: pf.python, WarmLocal: true,
		Workers: pf.workers, DefaultWorkers: 1, Concurrency: concurrency, Notify: a.stdout})
	if err != nil {
		return err
	}
	if s.Owner == nil {
		stamp("pid %d: another process owns workspace %s; leaving", os.Getpid(), dir)
		return nil
	}
	stamp("pid %d: serving workspace %s in the background on %s; exits after %s without work", os.Getpid(), dir, s.Owner.Info().Socket, idle)
	if ready != nil {
		fmt.Fprintln(ready, "ready")
		ready.Close()
	}
	stopOTLP, err := a.exportTraces(ctx, "", s.Owner)
	if err != nil { // the config's endpoint: said in the log, the owner serves on
		stamp("otlp: %v", err)
		stopOTLP = func() {}
	}
	why := "idle for " + idle.String()
	if err := s.Owner.IdleExit(ctx, idle); err != nil {
		why = "stopped by a signal"
	}
	stopOTLP()
	s.Close(ctx, ctx.Err() != nil)
	stamp("pid %d: %s; exited, %d executions pending for the next owner", os.Getpid(), why, s.Owner.LeftPending())
	return nil
}

// statusJSON is `signet status --json`.
type statusJSON struct {
	Running   bool   `json:"running"`
	Workspace string `json:"workspace"`
	*app.Status
}

func (a *cli) statusCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "The workspace's owner: pid, uptime, workers, queue depth (or that none runs)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			dir, st, err := a.ownerStatus(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, statusJSON{Running: st != nil, Workspace: dir, Status: st})
			}
			if st == nil {
				fmt.Fprintf(a.stdout, "no owner running for workspace %s\n", dir)
				if info, err := api.ReadOwner(dir); err == nil {
					fmt.Fprintf(a.stdout, "(pid %d, `signet %s`, left its socket behind: the next command takes it over)\n", info.PID, info.Command)
				}
				return nil
			}
			printStatus(a.stdout, st)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// ownerStatus is the workspace and its owner's status, nil when no owner runs.
func (a *cli) ownerStatus(ctx context.Context) (string, *app.Status, error) {
	dir, err := a.workspaceDir()
	if err != nil {
		return "", nil, err
	}
	st, err := api.NewClient(api.SocketPath(dir)).Status(ctx)
	if err != nil && !errors.Is(err, api.ErrNoOwner) {
		return "", nil, fmt.Errorf("the owner of %s does not answer: %w", dir, err)
	}
	return dir, st, nil
}

func printStatus(w io.Writer, st *app.Status) {
	up := (time.Duration(st.Uptime * float64(time.Second))).Round(time.Second)
	fmt.Fprintf(w, "owner      pid %d (signet %s), up %s, version %s, API %s\n", st.PID, st.Command, up, st.Version, st.API)
	if st.Background {
		idle := time.Duration(st.IdleExit * float64(time.Second))
		if st.IdleAt != nil {
			fmt.Fprintf(w, "           background: exits at %s if nothing comes (after %s without work)\n", st.IdleAt.Local().Format("15:04:05"), idle)
		} else {
			fmt.Fprintf(w, "           background: busy; exits %s after its work ends\n", idle)
		}
	}
	fmt.Fprintf(w, "workspace  %s\n", st.Workspace)
	fmt.Fprintf(w, "queue      %d (%d pending, %d running)\n", st.Queue.Depth, st.Queue.Pending, st.Queue.Running)
	fmt.Fprintf(w, "clients    %d request(s) of other processes in flight\n", st.Clients)
	locals := st.LocalLMs
	if len(locals) == 0 && st.LocalLM != nil { // an owner of before local_lms
		locals = []app.LocalLM{*st.LocalLM}
	}
	for i, l := range locals {
		label := "local LM"
		if len(locals) > 1 {
			label = fmt.Sprintf("local LM %d", i+1)
		}
		fmt.Fprintf(w, "%-10s %s", label, l.State)
		if l.PID != 0 {
			fmt.Fprintf(w, ", pid %d, %s at %s", l.PID, l.Model, l.URL)
		}
		if l.Primed != "" {
			fmt.Fprintf(w, ", %s with %s", map[bool]string{true: "priming", false: "primed"}[l.State == "priming"], l.Primed)
		}
		if l.LastError != "" {
			fmt.Fprintf(w, " (last error: %s)", clip(l.LastError, 60))
		}
		fmt.Fprintln(w)
	}
	if len(st.Pool) == 0 {
		fmt.Fprintf(w, "engine     %s (workers start when something runs)\n", st.Engine)
		printBeyondPool(w, st)
		return
	}
	fmt.Fprintf(w, "engine     %s, %d worker(s)", st.Engine, len(st.Pool))
	if z := st.Zygote; z != nil {
		fmt.Fprintf(w, ", forked from a zygote (%s", z.State)
		if z.PID != 0 {
			fmt.Fprintf(w, ", pid %d", z.PID)
		}
		if z.Restarts > 0 {
			fmt.Fprintf(w, ", %d restarts", z.Restarts)
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	printBeyondPool(w, st)
	fmt.Fprintln(w)
	t := newTable(w, "worker", "state", "pid", "uptime", "served", "restarts", "current", "last error")
	for _, wk := range st.Pool {
		t.row(wk.ID, wk.State, wk.PID, (time.Duration(wk.Uptime * float64(time.Second))).Round(time.Second),
			wk.Served, wk.Restarts, orDash(wk.Current), orDash(clip(wk.LastError, 40)))
	}
	t.flush()
}

// stopWait bounds how long stop waits for the owner to end: it puts what
// runs back to pending and closes its workers and store first.
const stopWait = 2 * time.Minute

func (a *cli) stopCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the workspace's owner (a background one, `signet serve`, or any other) gracefully",
		Long: "Send the workspace's owner SIGTERM and wait for it to end: as on ctrl-c, running executions go back\n" +
			"to pending for the next owner. Without an owner it says so (exit 0).",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			st, err := api.NewClient(api.SocketPath(dir)).Status(ctx)
			if errors.Is(err, api.ErrNoOwner) {
				fmt.Fprintf(a.stdout, "no owner running for workspace %s\n", dir)
				return nil
			}
			if err != nil {
				return fmt.Errorf("the owner of %s does not answer: %w", dir, err)
			}
			// The pid is the owner's own answer on this user's socket.
			if err := syscall.Kill(st.PID, syscall.SIGTERM); err != nil {
				return fmt.Errorf("stopping the owner of %s (pid %d): %w", dir, st.PID, err)
			}
			if err := waitGone(ctx, st.PID, stopWait); err != nil {
				return fmt.Errorf("the owner of %s (pid %d): %w", dir, st.PID, err)
			}
			kind := "signet " + st.Command
			if st.Background {
				kind += ", background"
			}
			fmt.Fprintf(a.stdout, "stopped the owner of workspace %s: pid %d (%s), up %s\n", dir, st.PID, kind,
				(time.Duration(st.Uptime * float64(time.Second))).Round(time.Second))
			return nil
		},
	}
}

// waitGone waits, bounded, until process pid has ended. It is not this
// process's child, so there is nothing to wait on but its existence.
func waitGone(ctx context.Context, pid int, bound time.Duration) error {
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for api.Alive(pid) {
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("still running %s after SIGTERM", bound)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
