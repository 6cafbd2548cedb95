package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/engine"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// Backend is what the server needs from the owner process.
type Backend interface {
	Store() *store.Store
	// Engine returns the running engine, starting the worker pool and the
	// engine (which recovers what an earlier owner left) on first use.
	Engine(ctx context.Context) (*engine.Engine, error)
	// Started says whether the engine runs.
	Started() bool
	// Subscribe subscribes to the engine's events (engine.Subscribe): at
	// once if there is an engine, else when one is created, before it
	// starts, so that no event of it is missed. The subscription arrives on
	// the channel; cancel gives up waiting (and ends a subscription that
	// arrived but was not taken).
	Subscribe(buffer int) (sub <-chan Subscription, cancel func())
	Pool() []bridge.WorkerStatus // nil while no pool runs
	Owner() Owner
	// CLI runs a client's command line in the owner and returns its exit code.
	CLI(ctx context.Context, req *CLIRequest, stdout, stderr io.Writer) int
}

// Subscription is a subscription to the engine's events.
type Subscription struct {
	C    <-chan engine.Event
	Stop func()
}

// Server serves the API of one owner.
type Server struct {
	b   Backend
	hs  *http.Server
	mux *http.ServeMux

	// base is cancelled to interrupt forwarded commands; closing ends the
	// event streams, which would otherwise hold Shutdown forever.
	base    context.Context
	cancel  context.CancelFunc
	closing chan struct{}
	once    sync.Once

	clients atomic.Int64
	idle    chan struct{} // poked whenever a forwarded command ends
}

// NewServer builds the routes of docs/api.md over b.
func NewServer(b Backend) *Server {
	s := &Server{b: b, mux: http.NewServeMux(), closing: make(chan struct{}), idle: make(chan struct{}, 1)}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.hs = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	m := s.mux
	m.HandleFunc("GET /v1/status", s.status)
	m.HandleFunc("POST /v1/cli", s.cli)
	m.HandleFunc("GET /v1/events", s.events)
	m.HandleFunc("GET /v1/programs", s.listPrograms)
	m.HandleFunc("GET /v1/programs/{name}", s.getProgram)
	m.HandleFunc("PUT /v1/programs/{name}", s.saveProgram)
	m.HandleFunc("GET /v1/programs/{name}/versions", s.programVersions)
	s.programRoutes(m) // create, status, delete (api/programs.go)
	m.HandleFunc("GET /v1/datasets", s.listDatasets)
	m.HandleFunc("GET /v1/datasets/{name}", s.getDataset)
	m.HandleFunc("GET /v1/datasets/{name}/examples", s.listExamples)
	s.routeExamples(m) // api/datasets_edit.go
	m.HandleFunc("GET /v1/executions", s.listExecutions)
	m.HandleFunc("POST /v1/executions", s.submit)
	m.HandleFunc("GET /v1/executions/{id}", s.getExecution)
	m.HandleFunc("GET /v1/executions/{id}/spans", s.spans)
	m.HandleFunc("POST /v1/executions/{id}/cancel", s.cancelExecution)
	m.HandleFunc("GET /v1/cost", s.cost)
	s.optimizationRoutes(m)
	s.evaluationRoutes(m)                     // api/evaluations.go
	s.poolRoutes(m)                           // api/pool.go
	m.HandleFunc("POST /v1/render", s.render) // api/runs.go
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("no route %s %s (see docs/api.md)", r.Method, r.URL.Path)})
	})
	return s
}

// Handler is the routes, for tests that serve them some other way.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Clients is the number of forwarded commands running now.
func (s *Server) Clients() int { return int(s.clients.Load()) }

