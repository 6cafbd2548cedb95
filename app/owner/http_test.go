package owner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// serveHTTP serves o's HTTP face on a free loopback port until the test
// ends, and returns its URL.
func serveHTTP(t *testing.T, o *Owner) string {
	t.Helper()
	hs, err := api.ListenHTTP(o, api.HTTPConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve() }()
	t.Cleanup(func() {
		hs.Shutdown(context.Background())
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return hs.URL()
}

// call sends a JSON request with a bearer token and returns the status
// and the body; out, when not nil, gets a 200's body.
func call(t *testing.T, base, token, method, path string, in, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// Every rule of the policy, allow and deny, through the HTTP face of a
// real owner with a real worker on the test LM.
func TestHTTPPolicies(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, true)
	bg := context.Background()
	createPrograms(t, o, runsQA, &model.Program{Name: "draft", Modules: runsQA.Modules})
	if _, err := o.SetProgramStatus(bg, "qa", model.Production, ""); err != nil {
		t.Fatal(err)
	}
	ann := addUser(t, o, "ann", model.RoleMLUser, 100)
	bob := addUser(t, o, "bob", model.RoleMLUser, 0)
	eve := addUser(t, o, "eve", model.RoleMLEngineer, 0)
	ada := addUser(t, o, "ada", model.RoleAdmin, 0)
	base := serveHTTP(t, o)

	run := func(program string) map[string]any {
		return map[string]any{"program": program, "wait": true, "inputs": map[string]any{"question": "Is Rome old?"}}
	}
	var mine model.Execution
	if code, body := call(t, base, ann, "POST", "/v1/executions", run("qa"), &mine); code != 200 || mine.User != "ann" || mine.State != model.Completed {
		t.Fatalf("ann runs qa: %d %s", code, body)
	}
	x := "/v1/executions/" + mine.ID.String()
	estimate := map[string]any{"program": "qa", "optimizer": "bootstrap", "train": map[string]any{"dataset": "none"},
		"metric": map[string]any{"name": "exact_match"}}

	for _, tt := range []struct {
		name, token, method, path string
		body                      any
		status                    int    // the answer's status
		rule                      string // a refusal's rule, in its message
	}{
		{"read shared: ml_user lists programs", ann, "GET", "/v1/programs", nil, 200, ""},
		{"read shared: ml_engineer reads a program", eve, "GET", "/v1/programs/qa", nil, 200, ""},
		{"read own: ml_user reads her execution", ann, "GET", x, nil, 200, ""},
		{"read own: another ml_user may not", bob, "GET", x, nil, 403, "read: admins, or the user who created the record"},
		{"read own: ml_engineer may not", eve, "GET", x + "/spans", nil, 403, "read: admins, or the user who created the record"},
		{"read: admin reads anyone's", ada, "GET", x, nil, 200, ""},
		{"read own: her user", bob, "GET", "/v1/users/bob", nil, 200, ""},
		{"read own: not another user", bob, "GET", "/v1/users/ann", nil, 403, "read: admins, or the user who created the record"},
		{"read: cost details of programs, admins", ann, "GET", "/v1/program-summaries", nil, 403, "read: admins"},
		{"execute: ml_user, production", ann, "POST", "/v1/executions", run("qa"), 200, ""},
		{"execute: ml_user, not a draft", ann, "POST", "/v1/executions", run("draft"), 403, "only runs programs in production"},
		{"execute: not ml_engineer", eve, "POST", "/v1/executions", run("qa"), 403, "execute: admin or ml_user"},
		{"execute: admin runs a draft", ada, "POST", "/v1/executions", run("draft"), 200, ""},
		{"execute: credits", bob, "POST", "/v1/executions", run("qa"), 402, "payment required"},
		{"compile: ml_engineer", eve, "POST", "/v1/optimizations/estimate", estimate, 404, ""}, // allowed; no dataset "none"
		{"compile: not ml_user", ann, "POST", "/v1/optimizations/estimate", estimate, 403, "compile: admin or ml_engineer"},
		{"compile: evaluations too", ann, "POST", "/v1/evaluations", map[string]any{"program": "qa", "data": map[string]any{"dataset": "none"},
			"metric": map[string]any{"name": "exact_match"}}, 403, "compile: admin or ml_engineer"},
		{"write: code, an unsaved variant to render", eve, "POST", "/v1/render", map[string]any{"program": "qa", "inputs": map[string]any{},
			"variant": map[string]any{"name": "qa", "modules": []any{map[string]any{"name": "m", "type": "custom", "source": "m.py:M"}}}}, 403, "write: admin"},
		{"write: code, a metric from a file", eve, "POST", "/v1/evaluations", map[string]any{"program": "qa", "data": map[string]any{"dataset": "none"},
			"metric": map[string]any{"name": "/etc/metric.py:score"}}, 403, "write: admin"},
		{"cancel: own job", ann, "POST", x + "/cancel", nil, 409, ""}, // allowed; it has ended
		{"cancel: not another's", eve, "POST", x + "/cancel", nil, 403, "cancel: admins, or the user who started the job"},
		{"write: not ml_engineer", eve, "PUT", "/v1/programs/draft/status", map[string]any{"status": "testing"}, 403, "write: admin"},
		{"write: not ml_user", ann, "DELETE", "/v1/programs/draft", nil, 403, "write: admin"},
		{"write: admin", ada, "PUT", "/v1/programs/draft/status", map[string]any{"status": "testing"}, 200, ""},
		{"administer: not ml_engineer", eve, "GET", "/v1/pool", nil, 403, "administer: admin"},
		{"administer: not ml_user", ann, "GET", "/v1/status", nil, 403, "administer: admin"},
		{"administer: admin", ada, "GET", "/v1/pool", nil, 200, ""},
		{"manage: not ml_engineer", eve, "GET", "/v1/users", nil, 403, "manage users and tokens: admin"},
		{"manage: not ml_user", ann, "POST", "/v1/users/ann/credits", map[string]any{"op": "+", "usd": 5}, 403, "manage users and tokens: admin"},
		{"manage: admin", ada, "GET", "/v1/audit", nil, 200, ""},
	} {
		code, body := call(t, base, tt.token, tt.method, tt.path, tt.body, nil)
		if code != tt.status || (tt.rule != "" && !strings.Contains(body, tt.rule)) {
			t.Errorf("%s: %s %s: %d %s; want %d naming %q", tt.name, tt.method, tt.path, code, body, tt.status, tt.rule)
		}
	}

	// A user's lists are its own.
	var page app.ExecutionPage
	if code, body := call(t, base, eve, "GET", "/v1/executions", nil, &page); code != 200 || len(page.Executions) != 0 {
		t.Errorf("eve lists executions: %d %s", code, body)
	}
	if code, body := call(t, base, ann, "GET", "/v1/executions", nil, &page); code != 200 || len(page.Executions) != 2 {
		t.Errorf("ann lists executions: %d %s; want her 2", code, body)
	}
	var cost app.CostReport
	if code, body := call(t, base, ann, "GET", "/v1/cost", nil, &cost); code != 200 || len(cost.Programs) != 1 || cost.Programs[0].Executions != 2 {
		t.Errorf("ann's cost: %d %s; want her 2 executions of qa", code, body)
	}
}

// 32 executions at once over HTTP by one user whose credits cover only a
// few: every answer is 200 or 402, and the credits end at what the 200s
// leave, never below 0.
func TestHTTPCreditsUnderConcurrency(t *testing.T) {
	o := openProductionQA(t)
	bg := context.Background()
	probe, err := o.Run(bg, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "Is Oslo cold?"}, Wait: true})
	if err != nil || probe.Cost <= 0 {
		t.Fatalf("probe: %+v, %v", probe, err)
	}
	const n = 32
	start := 4.5 * probe.Cost
	tok := addUser(t, o, "ann", model.RoleMLUser, start)
	base := serveHTTP(t, o)

	codes := make([]int, n)
	xs := make([]model.Execution, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Distinct questions: none is answered from the cache.
			codes[i], _ = call(t, base, tok, "POST", "/v1/executions", map[string]any{"program": "qa", "lm": "priced", "wait": true,
				"inputs": map[string]any{"question": fmt.Sprintf("Is Oslo cold? %c", 'A'+i)}}, &xs[i])
		})
	}
	wg.Wait()
	var ok, refused int
	var charged float64
	for i, c := range codes {
		switch c {
		case 200:
			ok++
			charged += xs[i].Cost
		case 402:
			refused++
		default:
			t.Fatalf("run %d: status %d", i, c)
		}
	}
	u, err := o.User(bg, "ann")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ran, %d refused (402), charged $%v on $%v", ok, refused, charged, start)
	if ok < 4 || u.Credits < 0 {
		t.Fatalf("%d ran, %d refused, credits $%v of $%v", ok, refused, u.Credits, start)
	}
	// Credits are checked as a run is admitted and debited as it ends:
	// runs admitted together may cost more than is left, and then the
	// debit that does not fit is clamped to 0 (and audited), never below.
	if charged <= start {
		if u.Credits != start-charged {
			t.Fatalf("credits $%v after %d runs charging $%v on $%v, want $%v", u.Credits, ok, charged, start, start-charged)
		}
		return
	}
	if u.Credits != 0 {
		t.Fatalf("credits $%v after %d runs charging $%v on $%v, want 0", u.Credits, ok, charged, start)
	}
	recs, err := o.Audit(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	clamped := 0
	for _, r := range recs {
		if r.Actor == "ann" && r.Outcome == model.OutcomeClamped {
			clamped++
		}
	}
	if clamped == 0 {
		t.Fatalf("runs charging $%v on $%v, and no clamped debit in the audit trail", charged, start)
	}
	// Once the credits are 0, the next run is refused before any LM call.
	if code, body := call(t, base, tok, "POST", "/v1/executions", map[string]any{"program": "qa", "lm": "priced", "wait": true,
		"inputs": map[string]any{"question": "Is Oslo cold at last?"}}, nil); code != 402 {
		t.Fatalf("a run at 0 credits: %d %s", code, body)
	}
}

