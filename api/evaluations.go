package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/signet-dspy/signet/evaluate"
	"github.com/signet-dspy/signet/model"
)

// EvaluationBackend is what the evaluation routes need of the owner beyond
// Backend: the evaluation runner, which starts with the engine. A backend
// without it serves the read-only routes.
type EvaluationBackend interface {
	Evaluations(ctx context.Context) (*evaluate.Runner, error)
	// RunningEvaluations is the runner if it runs, else nil.
	RunningEvaluations() *evaluate.Runner
}

// EvaluationRequest is POST /v1/evaluations.
type EvaluationRequest struct {
	evaluate.Request
	Wait bool `json:"wait,omitempty"` // answer once the evaluation has ended
}

// EvaluationPage is GET /v1/evaluations.
type EvaluationPage struct {
	Evaluations []*model.Evaluation `json:"evaluations"`
	Next        string              `json:"next_cursor,omitempty"`
}

// EvaluationDetail is GET /v1/evaluations/{id} (and `signet eval show
// --json`): the evaluation and the result of every example that ended.
type EvaluationDetail struct {
	*model.Evaluation
	Results []*model.EvalResult `json:"results"`
}

func (s *Server) evaluationRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /v1/evaluations", s.listEvaluations)
	m.HandleFunc("POST /v1/evaluations", s.submitEvaluation)
	m.HandleFunc("GET /v1/evaluations/{id}", s.getEvaluation)
	m.HandleFunc("POST /v1/evaluations/{id}/cancel", s.cancelEvaluation)
}

func (s *Server) evaluator(ctx context.Context) (*evaluate.Runner, error) {
	eb, ok := s.b.(EvaluationBackend)
	if !ok {
		return nil, &Error{Status: http.StatusNotImplemented, Code: CodeUnsupported, Message: "this owner does not run evaluations"}
	}
	return eb.Evaluations(ctx)
}

// evalError maps the evaluate package's errors, then the common ones.
func evalError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, evaluate.ErrFinished):
		err = &Error{Status: http.StatusConflict, Code: CodeFinished, Message: err.Error()}
	case errors.Is(err, evaluate.ErrClosed):
		err = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	}
	writeError(w, err)
}

func evalID(r *http.Request) (model.ID, error) {
	id, err := model.ParseID(r.PathValue("id"))
	if err != nil {
		return id, badRequest("evaluation id: %v", err)
	}
	return id, nil
}

// currentEvaluation is the live record while the runner holds the evaluation, else
// the stored one.
func (s *Server) currentEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	if eb, ok := s.b.(EvaluationBackend); ok && eb.RunningEvaluations() != nil {
		return eb.RunningEvaluations().Current(ctx, id)
	}
	return s.b.Store().GetEvaluation(ctx, id)
}

func (s *Server) listEvaluations(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit")
	if err != nil {
		writeError(w, err)
		return
	}
	vs, next, err := s.b.Store().ListEvaluations(r.Context(), r.URL.Query().Get("program"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	for i, v := range vs {
		if !v.State.Terminal() {
			if cur, err := s.currentEvaluation(r.Context(), v.ID); err == nil {
				vs[i] = cur
			}
		}
	}
	writeJSON(w, http.StatusOK, EvaluationPage{Evaluations: nonNil(vs), Next: next})
}

func (s *Server) getEvaluation(w http.ResponseWriter, r *http.Request) {
	id, err := evalID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.currentEvaluation(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	results, err := s.b.Store().EvalResults(r.Context(), id, 0, 0)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, EvaluationDetail{Evaluation: v, Results: nonNil(results)})
}

func (s *Server) submitEvaluation(w http.ResponseWriter, r *http.Request) {
	var req EvaluationRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
		writeError(w, badRequest("evaluation request: %v", err))
		return
	}
	if req.Program == "" {
		writeError(w, badRequest("evaluation request: program is required"))
		return
	}
	run, err := s.evaluator(r.Context())
	if err != nil {
		evalError(w, err)
		return
	}
	v, err := run.Submit(r.Context(), req.Request)
	if err != nil {
		evalError(w, err)
		return
	}
	if req.Wait {
		if v, err = run.Wait(r.Context(), v.ID); err != nil {
			evalError(w, err)
			return
		}
	}
	status := http.StatusAccepted
	if v.State.Terminal() {
		status = http.StatusOK
	}
	writeJSON(w, status, v)
}

func (s *Server) cancelEvaluation(w http.ResponseWriter, r *http.Request) {
	id, err := evalID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.b.Store().GetEvaluation(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	run, err := s.evaluator(r.Context())
	if err != nil {
		evalError(w, err)
		return
	}
	if err := run.Cancel(r.Context(), id); err != nil {
		evalError(w, err)
		return
	}
	v, err := run.Current(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// Evaluations lists evaluations of a program ("" = all), newest first.
func (c *Client) Evaluations(ctx context.Context, program, cursor string, limit int) (*EvaluationPage, error) {
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
	var page EvaluationPage
	if err := c.do(ctx, http.MethodGet, "/v1/evaluations?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Evaluation returns one evaluation (live while it runs) with the results
// of its examples that ended.
func (c *Client) Evaluation(ctx context.Context, id model.ID) (*EvaluationDetail, error) {
	var d EvaluationDetail
	if err := c.do(ctx, http.MethodGet, "/v1/evaluations/"+id.String(), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// SubmitEvaluation starts an evaluation (and waits for its end with req.Wait).
func (c *Client) SubmitEvaluation(ctx context.Context, req EvaluationRequest) (*model.Evaluation, error) {
	var v model.Evaluation
	if err := c.do(ctx, http.MethodPost, "/v1/evaluations", req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// CancelEvaluation stops an evaluation; it ends cancelled with the
// examples that ended.
func (c *Client) CancelEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error) {
	var v model.Evaluation
	if err := c.do(ctx, http.MethodPost, "/v1/evaluations/"+id.String()+"/cancel", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
