package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// RenderRequest is POST /v1/render: the exact messages the modules of a
// program (a stored version, or an unsaved Variant of it) would send for
// these inputs, through DSPy's adapters, without calling the LM.
type RenderRequest struct {
	Program string         `json:"program"`
	Version int            `json:"version,omitempty"` // 0 = latest
	Variant *model.Program `json:"variant,omitempty"` // rendered instead of the stored version
	Inputs  map[string]any `json:"inputs"`
	LM      string         `json:"lm,omitempty"`     // profile whose adapter decides; "" = the program's or the default
	Module  string         `json:"module,omitempty"` // one module, or "" for all
}

// RenderResult is the answer of POST /v1/render.
type RenderResult = bridge.RenderResult

// Renderer is what the owner needs to serve POST /v1/render; a Backend
// that does not implement it answers the route with "unavailable".
type Renderer interface {
	Render(ctx context.Context, req *RenderRequest) (*RenderResult, error)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request) {
	var req RenderRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCLIRequest)).Decode(&req); err != nil {
		writeError(w, badRequest("render request: %v", err))
		return
	}
	if req.Program == "" && req.Variant == nil {
		writeError(w, badRequest("render request: program is required"))
		return
	}
	rd, ok := s.b.(Renderer)
	if !ok {
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "this owner cannot render prompts"})
		return
	}
	res, err := rd.Render(r.Context(), &req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
