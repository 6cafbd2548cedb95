package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// endedFlushEvery paces the writes of a stream of ended jobs.
const endedFlushEvery = 10 * time.Millisecond

// keepAliveEvery paces the comments that keep an idle server-sent event
// stream's connection (and the proxies on its way) open.
const keepAliveEvery = 15 * time.Second

// events streams the service's events as JSON lines until the client goes
// or the owner stops; as server-sent events (`event: KIND`, `data: JSON`)
// when the client accepts text/event-stream. A stream with hold=1 (a
// command following its own jobs) counts as a client the owner waits for
// before it stops; the workbench's does not. execution=ID or
// optimization=ID follows one job: its events (an execution's spans too)
// and no others.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	f, err := followOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	sse := acceptsSSE(r)
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
	var keepAlive <-chan time.Time
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		t := time.NewTicker(keepAliveEvery)
		defer t.Stop()
		keepAlive = t.C
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	ew := eventWriter{w: bw, enc: json.NewEncoder(bw), sse: sse}
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
			if (spans || ev.Kind != app.EventSpan) && f.wants(ev) && ew.write(ev) != nil {
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
		case <-keepAlive:
			if _, err := bw.WriteString(": keep-alive\n\n"); err != nil || !flush() {
				return
			}
		case <-s.closing:
			flush()
			return
		}
	}
}

// eventWriter writes events as a json.Encoder does, one per line; an
// execution's or a span's, most of a stream, with the record's own
// encoder (model's AppendJSON: the same bytes, without reflection). With
// sse, each line is a server-sent event's data, its kind the event's name.
type eventWriter struct {
	w   io.Writer
	enc *json.Encoder
	buf []byte
	sse bool
}

func (e *eventWriter) write(ev app.Event) error {
	if !e.sse {
		return e.writeJSON(ev)
	}
	if _, err := io.WriteString(e.w, "event: "+string(ev.Kind)+"\ndata: "); err != nil {
		return err
	}
	if err := e.writeJSON(ev); err != nil {
		return err
	}
	_, err := io.WriteString(e.w, "\n")
	return err
}

// writeJSON writes ev as one line of JSON.
func (e *eventWriter) writeJSON(ev app.Event) error {
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

// acceptsSSE says whether the client asks for server-sent events.
func acceptsSSE(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		for _, t := range strings.Split(a, ",") {
			mt, _, _ := strings.Cut(t, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// follow is the one job a stream follows (none: every event).
type follow struct {
	execution, optimization model.ID
}

func followOf(r *http.Request) (follow, error) {
	var f follow
	q := r.URL.Query()
	for name, id := range map[string]*model.ID{"execution": &f.execution, "optimization": &f.optimization} {
		if v := q.Get(name); v != "" {
			var err error
			if *id, err = model.ParseID(v); err != nil {
				return f, &app.Error{Code: app.CodeInvalid, Field: name, Message: fmt.Sprintf("%s: %v", name, err)}
			}
		}
	}
	if !f.execution.IsZero() && !f.optimization.IsZero() {
		return f, badRoute(r, "follow one job: execution or optimization, not both")
	}
	return f, nil
}

// wants says whether ev is about the job f follows.
func (f follow) wants(ev app.Event) bool {
	switch {
	case !f.execution.IsZero():
		return (ev.Kind == app.EventExecution && ev.Execution != nil && ev.Execution.ID == f.execution) ||
			(ev.Kind == app.EventSpan && ev.Span != nil && ev.Span.Execution == f.execution)
	case !f.optimization.IsZero():
		return ev.Kind == app.EventOptimization && ev.Optimization != nil && ev.Optimization.ID == f.optimization
	}
	return true
}
