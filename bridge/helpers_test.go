package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/bridge/wire"
	"github.com/signet-dspy/signet/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, "bridge") }

// syncBuffer is a log sink tests can read while workers write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPool starts a pool that the test closes, and fails the test if
// Close leaves a worker process behind.
func startPool(t testing.TB, cfg Config) (*Pool, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	if cfg.Log == nil {
		cfg.Log = log
	}
	if cfg.Workspace == "" {
		cfg.Workspace = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, log)
	}
	t.Cleanup(func() {
		pids := poolPIDs(p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids {
			// exited, not alive: a worker its dead zygote left to init may
			// still be a zombie, which is no worry.
			if !exited(pid) {
				t.Errorf("worker pid %d is alive after Close", pid)
			}
		}
		if t.Failed() {
			t.Logf("pool log:\n%s", log)
		}
	})
	return p, log
}

func poolPIDs(p *Pool) []int {
	var pids []int
	for _, s := range p.Status() {
		if s.PID != 0 {
			pids = append(pids, s.PID)
		}
	}
	if z := p.zygote(); z != nil {
		pids = append(pids, z.pid) // it too must end with its owner
	}
	return pids
}

// alive says whether a process exists (a zombie would too: we reap ours).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// patience bounds every wait of these tests: past it, what the test waits
// for is taken not to happen (a failure). It never paces a test.
const patience = 60 * time.Second

// await returns once cond holds, checking it again at each change: next
// returns the channel that the next change closes (taken before cond is
// checked, so that no change is missed).
func await(t testing.TB, what string, next func() <-chan struct{}, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		ch := next()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-timeout.C:
			t.Fatalf("waited %s for %s", patience, what)
		}
	}
}

// awaitStatus returns status() once cond holds of it; changed is the
// channel the owner closes at each change, guarded by mu.
func awaitStatus[S any](t testing.TB, what string, mu *sync.Mutex, changed *chan struct{}, status func() S, cond func(S) bool) S {
	t.Helper()
	var st S
	await(t, what, func() <-chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		return *changed
	}, func() bool {
		st = status()
		return cond(st)
	})
	return st
}

// awaitPool returns the pool's status once cond holds of it.
func awaitPool(t testing.TB, p *Pool, what string, cond func([]WorkerStatus) bool) []WorkerStatus {
	t.Helper()
	return awaitStatus(t, what, &p.mu, &p.changed, p.Status, cond)
}

// slotReady waits until worker id runs a process other than oldPID.
func slotReady(t testing.TB, p *Pool, id, oldPID int) WorkerStatus {
	t.Helper()
	return awaitPool(t, p, "the worker to be replaced", func(all []WorkerStatus) bool {
		st := all[id-1]
		return (st.State == StateReady || st.State == StateBusy) && st.PID != 0 && st.PID != oldPID
	})[id-1]
}

// receive returns the next value from ch.
func receive[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	select {
	case v := <-ch:
		return v
	case <-timeout.C:
		t.Fatalf("waited %s for %s", patience, what)
		panic("unreachable")
	}
}

// heldClock holds the supervision's timers until the test fires them:
// After and AfterFunc hand the test their channel or function.
type heldClock struct {
	afters chan chan time.Time
	funcs  chan func()
}

func newHeldClock() *heldClock {
	return &heldClock{afters: make(chan chan time.Time, 16), funcs: make(chan func(), 16)}
}

func (c *heldClock) Now() time.Time { return time.Now() }

func (c *heldClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.afters <- ch
	return ch
}

func (c *heldClock) AfterFunc(_ time.Duration, f func()) { c.funcs <- f }

// fireAfter lets the next After's time come.
func (c *heldClock) fireAfter(t testing.TB) {
	t.Helper()
	receive(t, "a restart backoff to start", c.afters) <- time.Now()
}

// fireFunc runs the next AfterFunc's function, here and now.
func (c *heldClock) fireFunc(t testing.TB) {
	t.Helper()
	receive(t, "a cancel grace to start", c.funcs)()
}

// started returns an event handler for the fake worker's sleep and a
// channel closed when its "started" event has come.
func started() (func(wire.Event), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(e wire.Event) {
		if e.Event == "started" {
			once.Do(func() { close(ch) })
		}
	}, ch
}

// orphanHelper is the environment variable that makes this test binary a
// helper process: its value names the test that the helper runs.
const orphanHelper = "SIGNET_BRIDGE_HELPER"

// noOrphans runs the calling test again as a helper process, in which start
// starts something and returns the pids of the processes it started; it
// kills the helper with SIGKILL (no Close, no deferred cleanup) and returns
// once every one of those processes is gone. The helper runs with env added
// and, unless usePdeathsig, without the parent-death signal, so that only
// the parent-death pipe can tell its children.
func noOrphans(t *testing.T, usePdeathsig bool, start func(t *testing.T) []int, env ...string) {
	if os.Getenv(orphanHelper) == t.Name() {
		if !usePdeathsig {
			withoutParentDeathSignal()
		}
		for _, pid := range start(t) {
			os.Stdout.WriteString(strconv.Itoa(pid) + "\n")
		}
		os.Stdout.WriteString("ready\n")
		select {} // until the test kills this process
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.timeout=0")
	cmd.Env = append(append(os.Environ(), orphanHelper+"="+t.Name()), env...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		pid, err := strconv.Atoi(sc.Text())
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the helper said %q; its stderr:\n%s", sc.Text(), &stderr)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the helper started nothing; its stderr:\n%s", &stderr)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			if !exited(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	cmd.Process.Kill()
	cmd.Wait()
	// An orphan is not our child: wait for its exit through the kernel.
	for _, pid := range pids {
		if err := awaitExit(pid, patience); err != nil {
			t.Fatal(err)
		}
	}
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *bridge.Error", err, err)
	}
	return e
}

func contains(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
