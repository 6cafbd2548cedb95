package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// PoolBackend is what the pool routes need of the owner beyond Backend:
// restarting and recycling one worker of the running pool (the bridge's
// Pool.Restart and Pool.Recycle). A backend without it answers those
// routes with CodeUnsupported.
type PoolBackend interface {
	RestartWorker(ctx context.Context, id int) error
	RecycleWorker(ctx context.Context, id int) error
}

// PoolRequest is the body of POST /v1/pool/restart and /v1/pool/recycle.
type PoolRequest struct {
	Worker int `json:"worker,omitempty"` // 0 = every worker, one after the other
}

// PoolAnswer is what the pool routes answer: the pool after the action.
type PoolAnswer struct {
	Engine string   `json:"engine"`
	Pool   []Worker `json:"pool"`
}

func (s *Server) poolRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /v1/pool/start", s.poolStart)
	m.HandleFunc("POST /v1/pool/restart", s.poolReplace(false))
	m.HandleFunc("POST /v1/pool/recycle", s.poolReplace(true))
}

func (s *Server) poolAnswer(w http.ResponseWriter) {
	a := PoolAnswer{Engine: "idle", Pool: Workers(s.b.Pool())}
	if s.b.Started() {
		a.Engine = "running"
	}
	writeJSON(w, http.StatusOK, a)
}

// poolStart starts the worker pool and the engine, as the first execution
// would; it answers once the workers are ready.
func (s *Server) poolStart(w http.ResponseWriter, r *http.Request) {
	if _, err := s.b.Engine(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	s.poolAnswer(w)
}

// poolReplace restarts (kill) or recycles (drain) one worker, or every
// worker one after the other so that the others keep serving; it answers
// once the replacements are ready.
func (s *Server) poolReplace(graceful bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req PoolRequest
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
				writeError(w, badRequest("pool request: %v", err))
				return
			}
		}
		pb, ok := s.b.(PoolBackend)
		if !ok {
			writeError(w, &Error{Status: http.StatusNotImplemented, Code: CodeUnsupported, Message: "this owner cannot restart workers"})
			return
		}
		ws := s.b.Pool()
		if len(ws) == 0 {
			writeError(w, &Error{Status: http.StatusConflict, Code: CodeNotStarted, Message: "the worker pool is not started (POST /v1/pool/start starts it)"})
			return
		}
		ids := []int{req.Worker}
		if req.Worker == 0 {
			ids = ids[:0]
			for _, x := range ws {
				ids = append(ids, x.ID)
			}
		} else if req.Worker < 0 || req.Worker > len(ws) {
			writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("no worker %d (the pool has workers 1 to %d)", req.Worker, len(ws))})
			return
		}
		for _, id := range ids {
			var err error
			if graceful {
				err = pb.RecycleWorker(r.Context(), id)
			} else {
				err = pb.RestartWorker(r.Context(), id)
			}
			if err != nil {
				writeError(w, fmt.Errorf("worker %d: %w", id, err))
				return
			}
		}
		s.poolAnswer(w)
	}
}

// CodeNotStarted answers a pool action while no pool runs.
const CodeNotStarted = "not_started"
