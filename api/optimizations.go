package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/optimize"
)

// OptimizationBackend is what the optimization routes need of the owner
// beyond Backend: the optimization runner, started (with its dedicated
// worker) on first use. A backend without it serves the read-only routes.
type OptimizationBackend interface {
	Optimizations(ctx context.Context) (*optimize.Runner, error)
	// RunningOptimizations is the runner if it runs, else nil.
	RunningOptimizations() *optimize.Runner
}

// OptimizationRequest is POST /v1/optimizations.
type OptimizationRequest struct {
	optimize.Request
	Wait bool `json:"wait,omitempty"` // answer once the run has ended
}

// OptimizationPage is GET /v1/optimizations.
type OptimizationPage struct {
	Optimizations []*model.Optimization `json:"optimizations"`
	Next          string                `json:"next_cursor,omitempty"`
}

// CodeUnsupported answers a route the owner cannot serve.
const CodeUnsupported = "unsupported"

func (s *Server) optimizationRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /v1/optimizations", s.listOptimizations)
	m.HandleFunc("POST /v1/optimizations", s.submitOptimization)
	m.HandleFunc("GET /v1/optimizations/compare", s.compareOptimizations)
	m.HandleFunc("GET /v1/optimizations/{id}", s.getOptimization)
	m.HandleFunc("GET /v1/optimizations/{id}/trials", s.optimizationTrials)
	m.HandleFunc("POST /v1/optimizations/{id}/cancel", s.cancelOptimization)
	m.HandleFunc("POST /v1/optimizations/{id}/promote", s.promoteOptimization)
}

func (s *Server) runner(ctx context.Context) (*optimize.Runner, error) {
	ob, ok := s.b.(OptimizationBackend)
	if !ok {
		return nil, &Error{Status: http.StatusNotImplemented, Code: CodeUnsupported, Message: "this owner does not run optimizations"}
	}
	return ob.Optimizations(ctx)
}

// optError maps the optimize package's errors, then the common ones.
func optError(w http.ResponseWriter, err error) {
	var be *optimize.BudgetError
	switch {
	case errors.As(err, &be):
		err = &Error{Status: http.StatusConflict, Code: CodeBudget, Message: err.Error()}
	case errors.Is(err, optimize.ErrNoResult):
		err = &Error{Status: http.StatusConflict, Code: CodeBadRequest, Message: err.Error()}
	case errors.Is(err, optimize.ErrRegressed):
		err = &Error{Status: http.StatusConflict, Code: CodeRegressed, Message: err.Error()}
	case errors.Is(err, optimize.ErrFinished):
		err = &Error{Status: http.StatusConflict, Code: CodeFinished, Message: err.Error()}
	case errors.Is(err, optimize.ErrClosed):
		err = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	}
	writeError(w, err)
}

func optID(r *http.Request) (model.ID, error) {
	id, err := model.ParseID(r.PathValue("id"))
	if err != nil {
		return id, badRequest("optimization id: %v", err)
	}
	return id, nil
}

