package graphql

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// The enums are the model's states and statuses in GraphQL's upper case.

func stateOf(s model.RunState) ExecutionState { return ExecutionState(strings.ToUpper(string(s))) }

func runState(s ExecutionState) model.RunState { return model.RunState(strings.ToLower(string(s))) }

func statusOf(s model.ProgramStatus) ProgramStatus {
	if s == "" {
		return ProgramStatusDraft
	}
	return ProgramStatus(strings.ToUpper(string(s)))
}

func programStatus(s ProgramStatus) model.ProgramStatus {
	return model.ProgramStatus(strings.ToLower(string(s)))
}

// parseID reads an ID argument; a bad one is invalid, naming the argument.
func parseID(arg, s string) (model.ID, error) {
	id, err := model.ParseID(s)
	if err != nil {
		return id, &app.Error{Code: app.CodeInvalid, Field: arg, Message: arg + ": " + err.Error()}
	}
	return id, nil
}

// decodeInput reads a JSON argument as the REST route taking the same body
// reads it (api.Decode): unknown fields and numbers out of range are
// invalid.
func decodeInput[T any](what string, in map[string]any) (*T, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, app.Errorf(app.CodeInvalid, "%s: %w", what, err)
	}
	return api.Decode[T](what, bytes.NewReader(b))
}

// orNil is a time that GraphQL shows as null when unset.
func orNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// millis is d in milliseconds, null when 0 (not ended).
func millis(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	ms := float64(d) / float64(time.Millisecond)
	return &ms
}

// intOr is an optional Int argument, or def.
func intOr(v *int, def int) int {
	if v == nil {
		return def
	}
	return *v
}
