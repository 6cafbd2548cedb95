package owner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
)

// Env is what running DSPy needs, with or without a workspace: the config,
// the workers' interpreter, the LM profiles (LMs), the log file and, once
// started, the worker pool. `signet lm test` and `signet doctor` use one
// outside any workspace; an owner makes one with its first run.
type Env struct {
	Config *config.Config
	Python config.PythonChoice
	LMs    *LMs
	Pool   *bridge.Pool
	// Redact removes the values of every profile's key variable, and key
	// shapes, from all that Signet writes (model/redact).
	Redact *redact.Redactor
	Log    io.Writer // the log file, through Redact
	dir    string    // where the log file is: the workspace, for an owner
	file   *os.File

	// pythonErr is why there is no interpreter: it fails what needs one
	// (the workers, the local LM) and nothing else, so a request's own
	// mistakes (a missing key, an unknown profile) are still named first.
	pythonErr error
}

// NewEnv loads the config, resolves the interpreter (python is --python)
// and opens the log file in logDir, so nothing the workers or the local LM
// server print reaches the terminal.
func NewEnv(python, logDir string) (*Env, error) {
	cfg, err := config.Load("")
	if err != nil {
		return nil, err
	}
	py, pyErr := config.Python(python, cfg)
	e := &Env{Config: cfg, Python: py, pythonErr: pyErr, Redact: Secrets(cfg), dir: logDir}
	if e.file, err = OpenLog(filepath.Join(logDir, LogFile)); err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	e.Log = e.Redact.Writer(e.file)
	e.LMs = NewLMs(cfg, py.Path, e.Log)
	e.LMs.redact = e.Redact
	e.LMs.pythonErr = pyErr
	return e, nil
}

// Secrets is the redactor of cfg's key variables (nil cfg: key shapes
// only), read from this process's environment, which the workers inherit.
func Secrets(cfg *config.Config) *redact.Redactor {
	if cfg == nil {
		return nil
	}
	return redact.FromEnv(os.Getenv, cfg.KeyEnvs()...)
}

// Interpreter is the workers' Python, or why there is none.
func (e *Env) Interpreter() (string, error) {
	return e.Python.Path, e.pythonErr
}

// StartPool starts the workers: workers of them, else the config's number,
// else def.
func (e *Env) StartPool(ctx context.Context, workers, def int) error {
	if e.pythonErr != nil {
		return e.pythonErr
	}
	n := max(def, 1)
	if workers > 0 {
		n = workers
	} else if e.Config.Workers > 0 {
		n = e.Config.Workers
	}
	if n > config.MaxWorkers() {
		return fmt.Errorf("workers: %d is out of range (1 to %d on this machine)", n, config.MaxWorkers())
	}
	var err error
	cfg := e.poolConfig(e.Python.Path, n, e.Config.Threads)
	cfg.MaxRSS = int64(e.Config.Limits().WorkerMemory)
	e.Pool, err = bridge.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("starting Python workers with %s (from %s): %w", e.Python.Path, e.Python.Source, err)
	}
	return nil
}

// poolConfig is how this Env's pools run: DSPy's cache in the workspace,
// output to the log, secrets redacted.
func (e *Env) poolConfig(python string, workers, threads int) bridge.Config {
	// The default profile is what most requests use: when it goes through
	// LiteLLM, the zygote imports it once for every worker.
	usual, _ := e.Config.Profile(e.Config.DefaultLM())
	return bridge.Config{Python: python, Workers: workers, Threads: threads, Workspace: e.dir, Log: e.Log, Redact: e.Redact,
		SpanPayload: int64(e.Config.Limits().SpanPayload), Env: e.embedCacheEnv(), PreloadLiteLLM: usual.Model != "" && usual.UsesLiteLLM()}
}

// EmbedCacheFile is the workers' shared embedding cache in a workspace.
const EmbedCacheFile = "cache/embeddings.sqlite"