// GET /v1/events as server-sent events, following one execution: each
// frame is `event: KIND` and `data: JSON` of that kind, and only that
// execution's events come, not those of a run that ends meanwhile.
func TestHTTPEventsFollowOne(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, true)
	bg := context.Background()
	createPrograms(t, o, runsQA)
	ada := addUser(t, o, "ada", model.RoleAdmin, 0)
	base := serveHTTP(t, o)
	slow, err := o.Run(bg, app.RunRequest{Program: "qa", LM: "slow", Inputs: map[string]any{"question": "Is it late?"}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", base+"/v1/events?execution="+slow.ID.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ada)
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %s, %s", resp.Status, ct)
	}
	// Another run starts and ends while the stream follows the slow one.
	if x, err := o.Run(bg, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "Is Rome old?"}, Wait: true}); err != nil || x.State != model.Completed {
		t.Fatalf("another run: %+v, %v", x, err)
	}
	if _, err := o.CancelExecution(bg, slow.ID); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	kind := ""
	for lines.Scan() {
		line := lines.Text()
		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kind = k
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev app.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil || string(ev.Kind) != kind {
			t.Fatalf("frame event %q, data %s (%v)", kind, data, err)
		}
		switch {
		case ev.Kind == app.EventExecution && ev.Execution.ID == slow.ID:
			if ev.Execution.State == model.Cancelled {
				return
			}
		case ev.Kind == app.EventSpan && ev.Span.Execution == slow.ID:
		default:
			t.Fatalf("a stream following %s carries %s", slow.ID, data)
		}
	}
	t.Fatalf("the stream ended before the cancel: %v", lines.Err())
}

// openProductionQA is a real owner with one worker and the program qa in
// production, which an ml_user may run.
func openProductionQA(t *testing.T) *Owner {
	t.Helper()
	o := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, o, runsQA)
	if _, err := o.SetProgramStatus(context.Background(), "qa", model.Production, ""); err != nil {
		t.Fatal(err)
	}
	return o
}
