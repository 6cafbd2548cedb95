// Package api serves the application service (package app) as HTTP/JSON on
// the workspace owner's unix socket, and is a client of it: Client
// implements app.Service over the socket, so a process that is not the
// owner holds the same interface as the one that is. docs/api.md lists the
// routes; routes.go is the one table of them, read by both sides.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// Version is the API's version, the first path element of every route.
const Version = "v1"

// Server serves one owner's service.
type Server struct {
	svc app.Service
	hs  *http.Server
	mux *http.ServeMux
	// patterns are the routes registered, in order: the OpenAPI document's
	// operations must be exactly these (openapi_test.go).
	patterns []string
	// front is what serves a request: mux, or the HTTP face's
	// authentication and extra handlers before it (HTTPServer).
	front http.Handler

	// base is cancelled to interrupt requests in flight; closing ends the
	// event streams, which would otherwise hold Shutdown forever.
	base    context.Context
	cancel  context.CancelFunc
	closing chan struct{}
	once    sync.Once

	clients atomic.Int64
	idle    chan struct{} // poked whenever a held request ends

	// Every request but a status question (event streams too): what a
	// background owner's idle exit waits on (Activity).
	active  atomic.Int64
	lastEnd atomic.Int64 // unix nanoseconds when one last ended

	// Connections accepted whose first request has not reached a handler
	// yet: http.Server.Shutdown would drop that request unanswered.
	newMu    sync.Mutex
	newConns map[net.Conn]struct{}
	started  chan struct{} // poked whenever one leaves newConns
}

type connKey struct{}

// NewServer builds the routes of docs/api.md over svc.
func NewServer(svc app.Service) *Server {
	s := &Server{svc: svc, mux: http.NewServeMux(), closing: make(chan struct{}), idle: make(chan struct{}, 1),
		newConns: map[net.Conn]struct{}{}, started: make(chan struct{}, 1)}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.hs = &http.Server{ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return s.base },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.newMu.Lock()
				s.newConns[c] = struct{}{}
				s.newMu.Unlock()
			case http.StateClosed, http.StateHijacked:
				s.startedConn(c)
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
				s.startedConn(c)
			}
			if r.URL.Path != "/"+Version+"/status" {
				s.active.Add(1)
				defer func() {
					s.lastEnd.Store(time.Now().UnixNano())
					s.active.Add(-1)
				}()
			}
			s.front.ServeHTTP(w, r)
		})}
	s.front = s.mux
	s.routes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, app.Errorf(app.CodeNotFound, "no route %s %s (see docs/api.md)", r.Method, r.URL.Path))
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

// Clients is the number of held requests now: every request but an event
// stream that did not ask to hold the owner (see hold).
func (s *Server) Clients() int { return int(s.clients.Load()) }

// Activity is the number of requests in flight, event streams included,
// and when the last one ended (zero if none has); a status question is
// neither, so that asking whether an owner is idle does not keep it busy.
func (s *Server) Activity() (inFlight int, lastEnd time.Time) {
	n := int(s.active.Load())
	if ns := s.lastEnd.Load(); ns != 0 {
		lastEnd = time.Unix(0, ns)
	}
	return n, lastEnd
}

// WaitIdle returns once no held request is in flight, or when ctx ends.
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

// Interrupt cancels the context of every request in flight.
func (s *Server) Interrupt() { s.cancel() }

// startedConn notes that connection c has no first request waiting any more.
func (s *Server) startedConn(c net.Conn) {
	s.newMu.Lock()
	_, ok := s.newConns[c]
	delete(s.newConns, c)
	s.newMu.Unlock()
	if ok {
		select {
		case s.started <- struct{}{}:
		default:
		}
	}
}

