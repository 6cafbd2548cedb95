package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
)

// logDir is where a command that needs no workspace logs: the workspace
// if there is one (appending beside its owner is fine), else the user
// cache dir.
func (a *cli) logDir() (string, error) {
	dir, err := a.workspaceDir()
	if err == nil {
		if _, serr := os.Stat(filepath.Join(dir, owner.DBDir)); serr == nil {
			return dir, nil
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a place for the log: %w", err)
	}
	dir = filepath.Join(cache, "signet")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	return dir, nil
}

func (a *cli) runCommand() *cobra.Command {
	var inputs []string
	var example, dataset, split, lmName, labels, timeout, key string
	var version, limit int
	var asJSON, noCache, wait bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "run PROGRAM (--input field=value ... | --example DATASET:N | --dataset DATASET)",
		Short: "Run a program through DSPy as a stored execution; print its outputs and trace",
		Long: "Run a program on one input (--input, or --example DATASET:N), or on every example of a dataset\n" +
			"(--dataset, with a progress bar and a summary). Each run is an execution kept in the workspace:\n" +
			"see `signet exec list` and `signet trace ID`. An identical run within the cache TTL is answered\n" +
			"from the cache at no cost.",
		Args: exactArgs("PROGRAM"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			modes := 0
			for _, set := range []bool{len(inputs) > 0, example != "", dataset != ""} {
				if set {
					modes++
				}
			}
			if modes > 1 {
				return usagef("run: give one of --input, --example or --dataset")
			}
			in, err := parseInputs(inputs)
			if err != nil {
				return err
			}
			var bound time.Duration
			if timeout != "" {
				if dataset != "" {
					return usagef("--timeout bounds a single run; a batch's executions take the program's timeout or the config's execution_timeout")
				}
				if bound, err = model.ParseTimeout(timeout); err != nil {
					return usagef("--timeout: %v", err)
				}
			}
			if dataset != "" {
				if key != "" {
					return usagef("--key routes a single run; a batch runs one version (--version, else the newest), not the traffic split")
				}
				return a.runDataset(ctx, app.BatchRequest{Program: args[0], Version: version, LM: lmName,
					Labels: model.ParseLabels(labels), NoCache: noCache, Limit: limit}, dataset, split, asJSON)
			}
			if example != "" {
				if in, err = a.exampleInputs(ctx, args[0], version, example, split); err != nil {
					return err
				}
			}
			e, err := a.svc.Run(ctx, app.RunRequest{Program: args[0], Version: version, Inputs: in, LM: lmName, NoCache: noCache, Wait: true,
				Timeout: bound, Key: key})
			if f := appField(err); app.CodeOf(err) == app.CodeInvalid && strings.HasPrefix(f, "inputs.") {
				name := strings.TrimPrefix(f, "inputs.")
				return usagef("%v: pass --input %s=... (or --example DATASET:N)", err, name)
			}
			if err != nil && ctx.Err() != nil {
				// The owner cancels a run whose caller stops waiting.
				return errors.New("interrupted: the run is cancelled")
			}
			if err != nil {
				return err
			}
			traced := e.ID
			if e.CacheHit && !e.CacheOf.IsZero() {
				traced = e.CacheOf // a cache hit ran nothing: its trace is the one it answers from
			}
			tr, err := loadTrace(ctx, a.svc, traced)
			if err != nil {
				return err
			}
			// A run that did not complete fails the command, with --json too:
			// the JSON goes to stdout, the error to stderr, the exit code is 1.
			failed := runFailure(e)
			if asJSON {
				if err := writeJSON(a.stdout, struct {
					*model.Execution
					Spans []model.Span `json:"spans"`
				}{e, tr.ordered()}); err != nil {
					return err
				}
				return failed
			}
			lm := e.LM
			fmt.Fprintf(a.stdout, "%s v%d on %s: %s in %s (execution %s)\n\n", e.Program, e.Version, orDash(lm), e.State, e.Duration.Round(time.Millisecond), e.ID)
			if e.Routed {
				fmt.Fprintf(a.stdout, "v%d was the traffic split's pick\n\n", e.Version)
			}
			if e.CacheHit {
				fmt.Fprintf(a.stdout, "answered from the cache (execution %s), at no cost\n\n", e.CacheOf)
			}
			if failed != nil {
				return failed
			}
			for _, k := range sortedKeys(e.Outputs) {
				fmt.Fprintf(a.stdout, "%s: %s\n", k, indentCont(cellText(e.Outputs[k])))
			}
			fmt.Fprintln(a.stdout)
			tr.print(a.stdout)
			u := e.TotalUsage()
			cost := fmt.Sprintf("$%.6f", e.Cost)
			if e.CostUnknown {
				cost = "cost unknown"
			}
			fmt.Fprintf(a.stdout, "\n%d LM calls, %d tokens in, %d out, %s\n", u.Calls, u.PromptTokens, u.CompletionTokens, cost)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&inputs, "input", "i", nil, "an input field, field=value (JSON values for lists: facts='[\"a\"]')")
	c.Flags().StringVar(&example, "example", "", "take the inputs from example N (from 0) of a dataset: DATASET:N")
	c.Flags().StringVar(&dataset, "dataset", "", "run on every example of a dataset (a batch)")
	c.Flags().StringVar(&split, "split", "", "with --dataset or --example: only this split")
	c.Flags().IntVar(&limit, "limit", 0, "with --dataset: at most this many examples")
	c.Flags().StringVar(&labels, "labels", "", "with --dataset: the fields to compare with the outputs, a,b (default: the program's outputs the dataset has)")
	c.Flags().StringVar(&lmName, "lm", "", "LM profile (default: the program's, else the config's default)")
	c.Flags().IntVar(&version, "version", 0, "run a specific version (default: the traffic split's pick, else the latest)")
	c.Flags().StringVar(&key, "key", "", "route by this key on a program with a traffic split: the same key, the same version")
	c.Flags().StringVar(&timeout, "timeout", "", "fail the run past this long, such as 30s or 2m (default: the program's timeout, else the config's execution_timeout, 5m)")
	c.Flags().Int("concurrency", 0, "executions at once, when this process starts the queue (default: config, else 8)")
	c.Flags().BoolVar(&noCache, "no-cache", false, "do not answer from the execution cache")
	c.Flags().BoolVar(&wait, "wait", true, "wait for the execution to end (it always does)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	pf.register(c)
	return c
}

// runFailure is the command's error for an execution that did not
// complete (nil when it did), with what its LM calls cost.
func runFailure(e *model.Execution) error {
	if e.State == model.Completed {
		return nil
	}
	err := fmt.Errorf("execution %s %s after %d attempt(s): %s: %s", e.ID, e.State, e.Attempts, e.ErrorCode, e.Error)
	if n := e.TotalUsage().Calls; n > 0 || e.CostUnknown {
		err = fmt.Errorf("%w (its %d LM calls cost %s)", err, n, costText(e.Cost, e.CostUnknown))
	}
	return err
}

// loadTrace reads an execution's spans, page by page.
func loadTrace(ctx context.Context, svc app.Executions, id model.ID) (*traceTree, error) {
	tr := newTraceTree()
	var after uint64
	for {
		page, err := svc.Spans(ctx, id, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Spans {
			tr.add(s)
		}
		if page.Next == 0 {
			return tr, nil
		}
		after = page.Next
	}
}

// batchStopWait bounds how long an interrupted batch's cancellations may take.
const batchStopWait = 30 * time.Second

// cancelBatch cancels the executions of an interrupted batch that have not
// ended: ctrl-c stops a batch wherever its owner runs (a background owner
// would otherwise go on spending on it), and keeps what ended.
func (a *cli) cancelBatch(b *app.Batch, ended map[model.ID]*model.Execution) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchStopWait)
	defer cancel()
	n := 0
	for _, id := range b.Executions {
		if ended[id] != nil {
			continue
		}
		if _, err := a.svc.CancelExecution(ctx, id); err != nil && !errors.Is(err, app.ErrFinished) {
			return fmt.Errorf("interrupted: cancelling execution %s of batch %s: %w", id, b.ID, err)
		}
		n++
	}
	return fmt.Errorf("interrupted: cancelled %d executions of batch %s; the %d that ended are kept (signet exec list)", n, b.ID, len(ended))
}

// exampleInputs are the inputs of example N of a dataset (--example
// DATASET:N) for a program version: its fields split by the one labels rule.
func (a *cli) exampleInputs(ctx context.Context, program string, version int, ref, split string) (map[string]any, error) {
	name, n, err := parseExampleRef(ref)
	if err != nil {
		return nil, err
	}
	sp, err := splitFlag(split)
	if err != nil {
		return nil, err
	}
	d, err := a.svc.Dataset(ctx, name)
	if err != nil {
		return nil, err
	}
	ex, err := a.svc.ExampleAt(ctx, name, sp, n)
	if err != nil {
		return nil, err
	}
	flow, err := a.svc.Flow(ctx, program, version)
	if err != nil {
		return nil, err
	}
	lab, err := model.Labels(program, flow, d, nil)
	if err != nil {
		return nil, err
	}
	in, _ := lab.Split(ex.Data)
	return in, nil
}

type batchSummary struct {
	Program string `json:"program"`
	Version int    `json:"version"`
	Dataset string `json:"dataset"`
	Batch   string `json:"batch"`
	model.BatchSummary
	Elapsed    time.Duration      `json:"elapsed_ns"`
	Labels     model.Labeling     `json:"labels"`                // the fields compared with the outputs (model.Labels)
	ExactMatch map[string]float64 `json:"exact_match,omitempty"` // per label, over the completed executions
	Failures   []execRow          `json:"failures,omitempty"`
}

// runDataset runs a batch and follows it to its end with a progress bar,
// then prints the summary.
func (a *cli) runDataset(ctx context.Context, req app.BatchRequest, dataset, split string, asJSON bool) error {
	sp, err := splitFlag(split)
	if err != nil {
		return err
	}
	req.Data = model.DataRef{Dataset: dataset, Split: sp}
	start := time.Now()
	// Subscribed before the batch exists, the stream has every change of its
	// executions: none is read one by one (a request each).
	sub, stop := context.WithCancel(ctx)
	defer stop()
	evs, err := a.events(sub)
	if err != nil {
		return err
	}
	b, err := a.svc.RunBatch(ctx, req)
	if err != nil {
		if app.CodeOf(err) == app.CodeInvalid {
			return usageError{err}
		}
		return err
	}
	lab := b.Labeling
	bar := newProgress(a.stderr, isTTY(a.stderr), len(b.Executions))
	done, failed, cost := 0, 0, 0.0
	finals, err := a.follow(ctx, evs, b.Executions, func(x *model.Execution) {
		done++
		cost += x.Cost
		if x.State != model.Completed {
			failed++
		}
		bar.update(done, failed, cost, false)
	}, false)
	bar.update(done, failed, cost, true)
	if err != nil && ctx.Err() != nil {
		return a.cancelBatch(b, finals)
	}
	if err != nil {
		return err
	}
	final := make([]*model.Execution, len(b.Executions))
	for i, id := range b.Executions {
		final[i] = finals[id]
	}
	examples, err := a.batchExamples(ctx, req.Data, b.Examples)
	if err != nil {
		return err
	}
	p := &model.Program{Name: b.Program, Version: b.Version}
	d := &model.Dataset{Name: dataset}
	batch := b.ID.String()
	labels := make([]map[string]any, len(examples))
	for i, ex := range examples {
		_, labels[i] = lab.Split(ex.Data)
	}
	sum := batchSummary{Program: p.Name, Version: p.Version, Dataset: d.Name, Batch: batch, Elapsed: time.Since(start), Labels: lab,
		BatchSummary: model.SummariseBatch(final, labels)}
	if len(sum.Matches) > 0 {
		sum.ExactMatch = map[string]float64{}
		for f, m := range sum.Matches {
			sum.ExactMatch[f] = m.Rate()
		}
	}
	for _, e := range final {
		if e.State != model.Completed {
			sum.Failures = append(sum.Failures, execRowOf(e))
		}
	}
	if asJSON {
		return writeJSON(a.stdout, sum)
	}
	fmt.Fprintf(a.stdout, "%s v%d on dataset %s: %d executions in %s (batch %s)\n", p.Name, p.Version, d.Name, sum.Total, sum.Elapsed.Round(time.Millisecond), batch)
	for _, s := range model.RunStates {
		if n := sum.States[s]; n > 0 {
			fmt.Fprintf(a.stdout, "  %-10s %d\n", s, n)
		}
	}
	if sum.CacheHits > 0 {
		fmt.Fprintf(a.stdout, "  from cache %d\n", sum.CacheHits)
	}
	fmt.Fprintf(a.stdout, "  tokens     %d in, %d out\n  cost       $%.6f\n", sum.Usage.PromptTokens, sum.Usage.CompletionTokens, sum.Cost)
	printLabeling(a.stdout, lab, "  %-11s")
	for _, f := range sortedKeys(toAnyMap(sum.ExactMatch)) {
		fmt.Fprintf(a.stdout, "  exact match on %s: %d/%d (%.1f%%)\n", f, sum.Matches[f].Matched, sum.Matches[f].Of, 100*sum.ExactMatch[f])
	}
	for i, r := range sum.Failures {
		if i == 5 {
			fmt.Fprintf(a.stdout, "  … %d more failures: signet exec list --state failed\n", len(sum.Failures)-5)
			break
		}
		fmt.Fprintf(a.stdout, "  failed %s: %s\n", r.ID, clip(r.Error, 100))
	}
	return nil
}

// printLabeling says which fields were compared with the outputs and
// which were ignored, and why when the labels had to be guessed; key
// formats the left column ("  %-11s" in a batch summary).
func printLabeling(w io.Writer, lab model.Labeling, key string) {
	labels := strings.Join(lab.Labels, ", ")
	if labels == "" {
		labels = "none (no output field of the program is a column of the dataset; see --labels)"
	}
	fmt.Fprintf(w, key+"%s", "labels", labels)
	if len(lab.Ignored) > 0 {
		fmt.Fprintf(w, " (ignored: %s)", strings.Join(lab.Ignored, ", "))
	}
	fmt.Fprintln(w)
	if lab.Guessed {
		fmt.Fprintf(w, key+"%s\n", "note", lab.Note)
	}
}

func toAnyMap(m map[string]float64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// parseInputs reads field=value pairs; a value that is a JSON list or object
// is decoded, anything else is a string.
func parseInputs(pairs []string) (map[string]any, error) {
	in := map[string]any{}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--input %q: want field=value", kv)
		}
		if t := strings.TrimSpace(v); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			var decoded any
			if err := json.Unmarshal([]byte(t), &decoded); err != nil {
				return nil, usagef("--input %s: value looks like JSON but is not: %v", k, err)
			}
			in[k] = decoded
			continue
		}
		in[k] = v
	}
	return in, nil
}

