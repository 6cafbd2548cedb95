package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// TestBinaryTraffic is the A/B check with the real binary serving
// real workers on the test LM: `signet program traffic qa v1=90 v2=10`,
// then 2,000 executions that name no version, each with its own key, at
// concurrency 64 through the owner's socket: about 90% land on v1 (±3
// points), each records the version that served it, a key keeps its
// version; feedback through `signet exec feedback`; the report compares
// the arms; --clear ends the split.
func TestBinaryTraffic(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// No execution cache: every run is the version's own LM call.
	if err := os.WriteFile(cfg, []byte("lm: test\ncache: \"off\"\nworkers: 2\nthreads: 16\nconcurrency: 64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "ws")
	env := append(pythonEnv(t), "SIGNET_HOME="+ws, "SIGNET_CONFIG="+cfg)
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")
	mustRun(t, env, "program", "status", "qa", "testing") // v2: the same program, another version

	if out := mustRun(t, env, "program", "traffic", "qa"); !strings.Contains(out, "qa has no traffic split") {
		t.Fatalf("traffic before a split: %q", out)
	}
	for _, bad := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"v1=90", "v3=10"}, 1, "v3: no such version (the newest is v2)"},
		{[]string{"v1=90", "v2=20"}, 1, "the percentages sum to 110, not 100"},
		{[]string{"v1=90", "v2"}, 2, `arm "v2": want VERSION=PERCENT`},
		{[]string{"v1=100", "--clear"}, 2, "--clear takes no arms"},
	} {
		_, errOut, code := run(t, env, append([]string{"program", "traffic", "qa"}, bad.args...)...)
		if code != bad.code || !strings.Contains(errOut, bad.want) {
			t.Fatalf("traffic %v: exit %d, %q; want exit %d saying %q", bad.args, code, errOut, bad.code, bad.want)
		}
	}
	if out := mustRun(t, env, "program", "traffic", "qa", "v1=90", "v2=10"); !strings.Contains(out, "qa: runs without a version now split v1=90 v2=10") {
		t.Fatalf("traffic set: %q", out)
	}
	if out := mustRun(t, env, "program", "traffic", "qa"); !strings.Contains(out, "qa: v1=90 v2=10 (set just now by local)") {
		t.Fatalf("traffic show: %q", out)
	}
	// One run through the CLI with a key says which version the split chose.
	out := mustRun(t, env, "run", "qa", "--key", "customer-1", "--input", "question=What is the capital of France?")
	if !strings.Contains(out, "was the traffic split's pick") {
		t.Fatalf("run --key: %q", out)
	}

	serveForeground(t, env)
	// The same commands as a client of the serving owner: its answers and
	// its errors, through the socket.
	if out := mustRun(t, env, "program", "traffic", "qa"); !strings.Contains(out, "qa: v1=90 v2=10") {
		t.Fatalf("traffic show through the owner: %q", out)
	}
	if _, errOut, code := run(t, env, "program", "traffic", "qa", "v1=90", "v2=20"); code != 1 || !strings.Contains(errOut, "the percentages sum to 110, not 100") {
		t.Fatalf("a bad split through the owner: exit %d, %q", code, errOut)
	}
	cl := api.NewClient(api.SocketPath(ws))
	ctx := context.Background()
	const n, concurrency = 2000, 64
	xs := make([]*model.Execution, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				xs[i], errs[i] = cl.Run(ctx, app.RunRequest{Program: "qa", Key: fmt.Sprint("customer-", i),
					Inputs: map[string]any{"question": fmt.Sprintf("Case %d: where is Peru?", i)}, Wait: true})
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d executions at concurrency %d in %s", n, concurrency, time.Since(start).Round(time.Millisecond))
	served := map[int]int{}
	for i, x := range xs {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		if !x.Routed || x.State != model.Completed || x.CacheHit {
			t.Fatalf("run %d: v%d routed=%v %s cache_hit=%v", i, x.Version, x.Routed, x.State, x.CacheHit)
		}
		stored, err := cl.Execution(ctx, x.ID)
		if err != nil || stored.Version != x.Version || !stored.Routed {
			t.Fatalf("run %d as stored: %+v, %v", i, stored, err)
		}
		served[x.Version]++
	}
	if share := 100 * float64(served[1]) / n; share < 87 || share > 93 || served[1]+served[2] != n {
		t.Fatalf("v1 served %.1f%% of %d runs (%v), want 90 ± 3", share, n, served)
	}
	// A key keeps its version while the split stays the same.
	for _, i := range []int{0, 1, 2, 3, 4, 1999} {
		again, err := cl.Run(ctx, app.RunRequest{Program: "qa", Key: fmt.Sprint("customer-", i),
			Inputs: map[string]any{"question": "Once more: where is Chile?"}, Wait: true})
		if err != nil || again.Version != xs[i].Version {
			t.Fatalf("key customer-%d ran v%d, then v%d (%v)", i, xs[i].Version, again.Version, err)
		}
	}

	// Feedback through the CLI (a client of the serving owner).
	out = mustRun(t, env, "exec", "feedback", xs[0].ID.String(), "0.75", "--note", "good")
	if !strings.Contains(out, fmt.Sprintf("execution %s (qa v%d): feedback 0.75", xs[0].ID, xs[0].Version)) {
		t.Fatalf("feedback: %q", out)
	}
	if show := mustRun(t, env, "exec", "show", xs[0].ID.String()); !strings.Contains(show, "routed    by the program's traffic split") ||
		!strings.Contains(show, "feedback  0.75 by local at ") || !strings.Contains(show, ": good") {
		t.Fatalf("exec show lacks the routing or the feedback:\n%s", show)
	}
	if _, errOut, code := run(t, env, "exec", "feedback", xs[0].ID.String(), "high"); code != 2 || !strings.Contains(errOut, `score "high": want a number`) {
		t.Fatalf("feedback with a word: exit %d, %q", code, errOut)
	}
	for i, x := range xs[1:40] {
		s := 0.5 + 0.01*float64(i%5)
		if _, err := cl.Feedback(ctx, x.ID, app.FeedbackRequest{Score: &s}); err != nil {
			t.Fatal(err)
		}
	}
	if trail := mustRun(t, env, "audit", "--limit", "50"); !strings.Contains(trail, "execution.feedback") || !strings.Contains(trail, "program.traffic") {
		t.Fatalf("audit lacks the feedback or the split:\n%s", trail)
	}

	out = mustRun(t, env, "program", "traffic", "qa", "--report")
	for _, want := range []string{"qa: split v1=90 v2=10", "ARM", "SCORE (95% CI)", "v1", "v2", "v2 vs v1 on score", "v2 vs v1 on latency"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}
	var rep model.TrafficReport
	if err := json.Unmarshal([]byte(mustRun(t, env, "program", "traffic", "qa", "--report", "--json", "--since", "1h")), &rep); err != nil {
		t.Fatal(err)
	}
	// The 2,000, the 6 of the kept keys and the CLI's run.
	if len(rep.Arms) != 2 || rep.Arms[0].N+rep.Arms[1].N != n+7 || rep.Arms[0].Score.N+rep.Arms[1].Score.N != 40 || rep.Arms[0].Version != 1 {
		t.Fatalf("report --json: %+v", rep.Arms)
	}
	if out := mustRun(t, env, "program", "traffic", "qa", "--clear"); !strings.Contains(out, "qa: traffic split cleared") {
		t.Fatalf("clear: %q", out)
	}
	x, err := cl.Run(ctx, app.RunRequest{Program: "qa", Key: "customer-0", Inputs: map[string]any{"question": "Where is Chile?"}, Wait: true})
	if err != nil || x.Routed || x.Version != 2 {
		t.Fatalf("a run once cleared: %+v, %v", x, err)
	}
}

