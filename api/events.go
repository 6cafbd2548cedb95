package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"

	"github.com/signet-dspy/signet/app"
)

// events streams the service's events as JSON lines until the client goes
// or the owner stops. A stream with hold=1 (a command following its own
// jobs) counts as a client the owner waits for before it stops; the
// workbench's does not.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	hold, err := boolParam(r, "hold")
	if err != nil {
		writeError(w, err)
		return
	}
	spans := true
	if r.URL.Query().Has("spans") {
		if spans, err = boolParam(r, "spans"); err != nil {
			writeError(w, err)
			return
		}
	}
	ended, err := boolParam(r, "ended")
	if err != nil {
		writeError(w, err)
		return
	}
	if hold {
		defer s.hold()()
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !spans {
		ctx = app.WithoutSpans(ctx) // the owner publishes none to this stream
	}
	if ended {
		ctx = app.EndedOnly(ctx)
	}
	ch, err := s.svc.Subscribe(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	rc := http.NewResponseController(w)
	flush := func() bool { return bw.Flush() == nil && rc.Flush() == nil }
	if !flush() {
		return
	}
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				flush()
				return
			}
			if (spans || ev.Kind != app.EventSpan) && enc.Encode(ev) != nil {
				return
			}
			// Flush when caught up: under load, many events per write.
			if len(ch) == 0 && !flush() {
				return
			}
		case <-s.closing:
			flush()
			return
		}
	}
}