// traceTree collects streamed spans (each arrives at start and again at end)
// and prints them as an indented tree.
type traceTree struct {
	mu    sync.Mutex
	spans map[string]*model.Span
	order []string
}

func newTraceTree() *traceTree { return &traceTree{spans: map[string]*model.Span{}} }

func (t *traceTree) add(s model.Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.spans[s.ID]; !ok {
		t.order = append(t.order, s.ID)
	}
	cp := s
	t.spans[s.ID] = &cp
}

func (t *traceTree) ordered() []model.Span {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]model.Span, 0, len(t.order))
	for i, id := range t.order {
		s := *t.spans[id]
		s.Seq = uint64(i + 1)
		out = append(out, s)
	}
	return out
}

func (t *traceTree) print(w io.Writer) {
	spans := t.ordered()
	children := map[string][]model.Span{}
	known := map[string]bool{}
	for _, s := range spans {
		known[s.ID] = true
	}
	var roots []model.Span
	for _, s := range spans {
		if s.Parent == "" || !known[s.Parent] {
			roots = append(roots, s)
		} else {
			children[s.Parent] = append(children[s.Parent], s)
		}
	}
	for _, kids := range children {
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].Start.Before(kids[j].Start) })
	}
	var walk func(s model.Span, depth int)
	walk = func(s model.Span, depth int) {
		fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", depth), spanLine(s))
		if s.Retrieval != nil {
			for i, p := range s.Retrieval.Passages {
				fmt.Fprintf(w, "%s#%d %s  %.3f  %s\n", strings.Repeat("  ", depth+1), i+1, format.Line(p.ID), p.Score, clip(format.Line(p.Text), 72))
			}
		}
		for _, k := range children[s.ID] {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

func spanLine(s model.Span) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s", s.Kind, s.Name)
	if s.Module != "" && s.Kind == model.SpanModule {
		fmt.Fprintf(&b, " [%s]", s.Module)
	}
	if s.Model != "" && s.Model != s.Name {
		fmt.Fprintf(&b, "  %s", s.Model)
	}
	if r := s.Retrieval; r != nil {
		fmt.Fprintf(&b, "  %s k%d  %d passages", r.Search, r.K, len(r.Passages))
		if r.CacheHits+r.CacheMisses > 0 {
			fmt.Fprintf(&b, "  embedding cache %d hit, %d miss", r.CacheHits, r.CacheMisses)
		}
	}
	if s.Usage.Total() > 0 {
		fmt.Fprintf(&b, "  %d→%d tok", s.Usage.PromptTokens, s.Usage.CompletionTokens)
	}
	if s.Cost > 0 {
		fmt.Fprintf(&b, "  $%.6f", s.Cost)
	}
	if s.CacheHit {
		b.WriteString("  cached")
	}
	if l := s.Latency(); l > 0 {
		fmt.Fprintf(&b, "  %s", l.Round(100*time.Microsecond))
	} else if s.End.IsZero() {
		b.WriteString("  (unfinished)")
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "  error: %s", clip(s.Error, 80))
	}
	return b.String()
}

// batchExamples are a batch's examples, in the batch's order, read page
// by page from its dataset.
func (a *cli) batchExamples(ctx context.Context, ref model.DataRef, ids []model.ID) ([]*model.Example, error) {
	byID := make(map[model.ID]*model.Example, len(ids))
	err := eachExample(ctx, a.svc, ref.Dataset, ref.Split, func(e *model.Example) error {
		byID[e.ID] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*model.Example, len(ids))
	for i, id := range ids {
		if out[i] = byID[id]; out[i] == nil {
			return nil, fmt.Errorf("dataset %s: example %s of the batch is gone", ref.Dataset, id)
		}
	}
	return out, nil
}

// eachExample calls fn on every example of a dataset (or one split), page
// by page.
func eachExample(ctx context.Context, svc app.Datasets, name string, sp model.Split, fn func(*model.Example) error) error {
	for cursor := ""; ; {
		page, err := svc.ListExamples(ctx, app.ExampleQuery{Dataset: name, Split: sp, Cursor: cursor, Limit: 1000})
		if err != nil {
			return err
		}
		for _, e := range page.Examples {
			if err := fn(e); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}
