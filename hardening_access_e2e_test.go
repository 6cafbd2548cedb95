package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Issue 16, items 2 and 6: who may stand in for the owner, and the races
// between owners that come and go.

// TestHardenConcurrentDemoLoadsOnce: demos and inits started at once on a
// fresh workspace all succeed and load one set of demo programs and
// datasets between them.
func TestHardenConcurrentDemoLoadsOnce(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	env := []string{"SIGNET_HOME=" + ws}
	const n = 10
	bin := signetBinary(t)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := "demo"
		if i%3 == 2 {
			cmd = "init"
		}
		wg.Go(func() { results[i] = runAsync(bin, env, cmd) })
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.code != 0 {
			t.Errorf("demo %d: exit %d %v\n%s\n%s", i, r.code, r.err, r.out, r.errOut)
		}
	}

	// What one demo alone loads, in a workspace of its own.
	alone := []string{"SIGNET_HOME=" + filepath.Join(t.TempDir(), "alone")}
	mustRun(t, alone, "demo")
	if got, want := demoContents(t, env), demoContents(t, alone); got != want {
		t.Errorf("after %d concurrent demos:\n%s\nafter one demo:\n%s", n, got, want)
	}
}

// demoContents lists a workspace's programs with their versions and its
// datasets with their example counts.
func demoContents(t *testing.T, env []string) string {
	t.Helper()
	var progs []struct {
		Name    string
		Version int
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "program", "list", "--json")), &progs); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range progs {
		versions := mustRun(t, env, "program", "versions", p.Name)
		fmt.Fprintf(&b, "program %s v%d (%d history lines)\n", p.Name, p.Version, strings.Count(versions, "\n"))
	}
	var sets []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, env, "dataset", "list", "--json")), &sets); err != nil {
		t.Fatal(err)
	}
	for _, d := range sets {
		delete(d, "created_at")
		delete(d, "updated_at")
		line, _ := json.Marshal(d)
		fmt.Fprintf(&b, "dataset %s\n", line)
	}
	return b.String()
}

// TestHardenClientsWhileOwnersComeAndGo: 100 clients, each of which owns
// the workspace for the moment it runs when nobody else does, so owners
// start and hand over all the time: none fails.
func TestHardenClientsWhileOwnersComeAndGo(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	env := []string{"SIGNET_HOME=" + ws}
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	const n = 100
	bin := signetBinary(t)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = runAsync(bin, env, "program", "list") })
	}
	wg.Wait()
	failed := 0
	for i, r := range results {
		if r.err != nil || r.code != 0 || !strings.Contains(r.out, "qa") {
			failed++
			t.Errorf("client %d: exit %d %v\n%s\n%s", i, r.code, r.err, r.out, r.errOut)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d clients failed", failed, n)
	}
	if _, err := os.Lstat(filepath.Join(ws, "signet.sock")); !os.IsNotExist(err) {
		t.Errorf("a socket is left after every owner stopped: %v", err)
	}
}
