package api

import (
	"encoding/json"
	"net/http"

	"github.com/signet-dspy/signet/model"
)

// The example-level writes of a dataset (docs/api.md, "Editing examples"):
// the TUI's Datasets page edits, adds and deletes examples through them
// when another process owns the workspace.

// DeletedExample is the answer of DELETE /v1/datasets/{name}/examples/{id}.
type DeletedExample struct {
	Deleted model.ID `json:"deleted"`
}

// maxExample bounds the body of an example write.
const maxExample = 16 << 20

func (s *Server) routeExamples(m *http.ServeMux) {
	m.HandleFunc("GET /v1/datasets/{name}/examples/{id}", s.getExample)
	m.HandleFunc("POST /v1/datasets/{name}/examples", s.addExample)
	m.HandleFunc("PUT /v1/datasets/{name}/examples/{id}", s.putExample)
	m.HandleFunc("DELETE /v1/datasets/{name}/examples/{id}", s.deleteExample)
}

func exampleID(r *http.Request) (model.ID, error) {
	id, err := model.ParseID(r.PathValue("id"))
	if err != nil {
		return id, badRequest("example id: %v", err)
	}
	return id, nil
}

// readExample decodes an example body; numbers keep their text
// (json.Number), so an integer is stored as it was sent.
func readExample(w http.ResponseWriter, r *http.Request) (*model.Example, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxExample))
	dec.UseNumber()
	var e model.Example
	if err := dec.Decode(&e); err != nil {
		return nil, badRequest("example: %v", err)
	}
	if e.Split != "" {
		sp, err := model.ParseSplit(string(e.Split))
		if err != nil {
			return nil, badRequest("example: %v", err)
		}
		e.Split = sp
	}
	e.Dataset = r.PathValue("name")
	return &e, nil
}

func (s *Server) getExample(w http.ResponseWriter, r *http.Request) {
	id, err := exampleID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	e, err := s.b.Store().GetExample(r.Context(), r.PathValue("name"), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// addExample adds a new example (split train unless given); any ID in the
// body is ignored.
func (s *Server) addExample(w http.ResponseWriter, r *http.Request) {
	e, err := readExample(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	e.ID = model.ID{}
	if err := s.b.Store().PutExample(r.Context(), e); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

// putExample replaces an existing example's data and split (its split
// unchanged when the body gives none); a missing example is not found.
func (s *Server) putExample(w http.ResponseWriter, r *http.Request) {
	id, err := exampleID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	e, err := readExample(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	old, err := s.b.Store().GetExample(r.Context(), e.Dataset, id)
	if err != nil {
		writeError(w, err)
		return
	}
	e.ID = id
	if e.Split == "" {
		e.Split = old.Split
	}
	if err := s.b.Store().PutExample(r.Context(), e); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) deleteExample(w http.ResponseWriter, r *http.Request) {
	id, err := exampleID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.b.Store().DeleteExample(r.Context(), r.PathValue("name"), id); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, DeletedExample{Deleted: id})
}
