package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/model"
)

// BenchmarkServeHTTP is requests/s and p50/p99 latency at concurrency 64
// of an execution (a) answered from the execution cache and (b) run on
// the test LM, over the HTTP face with an ml_user's bearer token, next to
// the same through the unix socket (api.Client, the local principal), in
// one run on one owner with two workers. Run with -benchtime=1x: each
// case is one round of a fixed number of requests.
func BenchmarkServeHTTP(b *testing.B) {
	const conc = 64
	py := strings.TrimPrefix(pythonEnv(b)[0], "SIGNET_PYTHON=")
	cfg := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("lm: test\nprofiles:\n  fresh: {model: signet/test, cache: false}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("SIGNET_CONFIG", cfg)
	ctx := context.Background()
	dir := b.TempDir()
	o, err := owner.Open(ctx, owner.Options{Dir: dir, Create: true, Python: py, Workers: 2, Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close(ctx, true)
	if _, err := o.CreateProgram(ctx, &model.Program{Name: "qa", Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}); err != nil {
		b.Fatal(err)
	}
	if _, err := o.SetProgramStatus(ctx, "qa", model.Production, ""); err != nil {
		b.Fatal(err)
	}
	if _, err := o.AddUser(ctx, model.User{Name: "ann", Role: model.RoleMLUser, Credits: 1e9}); err != nil {
		b.Fatal(err)
	}
	tok, err := o.CreateToken(ctx, "ann", "bench")
	if err != nil {
		b.Fatal(err)
	}
	hs, err := api.ListenHTTP(o, api.HTTPConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	go hs.Serve()
	defer hs.Shutdown(ctx)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc}}
	sock := api.NewClient(api.SocketPath(dir))
	if _, err := o.StartPool(ctx); err != nil {
		b.Fatal(err)
	}

	cached := app.RunRequest{Program: "qa", Wait: true, Inputs: map[string]any{"question": "What is the capital of France?"}}
	if _, err := o.Run(ctx, cached); err != nil { // the entry every cached request hits
		b.Fatal(err)
	}
	var seq atomic.Int64
	fresh := func() app.RunRequest { // a question never asked: the LM is called
		return app.RunRequest{Program: "qa", LM: "fresh", NoCache: true, Wait: true,
			Inputs: map[string]any{"question": fmt.Sprintf("What is item %d of Paris?", seq.Add(1))}}
	}
	overHTTP := func(req app.RunRequest) error {
		body, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", hs.URL()+"/v1/executions", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok.Value)
		resp, err := hc.Do(r)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var x model.Execution
		if err := json.NewDecoder(resp.Body).Decode(&x); err != nil || resp.StatusCode != 200 || x.State != model.Completed {
			return fmt.Errorf("HTTP %s: %+v (%v)", resp.Status, x.State, err)
		}
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	overSocket := func(req app.RunRequest) error {
		x, err := sock.Run(ctx, req)
		if err == nil && x.State != model.Completed {
			err = fmt.Errorf("socket: %s", x.State)
		}
		return err
	}
	for _, c := range []struct {
		name string
		n    int
		req  func() app.RunRequest
		send func(app.RunRequest) error
	}{
		{"cached/http", 4000, func() app.RunRequest { return cached }, overHTTP},
		{"cached/socket", 4000, func() app.RunRequest { return cached }, overSocket},
		{"lm/http", 1000, fresh, overHTTP},
		{"lm/socket", 1000, fresh, overSocket},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				lat := make([]time.Duration, c.n)
				var next atomic.Int64
				var wg sync.WaitGroup
				var failed atomic.Pointer[error]
				t0 := time.Now()
				for range conc {
					wg.Go(func() {
						for i := next.Add(1) - 1; i < int64(c.n); i = next.Add(1) - 1 {
							s := time.Now()
							if err := c.send(c.req()); err != nil {
								failed.Store(&err)
								return
							}
							lat[i] = time.Since(s)
						}
					})
				}
				wg.Wait()
				el := time.Since(t0)
				if err := failed.Load(); err != nil {
					b.Fatal(*err)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(c.n)/el.Seconds(), "req/s")
				b.ReportMetric(float64(lat[c.n/2])/float64(time.Millisecond), "p50-ms")
				b.ReportMetric(float64(lat[c.n*99/100])/float64(time.Millisecond), "p99-ms")
			}
		})
	}
}