// embedCacheEnv points the workers at the workspace's embedding cache with
// the configured size and TTL (docs/protocol.md, "Worker environment").
func (e *Env) embedCacheEnv() []string {
	if e.dir == "" {
		return nil
	}
	entries, ttl := e.Config.EmbedCache()
	return []string{
		"SIGNET_EMBED_CACHE=" + filepath.Join(e.dir, filepath.FromSlash(EmbedCacheFile)),
		"SIGNET_EMBED_CACHE_ENTRIES=" + strconv.Itoa(entries),
		"SIGNET_EMBED_CACHE_TTL=" + strconv.FormatInt(int64(ttl/time.Second), 10),
	}
}

// Close stops the pool and the local LM server this Env started.
func (e *Env) Close() {
	if e.Pool != nil {
		e.Pool.Close(context.Background())
	}
	e.LMs.Close()
	e.file.Close()
}

// LMs turns profile names into the LM specs workers need, starting the
// local model server the first time a profile asks for it. It holds the
// one rule of which profile a run uses (Profile).
type LMs struct {
	cfg       *config.Config
	python    string // interpreter with llama-cpp-python, for the local server
	pythonErr error  // why there is no interpreter
	log       io.Writer
	redact    *redact.Redactor // the local server's output

	mu sync.Mutex // resolved from several goroutines
	// locals are the local model's servers once started: local: servers of
	// them (config.LocalServers), each supervised on its own.
	locals []*bridge.LocalLM
	// shown is locals for Status, which must not wait on mu while the
	// servers start; starting says a start of that many is under way; both
	// are told on changed (noted), as is every change of a server's status.
	shown    atomic.Pointer[[]*bridge.LocalLM]
	starting atomic.Int32
	noteMu   sync.Mutex
	changed  chan struct{}
	// primer primes each local server process once it serves (Warm's).
	primer bridge.Primer
	// warm is the start Warm began, cancelled and awaited by Close.
	warmStop context.CancelFunc
	warmed   sync.WaitGroup
}

// Profile is the profile a run of p uses (model.Program.LMProfile with
// this workspace's default).
func (r *LMs) Profile(asked string, p *model.Program) string {
	return p.LMProfile(asked, r.cfg.DefaultLM())
}

// Check says whether a profile exists and has its key, starting nothing.
func (r *LMs) Check(name string) error {
	p, err := r.cfg.Profile(name)
	if err != nil {
		return err
	}
	if env := p.UnsetKey(); env != "" {
		return &KeyError{Profile: name, Env: env}
	}
	return nil
}

// CheckProgram checks every profile a run of p uses: the run's (asked, else
// the program's, else the default), each module's, and extra ones (a
// judge's), before any worker starts.
func (r *LMs) CheckProgram(p *model.Program, asked string, extra ...string) error {
	profiles := append([]string{r.Profile(asked, p)}, extra...)
	for _, m := range p.Modules {
		profiles = append(profiles, m.LM)
	}
	for _, name := range profiles {
		if name == "" {
			continue
		}
		if err := r.Check(name); err != nil {
			return err
		}
	}
	return nil
}

// KeyError is a profile whose key variable is not set.
type KeyError struct{ Profile, Env string }

func (e *KeyError) Error() string {
	return fmt.Sprintf("LM profile %q needs an API key in the environment variable %s, which is not set (export %s=...)", e.Profile, e.Env, e.Env)
}