// WaitIdle returns once no forwarded command runs, or when ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	for s.clients.Load() > 0 {
		select {
		case <-s.idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Interrupt cancels the context of every forwarded command, as ctrl-c would.
func (s *Server) Interrupt() { s.cancel() }

// Shutdown stops accepting, ends the event streams, and waits (bounded by
// ctx) for running requests to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() { close(s.closing) })
	err := s.hs.Shutdown(ctx)
	s.cancel()
	return err
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.Status(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Status is what GET /v1/status answers.
func (s *Server) Status(ctx context.Context) (*Status, error) {
	o := s.b.Owner()
	st := &Status{API: Version, PID: o.PID, Started: o.Started, Uptime: time.Since(o.Started).Seconds(),
		Workspace: o.Workspace, Version: o.Version, Command: o.Command, Engine: "idle",
		Pool: Workers(s.b.Pool()), Clients: s.Clients()}
	if s.b.Started() {
		st.Engine = "running"
	}
	var err error
	if st.Queue.Pending, err = s.b.Store().CountExecutions(ctx, store.ExecQuery{State: model.Pending}); err != nil {
		return nil, err
	}
	if st.Queue.Running, err = s.b.Store().CountExecutions(ctx, store.ExecQuery{State: model.Running}); err != nil {
		return nil, err
	}
	st.Queue.Depth = st.Queue.Pending + st.Queue.Running
	return st, nil
}

// maxCLIRequest bounds a forwarded command line with its stdin.
const maxCLIRequest = 64 << 20

func (s *Server) cli(w http.ResponseWriter, r *http.Request) {
	var req CLIRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
		writeError(w, badRequest("cli request: %v", err))
		return
	}
	s.clients.Add(1)
	defer func() {
		s.clients.Add(-1)
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}()
	// The command ends with the client's connection, or when the owner stops.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.base, cancel)
	defer stop()

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	fw := newFrameWriter(w)
	code := s.b.CLI(ctx, &req, fw.stream("stdout"), fw.stream("stderr"))
	fw.finish(code)
}

// frameWriter turns a command's writes into Frames. Writes are coalesced
// (tables are written a cell at a time) and flushed within flushEvery, so
// that progress still shows live.
type frameWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	bw      *bufio.Writer
	enc     *json.Encoder
	cur     string // stream of pending
	pending []byte
	timer   *time.Timer
	done    bool
	err     error
}

const (
	flushEvery   = 20 * time.Millisecond
	maxFrameData = 32 << 10
)

func newFrameWriter(w http.ResponseWriter) *frameWriter {
	f := &frameWriter{w: w, bw: bufio.NewWriterSize(w, 64<<10)}
	f.enc = json.NewEncoder(f.bw)
	return f
}

type streamWriter struct {
	f    *frameWriter
	name string
}

func (s streamWriter) Write(p []byte) (int, error) { return s.f.write(s.name, p) }

func (f *frameWriter) stream(name string) io.Writer { return streamWriter{f, name} }

func (f *frameWriter) write(stream string, p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return 0, errors.New("api: write after the command ended")
	}
	if f.err != nil {
		return 0, f.err
	}
	if stream != f.cur {
		f.emitLocked()
		f.cur = stream
	}
	f.pending = append(f.pending, p...)
	if len(f.pending) >= maxFrameData {
		f.emitLocked()
	}
	if f.timer == nil {
		f.timer = time.AfterFunc(flushEvery, f.flush)
	}
	return len(p), f.err
}

func (f *frameWriter) emitLocked() {
	if len(f.pending) == 0 || f.err != nil {
		return
	}
	fr := Frame{Stream: f.cur}
	if utf8.Valid(f.pending) {
		fr.Data = string(f.pending)
	} else {
		fr.Bytes = f.pending
	}
	f.err = f.enc.Encode(fr)
	f.pending = f.pending[:0]
}

func (f *frameWriter) flushLocked() {
	f.emitLocked()
	if f.err == nil {
		f.err = f.bw.Flush()
	}
	if f.err == nil {
		http.NewResponseController(f.w).Flush()
	}
}

func (f *frameWriter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timer = nil
	if !f.done {
		f.flushLocked()
	}
}

func (f *frameWriter) finish(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.emitLocked()
	if f.err == nil {
		f.err = f.enc.Encode(Frame{Exit: &code})
	}
	f.flushLocked()
	f.done = true
}