func (s *Server) listOptimizations(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit")
	if err != nil {
		writeError(w, err)
		return
	}
	os, next, err := s.b.Store().ListOptimizations(r.Context(), r.URL.Query().Get("program"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, OptimizationPage{Optimizations: nonNil(os), Next: next})
}

// getOptimization answers the live record (with its latest progress) when
// the runner holds the run, else the stored one.
func (s *Server) getOptimization(w http.ResponseWriter, r *http.Request) {
	id, err := optID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var o *model.Optimization
	if ob, ok := s.b.(OptimizationBackend); ok && ob.RunningOptimizations() != nil {
		o, err = ob.RunningOptimizations().Current(r.Context(), id)
	} else {
		o, err = s.b.Store().GetOptimization(r.Context(), id)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) optimizationTrials(w http.ResponseWriter, r *http.Request) {
	id, err := optID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ts, err := s.b.Store().Trials(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(ts))
}

func (s *Server) submitOptimization(w http.ResponseWriter, r *http.Request) {
	var req OptimizationRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
		writeError(w, badRequest("optimization request: %v", err))
		return
	}
	if req.Program == "" {
		writeError(w, badRequest("optimization request: program is required"))
		return
	}
	run, err := s.runner(r.Context())
	if err != nil {
		optError(w, err)
		return
	}
	o, err := run.Submit(r.Context(), req.Request)
	if err != nil {
		optError(w, err)
		return
	}
	if req.Wait {
		if o, err = run.Wait(r.Context(), o.ID); err != nil {
			optError(w, err)
			return
		}
	}
	status := http.StatusAccepted
	if o.State.Terminal() {
		status = http.StatusOK
	}
	writeJSON(w, status, o)
}

func (s *Server) promoteOptimization(w http.ResponseWriter, r *http.Request) {
	id, err := optID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	force, err := boolParam(r, "force")
	if err != nil {
		writeError(w, err)
		return
	}
	p, _, err := optimize.Promote(r.Context(), s.b.Store(), id, force)
	if err != nil {
		optError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) cancelOptimization(w http.ResponseWriter, r *http.Request) {
	id, err := optID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.b.Store().GetOptimization(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	run, err := s.runner(r.Context())
	if err != nil {
		optError(w, err)
		return
	}
	if err := run.Cancel(r.Context(), id); err != nil {
		optError(w, err)
		return
	}
	o, err := run.Current(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) compareOptimizations(w http.ResponseWriter, r *http.Request) {
	var ids []model.ID
	for _, v := range r.URL.Query()["id"] {
		id, err := model.ParseID(v)
		if err != nil {
			writeError(w, badRequest("id %q: %v", v, err))
			return
		}
		ids = append(ids, id)
	}
	if len(ids) < 2 {
		writeError(w, badRequest("compare: give at least two runs: ?id=A&id=B"))
		return
	}
	c, err := optimize.Compare(r.Context(), s.b.Store(), ids)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// Optimizations lists runs of a program ("" = all), newest first.
func (c *Client) Optimizations(ctx context.Context, program, cursor string, limit int) (*OptimizationPage, error) {
	q := url.Values{}
	if program != "" {
		q.Set("program", program)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page OptimizationPage
	if err := c.do(ctx, http.MethodGet, "/v1/optimizations?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Optimization returns one run (live, with its latest progress, while it runs).
func (c *Client) Optimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	var o model.Optimization
	if err := c.do(ctx, http.MethodGet, "/v1/optimizations/"+id.String(), nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Trials returns every trial of a run, by N.
func (c *Client) Trials(ctx context.Context, id model.ID) ([]*model.Trial, error) {
	var ts []*model.Trial
	if err := c.do(ctx, http.MethodGet, "/v1/optimizations/"+id.String()+"/trials", nil, &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// SubmitOptimization starts a run (and waits for its end with req.Wait).
func (c *Client) SubmitOptimization(ctx context.Context, req OptimizationRequest) (*model.Optimization, error) {
	var o model.Optimization
	if err := c.do(ctx, http.MethodPost, "/v1/optimizations", req, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// PromoteOptimization makes run id's result its program's newest version
// (optimize.Promote; force promotes a result that regressed) and returns
// that version.
func (c *Client) PromoteOptimization(ctx context.Context, id model.ID, force bool) (*model.Program, error) {
	var p model.Program
	path := "/v1/optimizations/" + id.String() + "/promote"
	if force {
		path += "?force=true"
	}
	if err := c.do(ctx, http.MethodPost, path, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// CancelOptimization stops a run; a running one ends cancelled with its
// best program so far saved.
func (c *Client) CancelOptimization(ctx context.Context, id model.ID) (*model.Optimization, error) {
	var o model.Optimization
	if err := c.do(ctx, http.MethodPost, "/v1/optimizations/"+id.String()+"/cancel", nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// CompareOptimizations sets runs side by side.
func (c *Client) CompareOptimizations(ctx context.Context, ids ...model.ID) (*optimize.Comparison, error) {
	q := url.Values{}
	for _, id := range ids {
		q.Add("id", id.String())
	}
	var out optimize.Comparison
	if err := c.do(ctx, http.MethodGet, "/v1/optimizations/compare?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