// Spec resolves a profile. The key itself never leaves the environment: only
// the variable's name is sent, after checking that it is set so a missing
// key fails here, naming the variable.
func (r *LMs) Spec(ctx context.Context, name string) (bridge.LMSpec, error) {
	if err := r.Check(name); err != nil {
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
	for _, e := range p.Endpoints {
		spec.Endpoints = append(spec.Endpoints, bridge.LMEndpoint(e))
	}
	if p.IsLocal() {
		locals, err := r.startLocal(ctx, p)
		if err != nil {
			return bridge.LMSpec{}, err
		}
		// The same OpenAI-compatible path a user's Ollama or vLLM takes;
		// several servers are an endpoint pool, as a team's vLLM boxes are.
		spec.Model = "openai/" + locals[0].ModelName()
		spec.Free = localFree(p)
		if len(locals) == 1 {
			spec.APIBase = locals[0].BaseURL()
		} else {
			for _, l := range locals {
				spec.Endpoints = append(spec.Endpoints, bridge.LMEndpoint{APIBase: l.BaseURL()})
			}
		}
	}
	if len(spec.Endpoints) > 0 {
		spec.Pool, spec.Cooldown = name, p.CooldownOr()
	}
	return spec, nil
}

// startLocal starts the local model's servers the first time a profile
// asks for them (local: servers of them, at once, each with its share of
// the cores as threads) and returns them. If one fails to start, none is
// left running.
func (r *LMs) startLocal(ctx context.Context, p config.Profile) ([]*bridge.LocalLM, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locals != nil {
		return r.locals, nil
	}
	if r.pythonErr != nil {
		return nil, fmt.Errorf("starting the local LM: %w", r.pythonErr)
	}
	n := r.cfg.LocalServers()
	cfg := bridge.LocalLMConfig{Python: r.python, Model: p.GGUF, Log: r.log, Redact: r.redact, Prime: r.primer, OnChange: r.noted}
	if n > 1 {
		cfg.Threads = max(1, runtime.NumCPU()/n) // one server keeps the default, every core
	}
	r.starting.Store(int32(n))
	r.noted()
	locals, errs := make([]*bridge.LocalLM, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { locals[i], errs[i] = bridge.StartLocalLM(ctx, cfg) })
	}
	wg.Wait()
	r.starting.Store(0)
	for i, err := range errs {
		if err == nil {
			continue
		}
		for _, l := range locals {
			if l != nil {
				l.Close(context.Background())
			}
		}
		r.noted()
		if n > 1 {
			return nil, fmt.Errorf("starting the local LM (server %d of %d, local: servers in %s): %w", i+1, n, r.cfg.Path(), err)
		}
		return nil, fmt.Errorf("starting the local LM: %w", err)
	}
	r.locals = locals
	r.shown.Store(&locals)
	r.noted()
	return locals, nil
}

// localFree says whether the local model's calls cost exactly 0: unless
// the profile gives it a price, as a team that serves it to users with
// credits (`signet serve --http`) may, so that their executions are debited.
func localFree(p config.Profile) bool { return p.PriceIn == 0 && p.PriceOut == 0 }

// Specs resolves the profiles a run of p uses: the run's (asked, else the
// program's, else the default) and each module's own, by module name.
func (r *LMs) Specs(ctx context.Context, p *model.Program, asked string) (bridge.LMSpec, map[string]bridge.LMSpec, error) {
	var spec bridge.LMSpec
	if name := r.Profile(asked, p); name != "" {
		s, err := r.Spec(ctx, name)
		if err != nil {
			return spec, nil, fmt.Errorf("LM profile %q: %w", name, err)
		}
		spec = s
	}
	var mods map[string]bridge.LMSpec
	for _, m := range p.Modules {
		if m.LM == "" {
			continue
		}
		s, err := r.Spec(ctx, m.LM)
		if err != nil {
			return spec, nil, fmt.Errorf("module %s: LM profile %q: %w", m.Name, m.LM, err)
		}
		if mods == nil {
			mods = map[string]bridge.LMSpec{}
		}
		mods[m.Name] = s
	}
	return spec, mods, nil
}

// adapterSpec is a profile as the `render` request needs it: its adapter
// alone (no key read, no server started).
func (r *LMs) adapterSpec(name string) bridge.LMSpec {
	p, _ := r.cfg.Profile(name) // an unknown profile renders with DSPy's default adapter; the run names it
	return bridge.LMSpec{Adapter: p.Adapter}
}

