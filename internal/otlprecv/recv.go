// Package otlprecv is a tiny OTLP/HTTP trace receiver for tests: it
// decodes each ExportTraceServiceRequest (protobuf) a test's exporter
// sends and hands it over on a channel.
package otlprecv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver is the test's OTLP endpoint.
type Receiver struct {
	URL string // http://127.0.0.1:PORT (the exporter adds /v1/traces)
	// Requests are the requests received, in order.
	Requests chan *coltracepb.ExportTraceServiceRequest
	// Hold, while open, keeps each request's answer back until the test
	// closes it (a slow collector); nil answers at once.
	Hold chan struct{}
}

// New starts a receiver, closed when the test ends.
func New(t testing.TB, hold bool) *Receiver {
	r := &Receiver{Requests: make(chan *coltracepb.ExportTraceServiceRequest, 64)}
	if hold {
		r.Hold = make(chan struct{})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.Error(w, "not the traces endpoint", http.StatusNotFound)
			return
		}
		b, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var got coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Errorf("OTLP receiver: a body that is not an ExportTraceServiceRequest: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Requests <- &got
		if r.Hold != nil {
			<-r.Hold
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	r.URL = srv.URL
	t.Cleanup(srv.Close)
	return r
}
