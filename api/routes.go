package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// routes is the API: one route per method of app.Service (docs/api.md).
// Client builds the same paths.
func (s *Server) routes() {
	svc := s.svc
	h := s.handle
	h("GET /v1/status", func(r *http.Request) (any, error) { return svc.Status(r.Context()) })

	// Programs.
	h("GET /v1/programs", func(r *http.Request) (any, error) { return nonNil(svc.ListPrograms(r.Context())) })
	h("GET /v1/program-summaries", func(r *http.Request) (any, error) {
		return svc.ProgramSummaries(r.Context(), r.URL.Query()["name"])
	})
	h("POST /v1/programs", func(r *http.Request) (any, error) {
		p, err := decode[model.Program](r)
		if err != nil {
			return nil, err
		}
		return svc.CreateProgram(r.Context(), p)
	})
	h("GET /v1/programs/{name}", func(r *http.Request) (any, error) {
		v, err := intParam(r, "version")
		if err != nil {
			return nil, err
		}
		return svc.Program(r.Context(), r.PathValue("name"), v)
	})
	h("PUT /v1/programs/{name}", func(r *http.Request) (any, error) {
		p, err := decode[model.Program](r)
		if err != nil {
			return nil, err
		}
		if p.Name != r.PathValue("name") {
			return nil, badRoute(r, "the body names program %q", p.Name)
		}
		return svc.SaveProgram(r.Context(), p)
	})
	h("DELETE /v1/programs/{name}", func(r *http.Request) (any, error) {
		return struct{}{}, svc.DeleteProgram(r.Context(), r.PathValue("name"))
	})
	h("GET /v1/programs/{name}/versions", func(r *http.Request) (any, error) {
		return nonNil(svc.ProgramVersions(r.Context(), r.PathValue("name")))
	})
	h("PUT /v1/programs/{name}/status", func(r *http.Request) (any, error) {
		b, err := decode[statusBody](r)
		if err != nil {
			return nil, err
		}
		return svc.SetProgramStatus(r.Context(), r.PathValue("name"), b.Status, b.Note)
	})
	h("PUT /v1/programs/{name}/traffic", func(r *http.Request) (any, error) {
		sp, err := decode[model.TrafficSplit](r)
		if err != nil {
			return nil, err
		}
		if sp.Program != "" && sp.Program != r.PathValue("name") {
			return nil, badRoute(r, "the body names program %q", sp.Program)
		}
		sp.Program = r.PathValue("name")
		return svc.SetTrafficSplit(r.Context(), *sp)
	})
	h("GET /v1/programs/{name}/traffic", func(r *http.Request) (any, error) {
		return svc.TrafficSplit(r.Context(), r.PathValue("name"))
	})
	h("DELETE /v1/programs/{name}/traffic", func(r *http.Request) (any, error) {
		return struct{}{}, svc.ClearTrafficSplit(r.Context(), r.PathValue("name"))
	})
	h("GET /v1/programs/{name}/traffic/report", func(r *http.Request) (any, error) {
		since, err := durationParam(r, "since")
		if err != nil {
			return nil, err
		}
		return svc.TrafficReport(r.Context(), app.TrafficQuery{Program: r.PathValue("name"), Since: since})
	})
	h("GET /v1/programs/{name}/flow", func(r *http.Request) (any, error) {
		v, err := intParam(r, "version")
		if err != nil {
			return nil, err
		}
		return svc.Flow(r.Context(), r.PathValue("name"), v)
	})
	h("POST /v1/programs/{name}/export", func(r *http.Request) (any, error) {
		req, err := decode[app.ExportRequest](r)
		if err != nil {
			return nil, err
		}
		req.Program = r.PathValue("name")
		return svc.ExportProgram(r.Context(), *req)
	})
	h("POST /v1/programs/{name}/import", func(r *http.Request) (any, error) {
		req, err := decode[app.ImportProgramRequest](r)
		if err != nil {
			return nil, err
		}
		req.Name = r.PathValue("name")
		return svc.ImportProgram(r.Context(), *req)
	})
	h("POST /v1/render", func(r *http.Request) (any, error) {
		req, err := decode[app.RenderRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.Render(r.Context(), *req)
	})

	// Indexes.
	h("GET /v1/indexes", func(r *http.Request) (any, error) { return nonNil(svc.ListIndexes(r.Context())) })
	h("POST /v1/indexes", func(r *http.Request) (any, error) {
		req, err := decode[app.IndexRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.BuildIndex(r.Context(), *req)
	})
	h("GET /v1/indexes/{name}", func(r *http.Request) (any, error) { return svc.Index(r.Context(), r.PathValue("name")) })
	h("DELETE /v1/indexes/{name}", func(r *http.Request) (any, error) {
		return struct{}{}, svc.DeleteIndex(r.Context(), r.PathValue("name"))
	})

	// Datasets.
	h("GET /v1/datasets", func(r *http.Request) (any, error) { return nonNil(svc.ListDatasets(r.Context())) })
	h("GET /v1/datasets/{name}", func(r *http.Request) (any, error) { return svc.Dataset(r.Context(), r.PathValue("name")) })
	h("DELETE /v1/datasets/{name}", func(r *http.Request) (any, error) {
		return struct{}{}, svc.DeleteDataset(r.Context(), r.PathValue("name"))
	})
	h("POST /v1/datasets/{name}/rename", func(r *http.Request) (any, error) {
		b, err := decode[renameBody](r)
		if err != nil {
			return nil, err
		}
		return svc.RenameDataset(r.Context(), r.PathValue("name"), b.To)
	})
	h("GET /v1/datasets/{name}/stats", func(r *http.Request) (any, error) {
		return svc.DatasetStats(r.Context(), r.PathValue("name"))
	})
	h("GET /v1/datasets/{name}/examples", func(r *http.Request) (any, error) {
		limit, err := intParam(r, "limit")
		if err != nil {
			return nil, err
		}
		q := r.URL.Query()
		return svc.ListExamples(r.Context(), app.ExampleQuery{Dataset: r.PathValue("name"), Split: model.Split(q.Get("split")),
			Cursor: q.Get("cursor"), Limit: limit})
	})
	h("GET /v1/datasets/{name}/examples/{id}", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.Example(r.Context(), r.PathValue("name"), id)
	})
	h("GET /v1/datasets/{name}/at", func(r *http.Request) (any, error) {
		n, err := intParam(r, "n")
		if err != nil {
			return nil, err
		}
		return svc.ExampleAt(r.Context(), r.PathValue("name"), model.Split(r.URL.Query().Get("split")), n)
	})
	h("PUT /v1/datasets/{name}/examples", func(r *http.Request) (any, error) {
		e, err := decode[model.Example](r)
		if err != nil {
			return nil, err
		}
		if e.Dataset != r.PathValue("name") {
			return nil, badRoute(r, "the body's example belongs to dataset %q", e.Dataset)
		}
		return svc.PutExample(r.Context(), e)
	})
	h("POST /v1/datasets/{name}/examples/restore", func(r *http.Request) (any, error) {
		e, err := decode[model.Example](r)
		if err != nil {
			return nil, err
		}
		if e.Dataset != r.PathValue("name") {
			return nil, badRoute(r, "the body's example belongs to dataset %q", e.Dataset)
		}
		return svc.RestoreExample(r.Context(), e)
	})
	h("DELETE /v1/datasets/{name}/examples/{id}", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return struct{}{}, svc.DeleteExample(r.Context(), r.PathValue("name"), id)
	})
	// The import's body is the file itself; the request's fields are in
	// the Signet-Request header, as JSON.
	h("POST /v1/datasets/{name}/import", func(r *http.Request) (any, error) {
		var req app.ImportDatasetRequest
		if err := strictJSON([]byte(r.Header.Get(requestHeader)), &req); err != nil {
			return nil, badRoute(r, "%s header: %v", requestHeader, err)
		}
		req.Name, req.Data = r.PathValue("name"), r.Body
		return svc.ImportDataset(r.Context(), req)
	})
	s.route("GET /v1/datasets/{name}/export", func(w http.ResponseWriter, r *http.Request) {
		defer s.hold()()
		q := r.URL.Query()
		// Written to a buffer first: an error must not come after a 200.
		var buf bytes.Buffer
		if err := svc.ExportDataset(r.Context(), app.ExportDatasetRequest{Dataset: r.PathValue("name"),
			Split: model.Split(q.Get("split")), Format: q.Get("format")}, &buf); err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(buf.Bytes())
	})

	// The store as a whole. A backup is streamed as it is written (it can be
	// as big as the store); an error after the first byte comes in the
	// Signet-Error trailer.
	s.route("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		defer s.hold()()
		w.Header().Set("Trailer", backupErrorTrailer)
		sw := &startedWriter{w: w}
		if err := svc.Backup(r.Context(), sw); err != nil {
			if !sw.started {
				writeError(w, err)
				return
			}
			w.Header().Set(backupErrorTrailer, err.Error())
		}
	})
	h("GET /v1/store/check", func(r *http.Request) (any, error) { return svc.CheckStore(r.Context()) })

	// Executions.
	h("POST /v1/executions", func(r *http.Request) (any, error) {
		req, err := decode[app.RunRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.Run(r.Context(), *req)
	})
	h("POST /v1/batches", func(r *http.Request) (any, error) {
		req, err := decode[app.BatchRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.RunBatch(r.Context(), *req)
	})
	h("GET /v1/executions", func(r *http.Request) (any, error) {
		limit, err := intParam(r, "limit")
		if err != nil {
			return nil, err
		}
		q := r.URL.Query()
		return svc.ListExecutions(r.Context(), app.ExecutionQuery{Program: q.Get("program"), State: model.RunState(q.Get("state")),
			Cursor: q.Get("cursor"), Limit: limit})
	})
	h("POST /v1/executions/resume", func(r *http.Request) (any, error) { return svc.ResumeExecutions(r.Context()) })
	// The body is the OTLP/JSON file; its name is in the Signet-Request
	// header, as for a dataset's import.
	h("POST /v1/traces/import", func(r *http.Request) (any, error) {
		var req app.ImportTracesRequest
		if err := strictJSON([]byte(r.Header.Get(requestHeader)), &req); err != nil {
			return nil, badRoute(r, "%s header: %v", requestHeader, err)
		}
		req.Data = r.Body
		return svc.ImportTraces(r.Context(), req)
	})
	h("GET /v1/lm-profiles", func(r *http.Request) (any, error) { return nonNil(svc.LMProfiles(r.Context())) })
	h("GET /v1/executions/{id}", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.Execution(r.Context(), id)
	})
	h("GET /v1/executions/{id}/spans", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		after, err := intParam(r, "after")
		if err != nil {
			return nil, err
		}
		limit, err := intParam(r, "limit")
		if err != nil {
			return nil, err
		}
		return svc.Spans(r.Context(), id, uint64(after), limit)
	})
	h("POST /v1/executions/{id}/feedback", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		f, err := decode[app.FeedbackRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.Feedback(r.Context(), id, *f)
	})
	h("POST /v1/executions/{id}/cancel", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.CancelExecution(r.Context(), id)
	})

	// Evaluations.
	h("POST /v1/evaluations", func(r *http.Request) (any, error) {
		req, err := decode[app.EvaluateRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.Evaluate(r.Context(), *req)
	})
	h("GET /v1/evaluations", func(r *http.Request) (any, error) {
		q, err := jobQuery(r)
		if err != nil {
			return nil, err
		}
		return svc.ListEvaluations(r.Context(), q)
	})
	h("GET /v1/evaluations/{id}", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.Evaluation(r.Context(), id)
	})
	h("POST /v1/evaluations/{id}/cancel", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.CancelEvaluation(r.Context(), id)
	})

	// Optimizations.
	h("POST /v1/optimizations/estimate", func(r *http.Request) (any, error) {
		req, err := decode[app.OptimizeRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.EstimateOptimization(r.Context(), *req)
	})
	h("POST /v1/optimizations", func(r *http.Request) (any, error) {
		req, err := decode[app.OptimizeRequest](r)
		if err != nil {
			return nil, err
		}
		return svc.Optimize(r.Context(), *req)
	})
	h("GET /v1/optimizations", func(r *http.Request) (any, error) {
		q, err := jobQuery(r)
		if err != nil {
			return nil, err
		}
		return svc.ListOptimizations(r.Context(), q)
	})
	h("GET /v1/optimizations/compare", func(r *http.Request) (any, error) {
		var ids []model.ID
		for _, v := range r.URL.Query()["id"] {
			id, err := model.ParseID(v)
			if err != nil {
				return nil, badRoute(r, "id %q: %v", v, err)
			}
			ids = append(ids, id)
		}
		return svc.CompareOptimizations(r.Context(), ids)
	})
	h("GET /v1/optimizations/{id}", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.Optimization(r.Context(), id)
	})
	h("GET /v1/optimizations/{id}/trials", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return nonNil(svc.Trials(r.Context(), id))
	})
	h("GET /v1/optimizations/{id}/detail", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.OptimizationDetail(r.Context(), id)
	})
	h("POST /v1/optimizations/{id}/cancel", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.CancelOptimization(r.Context(), id)
	})
	h("POST /v1/optimizations/{id}/promote", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		force, err := boolParam(r, "force")
		if err != nil {
			return nil, err
		}
		return svc.PromoteOptimization(r.Context(), id, force)
	})

	// Costs.
	h("GET /v1/cost", func(r *http.Request) (any, error) {
		days, err := boolParam(r, "days")
		if err != nil {
			return nil, err
		}
		q := r.URL.Query()
		return svc.Cost(r.Context(), app.CostQuery{Program: q.Get("program"), Month: q.Get("month"), Days: days})
	})
	h("PUT /v1/budgets", func(r *http.Request) (any, error) {
		b, err := decode[budgetBody](r)
		if err != nil {
			return nil, err
		}
		return struct{}{}, svc.SetBudget(r.Context(), b.Program, b.USD)
	})

	// Workers.
	h("GET /v1/pool", func(r *http.Request) (any, error) { return svc.Pool(r.Context()) })
	h("POST /v1/pool/start", func(r *http.Request) (any, error) { return svc.StartPool(r.Context()) })
	h("POST /v1/pool/restart", func(r *http.Request) (any, error) {
		n, err := intParam(r, "worker")
		if err != nil {
			return nil, err
		}
		return svc.RestartWorker(r.Context(), n)
	})
	h("POST /v1/pool/recycle", func(r *http.Request) (any, error) {
		n, err := intParam(r, "worker")
		if err != nil {
			return nil, err
		}
		return svc.RecycleWorker(r.Context(), n)
	})

	// Users, tokens, the audit trail.
	h("POST /v1/users", func(r *http.Request) (any, error) {
		u, err := decode[model.User](r)
		if err != nil {
			return nil, err
		}
		return svc.AddUser(r.Context(), *u)
	})
	h("GET /v1/users", func(r *http.Request) (any, error) { return nonNil(svc.ListUsers(r.Context())) })
	h("GET /v1/users/{name}", func(r *http.Request) (any, error) { return svc.User(r.Context(), r.PathValue("name")) })
	h("POST /v1/users/{name}/credits", func(r *http.Request) (any, error) {
		b, err := decode[creditsBody](r)
		if err != nil {
			return nil, err
		}
		return svc.SetCredits(r.Context(), r.PathValue("name"), b.Op, b.USD)
	})
	h("POST /v1/users/{name}/tokens", func(r *http.Request) (any, error) {
		b, err := decode[tokenBody](r)
		if err != nil {
			return nil, err
		}
		return svc.CreateToken(r.Context(), r.PathValue("name"), b.Name)
	})
	h("POST /v1/tokens/{id}/revoke", func(r *http.Request) (any, error) {
		id, err := idParam(r, "id")
		if err != nil {
			return nil, err
		}
		return svc.RevokeToken(r.Context(), id)
	})
	h("GET /v1/audit", func(r *http.Request) (any, error) {
		n, err := intParam(r, "limit")
		if err != nil {
			return nil, err
		}
		return nonNil(svc.Audit(r.Context(), n))
	})
	h("POST /v1/authenticate", func(r *http.Request) (any, error) {
		b, err := decode[authBody](r)
		if err != nil {
			return nil, err
		}
		return svc.Authenticate(r.Context(), b.Token)
	})

	s.route("GET /v1/events", s.events)
	s.route("GET /v1/openapi.json", OpenAPIHandler().ServeHTTP)
}

