// Package testenv is what the tests of several packages share about their
// environment: the worker venv's Python, and a TestMain that keeps the
// embedded worker's copy out of the user's cache and fails a package that
// leaks goroutines; and Fill, a value with every field set. Only tests
// import it.
package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// Python is the worker venv's interpreter. `make test` sets SIGNET_PYTHON;
// without it a test that needs Python skips, unless SIGNET_REQUIRE_PYTHON=1
// makes that a failure (so CI cannot pass by skipping).
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("SIGNET_PYTHON")
	if py == "" {
		if os.Getenv("SIGNET_REQUIRE_PYTHON") == "1" {
			t.Fatal("SIGNET_PYTHON is not set and SIGNET_REQUIRE_PYTHON=1: point it at the worker venv's python (make test does)")
		}
		t.Skip("SIGNET_PYTHON is not set (make test sets it to the worker venv's python); skipping a test that runs Python workers")
	}
	return py
}

// Main runs a package's tests with XDG_CACHE_HOME in a temporary directory
// (removed after) and fails the package if a test leaves a goroutine behind.
// Use it as TestMain: func TestMain(m *testing.M) { testenv.Main(m, "engine") }.
func Main(m *testing.M, pkg string) {
	cache, err := os.MkdirTemp("", "signet-"+pkg+"-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	// The cleanup exits with goleak's code: a leak fails the package.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(cache)
		os.Exit(code)
	}),
		// An owner's handler of SIGHUP and SIGPIPE lives as long as its
		// process, by design (app/owner drainSignals).
		goleak.IgnoreTopFunction("github.com/signet-dspy/signet/app/owner.drainSignals"))
}

// Buffer is a log a test hands to code that writes from several
// goroutines (a pool, an engine), and prints when the test fails.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PSS is pid's proportional set size in bytes, from /proc/<pid>/smaps_rollup
// (Linux): pages shared with other processes count for a share each, so the
// sum over a pool of processes is the memory it really takes.
func PSS(pid int) (int64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/smaps_rollup"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: Pss: %w", path, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no Pss in %s", path)
}