// events streams engine events as JSON lines. The first line is the pool's
// state; then execution state changes (never dropped), spans (dropped while
// this client is far behind) and pool changes. Before the engine runs there
// is nothing to stream but the pool: the stream waits for it to start.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	rc := http.NewResponseController(w)
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		return rc.Flush() == nil
	}
	last := ""
	sendPool := func(force bool) bool {
		ev := Event{Kind: EventPool, Pool: Workers(s.b.Pool()), Engine: "idle"}
		if s.b.Started() {
			ev.Engine = "running"
		}
		key := poolKey(ev)
		if !force && key == last {
			return true
		}
		last = key
		return enc.Encode(ev) == nil && flush()
	}
	// Subscribed before the first line, so that a client that has read it
	// misses nothing that happens after.
	subc, cancel := s.b.Subscribe(1024)
	defer cancel()
	var ch <-chan engine.Event
	take := func(sub Subscription) {
		ch = sub.C
		context.AfterFunc(ctx, sub.Stop) // ctx ends when the handler returns
	}
	select {
	case sub := <-subc:
		take(sub)
	default:
	}
	if !sendPool(true) {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ch == nil {
		select {
		case sub := <-subc:
			take(sub)
		case <-tick.C:
			if !sendPool(false) {
				return
			}
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		}
	}
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				flush()
				return // the engine closed
			}
			if enc.Encode(wireEvent(ev)) != nil {
				return
			}
			// Flush when caught up: under load, many events per write.
			if len(ch) == 0 && !flush() {
				return
			}
		case <-tick.C:
			if !sendPool(false) {
				return
			}
		case <-ctx.Done():
			return
		case <-s.closing:
			flush()
			return
		}
	}
}

func wireEvent(ev engine.Event) Event {
	return Event{Kind: ev.Kind, Execution: ev.Execution, Span: ev.Span, Optimization: ev.Optimization, Progress: ev.Progress,
		Evaluation: ev.Evaluation}
}

// poolKey is what of the pool is worth an event: not uptimes or counters.
func poolKey(ev Event) string {
	k := ev.Engine
	for _, w := range ev.Pool {
		k += fmt.Sprintf("|%d %s %d %d %d %s", w.ID, w.State, w.PID, w.Restarts, w.Inflight, w.LastError)
	}
	return k
}

func (s *Server) listPrograms(w http.ResponseWriter, r *http.Request) {
	ps, err := s.b.Store().ListPrograms(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(ps))
}

func (s *Server) getProgram(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, err := intParam(r, "version")
	if err != nil {
		writeError(w, err)
		return
	}
	var p *model.Program
	if v > 0 {
		p, err = s.b.Store().GetProgramVersion(r.Context(), name, v)
	} else {
		p, err = s.b.Store().GetProgram(r.Context(), name)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// saveProgram stores the body as a new version of an existing program, as
// `program edit` does.
func (s *Server) saveProgram(w http.ResponseWriter, r *http.Request) {
	var p model.Program
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&p); err != nil {
		writeError(w, badRequest("program: %v", err))
		return
	}
	if p.Name != r.PathValue("name") {
		writeError(w, badRequest("program name %q in the body differs from %q in the path", p.Name, r.PathValue("name")))
		return
	}
	saved, err := s.b.Store().SaveProgram(r.Context(), &p)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, saved)
}

