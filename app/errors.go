package app

import (
	"errors"
	"fmt"
)

// Code says what kind of failure an Error is, the same on both sides of
// the owner's socket, so that callers act on it alike.
type Code string

const (
	CodeNotFound    Code = "not_found"   // no such program, dataset, execution, ...
	CodeExists      Code = "exists"      // a create of something that exists
	CodeInvalid     Code = "invalid"     // a request that cannot be done as asked (a bad field, a bad file)
	CodeFinished    Code = "finished"    // a cancel of a job that has ended
	CodeBudget      Code = "budget"      // a monthly cap would be exceeded
	CodeRegressed   Code = "regressed"   // a promote without force of a result below its baseline
	CodeUnavailable Code = "unavailable" // the owner is stopping, or the pool cannot start
	CodeInternal    Code = "internal"    // a bug, or a failure nobody can act on
	// A caller that is not the local user: no valid token (HTTP 401), a
	// policy refusal naming its rule (403), an execution without credits
	// left (402).
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodePaymentRequired Code = "payment_required"
)

// Error is how the service fails. Message is what the user reads, whole:
// the owner's error text, so a command prints the same words with or
// without an owner running; Field names the request field at fault.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	cause   error  // on the owner's side only
}

func (e *Error) Error() string { return e.Message }

// Unwrap is the cause, on the side that made the error.
func (e *Error) Unwrap() error { return e.cause }

// Is matches errors of the same code: errors.Is(err, app.ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is, one per code.
var (
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrExists      = &Error{Code: CodeExists}
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrFinished    = &Error{Code: CodeFinished}
	ErrBudget      = &Error{Code: CodeBudget}
	ErrRegressed   = &Error{Code: CodeRegressed}
	ErrUnavailable = &Error{Code: CodeUnavailable}

	ErrUnauthenticated = &Error{Code: CodeUnauthenticated}
	ErrForbidden       = &Error{Code: CodeForbidden}
	ErrPaymentRequired = &Error{Code: CodePaymentRequired}
)

// Errorf is an Error of code c with a formatted message; %w keeps a cause.
func Errorf(c Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: c, Message: err.Error(), cause: errors.Unwrap(err)}
}

// Wrap gives err the code c, keeping its text and its cause; an *Error
// passes through as it is.
func Wrap(c Code, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: c, Message: err.Error(), cause: err}
}

// CodeOf is err's code: CodeInternal for an error that is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