// requestHeader carries a request's fields when the body is a file.
const requestHeader = "Signet-Request"

type statusBody struct {
	Status model.ProgramStatus `json:"status"`
	Note   string              `json:"note,omitempty"`
}

type creditsBody struct {
	Op  string  `json:"op"` // +, - or =
	USD float64 `json:"usd"`
}

type tokenBody struct {
	Name string `json:"name,omitempty"`
}

type authBody struct {
	Token string `json:"token"`
}

type budgetBody struct {
	Program string  `json:"program,omitempty"`
	USD     float64 `json:"usd"`
}

func jobQuery(r *http.Request) (app.JobQuery, error) {
	limit, err := intParam(r, "limit")
	if err != nil {
		return app.JobQuery{}, err
	}
	q := r.URL.Query()
	return app.JobQuery{Program: q.Get("program"), Cursor: q.Get("cursor"), Limit: limit}, nil
}

// nonNil answers an empty list as [] rather than null.
func nonNil[T any](xs []T, err error) ([]T, error) {
	if xs == nil && err == nil {
		xs = []T{}
	}
	return xs, err
}

func strictJSON(b []byte, v any) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// backupErrorTrailer carries an error that ended a backup already streaming.
const backupErrorTrailer = "Signet-Error"

// startedWriter sends the 200 and its content type with the first byte.
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/octet-stream")
		s.w.WriteHeader(http.StatusOK)
	}
	return s.w.Write(p)
}

// renameBody is the body of a dataset's rename.
type renameBody struct {
	To string `json:"to"`
}