// TestTUIBinaryTraffic: with the workbench open (the workspace's owner),
// the CLI splits qa's traffic and runs it; T on qa shows the split and the
// report; a split changed from the CLI shows at once; the history shows
// each version's share.
func TestTUIBinaryTraffic(t *testing.T) {
	requireTmux(t)
	env, _ := tuiWorkspace(t, "")
	env = append(pythonEnv(t), env...)
	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("Programs", "facts", "qa", "rag", "sentiment", "1–4 of 4")

	mustRun(t, env, "program", "status", "qa", "production")
	mustRun(t, env, "program", "status", "qa", "testing") // a version more, at least v2
	mustRun(t, env, "program", "traffic", "qa", "v1=90", "v2=10")
	for _, key := range []string{"ann", "bob"} {
		out := mustRun(t, env, "run", "qa", "--lm", "test", "--key", key, "--input", "question=What is the capital of France?")
		_, after, _ := strings.Cut(out, "(execution ")
		id, _, ok := strings.Cut(after, ")")
		if !ok || !strings.Contains(out, "was the traffic split's pick") {
			t.Fatalf("run --key %s:\n%s", key, out)
		}
		mustRun(t, env, "exec", "feedback", id, "1")
	}

	term.keys("g", "j") // facts, then qa
	term.keys("T")
	s := term.waitText("qa  traffic", "Split", "by local", "90%", "10%", "Report", "ARM", "SCORE (95% CI)", "v2 vs v1 on score")
	if !strings.Contains(s, "1.000") {
		t.Errorf("the report lacks the feedback's mean score 1.000:\n%s", s)
	}
	mustRun(t, env, "program", "traffic", "qa", "v1=50", "v2=50")
	term.waitFor(tuiDeadline, "the new split", func(s string) bool {
		return strings.Count(s, "50%") >= 2 && !strings.Contains(s, "90%")
	})
	term.keys("Escape")
	term.waitFor(tuiDeadline, "the list after esc", func(s string) bool {
		return strings.Contains(s, "NAME") && !strings.Contains(s, "qa  traffic")
	})
	term.keys("v")
	term.waitText("qa  history", "traffic v1=50 v2=50", "TRAFFIC")
	term.keys("q")
	term.waitExit()
}

