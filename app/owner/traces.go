package owner

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/otlp"
	"github.com/signet-dspy/signet/store"
)

// maxTraceFile bounds an imported OTLP/JSON file.
const maxTraceFile = 64 << 20

// ImportTraces is a write of the workspace (admins): imported executions
// count in the programs' cost like their own runs. A file with a trace
// already in the workspace (the same execution id) imports nothing; then
// each trace is written in its own transaction, so a store failure midway
// leaves the traces before it imported (the result lists them).
func (o *Owner) ImportTraces(ctx context.Context, req app.ImportTracesRequest) (*app.ImportTracesResult, error) {
	if _, err := o.mayWrite(ctx, "executions", "import"); err != nil {
		return nil, err
	}
	if req.Data == nil {
		return nil, invalid("data", "import of %s: no file content given", req.File)
	}
	b, err := io.ReadAll(io.LimitReader(req.Data, maxTraceFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", req.File, err)
	}
	if len(b) > maxTraceFile {
		return nil, invalid("data", "%s: larger than the limit of %s", req.File, model.FormatSize(maxTraceFile))
	}
	otreq, err := otlp.ReadJSON(b)
	if err != nil {
		return nil, invalid("data", "%s: %w", req.File, err)
	}
	traces, err := otlp.Traces(otreq)
	if err != nil {
		return nil, invalid("data", "%s: %w", req.File, err)
	}
	if len(traces) == 0 {
		return nil, invalid("data", "%s holds no spans", req.File)
	}
	// Checked before any write: a file with an imported trace imports nothing.
	for _, tr := range traces {
		switch _, err := o.st.GetExecution(ctx, tr.Execution.ID); {
		case err == nil:
			return nil, app.Errorf(app.CodeExists, "%s: execution %s (its trace) is already in the workspace", req.File, tr.Execution.ID)
		case !errors.Is(err, store.ErrNotFound):
			return nil, fail(err)
		}
	}
	res := &app.ImportTracesResult{Executions: []app.ImportedTrace{}}
	for _, tr := range traces {
		x := tr.Execution
		if err := o.st.PutExecutionWithSpans(ctx, x, tr.Spans); err != nil {
			return res, fail(fmt.Errorf("importing trace %s of %s: %w", x.ID, req.File, err))
		}
		res.Executions = append(res.Executions, app.ImportedTrace{ID: x.ID, Program: x.Program, LM: x.LM, Spans: len(tr.Spans)})
	}
	return res, nil
}
