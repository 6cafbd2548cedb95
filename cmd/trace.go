package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/otlp"
)

// traceExport are the flags of a trace written as OpenTelemetry spans.
type traceExport struct {
	format  string
	out     string
	content bool
}

func (ex *traceExport) register(c *cobra.Command, format string) {
	c.Flags().StringVar(&ex.format, "format", format, "text or otlp-json (OpenTelemetry spans, OTLP/JSON)")
	c.Flags().StringVarP(&ex.out, "output", "o", "", "write to this file (default: stdout)")
	c.Flags().BoolVar(&ex.content, "content", false, "with otlp-json: include prompts, completions, inputs and outputs (default: names, models, tokens, cost and timings only)")
}

// writeOTLP writes an execution's trace as OTLP/JSON to stdout or ex.out.
func (a *cli) writeOTLP(e *model.Execution, spans []model.Span, ex traceExport) error {
	var b bytes.Buffer
	if err := otlp.WriteJSON(&b, otlp.Stubs(e, spans, otlp.Options{Content: ex.content})); err != nil {
		return fmt.Errorf("execution %s: %w", e.ID, err)
	}
	if ex.out == "" || ex.out == "-" {
		_, err := a.dataOut().Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(a.abs(ex.out), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", ex.out, err)
	}
	fmt.Fprintf(a.stderr, "exported the trace of execution %s (%d spans) to %s\n", e.ID, len(spans)+1, ex.out)
	return nil
}

// traceOf is an execution and its trace: for a cache hit, the trace of
// the execution whose outputs it returned.
func (a *cli) traceOf(ctx context.Context, arg string) (*model.Execution, *traceTree, error) {
	e, err := a.getExecution(ctx, arg)
	if err != nil {
		return nil, nil, err
	}
	traced := e.ID
	if e.CacheHit && !e.CacheOf.IsZero() {
		traced = e.CacheOf
	}
	tr, err := loadTrace(ctx, a.svc, traced)
	if err != nil {
		return nil, nil, err
	}
	return e, tr, nil
}

// traceExport is `trace ID --format otlp-json` under the name the OTLP
// import pairs with.
func (a *cli) traceExport() *cobra.Command {
	var ex traceExport
	c := &cobra.Command{
		Use:   "export ID [-o FILE.json] [--content]",
		Short: "Write an execution's trace as OpenTelemetry spans (OTLP/JSON)",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			if ex.format != "otlp-json" {
				return usagef("--format %q: export writes otlp-json (for text, `signet trace ID`)", ex.format)
			}
			e, tr, err := a.traceOf(c.Context(), args[0])
			if err != nil {
				return err
			}
			return a.writeOTLP(e, tr.ordered(), ex)
		},
	}
	ex.register(c, "otlp-json")
	return c
}

func (a *cli) traceImport() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "import FILE.json",
		Short: "Read OpenTelemetry traces (OTLP/JSON: Signet's export, or a DSPy program's traced elsewhere) as executions",
		Long: "Each trace becomes an ended execution with its span tree, which `signet trace ID` and the workbench\n" +
			"show; its LM reads otlp:<profile or model>, and nothing re-runs it. GenAI, OpenInference and\n" +
			"OpenLLMetry attributes are read where present (model, tokens, messages); what a trace lacks stays empty.",
		Args: exactArgs("FILE.json"),
		RunE: func(c *cobra.Command, args []string) error {
			f, err := os.Open(a.abs(args[0]))
			if err != nil {
				return usageError{fmt.Errorf("trace file: %w", err)}
			}
			defer f.Close()
			res, err := a.svc.ImportTraces(c.Context(), app.ImportTracesRequest{File: args[0], Data: f})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, res)
			}
			t := newTable(a.stdout, "execution", "program", "lm", "spans")
			for _, x := range res.Executions {
				t.row(x.ID.String(), x.Program, x.LM, x.Spans)
			}
			return t.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
