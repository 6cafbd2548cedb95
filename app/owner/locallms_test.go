package owner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/config"
	"github.com/signet-dspy/signet/internal/testenv"
)

// localPython is the worker venv's python when the local LM is installed in
// it; like bridge's local LM tests, the test skips when it is not (and
// fails under SIGNET_REQUIRE_PYTHON=1).
func localPython(t *testing.T) string {
	t.Helper()
	py := testenv.Python(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := bridge.FindLocalModel(ctx, py); err != nil {
		if errors.Is(err, bridge.ErrNoLocalLM) && os.Getenv("SIGNET_REQUIRE_PYTHON") != "1" {
			t.Skipf("the local LM is not installed in SIGNET_PYTHON's venv: %v", err)
		}
		t.Fatal(err)
	}
	return py
}

// localLMs are LMs of the config body, closed with the test.
func localLMs(t *testing.T, body string) (*LMs, *testenv.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.Buffer{}
	r := NewLMs(cfg, localPython(t), log)
	t.Cleanup(func() {
		r.Close()
		if t.Failed() {
			t.Logf("local LM log:\n%s", log)
		}
	})
	return r, log
}

// awaitLocals returns the local servers' states once ok holds of them.
func awaitLocals(t *testing.T, r *LMs, what string, ok func([]bridge.LocalLMStatus) bool) []bridge.LocalLMStatus {
	t.Helper()
	bound := time.After(2 * time.Minute) // a failure's bound
	for {
		changed := r.LocalChanged()
		if st := r.Local(); ok(st) {
			return st
		}
		select {
		case <-changed:
		case <-bound:
			t.Fatalf("%s: not within 2 minutes: %+v", what, r.Local())
		}
	}
}

// TestLocalServersAreAnEndpointPool: with local: servers: 2 the local
// model runs on two llama.cpp servers, each with half the cores, and every
// profile of it is an endpoint pool of both (named after the profile, with
// its cooldown); each server is supervised on its own: one killed is
// restarted while the other serves on, and Close stops both.
func TestLocalServersAreAnEndpointPool(t *testing.T) {
	r, log := localLMs(t, "local:\n  servers: 2\nprofiles:\n  mine: {model: signet/local, adapter: json_schema, cooldown: 5s}\n")
	if st := r.Local(); st != nil {
		t.Fatalf("servers before any profile asked for them: %+v", st)
	}
	changed := r.LocalChanged()
	spec, err := r.Spec(t.Context(), "local")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("LocalChanged did not fire when the servers started")
	}
	if spec.APIBase != "" || len(spec.Endpoints) != 2 || spec.Pool != "local" || spec.Cooldown != 0 ||
		!spec.Free || !strings.HasPrefix(spec.Model, "openai/SmolLM2") || spec.Adapter != "json_schema" {
		t.Fatalf("spec of local with 2 servers: %+v", spec)
	}
	st := r.Local()
	if len(st) != 2 || st[0].PID == st[1].PID || st[0].BaseURL == st[1].BaseURL {
		t.Fatalf("servers: %+v", st)
	}
	for i, s := range st {
		if s.State != bridge.StateReady || s.PID == 0 || spec.Endpoints[i].APIBase != s.BaseURL {
			t.Errorf("server %d: %+v, endpoint %+v", i+1, s, spec.Endpoints[i])
		}
	}
	threads := fmt.Sprintf("(%d threads, context", max(1, runtime.NumCPU()/2))
	if n := strings.Count(log.String(), threads); n != 2 {
		t.Errorf("%d servers started with %s, want 2:\n%s", n, threads, log)
	}

	mine, err := r.Spec(t.Context(), "mine")
	if err != nil {
		t.Fatal(err)
	}
	if mine.Pool != "mine" || mine.Cooldown != 5*time.Second || len(mine.Endpoints) != 2 || mine.Endpoints[1] != spec.Endpoints[1] {
		t.Fatalf("spec of mine: %+v", mine)
	}
	if again := r.Local(); again[0].PID != st[0].PID || again[1].PID != st[1].PID {
		t.Fatalf("a second profile of the local model started other servers: %+v, then %+v", st, again)
	}

	if err := syscall.Kill(st[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	after := awaitLocals(t, r, "server 1 restarted", func(s []bridge.LocalLMStatus) bool {
		return s[0].State == bridge.StateReady && s[0].PID != st[0].PID && s[0].PID != 0
	})
	if after[0].Restarts != 1 || after[1].PID != st[1].PID || after[1].Restarts != 0 || after[1].State != bridge.StateReady {
		t.Errorf("after server 1 was killed: %+v", after)
	}
	r.Close()
	for _, pid := range []int{after[0].PID, after[1].PID} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("server pid %d outlived Close: %v", pid, err)
		}
	}
}

// TestOneLocalServerIsTheSpecOfBefore: by default one server, and the
// local profile's spec is one api_base, no pool, as before servers:.
func TestOneLocalServerIsTheSpecOfBefore(t *testing.T) {
	r, _ := localLMs(t, "profiles:\n  mine: {model: signet/local, cooldown: 5s}\n")
	spec, err := r.Spec(t.Context(), "mine")
	if err != nil {
		t.Fatal(err)
	}
	st := r.Local()
	if len(st) != 1 || spec.APIBase != st[0].BaseURL || spec.Endpoints != nil || spec.Pool != "" || spec.Cooldown != 0 {
		t.Fatalf("spec of one server: %+v; servers %+v", spec, st)
	}
}