// waitStarted returns once every connection accepted has had its first
// request reach a handler (or closed), or when ctx ends.
func (s *Server) waitStarted(ctx context.Context) error {
	for {
		s.newMu.Lock()
		n := len(s.newConns)
		s.newMu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-s.started:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Shutdown stops accepting, ends the event streams, and waits (bounded by
// ctx) for running requests to end. A request on a connection accepted
// before is served first: the caller stops new connections from reaching
// the listener (Listener.Unlink) before it calls Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.waitStarted(ctx)
	s.once.Do(func() { close(s.closing) })
	err := s.hs.Shutdown(ctx)
	s.cancel()
	return err
}

// hold counts a request as a client the owner waits for before it stops.
func (s *Server) hold() func() {
	s.clients.Add(1)
	return func() {
		s.clients.Add(-1)
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// route registers a route of the API.
func (s *Server) route(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, h)
}

// handle registers a route whose answer is JSON.
func (s *Server) handle(pattern string, fn func(r *http.Request) (any, error)) {
	s.route(pattern, func(w http.ResponseWriter, r *http.Request) {
		defer s.hold()()
		out, err := fn(r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// MaxBody bounds a JSON request body (a program, an example, a request, a
// GraphQL operation): above the config's default input and program file
// limits together.
const MaxBody = 32 << 20

// decode reads a request's JSON body into a new T; unknown fields, trailing
// data, a body over MaxBody and numbers out of range (checkRanges) are
// errors naming what is wrong.
func decode[T any](r *http.Request) (*T, error) {
	return Decode[T](r.Method+" "+r.URL.Path, r.Body)
}

// Decode is decode for another face of the service (the GraphQL API's JSON
// inputs): body read into a new T, checked as a route's, the error invalid
// and saying what (a route, an argument) it was for.
func Decode[T any](what string, body io.Reader) (*T, error) {
	v, err := decodeBody[T](body)
	if err != nil {
		e := app.Errorf(app.CodeInvalid, "%s: %v", what, err)
		var ae *app.Error
		if errors.As(err, &ae) {
			e.Field = ae.Field
		}
		return nil, e
	}
	return v, nil
}

// decodeBody is decode's reading and checking of the body, as the fuzz
// target drives it.
func decodeBody[T any](body io.Reader) (*T, error) {
	var v T
	dec := json.NewDecoder(http.MaxBytesReader(nil, io.NopCloser(body), MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("request body: larger than the limit of %s", model.FormatSize(MaxBody))
		}
		return nil, fmt.Errorf("request body: %v", err)
	}
	if dec.More() {
		return nil, errors.New("request body: data after the JSON value")
	}
	if err := checkRanges(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// numRange is the range of a number a request may carry, by its JSON name
// (the same in a body and in a query).
type numRange struct {
	lo, hi float64 // hi 0: no upper bound
	note   string
}

var numRanges = map[string]numRange{
	"version": {note: "0 = newest"},
	"limit":   {note: "0 = the default"},
	"threads": {hi: 64, note: "0 = the default"},
	"after":   {},
	"n":       {},
	"worker":  {},
	"seed":    {hi: 1<<32 - 1},
	"budget":  {note: "USD; 0 = none"},
	"usd":     {note: "USD; 0 removes the cap"},
}

// inRange checks the number v of the field named name against numRanges.
func inRange(name string, v float64) error {
	rg, ok := numRanges[name]
	if !ok || (v >= rg.lo && (rg.hi == 0 || v <= rg.hi)) {
		return nil
	}
	want := fmt.Sprintf("at least %g", rg.lo)
	if rg.hi != 0 {
		want = fmt.Sprintf("%g to %g", rg.lo, rg.hi)
	}
	if rg.note != "" {
		want += "; " + rg.note
	}
	return &app.Error{Code: app.CodeInvalid, Field: name, Message: fmt.Sprintf("%s: %v is out of range (%s)", name, v, want)}
}

// checkRanges checks the numbers among the top-level fields of the struct v
// points to.
func checkRanges(v any) error {
	rv := reflect.ValueOf(v).Elem()
	if rv.Kind() != reflect.Struct {
		return nil
	}
	for i := range rv.NumField() {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
		var n float64
		switch f := rv.Field(i); f.Kind() {
		case reflect.Int, reflect.Int64, reflect.Int32:
			n = float64(f.Int())
		case reflect.Float64, reflect.Float32:
			n = f.Float()
		default:
			continue
		}
		if err := inRange(name, n); err != nil {
			return err
		}
	}
	return nil
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &app.Error{Code: app.CodeInvalid, Field: name, Message: fmt.Sprintf("%s: %q is not a whole number", name, v)}
	}
	if err := inRange(name, float64(n)); err != nil {
		return 0, err
	}
	return n, nil
}

// durationParam is a Go duration ("24h", "90m"); "" is 0.
func durationParam(r *http.Request, name string) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &app.Error{Code: app.CodeInvalid, Field: name, Message: fmt.Sprintf("%s: %q is not a duration ≥ 0 (as in 24h or 90m)", name, v)}
	}
	return d, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, app.Errorf(app.CodeInvalid, "%s %q: want true or false", name, v)
	}
	return b, nil
}

func idParam(r *http.Request, name string) (model.ID, error) {
	id, err := model.ParseID(r.PathValue(name))
	if err != nil {
		return id, app.Errorf(app.CodeInvalid, "%s: %v", name, err)
	}
	return id, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error app.Error `json:"error"`
}

// statusOf is the HTTP status of a service error code.
var statusOf = map[app.Code]int{
	app.CodeNotFound:    http.StatusNotFound,
	app.CodeExists:      http.StatusConflict,
	app.CodeInvalid:     http.StatusBadRequest,
	app.CodeFinished:    http.StatusConflict,
	app.CodeBudget:      http.StatusConflict,
	app.CodeRegressed:   http.StatusConflict,
	app.CodeUnavailable: http.StatusServiceUnavailable,
	app.CodeInternal:    http.StatusInternalServerError,

	app.CodeUnauthenticated: http.StatusUnauthorized,
	app.CodeForbidden:       http.StatusForbidden,
	app.CodePaymentRequired: http.StatusPaymentRequired,
}

// writeError answers with the error's code, its status, and its whole text
// as the message, so a client prints what the owner would have.
func writeError(w http.ResponseWriter, err error) {
	body := ErrorBody{Error: app.Error{Code: app.CodeOf(err), Message: err.Error()}}
	var ae *app.Error
	if errors.As(err, &ae) {
		body.Error.Field = ae.Field
	}
	status, ok := statusOf[body.Error.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, body)
}

// ErrNoOwner says that a request could not connect to an owner: no socket
// file, or nobody listening on it. Nothing ran; another owner may be tried.
var ErrNoOwner = errors.New("no owner running")

func badRoute(r *http.Request, format string, a ...any) error {
	return app.Errorf(app.CodeInvalid, "%s %s: %s", r.Method, r.URL.Path, fmt.Sprintf(format, a...))
}
