package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
	"github.com/signet-dspy/signet/tui"
)

// tuiBenchExecutions is the size of the workspace of BenchmarkTUIFirstFrame1M.
const tuiBenchExecutions = 1_000_000

// tuiBenchWorkspace is a workspace holding tuiBenchExecutions executions,
// built once and kept under os.TempDir so that later runs reuse it (a
// minute or two to build).
func tuiBenchWorkspace(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("signet-tui-bench-schema%d-%d", store.SchemaVersion, tuiBenchExecutions))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	start := time.Now()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(dir, owner.DBDir)})
	if err != nil {
		b.Fatal(err)
	}
	progs := []string{"qa", "rag-support", "summarize", "classify_intent"}
	t0 := time.Now().Add(-90 * 24 * time.Hour)
	step := 90 * 24 * time.Hour / tuiBenchExecutions
	batch := make([]*model.Execution, 0, store.MaxExecutionBatch)
	flush := func() {
		if err := st.CreateExecutions(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range tuiBenchExecutions {
		at := t0.Add(time.Duration(i) * step)
		x := &model.Execution{ID: model.NewIDAt(at), Program: progs[i%len(progs)], Version: 1, LM: "test", State: model.Pending, CreatedAt: at,
			Inputs: map[string]any{"question": fmt.Sprintf("What is item %d?", i)}}
		x.Move(model.Running, at)
		x.Move(model.Completed, at.Add(40*time.Millisecond))
		x.Outputs = map[string]any{"answer": fmt.Sprint(i)}
		x.Usage = map[string]model.Usage{"signet/test": {Calls: 1, PromptTokens: 113, CompletionTokens: 11}}
		batch = append(batch, x)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Logf("built the %d-execution workspace in %s (%s)", tuiBenchExecutions, dir, time.Since(start).Round(time.Second))
	return dir
}

// BenchmarkTUIFirstFrame1M is the time to the first frame of the
// Executions page with a million executions in the store: from tui.New,
// through Init and the first page of executions fetched from the owner's
// API (this process owns the workspace and serves the socket, as the
// workbench does), to the View that shows it. Commands run as tea.Program
// runs them, each in its own goroutine. Target: under 200 ms. owner-open-ms
// is what becoming the owner (opening the 1M-execution store) took before.
func BenchmarkTUIFirstFrame1M(b *testing.B) {
	ws := tuiBenchWorkspace(b)
	ctx := context.Background()
	t0 := time.Now()
	o, err := owner.Open(ctx, owner.Options{Dir: ws, Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(t0)
	defer o.Close(ctx, true)
	var frames []time.Duration
	for b.Loop() {
		frames = append(frames, firstFrame(b, o.Info().Socket))
	}
	slices.Sort(frames)
	b.ReportMetric(float64(frames[len(frames)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(frames[len(frames)-1].Microseconds())/1000, "max-ms")
	// Once per run: opening the store and serving the socket, which the
	// workbench does before New when it is the first process on the workspace.
	b.ReportMetric(float64(open.Microseconds())/1000, "owner-open-ms")
}

func firstFrame(b *testing.B, sock string) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps := tui.Services(api.NewClient(sock))
	start := time.Now()
	m := tui.New(deps, tui.Options{Workspace: "bench", Context: ctx})
	msgs := make(chan tea.Msg, 64)
	var runCmd func(tea.Cmd)
	runCmd = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if batch, ok := msg.(tea.BatchMsg); ok {
				for _, c := range batch {
					runCmd(c)
				}
				return
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
			}
		}()
	}
	var model tea.Model = m
	step := func(msg tea.Msg) {
		var c tea.Cmd
		model, c = model.Update(msg)
		runCmd(c)
	}
	step(tea.WindowSizeMsg{Width: 200, Height: 60})
	runCmd(model.(tui.Model).Init())
	step(tea.KeyPressMsg{Code: '3', Text: "3"}) // the Executions page
	deadline := time.After(30 * time.Second)
	for {
		if v := model.View(); strings.Contains(v.Content, fmt.Sprintf("of %d", 100)) {
			return time.Since(start)
		}
		select {
		case msg := <-msgs:
			if msg != nil {
				step(msg)
			}
		case <-deadline:
			b.Fatalf("no first page after 30s:\n%s", model.View().Content)
		}
	}
}
