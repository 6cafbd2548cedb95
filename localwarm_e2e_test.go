package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

// TestServeWarmsLocalLM: with the local model as the default profile, a
// serving owner starts the model's server with its workers, before any run
// asks for it, so the first call does not wait for the model to load; that
// call then uses the same server, and stopping the owner stops it.
func TestServeWarmsLocalLM(t *testing.T) {
	ws := t.TempDir()
	env := append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+filepath.Join(t.TempDir(), "none.yaml"), "SIGNET_NO_WARM=0")
	mustRun(t, env, "demo")
	cmd, out := start(t, env, "serve", "--workers", "1")
	st := waitLocalLM(t, ws, out)
	if st.LocalLM.PID == 0 || st.LocalLM.URL == "" || st.LM != "local" {
		t.Fatalf("warmed local LM: %+v (default profile %q)", st.LocalLM, st.LM)
	}
	warmed := st.LocalLM.PID

	res, errOut, code := run(t, env, "run", "sentiment", "--json", "--input", "review=I love this blender.")
	if code != 0 {
		t.Fatalf("run on the warmed local LM: exit %d\n%s\n%s", code, res, errOut)
	}
	var x struct{ State, LM string }
	if err := json.Unmarshal([]byte(res), &x); err != nil || x.State != "completed" || x.LM != "local" {
		t.Fatalf("run: %v %+v\n%s", err, x, res)
	}
	after, err := api.NewClient(api.SocketPath(ws)).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.LocalLM == nil || after.LocalLM.PID != warmed || after.LocalLM.Restarts != 0 {
		t.Fatalf("the run did not use the warmed server (pid %d): %+v", warmed, after.LocalLM)
	}
	stopServe(t, cmd, out, ws)
	if err := syscall.Kill(warmed, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the local LM server (pid %d) outlived its owner: %v", warmed, err)
	}
}

// waitLocalLM waits on the owner's event stream until its local LM server
// is ready (a pool event carries its state as it changes).
func waitLocalLM(t *testing.T, ws string, out interface{ String() string }) *app.Status {
	t.Helper()
	waitOwner(t, ws, false)
	cl := api.NewClient(api.SocketPath(ws))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a failure's bound
	defer cancel()
	evs, err := cl.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range evs {
		if ev.Kind != app.EventPool || ev.Pool.LocalLM == nil {
			continue
		}
		switch ev.Pool.LocalLM.State {
		case "ready":
			st, err := cl.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return st
		case "failed":
			t.Fatalf("the local LM failed to start: %+v\n%s", ev.Pool.LocalLM, out)
		}
	}
	t.Fatalf("no local LM ready within 2 minutes (%v)\n%s", ctx.Err(), out)
	return nil
}