// isLocal says whether a profile is the local model's.
func (r *LMs) isLocal(name string) bool {
	p, err := r.cfg.Profile(name)
	return err == nil && p.IsLocal()
}

// Embedder resolves an index's embedder: a built-in one by name, else an
// LM profile of a hosted embedding model, resolved like execution LMs.
func (r *LMs) Embedder(ctx context.Context, name string) (*bridge.Embedder, error) {
	if slices.Contains(model.BuiltinEmbedders, name) {
		return &bridge.Embedder{Name: name}, nil
	}
	if _, err := r.cfg.Profile(name); err != nil {
		return nil, fmt.Errorf("unknown embedder %q: not a built-in one (%s) nor an LM profile (%s)",
			name, strings.Join(model.BuiltinEmbedders, ", "), strings.Join(r.cfg.ProfileNames(), ", "))
	}
	spec, err := r.Spec(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("embedder %q: %w", name, err)
	}
	return &bridge.Embedder{Name: name, LM: &spec}, nil
}

// Default is the workspace's default LM profile.
func (r *LMs) Default() string { return r.cfg.DefaultLM() }

// NewLMs resolves cfg's profiles; python runs the local LM server when a
// profile needs it, and its output goes to log.
func NewLMs(cfg *config.Config, python string, log io.Writer) *LMs {
	return &LMs{cfg: cfg, python: python, log: log}
}

// Warm starts the local LM server in the background when the default
// profile is the local model, so the first call on it does not wait for the
// server to load (a long-lived owner does this; a one-off command starts it
// when a run needs it). A failure is logged; the run that needs the server
// then tries again and reports it. prime, when not nil, primes each server
// process once it serves (bridge.LocalLMConfig.Prime).
func (r *LMs) Warm(prime bridge.Primer) {
	p, err := r.cfg.Profile(r.cfg.DefaultLM())
	if err != nil || !p.IsLocal() || r.pythonErr != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.warmStop, r.primer = cancel, prime
	r.warmed.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.warmed.Done()
		defer cancel()
		if _, err := r.Spec(ctx, r.cfg.DefaultLM()); err != nil && ctx.Err() == nil {
			fmt.Fprintf(r.log, "local LM: starting it ahead of the first call: %v\n", err)
		}
	}()
}

// Local is the local LM's servers' states: nil when none was started;
// while they start, that many with State "starting" and nothing else.
func (r *LMs) Local() []bridge.LocalLMStatus {
	if ls := r.shown.Load(); ls != nil {
		out := make([]bridge.LocalLMStatus, len(*ls))
		for i, l := range *ls {
			out[i] = l.Status()
		}
		return out
	}
	if n := r.starting.Load(); n > 0 {
		out := make([]bridge.LocalLMStatus, n)
		for i := range out {
			out[i].State = bridge.StateStarting
		}
		return out
	}
	return nil
}

// LocalChanged is closed when the local LM's servers start, become ready
// or fail to start, and at every later change of a server's status. Take
// it again after it fires.
func (r *LMs) LocalChanged() <-chan struct{} {
	r.noteMu.Lock()
	defer r.noteMu.Unlock()
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

// noted tells LocalChanged's callers the servers' status moved on. A
// server calls it with its own lock held (LocalLMConfig.OnChange).
func (r *LMs) noted() {
	r.noteMu.Lock()
	defer r.noteMu.Unlock()
	if r.changed != nil {
		close(r.changed)
	}
	r.changed = make(chan struct{})
}

// Close stops the local servers if these LMs started them, after ending a
// start Warm began.
func (r *LMs) Close() {
	r.mu.Lock()
	stop := r.warmStop
	r.mu.Unlock()
	if stop != nil {
		stop()
		r.warmed.Wait()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range r.locals {
		wg.Go(func() { l.Close(context.Background()) }) // each waits for its own process to end
	}
	wg.Wait()
}
