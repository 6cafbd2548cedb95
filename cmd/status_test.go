package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestStatusBeyondThePool: `signet status` says, a line each, the
// endpoints of pooled LM profiles, the NATS queue and the pools serving
// it, idle or running; --json carries them whole.
func TestStatusBeyondThePool(t *testing.T) {
	ps := tuitest.SampleBeyond()
	st := &app.Status{API: "1", PID: 40001, Command: "serve", Workspace: "/ws", Engine: ps.Engine, Pool: ps.Pool,
		LMEndpoints: ps.LMEndpoints, NATS: ps.NATS, Remote: ps.Remote}
	var text bytes.Buffer
	printStatus(&text, st)
	out := text.String()
	for _, want := range []string{
		"endpoint   team http://gpu-a.lan:8000/v1: healthy, 2 in flight, 1,520 calls, 0 errors (0 429s), 912.4k tokens in, 48.2k out, mean 412ms\n",
		"endpoint   team http://gpu-b.lan:8000/v1: ejected, 0 in flight, 301 calls, 17 errors (5 429s), 180.6k tokens in, 9030 out, mean 1.9s (last error: APIConnectionError: connection refused (traceback))\n",
		"nats       nats://10.0.0.2:4222 (embedded, stream SIGNET_JOBS): 3 waiting, ack wait 30s, 1 redelivered\n",
		"pool       local on ada-laptop pid 40001: ready, seen 1s ago, 1/4 running, 3,636 served, the workers below\n",
		"pool       gpu-box on gpu-box.lan pid 7312: ready, seen 2s ago, 1/2 running, 212 served, workers 2/2 ready\n",
		"pool       old-mac on old-mac.lan pid 991: lost, seen 1m35s ago, 0/1 running, 7 served, workers 1/1 ready\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "redelivered\npool       local") || !strings.Contains(out, "workers 1/1 ready\n\nWORKER") {
		t.Errorf("the lines are not between the engine and the worker table:\n%s", out)
	}

	// An owner without workers of its own still says what serves its queue.
	idle := *st
	idle.Engine, idle.Pool, idle.Remote = "idle", nil, st.Remote[1:]
	text.Reset()
	printStatus(&text, &idle)
	if out := text.String(); !strings.Contains(out, "engine     idle (workers start when something runs)\nendpoint   team") ||
		!strings.Contains(out, "pool       old-mac") || strings.Contains(out, "WORKER") {
		t.Errorf("idle status:\n%s", out)
	}

	// Without any of it, status is as it was.
	plain := *st
	plain.LMEndpoints, plain.NATS, plain.Remote = nil, nil, nil
	text.Reset()
	printStatus(&text, &plain)
	if out := text.String(); strings.Contains(out, "endpoint") || strings.Contains(out, "nats") || strings.Contains(out, "pool  ") ||
		!strings.Contains(out, "4 worker(s)\n\nWORKER") {
		t.Errorf("status with nothing beyond the pool:\n%s", out)
	}

	var js bytes.Buffer
	if err := writeJSON(&js, statusJSON{Running: true, Workspace: "/ws", Status: st}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		LMEndpoints []app.LMEndpoint `json:"lm_endpoints"`
		NATS        *app.NATS        `json:"nats"`
		Remote      []app.RemotePool `json:"remote"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.LMEndpoints) != 2 || got.LMEndpoints[1].RateLimited != 5 || got.LMEndpoints[1].State != "ejected" {
		t.Errorf("--json endpoints: %+v", got.LMEndpoints)
	}
	if got.NATS == nil || *got.NATS != *st.NATS {
		t.Errorf("--json nats: %+v", got.NATS)
	}
	if len(got.Remote) != 3 || got.Remote[2].State != "lost" || got.Remote[1].Host != "gpu-box.lan" ||
		len(got.Remote[1].Workers) != 2 || got.Remote[1].Workers[0].Current != "execute #1901" {
		t.Errorf("--json remote pools: %+v", got.Remote)
	}
	for _, key := range []string{`"last_seen_s": 95`, `"ack_wait_s": 30`, `"capacity": 2`, `"rate_limited": 5`} {
		if !strings.Contains(js.String(), key) {
			t.Errorf("--json lacks %s:\n%s", key, js.String())
		}
	}
}
