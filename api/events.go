package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/signet-dspy/signet/app"
)

// endedFlushEvery paces the writes of a stream of ended jobs.
const endedFlushEvery = 10 * time.Millisecond

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
	ew := eventWriter{w: bw, enc: json.NewEncoder(bw)}
	rc := http.NewResponseController(w)
	flush := func() bool { return bw.Flush() == nil && rc.Flush() == nil }
	if !flush() {
		return
	}
	// A stream of ended jobs (a command following a batch) is flushed at
	// most every endedFlushEvery: a batch's executions end a few hundred
	// microseconds apart, and each write wakes the client, whose CPU per
	// execution was mostly these wake-ups. A lone event, after none for
	// that long, goes at once.
	var last time.Time // of the last flush with events
	var later <-chan time.Time
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				flush()
				return
			}
			if (spans || ev.Kind != app.EventSpan) && ew.write(ev) != nil {
				return
			}
			// Flush when caught up: under load, many events per write.
			if len(ch) > 0 || later != nil {
				continue
			}
			if wait := time.Until(last.Add(endedFlushEvery)); ended && wait > 0 {
				later = time.After(wait)
				continue
			}
			if !flush() {
				return
			}
			last = time.Now()
		case <-later:
			later = nil
			if !flush() {
				return
			}
			last = time.Now()
		case <-s.closing:
			flush()
			return
		}
	}
}

// eventWriter writes events as a json.Encoder does, one per line; an
// execution's or a span's, most of a stream, with the record's own
// encoder (model's AppendJSON: the same bytes, without reflection).
type eventWriter struct {
	w   io.Writer
	enc *json.Encoder
	buf []byte
}

func (e *eventWriter) write(ev app.Event) error {
	var err error
	b := e.buf[:0]
	switch {
	case ev == app.Event{Kind: app.EventExecution, Execution: ev.Execution} && ev.Execution != nil:
		b, err = ev.Execution.AppendJSON(append(b, `{"kind":"execution","execution":`...))
	case ev == app.Event{Kind: app.EventSpan, Span: ev.Span} && ev.Span != nil:
		b, err = ev.Span.AppendJSON(append(b, `{"kind":"span","span":`...))
	default:
		return e.enc.Encode(ev)
	}
	if err != nil {
		return e.enc.Encode(ev) // for its error
	}
	e.buf = append(b, '}', '\n')
	_, err = e.w.Write(e.buf)
	return err
}
