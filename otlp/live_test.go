package otlp

import (
	"context"
	"errors"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/signet-dspy/signet/internal/otlprecv"
	"github.com/signet-dspy/signet/model"
)

// TestLiveDropsWhenTheQueueIsFull: a receiver that holds its first answer
// keeps the one export in flight; the next execution waits in the queue
// (of one), the one after is dropped and counted, and Ended never waits.
// Once the receiver answers, both queued traces arrive whole.
func TestLiveDropsWhenTheQueueIsFull(t *testing.T) {
	recv := otlprecv.New(t, true)
	x, spans := sample()
	ids := []model.ID{x.ID, model.NewID(), model.NewID()}
	var logged []string
	live, err := StartLive(context.Background(), LiveOptions{Endpoint: recv.URL, Queue: 1, Batch: 1,
		Load: func(_ context.Context, id model.ID) (*model.Execution, []model.Span, error) {
			if id != ids[0] && id != ids[1] {
				return nil, nil, errors.New("the dropped execution was loaded")
			}
			y := *x
			y.ID = id
			return &y, spans, nil
		},
		Logf: func(format string, args ...any) { logged = append(logged, format) }})
	if err != nil {
		t.Fatal(err)
	}
	live.Ended(ids[0])
	first := <-recv.Requests // in flight, held
	live.Ended(ids[1])       // queued
	live.Ended(ids[2])       // dropped
	if _, dropped, _ := live.Counts(); dropped != 1 || len(logged) != 1 {
		t.Errorf("dropped %d, logged %q; want 1 drop, logged", dropped, logged)
	}
	close(recv.Hold)
	second := <-recv.Requests
	if err := live.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exported, dropped, failed := live.Counts(); exported != 2 || dropped != 1 || failed != 0 {
		t.Errorf("exported %d dropped %d failed %d, want 2 1 0", exported, dropped, failed)
	}
	for i, req := range []*coltracepb.ExportTraceServiceRequest{first, second} {
		trs, err := Traces(req)
		if err != nil || len(trs) != 1 || trs[0].Execution.ID != ids[i] || len(trs[0].Spans) != len(spans) || trs[0].Execution.Cost != x.Cost {
			t.Errorf("request %d: %+v, %v", i, trs, err)
		}
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:4318":            "http://localhost:4318/v1/traces",
		"https://tempo.example:4318/":      "https://tempo.example:4318/v1/traces",
		"http://collector:4318/otlp/trace": "http://collector:4318/otlp/trace",
		"localhost:4318":                   "",
		"grpc://x:4317":                    "",
	} {
		got, err := EndpointURL(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("EndpointURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
