package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/evaluate"
	"github.com/signet-dspy/signet/model"
)

// evalBackend is the test backend with an evaluation runner, started with
// its engine as the owner starts it.
type evalBackend struct {
	*backend
	mu sync.Mutex
	r  *evaluate.Runner
}

func (b *evalBackend) Evaluations(ctx context.Context) (*evaluate.Runner, error) {
	eng, err := b.Engine(ctx)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r == nil {
		b.r = evaluate.New(evaluate.Options{Store: b.st, Engine: eng, LMs: fakeLMs{}, DefaultLM: "fake"})
		if _, err := b.r.Start(ctx); err != nil {
			return nil, err
		}
	}
	return b.r, nil
}

func (b *evalBackend) close() {
	if r := b.RunningEvaluations(); r != nil {
		r.Close(context.Background())
	}
}

func (b *evalBackend) RunningEvaluations() *evaluate.Runner {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r
}

// TestEvaluationRoutes starts an evaluation through POST /v1/evaluations,
// lists it by program, reads it with its per-example results, and maps
// the errors.
func TestEvaluationRoutes(t *testing.T) {
	ctx := context.Background()
	cl, b, _ := serveWith(t, func(b *backend) Backend { return &evalBackend{backend: b} })
	k := 0
	rows := []map[string]any{{"id": 1, "question": "a", "answer": "a"}, {"id": 2, "question": "b", "answer": "x"}, {"id": 3, "question": "c", "answer": "c"}}
	if _, err := b.st.ImportExamples(ctx, &model.Dataset{Name: "ds"}, func() (*model.Example, error) {
		if k == len(rows) {
			return nil, io.EOF
		}
		k++
		return &model.Example{Split: model.Validation, Data: rows[k-1]}, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Events carry the evaluation's record.
	events, stop := subscribeEvents(t, cl)
	defer stop()

	req := EvaluationRequest{Request: evaluate.Request{Program: "qa", Data: model.DataRef{Dataset: "ds", Split: model.Validation},
		Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}}, Wait: true}
	v, err := cl.SubmitEvaluation(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != model.Completed || v.N != 3 || v.Score != 2.0/3 || v.Labels.Labels[0] != "answer" {
		t.Fatalf("evaluation %+v", v)
	}
	page, err := cl.Evaluations(ctx, "qa", "", 0)
	if err != nil || len(page.Evaluations) != 1 || page.Evaluations[0].ID != v.ID {
		t.Fatalf("list %+v %v", page, err)
	}
	if page, err := cl.Evaluations(ctx, "other", "", 0); err != nil || len(page.Evaluations) != 0 || page.Evaluations == nil {
		t.Fatalf("list of another program %+v %v", page, err)
	}
	d, err := cl.Evaluation(ctx, v.ID)
	if err != nil || d.ID != v.ID || len(d.Results) != 3 || d.Results[1].Score != 0 || d.Results[1].Expected["answer"] != "x" || d.Results[0].Execution.IsZero() {
		t.Fatalf("detail %+v %v", d, err)
	}
	sawEval := false
	for !sawEval {
		ev := <-events
		sawEval = ev.Kind == EventEvaluation && ev.Evaluation != nil && ev.Evaluation.ID == v.ID && ev.Evaluation.State == model.Completed
	}

	var ae *Error
	if _, err := cl.CancelEvaluation(ctx, v.ID); !errors.As(err, &ae) || ae.Code != CodeFinished || ae.Status != http.StatusConflict {
		t.Errorf("cancel a finished evaluation: %v", err)
	}
	if _, err := cl.Evaluation(ctx, model.NewID()); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("unknown evaluation: %v", err)
	}
	bad := req
	bad.Labels = []string{"gold"}
	if _, err := cl.SubmitEvaluation(ctx, bad); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("a label the dataset lacks: %v", err)
	}
	if _, err := cl.SubmitEvaluation(ctx, EvaluationRequest{}); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
		t.Errorf("no program: %v", err)
	}

	// An owner that does not run evaluations still lists them.
	plain, pb, _ := serve(t)
	v.ID = model.ID{}
	if err := pb.st.PutEvaluation(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.SubmitEvaluation(ctx, req); !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented {
		t.Errorf("without a runner: %v", err)
	}
	if page, err := plain.Evaluations(ctx, "", "", 0); err != nil || len(page.Evaluations) != 1 {
		t.Errorf("list without a runner: %+v %v", page, err)
	}
}

// subscribeEvents follows /v1/events; it returns once subscribed (the
// first line, the pool's, has arrived).
func subscribeEvents(t *testing.T, cl *Client) (<-chan *Event, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *Event, 4096)
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		once := sync.Once{}
		cl.Events(ctx, func(ev *Event) error {
			once.Do(func() { close(first) })
			select {
			case out <- ev:
			default: // the test stopped reading
			}
			return nil
		})
	}()
	<-first
	return out, func() { cancel(); <-done }
}
