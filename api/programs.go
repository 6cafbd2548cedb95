package api

import (
	"encoding/json"
	"net/http"

	"github.com/signet-dspy/signet/model"
)

// StatusRequest is the body of PUT /v1/programs/{name}/status.
type StatusRequest struct {
	Status model.ProgramStatus `json:"status"`
	Note   string              `json:"note,omitempty"`
}

// Deleted is the answer to a DELETE.
type Deleted struct {
	Deleted string `json:"deleted"`
}

// programRoutes adds the program routes beyond reading and saving: create,
// status and delete (what the workbench's Programs page writes).
func (s *Server) programRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /v1/programs", s.createProgram)
	m.HandleFunc("PUT /v1/programs/{name}/status", s.setProgramStatus)
	m.HandleFunc("DELETE /v1/programs/{name}", s.deleteProgram)
}

// createProgram stores the body as version 1 of a new program.
func (s *Server) createProgram(w http.ResponseWriter, r *http.Request) {
	var p model.Program
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&p); err != nil {
		writeError(w, badRequest("program: %v", err))
		return
	}
	created, err := s.b.Store().CreateProgram(r.Context(), &p)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, created)
}

// setProgramStatus records a status change as a new version, as
// `signet program status` does.
func (s *Server) setProgramStatus(w http.ResponseWriter, r *http.Request) {
	var req StatusRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
		writeError(w, badRequest("status: %v", err))
		return
	}
	st, err := model.ParseProgramStatus(string(req.Status))
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	p, err := s.b.Store().SetProgramStatus(r.Context(), r.PathValue("name"), st, req.Note)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// deleteProgram deletes a program and every version; its executions stay.
func (s *Server) deleteProgram(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.b.Store().DeleteProgram(r.Context(), name); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Deleted{Deleted: name})
}
