package main

import (
	"context"
	"fmt"
	"os/exec"
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
	"github.com/signet-dspy/signet/store"
)

// timedRun runs the binary and times only the process, start to exit.
func timedRun(b *testing.B, env []string, home string, args ...string) (string, time.Duration) {
	b.Helper()
	cmd := exec.Command(signetBinary(b), args...)
	cmd.Env = append(testEnv(home), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		b.Fatalf("signet %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), d
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// seedExecutions writes n completed executions of qa straight into the
// store, as many runs would have left them.
func seedExecutions(b *testing.B, ws string, n int) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(ws, "db")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var xs []*model.Execution
	now := time.Now().Add(-time.Hour)
	for i := range n {
		at := now.Add(time.Duration(i) * time.Millisecond)
		x := &model.Execution{ID: model.NewIDAt(at), Program: "qa", Version: 1, LM: "slow", State: model.Pending, CreatedAt: at,
			Inputs: map[string]any{"question": fmt.Sprintf("What is item %d?", i)}}
		x.Move(model.Running, at)
		x.Move(model.Completed, at.Add(100*time.Millisecond))
		x.Outputs = map[string]any{"answer": fmt.Sprint(i)}
		x.Usage = map[string]model.Usage{"signet/test": {Calls: 1, PromptTokens: 113, CompletionTokens: 11}}
		xs = append(xs, x)
	}
	for c := range slices.Chunk(xs, store.MaxExecutionBatch) {
		if err := st.CreateExecutions(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecListThroughOwner is `signet exec list --json` (the real
// binary, the newest 50 of 1,000 executions) run as a client of a running
// owner, against the same command with no owner running, which then opens
// the store itself (and serves the socket for its lifetime).
func BenchmarkExecListThroughOwner(b *testing.B) {
	const samples = 40
	env, ws, _ := ownerEnv(b)
	seedExecutions(b, ws, 1000)
	home := b.TempDir()
	for b.Loop() {
		direct := make([]time.Duration, samples)
		var directOut string
		for i := range samples {
			directOut, direct[i] = timedRun(b, env, home, "exec", "list", "--json")
		}
		serve, serveOut := start(b, env, "serve", "--workers", "2")
		waitOwner(b, ws, true)
		owned := make([]time.Duration, samples)
		var ownedOut string
		for i := range samples {
			ownedOut, owned[i] = timedRun(b, env, home, "exec", "list", "--json")
		}
		stopServe(b, serve, serveOut, ws)
		if ownedOut != directOut || strings.Count(ownedOut, `"id"`) != 50 {
			b.Fatalf("outputs differ or are not 50 rows:\n%.300s\n%.300s", directOut, ownedOut)
		}
		d, o := median(direct), median(owned)
		b.ReportMetric(float64(d.Microseconds())/1000, "direct-ms")
		b.ReportMetric(float64(o.Microseconds())/1000, "via-owner-ms")
		b.ReportMetric(float64(o)/float64(d), "owner/direct")
	}
}

// submitAll posts n executions of qa on the fast profile from 8 goroutines.
func submitAll(b *testing.B, ctx context.Context, cl *api.Client, n, offset int) {
	var wg sync.WaitGroup
	const submitters = 8
	for s := range submitters {
		wg.Go(func() {
			for i := s; i < n; i += submitters {
				q := fmt.Sprintf("What is item %d?", offset+i)
				if _, err := cl.Run(ctx, app.RunRequest{Program: "qa", LM: "fast", Inputs: map[string]any{"question": q}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkEventsStream follows GET /v1/events while the owner runs 2,000
// executions of the qa program on the zero-latency test LM, submitted
// through POST /v1/executions. It reports the events the client received
// per second, and how many of the events the engine published reached it
// (the stream may drop spans for a slow client, never execution events).
// The baseline is the same 2,000 executions with nobody following: its
// executions/s against the followed run's is what streaming costs the owner.
func BenchmarkEventsStream(b *testing.B) {
	const n = 2000
	env, ws, _ := ownerEnv(b)
	serve, serveOut := start(b, env, "serve", "--workers", "2", "--concurrency", "32")
	defer serve.Process.Kill()
	waitOwner(b, ws, true)
	cl := api.NewClient(api.SocketPath(ws))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	for i := 0; b.Loop(); i++ {
		// Baseline: nobody follows; done when the queue is empty.
		t0 := time.Now()
		submitAll(b, ctx, cl, n, 2*i*n)
		for {
			st, err := cl.Status(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.Queue.Depth == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		alone := time.Since(t0)

		var events, spans, execEvents, done atomic.Int64
		finished := make(chan struct{})
		subscribed := make(chan struct{})
		var once sync.Once
		var ids sync.Map
		sctx, stop := context.WithCancel(ctx)
		evs, err := cl.Subscribe(sctx)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for ev := range evs {
				events.Add(1)
				switch ev.Kind {
				case app.EventPool:
					once.Do(func() { close(subscribed) })
				case app.EventSpan:
					spans.Add(1)
				case app.EventExecution:
					execEvents.Add(1)
					if ev.Execution.State.Terminal() {
						ids.Store(ev.Execution.ID, true)
						if done.Add(1) == n {
							close(finished)
						}
					}
				}
			}
		}()
		<-subscribed
		t0 = time.Now()
		submitAll(b, ctx, cl, n, (2*i+1)*n)
		select {
		case <-finished:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d of %d executions ended", done.Load(), n)
		}
		followed := time.Since(t0)
		time.Sleep(200 * time.Millisecond) // the last spans trail the last state change
		stop()
		// The spans stored for a sample of these executions: each was
		// published twice (start, end).
		stored, sampled := 0, 0
		ids.Range(func(k, _ any) bool {
			page, err := cl.Spans(ctx, k.(model.ID), 0, 0)
			if err != nil {
				b.Fatal(err)
			}
			stored += len(page.Spans)
			sampled++
			return sampled < 100
		})
		b.ReportMetric(float64(events.Load())/followed.Seconds(), "events/s")
		b.ReportMetric(float64(n)/followed.Seconds(), "exec/s-followed")
		b.ReportMetric(float64(n)/alone.Seconds(), "exec/s-baseline")
		b.ReportMetric(float64(execEvents.Load())/float64(3*n), "exec-events-delivered")
		b.ReportMetric(float64(spans.Load())/(float64(2*stored)/float64(sampled)*n), "span-events-delivered")
	}
	cancel()
	stopServe(b, serve, serveOut, ws)
}

// BenchmarkIndexBuild measures index builds through the owner (passages
// file, worker, rename, record) over 300 passages with each retriever;
// every build is forced, so each one indexes anew (the embeddings builds
// embed through the workspace's cache, warm after the first build).
func BenchmarkIndexBuild(b *testing.B) {
	py := strings.TrimPrefix(pythonEnv(b)[0], "SIGNET_PYTHON=")
	b.Setenv("SIGNET_CONFIG", filepath.Join(b.TempDir(), "none.yaml"))
	ctx := context.Background()
	o, err := owner.Open(ctx, owner.Options{Dir: b.TempDir(), Create: true, Python: py, Workers: 1, Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close(ctx, true)
	var data strings.Builder
	for i := range 300 {
		fmt.Fprintf(&data, `{"text": "passage %d: the river town number %d keeps a market on day %d and a ferry to island %d"}`+"\n", i, i, i%7, i%13)
	}
	if _, err := o.ImportDataset(ctx, app.ImportDatasetRequest{Name: "corpus", File: "corpus.jsonl", Data: strings.NewReader(data.String())}); err != nil {
		b.Fatal(err)
	}
	for _, r := range []string{model.RetrieverBM25, model.RetrieverEmbeddings} {
		b.Run(r, func(b *testing.B) {
			// Warm: the pool started and the embedder loaded, as in a session.
			if _, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "corpus", Field: "text", Retriever: r, Name: r}); err != nil {
				b.Fatal(err)
			}
			var passages int
			var worker float64
			for b.Loop() {
				res, err := o.BuildIndex(ctx, app.IndexRequest{Dataset: "corpus", Field: "text", Retriever: r, Name: r, Force: true})
				if err != nil {
					b.Fatal(err)
				}
				passages += res.Index.Passages
				worker += res.Index.BuildSeconds
			}
			b.ReportMetric(float64(passages)/b.Elapsed().Seconds(), "passages/s")
			b.ReportMetric(float64(passages)/worker, "worker-passages/s")
		})
	}
}
