package bridge

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// These tests run the real zygote and workers (real DSPy, the test LM).

// ppid is pid's parent from /proc/<pid>/stat.
func ppid(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...: comm may hold spaces, so count from its end.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// awaitZygote waits for a ready zygote other than old (0: any) and returns it.
func awaitZygote(t testing.TB, p *Pool, old int) *zygote {
	t.Helper()
	var z *zygote
	awaitStatus(t, "a ready zygote", &p.mu, &p.changed, p.zygote, func(got *zygote) bool {
		z = got
		return got != nil && got.pid != old
	})
	return z
}

// assertForked fails unless every worker of p is a child of z.
func assertForked(t testing.TB, p *Pool, z *zygote) {
	t.Helper()
	for _, st := range p.Status() {
		if got := ppid(t, st.PID); got != z.pid {
			t.Fatalf("worker %d (pid %d) has parent %d, not the zygote %d", st.ID, st.PID, got, z.pid)
		}
	}
}

func TestZygoteForksThePool(t *testing.T) {
	p, log := startPool(t, realConfig(t, 2))
	z := awaitZygote(t, p, 0)
	assertForked(t, p, z)
	if ppid(t, z.pid) != os.Getpid() {
		t.Fatalf("the zygote's parent is %d, not us", ppid(t, z.pid))
	}
	contains(t, log.String(), "forked from the zygote (pid "+strconv.Itoa(z.pid)+")")
	if st, ok := p.ZygoteStatus(); !ok || st.State != StateReady || st.PID != z.pid {
		t.Fatalf("zygote status %+v (%v), want ready with pid %d", st, ok, z.pid)
	}
	for i := range 4 {
		res, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(i), LM: testLM(nil)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outputs["answer"] == "" {
			t.Fatalf("no answer: %+v", res)
		}
	}
	// The zygote holds no file the children could share (DSPy's cache opens after the fork).
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(z.pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(z.pid) + "/fd/" + e.Name())
		if strings.HasPrefix(target, "/") && target != os.DevNull {
			t.Fatalf("the zygote holds fd %s -> %s", e.Name(), target)
		}
	}
}

func TestZygoteRefork(t *testing.T) {
	p, _ := startPool(t, realConfig(t, 2))
	z := awaitZygote(t, p, 0)
	old := p.Status()[0].PID
	syscall.Kill(old, syscall.SIGKILL)
	st := slotReady(t, p, 1, old)
	contains(t, st.LastError, "signal: killed")
	if st.Restarts != 1 {
		t.Fatalf("restarts %d", st.Restarts)
	}
	assertForked(t, p, z)
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1), LM: testLM(nil)}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestZygoteDeath: the pool serves on without its zygote, a new one starts,
// and restarts fork from it; a worker orphaned by the old one is still
// followed to its end (its status lost with the zygote that reaped it).
func TestZygoteDeath(t *testing.T) {
	p, log := startPool(t, realConfig(t, 2))
	z := awaitZygote(t, p, 0)
	syscall.Kill(z.pid, syscall.SIGKILL)
	z2 := awaitZygote(t, p, z.pid)
	if st, _ := p.ZygoteStatus(); st.PID != z2.pid || st.Restarts != 1 || !strings.Contains(st.LastError, "killed") {
		t.Fatalf("zygote status after its death: %+v (the new one: pid %d)", st, z2.pid)
	}
	for i := range 4 {
		if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(i), LM: testLM(nil)}, nil); err != nil {
			t.Fatalf("%v\nlog:\n%s", err, log)
		}
	}
	orphan := p.Status()[0].PID
	syscall.Kill(orphan, syscall.SIGKILL)
	st := slotReady(t, p, 1, orphan)
	contains(t, st.LastError, "exit status unknown")
	if got := ppid(t, st.PID); got != z2.pid {
		t.Fatalf("the restarted worker's parent is %d, not the new zygote %d", got, z2.pid)
	}
	contains(t, log.String(), "zygote pid "+strconv.Itoa(z.pid)+": exited: signal: killed; workers start the plain way")
}

func TestZygoteOff(t *testing.T) {
	t.Setenv(zygoteEnv, "0")
	p, log := startPool(t, realConfig(t, 2))
	if p.zygote() != nil {
		t.Fatal("a zygote runs with SIGNET_ZYGOTE=0")
	}
	if st, ok := p.ZygoteStatus(); ok {
		t.Fatalf("a zygote status with SIGNET_ZYGOTE=0: %+v", st)
	}
	for _, st := range p.Status() {
		if got := ppid(t, st.PID); got != os.Getpid() {
			t.Fatalf("worker %d's parent is %d, not us", st.ID, got)
		}
	}
	contains(t, log.String(), "started ")
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1), LM: testLM(nil)}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestZygoteReseeds: forked workers draw different random numbers (the
// zygote's generator state was copied to each).
func TestZygoteReseeds(t *testing.T) {
	dir := t.TempDir()
	src := `import os, random
import dspy

class Draw(dspy.Module):
    def forward(self, question):
        return dspy.Prediction(answer=f"{os.getpid()} {random.getrandbits(64)}")
`
	if err := os.WriteFile(filepath.Join(dir, "draw.py"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	prog := &model.Program{Name: "draw", BaseDir: dir, Modules: []model.Module{{Name: "draw", Type: model.Custom, Source: "draw.py:Draw"}}}
	p, _ := startPool(t, realConfig(t, 2))
	awaitZygote(t, p, 0)
	first := map[string]string{} // pid -> its first draw
	for i := 0; len(first) < 2 && i < 50; i++ {
		res, err := p.Execute(context.Background(), ExecuteRequest{Program: prog, Inputs: question(i), LM: testLM(nil)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pid, draw, _ := strings.Cut(res.Outputs["answer"].(string), " ")
		if _, ok := first[pid]; !ok {
			first[pid] = draw
		}
	}
	if len(first) != 2 {
		t.Fatalf("50 calls reached %d workers", len(first))
	}
	var draws []string
	for _, d := range first {
		draws = append(draws, d)
	}
	if draws[0] == draws[1] {
		t.Fatalf("both workers drew %s first", draws[0])
	}
}

// TestZygotePreloadsLiteLLM: with PreloadLiteLLM the zygote imports
// LiteLLM before forking (it says so in its ready message); without, not.
func TestZygotePreloadsLiteLLM(t *testing.T) {
	cfg := realConfig(t, 1)
	cfg.PreloadLiteLLM = true
	p, log := startPool(t, cfg)
	z := awaitZygote(t, p, 0)
	contains(t, log.String(), "zygote pid "+strconv.Itoa(z.pid)+": ready in ")
	contains(t, log.String(), "(LiteLLM preloaded)")
	if _, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram, Inputs: question(1), LM: testLM(nil)}, nil); err != nil {
		t.Fatal(err)
	}
	_, plainLog := startPool(t, realConfig(t, 1))
	if strings.Contains(plainLog.String(), "LiteLLM preloaded") {
		t.Fatalf("LiteLLM preloaded unasked:\n%s", plainLog)
	}
}