func (s *Server) programVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.b.Store().ProgramVersions(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(vs))
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) {
	ds, err := s.b.Store().ListDatasets(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(ds))
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) {
	d, err := s.b.Store().GetDataset(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) listExamples(w http.ResponseWriter, r *http.Request) {
	q := store.ExampleQuery{Dataset: r.PathValue("name"), Cursor: r.URL.Query().Get("cursor")}
	var err error
	if sp := r.URL.Query().Get("split"); sp != "" {
		if q.Split, err = model.ParseSplit(sp); err != nil {
			writeError(w, badRequest("split: %v", err))
			return
		}
	}
	if q.Limit, err = intParam(r, "limit"); err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.b.Store().GetDataset(r.Context(), q.Dataset); err != nil {
		writeError(w, err)
		return
	}
	exs, next, err := s.b.Store().ListExamples(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ExamplePage{Examples: nonNil(exs), Next: next})
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	q := store.ExecQuery{Program: qv.Get("program"), Cursor: qv.Get("cursor")}
	var err error
	if st := qv.Get("state"); st != "" {
		if q.State, err = model.ParseRunState(st); err != nil {
			writeError(w, badRequest("state: %v", err))
			return
		}
	}
	if q.Limit, err = intParam(r, "limit"); err != nil {
		writeError(w, err)
		return
	}
	xs, next, err := s.b.Store().ListExecutions(r.Context(), q)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ExecutionPage{Executions: nonNil(xs), Next: next})
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	x, err := s.b.Store().GetExecution(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) spans(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var after uint64
	if a := r.URL.Query().Get("after"); a != "" {
		if after, err = strconv.ParseUint(a, 10, 64); err != nil {
			writeError(w, badRequest("after %q: want a span seq", a))
			return
		}
	}
	limit, err := intParam(r, "limit")
	if err != nil {
		writeError(w, err)
		return
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if _, err := s.b.Store().GetExecution(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	spans, err := s.b.Store().Spans(r.Context(), id, after, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	page := SpanPage{Spans: nonNil(spans)}
	if len(spans) == limit {
		page.Next = spans[len(spans)-1].Seq
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
		writeError(w, badRequest("execution request: %v", err))
		return
	}
	if req.Program == "" {
		writeError(w, badRequest("execution request: program is required"))
		return
	}
	eng, err := s.b.Engine(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	x, err := eng.Submit(r.Context(), engine.Request{Program: req.Program, Version: req.Version, Inputs: req.Inputs, LM: req.LM, NoCache: req.NoCache, Variant: req.Variant})
	if err != nil {
		writeError(w, err)
		return
	}
	if req.Wait && !x.State.Terminal() {
		if x, err = eng.Wait(r.Context(), x.ID); err != nil {
			writeError(w, err)
			return
		}
	}
	status := http.StatusAccepted
	if x.State.Terminal() {
		status = http.StatusOK
	}
	writeJSON(w, status, x)
}

func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.b.Store().GetExecution(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	eng, err := s.b.Engine(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	if err := eng.Cancel(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	x, err := s.b.Store().GetExecution(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) cost(w http.ResponseWriter, r *http.Request) {
	program, month := r.URL.Query().Get("program"), r.URL.Query().Get("month")
	switch month {
	case "":
		month = time.Now().UTC().Format("2006-01")
	case "all":
		month = ""
	default:
		if _, err := time.Parse("2006-01", month); err != nil {
			writeError(w, badRequest("month %q: want YYYY-MM or all", month))
			return
		}
	}
	rs, err := s.b.Store().CostRollups(r.Context(), program, month)
	if err != nil {
		writeError(w, err)
		return
	}
	budgets, err := s.b.Store().Budgets(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := Cost{Month: month, Programs: []CostRow{}, Budgets: budgets}
	for _, x := range rs {
		out.Programs = append(out.Programs, CostRow{x.Program, x.Month, x.Executions, x.Usage, x.Cost})
		out.Total += x.Cost
	}
	writeJSON(w, http.StatusOK, out)
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("%s %q: want a number ≥ 0", name, v)
	}
	return n, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s %q: want true or false", name, v)
	}
	return b, nil
}

func pathID(r *http.Request) (model.ID, error) {
	id, err := model.ParseID(r.PathValue("id"))
	if err != nil {
		return id, badRequest("execution id: %v", err)
	}
	return id, nil
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func badRequest(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with the JSON error body, the status and code chosen
// from what err wraps.
func writeError(w http.ResponseWriter, err error) {
	e := &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()}
	var ae *Error
	var be *engine.BudgetError
	var fe *model.FieldError
	switch {
	case errors.As(err, &ae):
		e = ae
	case errors.Is(err, store.ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, store.ErrExists):
		e.Status, e.Code = http.StatusConflict, CodeExists
	case errors.Is(err, engine.ErrFinished):
		e.Status, e.Code = http.StatusConflict, CodeFinished
	case errors.As(err, &be):
		e.Status, e.Code = http.StatusConflict, CodeBudget
	case errors.Is(err, engine.ErrClosed):
		e.Status, e.Code = http.StatusServiceUnavailable, CodeUnavailable
	case errors.As(err, &fe), errors.Is(err, store.ErrInvalidCursor):
		e.Status, e.Code = http.StatusBadRequest, CodeBadRequest
	}
	var body ErrorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	writeJSON(w, e.Status, body)
}