// TestBinaryServeHTTPTraffic is the A/B check over HTTP with
// bearer tokens: only an admin sets a split (403 naming the rule for an
// ml_user, who may read it); an ml_user's runs of the production program
// that name no version follow the split key by key (each lands on its
// bucket's arm, both versions serve) and are charged; feedback is the
// run's own user's; the report answers any user.
func TestBinaryServeHTTPTraffic(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(pricedConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(pythonEnv(t), "SIGNET_HOME="+t.TempDir(), "SIGNET_CONFIG="+cfg)
	mustRun(t, env, "demo")
	mustRun(t, env, "program", "status", "qa", "production") // v2; v1 stays a draft
	mustRun(t, env, "user", "add", "ada", "--role", "admin")
	mustRun(t, env, "user", "add", "ann", "--role", "ml_user", "--credits", "1")
	admin, ann := tokenFor(t, env, "ada"), tokenFor(t, env, "ann")
	c := &httpClient{t: t, base: serveHTTP(t, env, "--http", "127.0.0.1:0"), hc: http.DefaultClient}

	split := map[string]any{"arms": []map[string]any{{"version": 1, "percent": 90}, {"version": 2, "percent": 10}}}
	if code, body := c.do("PUT", "/v1/programs/qa/traffic", ann, split, nil); code != 403 || !strings.Contains(string(body), "write: admin") {
		t.Fatalf("ann sets a split: %d %s", code, body)
	}
	if code, body := c.do("GET", "/v1/programs/qa/traffic", ann, nil, nil); code != 404 || errCode(body) != "not_found" {
		t.Fatalf("ann reads the split before there is one: %d %s", code, body)
	}
	var sp model.TrafficSplit
	if code, body := c.do("PUT", "/v1/programs/qa/traffic", admin, split, &sp); code != 200 || sp.SetBy != "ada" || sp.String() != "v1=90 v2=10" {
		t.Fatalf("ada sets a split: %d %s", code, body)
	}
	if code, body := c.do("GET", "/v1/programs/qa/traffic", ann, nil, &sp); code != 200 || sp.String() != "v1=90 v2=10" {
		t.Fatalf("ann reads the split: %d %s", code, body)
	}

	const n = 200
	served := map[int]int{}
	var xs []model.Execution
	for i := range n {
		key := fmt.Sprint("user-", i)
		var x model.Execution
		code, body := c.do("POST", "/v1/executions", ann, map[string]any{"program": "qa", "key": key, "wait": true,
			"inputs": map[string]any{"question": fmt.Sprintf("Case %d: where is Peru?", i)}}, &x)
		if code != 200 || x.State != model.Completed || !x.Routed || x.User != "ann" || x.Cost <= 0 {
			t.Fatalf("ann's run %d: %d %s", i, code, body)
		}
		if want := sp.Route(model.Bucket("qa", key)).Version; x.Version != want {
			t.Fatalf("key %s ran v%d, its bucket is v%d's", key, x.Version, want)
		}
		served[x.Version]++
		xs = append(xs, x)
	}
	if served[1] == 0 || served[2] == 0 {
		t.Fatalf("versions served: %v", served)
	}

	var ada model.Execution
	if code, body := c.do("POST", "/v1/executions", admin, map[string]any{"program": "qa", "wait": true,
		"inputs": map[string]any{"question": "Where is Chile?"}}, &ada); code != 200 || !ada.Routed {
		t.Fatalf("ada runs: %d %s", code, body)
	}
	served[ada.Version]++ // the report counts every routed run, whoever ran it
	if code, body := c.do("POST", "/v1/executions/"+ada.ID.String()+"/feedback", ann, map[string]any{"score": 1}, nil); code != 403 ||
		!strings.Contains(string(body), "feedback: admins, or the user who created the execution") {
		t.Fatalf("ann rates ada's run: %d %s", code, body)
	}
	for i, x := range xs[:20] {
		var got model.Execution
		if code, body := c.do("POST", "/v1/executions/"+x.ID.String()+"/feedback", ann, map[string]any{"score": 0.5 + 0.01*float64(i)}, &got); code != 200 ||
			got.Feedback == nil || got.Feedback.By != "ann" {
			t.Fatalf("ann rates her run: %d %s", code, body)
		}
	}
	var rep model.TrafficReport
	if code, body := c.do("GET", "/v1/programs/qa/traffic/report?since=1h", ann, nil, &rep); code != 200 || len(rep.Arms) != 2 ||
		rep.Arms[0].N != served[1] || rep.Arms[1].N != served[2] || rep.Arms[0].Score.N+rep.Arms[1].Score.N != 20 {
		t.Fatalf("ann reads the report: %d %s", code, body)
	}
	if code, body := c.do("GET", "/v1/programs/qa/traffic/report?since=soon", ann, nil, nil); code != 400 || errCode(body) != "invalid" {
		t.Fatalf("a report since no duration: %d %s", code, body)
	}
}
