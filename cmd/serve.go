package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
)

func (a *cli) serveCommand() *cobra.Command {
	var pf poolFlags
	var concurrency int
	c := &cobra.Command{
		Use:   "serve",
		Short: "Own the workspace with no TUI: run its workers and queue, serve its API to other Signet processes",
		Long: "Own the workspace until SIGINT or SIGTERM: start the workers and the execution engine (which\n" +
			"first recovers what an earlier owner left), and serve the local API on the workspace's socket\n" +
			"(docs/api.md). Every other Signet command on the workspace then runs through this process.\n" +
			"On SIGINT/SIGTERM, running executions go back to pending for the next owner.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			s, err := owner.Acquire(ctx, owner.Options{Dir: dir, Command: "serve", Version: Version, Python: pf.python,
				Workers: pf.workers, DefaultWorkers: serveWorkers(), Concurrency: concurrency, Notify: a.stderr})
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
			<-ctx.Done()
			s.Close(ctx, true)
			fmt.Fprintf(a.stdout, "stopped; %d executions pending for the next owner\n", s.Owner.LeftPending())
			return nil
		},
	}
	c.Flags().IntVar(&concurrency, "concurrency", 0, "executions at once (default: config, else 8)")
	pf.register(c)
	c.Flags().Lookup("workers").Usage = "worker processes (default: config, else the number of cores, at least 2)"
	return c
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
			dir, err := a.workspaceDir()
			if err != nil {
				return err
			}
			st, err := api.NewClient(api.SocketPath(dir)).Status(c.Context())
			if err != nil && !errors.Is(err, api.ErrNoOwner) {
				return fmt.Errorf("the owner of %s does not answer: %w", dir, err)
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

func printStatus(w io.Writer, st *app.Status) {
	up := (time.Duration(st.Uptime * float64(time.Second))).Round(time.Second)
	fmt.Fprintf(w, "owner      pid %d (signet %s), up %s, version %s, API %s\n", st.PID, st.Command, up, st.Version, st.API)
	fmt.Fprintf(w, "workspace  %s\n", st.Workspace)
	fmt.Fprintf(w, "queue      %d (%d pending, %d running)\n", st.Queue.Depth, st.Queue.Pending, st.Queue.Running)
	fmt.Fprintf(w, "clients    %d request(s) of other processes in flight\n", st.Clients)
	if len(st.Pool) == 0 {
		fmt.Fprintf(w, "engine     %s (workers start when something runs)\n", st.Engine)
		return
	}
	fmt.Fprintf(w, "engine     %s, %d worker(s)\n\n", st.Engine, len(st.Pool))
	t := newTable(w, "worker", "state", "pid", "uptime", "served", "restarts", "current", "last error")
	for _, wk := range st.Pool {
		t.row(wk.ID, wk.State, wk.PID, (time.Duration(wk.Uptime * float64(time.Second))).Round(time.Second),
			wk.Served, wk.Restarts, orDash(wk.Current), orDash(clip(wk.LastError, 40)))
	}
	t.flush()
}
