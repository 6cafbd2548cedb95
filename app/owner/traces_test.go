package owner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/otlp"
)

// spansOf reads an execution's whole trace through the service.
func spansOf(t *testing.T, svc app.Executions, id model.ID) []model.Span {
	t.Helper()
	var out []model.Span
	for after := uint64(0); ; {
		page, err := svc.Spans(context.Background(), id, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Spans...)
		if page.Next == 0 {
			return out
		}
		after = page.Next
	}
}

// TestImportTracesRoundTrip runs a real program on the test LM (priced,
// so cost is not zero), exports its trace as OTLP JSON and imports it
// into another workspace: the same execution id, span tree, tokens, cost
// and models, marked imported. A second import of the file is refused.
func TestImportTracesRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openRunsOwner(t, "", runsConfig, true)
	createPrograms(t, src, runsQA)
	x, err := src.Run(ctx, app.RunRequest{Program: "qa", LM: "priced", Inputs: map[string]any{"question": "What is the capital of France?"}, Wait: true})
	if err != nil || x.State != model.Completed || x.Cost <= 0 {
		t.Fatalf("run: %+v, %v", x, err)
	}
	spans := spansOf(t, src, x.ID)
	var file bytes.Buffer
	if err := otlp.WriteJSON(&file, otlp.Stubs(x, spans, otlp.Options{Content: true})); err != nil {
		t.Fatal(err)
	}

	dst := openRunsOwner(t, "", runsConfig, false)
	res, err := dst.ImportTraces(ctx, app.ImportTracesRequest{File: "run.json", Data: bytes.NewReader(file.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	want := []app.ImportedTrace{{ID: x.ID, Program: "qa", LM: "otlp:priced", Spans: len(spans)}}
	if !reflect.DeepEqual(res.Executions, want) {
		t.Fatalf("imported %+v, want %+v", res.Executions, want)
	}
	got, err := dst.Execution(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.Completed || got.Cost != x.Cost || !reflect.DeepEqual(got.Usage, x.Usage) || got.Version != x.Version ||
		!reflect.DeepEqual(got.Inputs, x.Inputs) || !reflect.DeepEqual(got.Outputs, x.Outputs) {
		t.Errorf("imported execution %+v\nwant the numbers of %+v", got, x)
	}
	back := spansOf(t, dst, x.ID)
	if len(back) != len(spans) || len(spans) < 3 {
		t.Fatalf("%d spans back of %d", len(back), len(spans))
	}
	for i := range spans {
		w, g := spans[i], back[i]
		w.Start, w.End, g.Start, g.End = w.Start.UTC(), w.End.UTC(), g.Start.UTC(), g.End.UTC()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if _, err := dst.ImportTraces(ctx, app.ImportTracesRequest{File: "run.json", Data: bytes.NewReader(file.Bytes())}); !errors.Is(err, app.ErrExists) {
		t.Errorf("second import: %v, want exists", err)
	}
}

// TestImportForeignTrace imports a hand-written OpenInference trace of a
// DSPy program run elsewhere; a file that is not OTLP is refused.
func TestImportForeignTrace(t *testing.T) {
	ctx := context.Background()
	o := openRunsOwner(t, "", runsConfig, false)
	b, err := os.ReadFile("../../otlp/testdata/openinference.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := o.ImportTraces(ctx, app.ImportTracesRequest{File: "oi.json", Data: bytes.NewReader(b)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Executions) != 1 || res.Executions[0].Program != "rag-bot" || res.Executions[0].Spans != 4 {
		t.Fatalf("imported %+v", res.Executions)
	}
	page, err := o.ListExecutions(ctx, app.ExecutionQuery{Program: "rag-bot"})
	if err != nil || len(page.Executions) != 1 || !strings.HasPrefix(page.Executions[0].LM, otlp.LMPrefix) {
		t.Fatalf("listed %+v, %v", page, err)
	}
	if spans := spansOf(t, o, res.Executions[0].ID); spans[2].Model != "openai/gpt-4o-mini" || spans[2].Usage.PromptTokens != 182 {
		t.Errorf("LM span %+v", spans[2])
	}
	if _, err := o.ImportTraces(ctx, app.ImportTracesRequest{File: "x.json", Data: strings.NewReader(`{"resourceSpans": 3}`)}); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("a file that is not OTLP: %v, want invalid", err)
	}
}
