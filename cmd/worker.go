package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/remote"
)

// poolName is what a pool may be called: executions record NAME/<worker>.
var poolName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func (a *cli) workerCommand() *cobra.Command {
	var jf struct {
		join, creds, nkey, ca, name, codeDir string
		capacity                             int
	}
	var pf poolFlags
	c := &cobra.Command{
		Use:   "worker --join nats://HOST:PORT",
		Short: "Serve an owner's NATS job queue with a pool of workers on this machine",
		Long: "Start a supervised pool of Python workers running DSPy in this machine's environment and serve the\n" +
			"job queue of an owner started with `signet serve --nats-listen HOST:PORT` (or --nats URL): pull jobs as\n" +
			"workers are free, run them, stream their spans and results back. Executions record the pool and\n" +
			"worker that ran them (NAME/2). A pool killed mid-job loses nothing: the queue gives the job to another\n" +
			"pool after its ack wait. LM keys come from this machine's environment (the job names the variable).\n" +
			"User code (custom modules, tools, metrics) comes with each job, or, when the owner says\n" +
			"--nats-code require, is read from --code-dir. No workspace is needed here.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			if jf.join == "" {
				return usagef("worker: --join nats://HOST:PORT is required (the owner's `signet serve --nats-listen` address)")
			}
			host, _ := os.Hostname()
			name := cmp.Or(jf.name, fmt.Sprintf("%s-%d", host, os.Getpid()))
			if !poolName.MatchString(name) {
				return usagef("worker: --name %q: want letters, digits, '.', '_' or '-' (up to 64)", name)
			}
			cfg, err := config.Load("")
			if err != nil {
				return err
			}
			py, err := config.Python(pf.python, cfg)
			if err != nil {
				return err
			}
			workers := cmp.Or(pf.workers, cfg.Workers, 1)
			if workers < 1 || workers > config.MaxWorkers() {
				return usagef("worker: --workers %d is out of range (1 to %d on this machine)", workers, config.MaxWorkers())
			}
			capacity := cmp.Or(jf.capacity, workers*4)
			codeDir := jf.codeDir
			if codeDir == "" {
				if codeDir, err = os.Getwd(); err != nil {
					return err
				}
			}
			if codeDir, err = filepath.Abs(codeDir); err != nil {
				return err
			}
			cache, err := os.UserCacheDir()
			if err != nil {
				return fmt.Errorf("worker: a cache directory for DSPy and shipped code: %w", err)
			}
			home := filepath.Join(cache, "signet", "pools", name)
			if err := os.MkdirAll(home, 0o700); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
			secrets := owner.Secrets(cfg)
			log := secrets.Writer(a.stderr)
			nc, err := remote.Dial(ctx, remote.ClientOptions{URL: jf.join, Name: "signet pool " + name, Creds: jf.creds, NKey: jf.nkey, CA: jf.ca, Wait: true})
			if err != nil {
				return err
			}
			defer nc.Close()
			ready := make(chan struct{})
			go func() {
				select {
				case <-ready:
					fmt.Fprintf(a.stdout, "pool %s: %d workers (%s), %d jobs at once, serving %s; ctrl-c stops\n", name, workers, py.Path, capacity, jf.join)
				case <-ctx.Done():
				}
			}()
			err = remote.RunPool(ctx, bridge.Config{Python: py.Path, Workers: workers, Threads: cfg.Threads, Workspace: home, Log: log,
				Redact: secrets, SpanPayload: int64(cfg.Limits().SpanPayload)},
				remote.JoinOptions{Conn: nc, Name: name, Capacity: capacity, CacheDir: filepath.Join(home, "code"), CodeDir: codeDir, Log: log, Ready: ready, Redact: secrets})
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			fmt.Fprintf(a.stdout, "pool %s: stopped\n", name)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&jf.join, "join", "", "the owner's NATS `URL` (nats://HOST:PORT, tls://HOST:PORT)")
	f.StringVar(&jf.creds, "creds", "", "a NATS credentials `FILE` (JWT and seed)")
	f.StringVar(&jf.nkey, "nkey", "", "a `FILE` holding this pool's nkey seed (`signet worker nkey`)")
	f.StringVar(&jf.ca, "ca", "", "PEM `FILE` of the roots that sign the server's certificate (TLS)")
	f.StringVar(&jf.name, "name", "", "the pool's name, as executions record it (default HOST-PID)")
	f.IntVar(&jf.capacity, "capacity", 0, "jobs run at once (default 4 per worker)")
	f.StringVar(&jf.codeDir, "code-dir", "", "where user code resolves when the owner does not ship it (default: the current directory)")
	pf.register(c)
	c.Flags().Lookup("workers").Usage = "worker processes (default: config, else 1)"
	c.AddCommand(a.workerNKey())
	return c
}

// workerNKey makes a pool's nkey pair: the seed stays here, the public key
// goes into the owner's --nats-nkeys file.
func (a *cli) workerNKey() *cobra.Command {
	return &cobra.Command{
		Use:   "nkey FILE",
		Short: "Make an nkey pair for a pool: write the seed to FILE (mode 0600), print the public key for the owner's --nats-nkeys file",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			seed, pub, err := remote.NewUserKey()
			if err != nil {
				return err
			}
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("worker nkey: %w", err)
			}
			if _, err := f.Write(append(seed, '\n')); err != nil {
				f.Close()
				return fmt.Errorf("worker nkey: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("worker nkey: %w", err)
			}
			fmt.Fprintln(a.stdout, pub)
			return nil
		},
	}
}
